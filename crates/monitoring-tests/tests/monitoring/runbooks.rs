//! docs/runbooks.md: a section per alert, under its area, at the anchor the alert's
//! runbook_url names, saying what it means, how to confirm it (with commands) and what
//! to do; and the sessiondb commands it tells operators to run exist.

use std::collections::BTreeSet;

use sessiondb_monitoring_tests::docs::{sections, Section};
use sessiondb_monitoring_tests::paths;

use crate::support::rules;

/// The `##` section each area's alerts live under.
const AREA_SECTIONS: [(&str, &str); 3] = [
    ("redis", "Redis data nodes"),
    ("sentinel", "Sentinel"),
    ("sessiondb", "sessiondb"),
];

/// The parts every alert section has.
const PARTS: [&str; 3] = ["**What it means.**", "**Confirm.**", "**What to do.**"];

fn runbook_sections() -> Vec<Section> {
    let text = paths::read(&paths::runbooks_doc()).unwrap_or_else(|e| panic!("{e}"));
    sections(&text)
}

#[test]
fn every_alert_has_a_runbook_section_under_its_area() {
    let rules = rules();
    let alerts = rules.alerts();
    let all = runbook_sections();
    let mut problems = Vec::new();
    for (area, heading) in AREA_SECTIONS {
        let Some(start) = all.iter().position(|s| s.level == 2 && s.title == heading) else {
            problems.push(format!("no `## {heading}` section"));
            continue;
        };
        let children: Vec<&Section> = all[start + 1..]
            .iter()
            .take_while(|s| s.level > 2)
            .filter(|s| s.level == 3)
            .collect();
        let expected: BTreeSet<&str> = alerts
            .iter()
            .filter(|a| a.area == area)
            .map(|a| a.name)
            .collect();
        let found: BTreeSet<&str> = children.iter().map(|s| s.title.as_str()).collect();
        for missing in expected.difference(&found) {
            problems.push(format!("`## {heading}` has no `### {missing}`"));
        }
        for extra in found.difference(&expected) {
            problems.push(format!(
                "`### {extra}` under `## {heading}` is not an alert of {area}"
            ));
        }
        for section in children {
            for part in PARTS {
                if !section.body.contains(part) {
                    problems.push(format!("### {}: no {part} part", section.title));
                }
            }
            if !section.body.contains("```") {
                problems.push(format!("### {}: no command to confirm it", section.title));
            }
        }
    }
    for alert in &alerts {
        let url = alert
            .rule
            .annotations
            .get("runbook_url")
            .map_or("", String::as_str);
        let anchor = url.rsplit_once('#').map_or("", |(_, a)| a);
        let matching = all
            .iter()
            .filter(|s| s.level == 3 && s.title == alert.name)
            .map(|s| s.anchor.as_str())
            .collect::<Vec<_>>();
        if matching != [anchor] {
            problems.push(format!(
                "{}: runbook_url {url} must name exactly one section's anchor (found {matching:?})",
                alert.name
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The subcommands of the `sessiondb` binary, read from its `enum Command`.
fn sessiondb_subcommands() -> BTreeSet<String> {
    let path = paths::repo_root().join("crates/cli/src/commands/mod.rs");
    let source = paths::read(&path).unwrap_or_else(|e| panic!("{e}"));
    let body = source
        .split_once("enum Command {")
        .and_then(|(_, rest)| rest.split_once("\n}"))
        .map(|(body, _)| body)
        .unwrap_or_else(|| panic!("no `enum Command` in {}", path.display()));
    let commands: BTreeSet<String> = body
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with("//") && !l.starts_with('#'))
        .filter_map(|l| {
            let name: String = l.chars().take_while(char::is_ascii_alphanumeric).collect();
            name.chars()
                .next()
                .is_some_and(|c| c.is_ascii_uppercase())
                .then(|| name.to_lowercase())
        })
        .collect();
    assert!(
        commands.contains("serve") && commands.contains("local"),
        "{commands:?}"
    );
    commands
}

#[test]
fn runbooks_only_tell_operators_to_run_existing_sessiondb_commands() {
    let commands = sessiondb_subcommands();
    let text = paths::read(&paths::runbooks_doc()).unwrap_or_else(|e| panic!("{e}"));
    let mut in_code = false;
    let mut problems = Vec::new();
    let mut used = 0;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        if !in_code {
            continue;
        }
        let line = line.trim_start().trim_start_matches("$ ");
        if let Some(rest) = line.strip_prefix("sessiondb ") {
            used += 1;
            let sub = rest.split_whitespace().next().unwrap_or_default();
            if !commands.contains(sub) {
                problems.push(format!("`sessiondb {sub}` is not a command ({commands:?})"));
            }
        }
    }
    assert!(used > 0, "the runbooks never mention a sessiondb command");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
