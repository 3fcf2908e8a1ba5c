//! The served OpenAPI document against the server, by the schema-driven fuzzer
//! Schemathesis (PyPI `schemathesis`; `bash .ci/run` installs it into
//! `/opt/sessiondb-ci/venv`, `SESSIONDB_SCHEMATHESIS` names another binary).
//!
//! Two time-boxed runs against a server on its own Redis:
//! - **positive**: requests the document calls valid. No 5xx, every response documented
//!   (status, content type, headers, body schema), and at most [`MAX_REJECTED_SHARE`] of
//!   them refused as malformed (`invalid_request`). Other refusals are the API working as
//!   documented: a well-formed random token opens no session (404), a random refresh
//!   token is an `invalid_grant`.
//! - **negative**: requests the document calls invalid. No 5xx, every response
//!   documented, and none accepted (Schemathesis' `negative_data_rejection`).
//!
//! Together: the document is exactly as strict as the server.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use sessiondb_http::config::RateLimit;
use tokio::process::Command;

use crate::helpers::{spawn_app_with, TestApp};

/// Time budget of each run, in seconds: Schemathesis keeps generating until it is spent.
const RUN_SECONDS: u64 = 40;
/// The phases run: the document's examples, boundary values of every constraint, then
/// random generation. (The stateful phase, along the document's links, is left out: in
/// Schemathesis 4.32 it spends its budget on operations that consume a session without
/// ever creating one.)
const PHASES: &str = "examples,coverage,fuzzing";
/// Largest share of documented-valid requests the server may refuse as malformed. Not
/// zero: JSON Schema counts string lengths in characters and the server in bytes of
/// UTF-8, so a long non-ASCII `user_id` can be valid by the document and too long for the
/// server (the descriptions say so).
const MAX_REJECTED_SHARE: f64 = 0.02;
/// Where `.ci/run` installs Schemathesis.
const CI_VENV_BINARY: &str = "/opt/sessiondb-ci/venv/bin/schemathesis";

/// Checks of both runs: nothing breaks, everything answered is documented.
const CONFORMANCE: &str = "not_a_server_error,status_code_conformance,\
    content_type_conformance,response_headers_conformance,response_schema_conformance";

fn schemathesis() -> PathBuf {
    if let Some(path) = std::env::var_os("SESSIONDB_SCHEMATHESIS") {
        return path.into();
    }
    let on_path = std::env::var_os("PATH")
        .map(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join("schemathesis"))
                .find(|candidate| candidate.is_file())
        })
        .unwrap_or_default();
    [Some(PathBuf::from(CI_VENV_BINARY)), on_path]
        .into_iter()
        .flatten()
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| {
            panic!(
                "schemathesis is not installed. `bash .ci/run` installs it into \
                 /opt/sessiondb-ci/venv; or: python3 -m venv DIR && DIR/bin/pip install \
                 schemathesis==4.32.5, then SESSIONDB_SCHEMATHESIS=DIR/bin/schemathesis"
            )
        })
}

/// One request and its answer, from the HAR report.
#[derive(Debug)]
struct Exchange {
    method: String,
    url: String,
    status: u16,
    code: Option<String>,
    body: String,
}

/// A finished run: whether its checks passed, its output and its exchanges.
struct Run {
    passed: bool,
    output: String,
    exchanges: Vec<Exchange>,
}

async fn run(app: &TestApp, dir: &Path, mode: &str, checks: &str) -> Run {
    let har = dir.join(format!("{mode}.har"));
    let mut command = Command::new(schemathesis());
    command
        .current_dir(dir)
        .arg("run")
        .arg(app.url("/v1/openapi.json"))
        .args(["--mode", mode, "--checks", checks])
        .args(["--phases", PHASES])
        // One worker: several make Debian 12's Python 3.11 fail inside `ast.parse`
        // ("AST constructor recursion depth mismatch"), a CPython bug with threads.
        .args(["--workers", "1", "--seed", "8"])
        .args(["--max-time", &RUN_SECONDS.to_string()])
        .args(["--request-timeout", "10", "--generation-database", "none"])
        .args(["--report", "har", "--report-har-path"])
        .arg(&har)
        .args(["--no-color", "--output-truncate", "false"])
        .arg("-H")
        .arg(format!("Authorization: Bearer {}", app.keys.all))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command.spawn().expect("schemathesis starts");
    let out = tokio::time::timeout(
        Duration::from_secs(RUN_SECONDS * 3 + 60),
        child.wait_with_output(),
    )
    .await
    .expect("schemathesis finishes within its time budget")
    .expect("schemathesis runs");
    let output = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let report = std::fs::read_to_string(&har)
        .unwrap_or_else(|e| panic!("HAR report {}: {e}\n{output}", har.display()));
    Run {
        passed: out.status.success(),
        exchanges: exchanges(&report),
        output,
    }
}

