//! The files generated from deploy/monitoring are up to date, and each generated
//! PrometheusRule carries exactly its rule file.

use std::fs;

use sessiondb_deploy_tests::generated::{self, Sources, PROMETHEUS_RULES};
use sessiondb_deploy_tests::objects::{parse_stream, parse_yaml};
use sessiondb_deploy_tests::repo_root;

#[test]
fn generated_files_match_deploy_monitoring() {
    let root = repo_root();
    let regenerate = std::env::var("SESSIONDB_REGENERATE").is_ok_and(|v| v == "1");
    let mut stale = Vec::new();
    for file in generated::expected(&root).unwrap_or_else(|e| panic!("{e:#}")) {
        let path = root.join(&file.path);
        let current = fs::read_to_string(&path).unwrap_or_default();
        if current != file.contents {
            if regenerate {
                fs::create_dir_all(path.parent().expect("a parent")).expect("create");
                fs::write(&path, &file.contents).expect("write");
                println!("rewrote {}", file.path.display());
            } else {
                stale.push(file.path.display().to_string());
            }
        }
    }
    assert!(
        stale.is_empty(),
        "out of date with deploy/monitoring: {stale:?}; rewrite them with \
         `SESSIONDB_REGENERATE=1 cargo test -p sessiondb-deploy-tests generated` and commit"
    );
}

#[test]
fn each_prometheus_rule_is_its_rule_file() {
    let root = repo_root();
    let sources = Sources::scan(&root).unwrap_or_else(|e| panic!("{e:#}"));
    let text = fs::read_to_string(root.join(PROMETHEUS_RULES)).expect("prometheusrules.yaml");
    let rules = parse_stream(&text).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(
        rules.len(),
        sources.rules.len(),
        "one PrometheusRule per rule file"
    );
    for (rule, file) in rules.iter().zip(&sources.rules) {
        let source =
            parse_yaml(&fs::read_to_string(root.join(file)).expect("rule file")).expect("YAML");
        assert_eq!(rule.kind(), "PrometheusRule");
        assert_eq!(
            rule.at("/spec"),
            Some(&source),
            "{} differs from {file}",
            rule.name()
        );
    }
}
