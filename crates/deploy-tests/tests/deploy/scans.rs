//! Policy scans: checkov over everything the overlays and components render, with
//! only the skips that `deploy/kubernetes/checkov.yaml` lists (each explained in the
//! docs); hadolint over the Dockerfile.

use std::fs;
use std::process::Command;

use serde_json::Value;
use sessiondb_deploy_tests::{repo_root, tools};

use crate::support;

/// The check ids `deploy/kubernetes/checkov.yaml` skips.
fn skipped_checks() -> Vec<String> {
    let text = fs::read_to_string(repo_root().join("deploy/kubernetes/checkov.yaml"))
        .expect("checkov.yaml");
    let config = sessiondb_deploy_tests::objects::parse_yaml(&text).expect("YAML");
    config["skip-check"]
        .as_array()
        .expect("skip-check list")
        .iter()
        .map(|v| v.as_str().expect("check id").to_owned())
        .collect()
}

#[test]
fn every_skipped_checkov_check_is_explained_in_the_docs() {
    let docs = fs::read_to_string(repo_root().join("docs/deploy/kubernetes.md"))
        .expect("docs/deploy/kubernetes.md");
    let skipped = skipped_checks();
    assert!(!skipped.is_empty());
    for id in skipped {
        assert!(
            docs.contains(&id),
            "docs/deploy/kubernetes.md does not explain the skip of {id}"
        );
    }
}

#[test]
fn checkov_finds_nothing_in_the_rendered_manifests() {
    // checkov skips hidden directories, such as tempfile's default `.tmpXXXX`.
    let dir = tempfile::Builder::new()
        .prefix("checkov-")
        .tempdir()
        .expect("scratch directory");
    for (name, rendered) in support::all_renderings() {
        fs::write(dir.path().join(format!("{name}.yaml")), &rendered.yaml).expect("write");
    }
    let output = Command::new(tools::venv_tool("checkov").unwrap_or_else(|e| panic!("{e:#}")))
        .arg("--directory")
        .arg(dir.path())
        .arg("--config-file")
        .arg(repo_root().join("deploy/kubernetes/checkov.yaml"))
        .args([
            "--output",
            "json",
            "--quiet",
            "--compact",
            "--skip-download",
        ])
        .env("BC_SKIP_MAPPING", "TRUE")
        .output()
        .expect("running checkov");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "checkov printed no JSON report ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    let reports = match report {
        Value::Array(reports) => reports,
        single => vec![single],
    };
    let mut failed = Vec::new();
    let mut passed = 0;
    for r in &reports {
        passed += r["summary"]["passed"].as_u64().unwrap_or(0);
        assert_eq!(
            r["summary"]["parsing_errors"].as_u64(),
            Some(0),
            "parsing errors: {r}"
        );
        for check in r["results"]["failed_checks"]
            .as_array()
            .into_iter()
            .flatten()
        {
            failed.push(format!(
                "{} {} ({})",
                check["check_id"], check["check_name"], check["resource"]
            ));
        }
    }
    assert!(
        passed > 100,
        "checkov passed only {passed} checks: did it scan anything?"
    );
    assert!(
        failed.is_empty(),
        "checkov failures:\n{}",
        failed.join("\n")
    );
}

#[test]
fn hadolint_finds_nothing_in_the_dockerfile() {
    let output = Command::new(tools::venv_tool("hadolint").unwrap_or_else(|e| panic!("{e:#}")))
        .arg(repo_root().join("Dockerfile"))
        .output()
        .expect("running hadolint");
    assert!(
        output.status.success(),
        "hadolint:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn hadolint_reports_a_known_problem() {
    let dir = tempfile::tempdir().expect("scratch directory");
    let path = dir.path().join("Dockerfile");
    fs::write(&path, "FROM debian:latest\nRUN apt-get install curl\n").expect("write");
    let output = Command::new(tools::venv_tool("hadolint").unwrap_or_else(|e| panic!("{e:#}")))
        .arg(&path)
        .output()
        .expect("running hadolint");
    assert!(
        !output.status.success(),
        "hadolint accepted `FROM debian:latest`"
    );
}