fn exchanges(har: &str) -> Vec<Exchange> {
    let har: Value = serde_json::from_str(har).expect("HAR is JSON");
    har["log"]["entries"]
        .as_array()
        .expect("HAR entries")
        .iter()
        .map(|entry| {
            let body = entry["response"]["content"]["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let code = serde_json::from_str::<Value>(&body)
                .ok()
                .and_then(|b| b["code"].as_str().map(str::to_owned));
            Exchange {
                method: entry["request"]["method"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                url: entry["request"]["url"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                status: entry["response"]["status"]
                    .as_u64()
                    .and_then(|s| u16::try_from(s).ok())
                    .unwrap_or_default(),
                code,
                body,
            }
        })
        .collect()
}

/// `{"METHOD /path": count}` of the 2xx answers: which operations ran on real data.
fn successes(exchanges: &[Exchange]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for e in exchanges.iter().filter(|e| (200..300).contains(&e.status)) {
        let path = e
            .url
            .split_once("//")
            .map_or(e.url.as_str(), |(_, rest)| rest);
        let path = path.find('/').map_or("", |at| &path[at..]);
        let path = path.split('?').next().unwrap_or_default();
        // Collapse the ids in per-user paths.
        let path = match path.split('/').collect::<Vec<_>>().as_slice() {
            ["", "v1", "users", _, rest @ ..] => {
                format!("/v1/users/{{user_id}}/{}", rest.join("/"))
            }
            _ => path.to_owned(),
        };
        let path = if path.starts_with("/v1/users/{user_id}/sessions/") {
            "/v1/users/{user_id}/sessions/{session_id}".to_owned()
        } else {
            path
        };
        *counts.entry(format!("{} {path}", e.method)).or_default() += 1;
    }
    counts
}

/// `{status: count}`, for the figures.
fn by_status(exchanges: &[Exchange]) -> BTreeMap<u16, usize> {
    let mut counts = BTreeMap::new();
    for e in exchanges {
        *counts.entry(e.status).or_default() += 1;
    }
    counts
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_the_server_exactly_as_strict_as_its_document() {
    // Generous rate limits, so fuzzed requests reach the handlers rather than the
    // limiter (whose 429 is documented too).
    let app = spawn_app_with(|http, _| {
        let open = RateLimit {
            per_minute: 100_000,
            burst: 10_000,
        };
        http.redeem_rate = open;
        http.refresh_rate = open;
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");

    let positive = run(&app, dir.path(), "positive", CONFORMANCE).await;
    let negative = run(
        &app,
        dir.path(),
        "negative",
        &format!("{CONFORMANCE},negative_data_rejection"),
    )
    .await;

    let rejected: Vec<&Exchange> = positive
        .exchanges
        .iter()
        .filter(|e| e.code.as_deref() == Some("invalid_request"))
        .collect();
    let share = rejected.len() as f64 / positive.exchanges.len().max(1) as f64;
    println!(
        "schemathesis positive: {} requests {:?}, {} refused as invalid_request ({:.2} %); \
         negative: {} requests {:?}",
        positive.exchanges.len(),
        by_status(&positive.exchanges),
        rejected.len(),
        share * 100.0,
        negative.exchanges.len(),
        by_status(&negative.exchanges),
    );
    println!(
        "schemathesis 2xx by operation: positive {:?}, negative {:?}",
        successes(&positive.exchanges),
        successes(&negative.exchanges)
    );
    for (name, run) in [("positive", &positive), ("negative", &negative)] {
        let summary = run
            .output
            .find("SUMMARY")
            .map_or("", |at| &run.output[at..]);
        println!("schemathesis {name} run:\n{summary}");
    }
    for e in &rejected {
        println!(
            "  refused valid request: {} {} -> {} {}",
            e.method, e.url, e.status, e.body
        );
    }

    for (name, run) in [("positive", &positive), ("negative", &negative)] {
        assert!(
            run.passed,
            "schemathesis {name} run failed:\n{}",
            run.output
        );
        assert!(
            run.exchanges.len() > 100,
            "schemathesis {name} run sent only {} requests:\n{}",
            run.exchanges.len(),
            run.output
        );
        let server_errors: Vec<&Exchange> =
            run.exchanges.iter().filter(|e| e.status >= 500).collect();
        assert!(server_errors.is_empty(), "{name}: 5xx: {server_errors:#?}");
    }
    assert!(
        share <= MAX_REJECTED_SHARE,
        "{} of {} documented-valid requests refused as invalid_request: {rejected:#?}",
        rejected.len(),
        positive.exchanges.len()
    );
}
