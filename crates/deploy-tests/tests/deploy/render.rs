//! Every overlay renders; what each renders; every object satisfies its schema.

use std::collections::BTreeMap;

use sessiondb_deploy_tests::objects::{self, Object};
use sessiondb_deploy_tests::repo_root;
use sessiondb_deploy_tests::validate::{self, Outcome};

use crate::support;

/// `Kind/name` of every object, generated names without their hash suffix.
fn inventory(objects: &[Object]) -> Vec<String> {
    let mut out: Vec<String> = objects
        .iter()
        .map(|o| {
            let name = match o.kind() {
                "ConfigMap" | "Secret" => o
                    .name()
                    .rsplit_once('-')
                    .filter(|(base, _)| o.is_generated(o.kind(), base))
                    .map_or(o.name(), |(base, _)| base),
                _ => o.name(),
            };
            format!("{}/{name}", o.kind())
        })
        .collect();
    out.sort();
    out
}

const BASE: &[&str] = &[
    "ConfigMap/sessiondb-config",
    "CronJob/sessiondb-backup",
    "CronJob/sessiondb-cleanup",
    "Deployment/sessiondb",
    "HorizontalPodAutoscaler/sessiondb",
    "Namespace/sessiondb",
    "NetworkPolicy/allow-dns",
    "NetworkPolicy/default-deny",
    "NetworkPolicy/sessiondb-api",
    "NetworkPolicy/sessiondb-backup",
    "NetworkPolicy/sessiondb-cleanup",
    "PersistentVolumeClaim/sessiondb-backups",
    "PodDisruptionBudget/sessiondb",
    "Secret/sessiondb-redis-passwords",
    "Service/sessiondb",
    "Service/sessiondb-admin",
    "ServiceAccount/sessiondb",
];

const REDIS_COMMON: &[&str] = &[
    "ConfigMap/redis-config",
    "ConfigMap/redis-scripts",
    "NetworkPolicy/redis",
    "Service/redis-headless",
    "StatefulSet/redis",
];

const DEV: &[&str] = &["Service/redis"];

const HA: &[&str] = &[
    "NetworkPolicy/redis-sentinel",
    "PodDisruptionBudget/redis",
    "PodDisruptionBudget/redis-sentinel",
    "Service/redis-sentinel-headless",
    "StatefulSet/redis-sentinel",
];

const PRODUCTION: &[&str] = &[
    "Certificate/redis-tls",
    "Certificate/sessiondb-api",
    "Certificate/sessiondb-ca",
    "Ingress/sessiondb",
    "Issuer/sessiondb-ca",
    "Issuer/sessiondb-selfsigned",
    "Secret/sessiondb-redis-acl",
];

fn expected(overlay: &str) -> Vec<String> {
    let parts: &[&[&str]] = match overlay {
        "dev" => &[BASE, REDIS_COMMON, DEV],
        "ha" => &[BASE, REDIS_COMMON, HA],
        "production" => &[BASE, REDIS_COMMON, HA, PRODUCTION],
        other => panic!("no expectation for overlay {other}"),
    };
    let mut all: Vec<String> = parts
        .iter()
        .flat_map(|p| p.iter().map(|s| (*s).to_owned()))
        .collect();
    all.sort();
    all
}

#[test]
fn every_overlay_renders_exactly_its_objects_in_the_sessiondb_namespace() {
    for (overlay, rendered) in support::overlays() {
        let actual = inventory(&rendered.objects);
        assert_eq!(actual, expected(overlay), "objects of overlay {overlay}");
        for object in &rendered.objects {
            if object.kind() != "Namespace" {
                assert_eq!(
                    object.namespace(),
                    "sessiondb",
                    "{overlay}: {}",
                    object.id()
                );
            }
        }
        println!("{overlay}: {} objects: {}", actual.len(), actual.join(", "));
    }
}

