//! The README's API walk-through runs as written against `sessiondb serve` on its
//! embedded default (only the listen address is the test's own free port).

use std::process::Command;

use crate::support::{sessiondb, Serve};

fn walkthrough() -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let tour = &readme[readme.find("## A 5-minute tour").expect("the tour section")..];
    let start = tour.find("```sh\n").expect("a shell block") + "```sh\n".len();
    let end = start + tour[start..].find("```").expect("the end of the block");
    tour[start..end].to_owned()
}

#[test]
fn readme_walkthrough_works_as_written() {
    let script = walkthrough();
    assert!(
        script.contains("http://127.0.0.1:8080"),
        "the tour uses the default address"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut serve = Serve::start(sessiondb(dir.path()));
    let api = serve.url("API:");
    let script = script.replace("http://127.0.0.1:8080", &api);
    let out = Command::new("bash")
        .args(["-euo", "pipefail", "-c", &script])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "walk-through failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("\"session_token\":\"sdb_s1_"), "{stdout}");
    assert!(stdout.contains("\"replayed\":false"), "{stdout}");
    assert!(stdout.contains("\"sessions\":["), "{stdout}");
    assert_eq!(stdout.lines().last(), Some("204"), "{stdout}");
    assert_eq!(stdout.lines().count(), 5, "one line per response: {stdout}");
}