#[test]
fn the_optional_components_render_on_their_overlays() {
    for (name, rendered) in support::with_components() {
        let kinds: Vec<String> = inventory(&rendered.objects);
        let wanted: &[&str] = if name.ends_with("+monitoring") {
            &[
                "ConfigMap/prometheus-rules",
                "ConfigMap/grafana-dashboards",
                "ConfigMap/alertmanager-config",
                "StatefulSet/prometheus",
                "Deployment/alertmanager",
                "Deployment/grafana",
            ]
        } else {
            &[
                "ServiceMonitor/sessiondb",
                "ServiceMonitor/redis",
                "PrometheusRule/sessiondb-",
            ]
        };
        for want in wanted {
            assert!(
                kinds.iter().any(|k| k.starts_with(want)),
                "{name} lacks {want}: {kinds:?}"
            );
        }
    }
}

fn assert_all_valid(what: &str, outcomes: &[Outcome]) {
    let failures: Vec<&Outcome> = outcomes.iter().filter(|o| !o.errors.is_empty()).collect();
    assert!(
        failures.is_empty(),
        "{what}: invalid objects: {failures:#?}"
    );
}

#[test]
fn built_in_objects_validate_strictly_against_the_kubernetes_schemas() {
    for (name, rendered) in support::all_renderings() {
        let builtin: Vec<&Object> = rendered
            .objects
            .iter()
            .filter(|o| !validate::is_custom(o))
            .collect();
        for version in validate::KUBERNETES_VERSIONS {
            let outcomes =
                validate::validate_builtin(&builtin, version).unwrap_or_else(|e| panic!("{e:#}"));
            assert_eq!(outcomes.len(), builtin.len());
            assert_all_valid(&format!("{name} on Kubernetes {version}"), &outcomes);
        }
    }
}

#[test]
fn the_kubernetes_validator_rejects_an_unknown_field() {
    let mut bad = objects::find(support::objects("dev"), "Deployment", "sessiondb")
        .expect("the dev overlay has the API Deployment")
        .clone();
    bad.0["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = serde_json::json!({});
    let outcomes = validate::validate_builtin(&[&bad], validate::KUBERNETES_VERSIONS[0])
        .unwrap_or_else(|e| panic!("{e:#}"));
    assert!(
        !outcomes[0].errors.is_empty(),
        "a misspelt field passed: {outcomes:?}"
    );
}

/// The Argo CD objects under deploy/argocd.
pub(crate) fn argocd_objects() -> Vec<Object> {
    let dir = repo_root().join("deploy/argocd");
    let mut out = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .expect("deploy/argocd exists")
        .map(|e| e.expect("directory entry").path())
        .collect();
    paths.sort();
    for path in paths {
        let text = std::fs::read_to_string(&path).expect("readable");
        out.extend(
            objects::parse_stream(&text).unwrap_or_else(|e| panic!("{}: {e:#}", path.display())),
        );
    }
    out
}

#[test]
fn custom_resources_and_argo_cd_objects_validate_against_their_crd_schemas() {
    let mut custom: Vec<Object> = argocd_objects();
    let kinds: BTreeMap<String, usize> = custom.iter().fold(BTreeMap::new(), |mut m, o| {
        *m.entry(o.kind().to_owned()).or_default() += 1;
        m
    });
    assert_eq!(
        kinds.keys().collect::<Vec<_>>(),
        ["AppProject", "Application", "ApplicationSet"],
        "deploy/argocd holds an Application, an ApplicationSet and an AppProject"
    );
    for (_, rendered) in support::all_renderings() {
        custom.extend(
            rendered
                .objects
                .iter()
                .filter(|o| validate::is_custom(o))
                .cloned(),
        );
    }
    assert!(
        custom.iter().any(|o| o.kind() == "Certificate"),
        "production has certificates"
    );
    let refs: Vec<&Object> = custom.iter().collect();
    let outcomes = validate::validate_custom(&refs).unwrap_or_else(|e| panic!("{e:#}"));
    assert_eq!(outcomes.len(), refs.len());
    assert_all_valid("custom resources", &outcomes);
}

#[test]
fn the_crd_validator_rejects_a_wrong_type() {
    let mut bad = argocd_objects()
        .into_iter()
        .find(|o| o.kind() == "Application")
        .expect("deploy/argocd has an Application");
    bad.0["spec"]["destination"]["namespace"] = serde_json::json!(42);
    let outcomes = validate::validate_custom(&[&bad]).unwrap_or_else(|e| panic!("{e:#}"));
    assert!(
        !outcomes[0].errors.is_empty(),
        "a number passed for a string: {outcomes:?}"
    );
}
