//! Rules every rendered object must follow, checked over the objects themselves.

use std::collections::BTreeSet;

use serde_json::Value;
use sessiondb_deploy_tests::netpol::selector_matches;
use sessiondb_deploy_tests::objects::{
    self, config_data, containers, string_map, ContainerKind, Object,
};
use sessiondb_deploy_tests::redis_conf::{self, memory_bytes, quantity_bytes};
use sessiondb_deploy_tests::repo_root;

use crate::support;

/// Workloads in every rendering: (rendering, object).
fn workloads() -> Vec<(String, &'static Object)> {
    support::all_renderings()
        .into_iter()
        .flat_map(|(name, r)| {
            r.objects
                .iter()
                .filter(|o| o.pod_template().is_some())
                .map(move |o| (name.clone(), o))
        })
        .collect()
}

fn is_true(v: Option<&Value>) -> bool {
    v.and_then(Value::as_bool) == Some(true)
}

#[test]
fn every_container_runs_restricted() {
    let mut checked = 0;
    for (rendering, workload) in workloads() {
        let template = workload.pod_template().expect("a workload");
        let pod = template
            .pointer("/spec/securityContext")
            .cloned()
            .unwrap_or_default();
        let at = format!("{rendering}: {}", workload.id());
        assert_eq!(
            template.pointer("/spec/automountServiceAccountToken"),
            Some(&Value::Bool(false)),
            "{at}: service account token mounted"
        );
        for key in ["hostNetwork", "hostPID", "hostIPC"] {
            assert!(
                !is_true(template.pointer(&format!("/spec/{key}"))),
                "{at}: {key}"
            );
        }
        for (_, c) in containers(template) {
            let name = c["name"].as_str().unwrap_or("?");
            let sc = c.get("securityContext").cloned().unwrap_or_default();
            let at = format!("{at} container {name}");
            assert!(
                is_true(sc.get("runAsNonRoot")) || is_true(pod.get("runAsNonRoot")),
                "{at}: runAsNonRoot"
            );
            let uid = sc
                .get("runAsUser")
                .or_else(|| pod.get("runAsUser"))
                .and_then(Value::as_u64);
            assert!(uid.is_some_and(|u| u > 0), "{at}: runs as uid {uid:?}");
            assert_eq!(
                sc.get("allowPrivilegeEscalation"),
                Some(&Value::Bool(false)),
                "{at}"
            );
            assert_eq!(
                sc.get("readOnlyRootFilesystem"),
                Some(&Value::Bool(true)),
                "{at}"
            );
            assert!(!is_true(sc.get("privileged")), "{at}: privileged");
            assert_eq!(
                sc.pointer("/capabilities/drop"),
                Some(&serde_json::json!(["ALL"])),
                "{at}: capabilities not all dropped"
            );
            assert!(
                sc.pointer("/capabilities/add").is_none(),
                "{at}: adds capabilities"
            );
            let seccomp = sc
                .pointer("/seccompProfile/type")
                .or_else(|| pod.pointer("/seccompProfile/type"));
            assert_eq!(
                seccomp.and_then(Value::as_str),
                Some("RuntimeDefault"),
                "{at}: seccomp"
            );
            for kind in ["requests", "limits"] {
                for resource in ["cpu", "memory"] {
                    assert!(
                        c.pointer(&format!("/resources/{kind}/{resource}"))
                            .is_some(),
                        "{at}: no {resource} {kind}"
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(checked >= 10, "only {checked} containers found");
}

#[test]
fn long_running_containers_have_liveness_and_readiness_probes() {
    for (rendering, workload) in workloads() {
        if matches!(workload.kind(), "Job" | "CronJob") {
            // A one-shot pass: Kubernetes restarts or times it out (activeDeadlineSeconds).
            continue;
        }
        let template = workload.pod_template().expect("a workload");
        for (kind, c) in containers(template) {
            if kind == ContainerKind::Main {
                for probe in ["livenessProbe", "readinessProbe"] {
                    assert!(
                        c.get(probe).is_some(),
                        "{rendering}: {} container {} has no {probe}",
                        workload.id(),
                        c["name"]
                    );
                }
            }
        }
    }
}

/// `image` split into (name, tag); digests count as pinned too.
fn image_is_pinned(image: &str) -> bool {
    if image.contains("@sha256:") {
        return true;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        Some((_, tag)) => tag != "latest" && tag.chars().any(|c| c.is_ascii_digit()),
        None => false,
    }
}

#[test]
fn images_are_pinned_to_versions() {
    assert!(image_is_pinned("redis:7.2.7-alpine"));
    assert!(!image_is_pinned("redis:latest"));
    assert!(!image_is_pinned("registry:5000/redis"));
    for (rendering, workload) in workloads() {
        for (_, c) in containers(workload.pod_template().expect("a workload")) {
            let image = c["image"].as_str().unwrap_or("");
            assert!(
                image_is_pinned(image),
                "{rendering}: {} uses {image}",
                workload.id()
            );
        }
    }
}

/// The pod templates of a rendering whose labels a selector matches.
fn matching_pods<'a>(objects: &'a [Object], selector: &Value) -> Vec<&'a Object> {
    objects
        .iter()
        .filter(|o| {
            o.pod_template().is_some_and(|t| {
                selector_matches(Some(selector), &string_map(t, "/metadata/labels"))
                    .expect("valid selector")
            })
        })
        .collect()
}

#[test]
fn every_service_selects_pods_that_expose_its_target_ports() {
    for (rendering, r) in support::all_renderings() {
        for service in r.objects.iter().filter(|o| o.kind() == "Service") {
            let selector = serde_json::json!({ "matchLabels": service.at("/spec/selector") });
            let pods = matching_pods(&r.objects, &selector);
            assert!(
                !pods.is_empty(),
                "{rendering}: {} selects no pod",
                service.id()
            );
            for port in service
                .at("/spec/ports")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let target = &port["targetPort"];
                for pod in &pods {
                    let exposed =
                        containers(pod.pod_template().expect("pod"))
                            .iter()
                            .any(|(_, c)| {
                                c["ports"]
                                    .as_array()
                                    .into_iter()
                                    .flatten()
                                    .any(|p| &p["name"] == target || &p["containerPort"] == target)
                            });
                    assert!(
                        exposed,
                        "{rendering}: {} port {target} not exposed by {}",
                        service.id(),
                        pod.id()
                    );
                }
            }
        }
    }
}

#[test]
fn disruption_budgets_and_the_autoscaler_target_existing_workloads() {
    for (rendering, r) in support::all_renderings() {
        for pdb in r
            .objects
            .iter()
            .filter(|o| o.kind() == "PodDisruptionBudget")
        {
            let selector = pdb.at("/spec/selector").expect("selector");
            assert!(
                !matching_pods(&r.objects, selector).is_empty(),
                "{rendering}: {}",
                pdb.id()
            );
        }
        let hpa = objects::find(&r.objects, "HorizontalPodAutoscaler", "sessiondb")
            .unwrap_or_else(|| panic!("{rendering}: no HPA"));
        let target = hpa.str_at("/spec/scaleTargetRef/name");
        assert!(
            objects::find(&r.objects, "Deployment", target).is_some(),
            "{rendering}: HPA target"
        );
        let mut thresholds: Vec<(String, u64)> = hpa
            .at("/spec/metrics")
            .and_then(Value::as_array)
            .expect("metrics")
            .iter()
            .map(|m| {
                assert_eq!(m["resource"]["target"]["type"], "Utilization");
                (
                    m["resource"]["name"].as_str().expect("name").to_owned(),
                    m["resource"]["target"]["averageUtilization"]
                        .as_u64()
                        .expect("number"),
                )
            })
            .collect();
        thresholds.sort();
        assert_eq!(
            thresholds,
            [("cpu".to_owned(), 70), ("memory".to_owned(), 80)],
            "{rendering}"
        );
        let min = hpa
            .at("/spec/minReplicas")
            .and_then(Value::as_u64)
            .expect("min");
        let max = hpa
            .at("/spec/maxReplicas")
            .and_then(Value::as_u64)
            .expect("max");
        assert!(min >= 1 && min < max, "{rendering}: replicas {min}..{max}");
    }
}

#[test]
fn the_api_probes_hit_healthz_and_readyz_on_the_admin_port() {
    for (rendering, r) in support::all_renderings() {
        let api = objects::find(&r.objects, "Deployment", "sessiondb").expect("API Deployment");
        let template = api.pod_template().expect("pod");
        let (_, c) = containers(template)
            .into_iter()
            .find(|(_, c)| c["name"] == "sessiondb")
            .expect("sessiondb container");
        let port_of = |name: &str| {
            c["ports"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|p| p["name"] == name)
                .map(|p| p["containerPort"].clone())
        };
        assert_eq!(port_of("admin"), Some(Value::from(9090)), "{rendering}");
        assert_eq!(port_of("http"), Some(Value::from(8080)), "{rendering}");
        for (probe, path) in [
            ("startupProbe", "/healthz"),
            ("livenessProbe", "/healthz"),
            ("readinessProbe", "/readyz"),
        ] {
            assert_eq!(c[probe]["httpGet"]["path"], path, "{rendering}: {probe}");
            assert_eq!(c[probe]["httpGet"]["port"], "admin", "{rendering}: {probe}");
        }
    }
}

#[test]
fn the_cleanup_cronjob_runs_sessiondb_cleanup_every_five_minutes_one_at_a_time() {
    for (rendering, r) in support::all_renderings() {
        let job =
            objects::find(&r.objects, "CronJob", "sessiondb-cleanup").expect("cleanup CronJob");
        assert_eq!(job.str_at("/spec/schedule"), "*/5 * * * *", "{rendering}");
        assert_eq!(
            job.str_at("/spec/concurrencyPolicy"),
            "Forbid",
            "{rendering}"
        );
        let template = job.pod_template().expect("pod");
        let (_, c) = containers(template)
            .into_iter()
            .next()
            .expect("a container");
        assert_eq!(
            objects::strings(c, "args").first().map(String::as_str),
            Some("cleanup")
        );
        let api = objects::find(&r.objects, "Deployment", "sessiondb").expect("API");
        let api_image = containers(api.pod_template().expect("pod"))[0].1["image"].clone();
        assert_eq!(
            c["image"], api_image,
            "{rendering}: the job runs the API's image"
        );
    }
}

#[test]
fn the_backup_cronjob_runs_sessiondb_backup_hourly_into_its_volume_as_the_backup_role() {
    for (rendering, r) in support::all_renderings() {
        let at = rendering.as_str();
        let job = objects::find(&r.objects, "CronJob", "sessiondb-backup").expect("backup CronJob");
        assert_eq!(job.str_at("/spec/schedule"), "0 * * * *", "{at}");
        assert_eq!(job.str_at("/spec/concurrencyPolicy"), "Forbid", "{at}");
        let template = job.pod_template().expect("pod");
        let (_, c) = containers(template)
            .into_iter()
            .next()
            .expect("a container");
        let args = objects::strings(c, "args");
        assert_eq!(args.first().map(String::as_str), Some("backup"), "{at}");
        let flag = |name: &str| {
            args.windows(2)
                .find(|w| w[0] == name)
                .map(|w| w[1].clone())
                .unwrap_or_else(|| panic!("{at}: backup without {name}: {args:?}"))
        };
        // Sentinel deployments read from a replica; a lone Redis has none.
        let from = if objects::find(&r.objects, "StatefulSet", "redis-sentinel").is_some() {
            "replica"
        } else {
            "master"
        };
        assert_eq!(flag("--from"), from, "{at}");
        // The file goes to a writable mount backed by the backup volume claim.
        let out = flag("--out");
        let mount = c["volumeMounts"]
            .as_array()
            .expect("volume mounts")
            .iter()
            .find(|m| {
                m["mountPath"]
                    .as_str()
                    .is_some_and(|p| out.starts_with(&format!("{p}/")))
            })
            .unwrap_or_else(|| panic!("{at}: {out} is on no mounted volume"));
        assert!(!is_true(mount.get("readOnly")), "{at}: {out} is read-only");
        let volume = template["spec"]["volumes"]
            .as_array()
            .expect("volumes")
            .iter()
            .find(|v| v["name"] == mount["name"])
            .expect("the mounted volume");
        let claim = volume["persistentVolumeClaim"]["claimName"]
            .as_str()
            .unwrap_or_else(|| panic!("{at}: the backup volume is not a claim: {volume}"));
        let pvc = objects::find(&r.objects, "PersistentVolumeClaim", claim)
            .unwrap_or_else(|| panic!("{at}: no PersistentVolumeClaim {claim}"));
        assert!(
            pvc.at("/spec/resources/requests/storage").is_some(),
            "{at}: {claim} has no size"
        );
        // The Redis password comes from the Secret: the backup role's where ACL users
        // exist (production), the data nodes' otherwise.
        let password = c["env"]
            .as_array()
            .expect("env")
            .iter()
            .find(|e| e["name"] == "SESSIONDB_REDIS__PASSWORD")
            .expect("a Redis password");
        let key = password["valueFrom"]["secretKeyRef"]["key"].as_str();
        let user = c["env"]
            .as_array()
            .expect("env")
            .iter()
            .find(|e| e["name"] == "SESSIONDB_REDIS__USERNAME")
            .and_then(|e| e["value"].as_str());
        if rendering.starts_with("production") {
            assert_eq!(
                (user, key),
                (Some("backup"), Some("BACKUP_PASSWORD")),
                "{at}"
            );
        } else {
            assert_eq!((user, key), (None, Some("REDIS_PASSWORD")), "{at}");
        }
        // The same image and security settings as the cleanup job.
        let cleanup = objects::find(&r.objects, "CronJob", "sessiondb-cleanup").expect("cleanup");
        let cleanup_template = cleanup.pod_template().expect("pod");
        let cleanup_c = containers(cleanup_template)[0].1;
        assert_eq!(c["image"], cleanup_c["image"], "{at}");
        assert_eq!(c["securityContext"], cleanup_c["securityContext"], "{at}");
        let mut pod = template["spec"]["securityContext"].clone();
        // fsGroup makes the volume writable; everything else matches.
        assert_eq!(pod["fsGroup"], pod["runAsGroup"], "{at}");
        pod.as_object_mut().expect("a map").remove("fsGroup");
        assert_eq!(pod, cleanup_template["spec"]["securityContext"], "{at}");
    }
}

#[test]
fn the_namespace_enforces_the_restricted_pod_security_standard() {
    for (rendering, r) in support::all_renderings() {
        let ns = objects::find(&r.objects, "Namespace", "sessiondb").expect("namespace");
        assert_eq!(
            ns.str_at("/metadata/labels/pod-security.kubernetes.io~1enforce"),
            "restricted",
            "{rendering}"
        );
    }
}

/// The config files a Redis/Sentinel container loads: the file named first in its
/// args (as shipped in the ConfigMap) and every `--include`d one.
fn loaded_config(objects: &[Object], container: &Value, shipped_key: &str) -> Vec<Vec<String>> {
    let config =
        objects::find_generated(objects, "ConfigMap", "redis-config").expect("redis-config");
    let mut text = config_data(config, shipped_key)
        .expect("shipped config")
        .to_owned();
    let args = objects::strings(container, "args");
    for pair in args.windows(2) {
        if pair[0] == "--include" {
            let key = pair[1].rsplit('/').next().expect("file name");
            text.push('\n');
            text.push_str(
                config_data(config, key).unwrap_or_else(|| panic!("{key} not in redis-config")),
            );
        }
    }
    redis_conf::directives(&text).expect("parsable config")
}

#[test]
fn redis_never_evicts_keeps_an_aof_and_fits_its_container() {
    for (rendering, r) in support::all_renderings() {
        let redis = objects::find(&r.objects, "StatefulSet", "redis").expect("redis");
        let (_, c) = containers(redis.pod_template().expect("pod"))
            .into_iter()
            .find(|(k, c)| *k == ContainerKind::Main && c["name"] == "redis")
            .expect("redis container");
        let conf = loaded_config(&r.objects, c, "redis.conf");
        let get = |name: &str| {
            redis_conf::value(&conf, name).unwrap_or_else(|| panic!("{rendering}: no {name}"))
        };
        let limit = quantity_bytes(c["resources"]["limits"]["memory"].as_str().expect("limit"))
            .expect("quantity");
        let maxmemory = memory_bytes(get("maxmemory")).expect("maxmemory");
        assert!(
            maxmemory * 10 <= limit * 8,
            "{rendering}: maxmemory {maxmemory} leaves less than 20% of the limit {limit}"
        );
        assert_eq!(get("maxmemory-policy"), "noeviction", "{rendering}");
        assert_eq!(get("appendonly"), "yes", "{rendering}");
        assert_eq!(get("appendfsync"), "everysec", "{rendering}");
        assert_eq!(get("aof-use-rdb-preamble"), "yes", "{rendering}");
        assert_eq!(get("aof-timestamp-enabled"), "yes", "{rendering}");
        assert_eq!(get("save"), "", "{rendering}: periodic RDB snapshots");
        let ha = objects::find(&r.objects, "StatefulSet", "redis-sentinel").is_some();
        if ha {
            assert_eq!(get("min-replicas-to-write"), "1", "{rendering}");
            assert_eq!(get("min-replicas-max-lag"), "10", "{rendering}");
        }
        let storage = quantity_bytes(
            redis.str_at("/spec/volumeClaimTemplates/0/spec/resources/requests/storage"),
        )
        .expect("storage");
        if rendering.starts_with("production") {
            assert!(
                (10u64 << 30..=50u64 << 30).contains(&storage),
                "{rendering}: volume {storage}"
            );
            assert!(
                redis_conf::value(&conf, "aclfile").is_some(),
                "{rendering}: ACL file"
            );
            assert_eq!(
                redis_conf::value(&conf, "port"),
                Some("0"),
                "{rendering}: plaintext port"
            );
            assert_eq!(
                redis_conf::value(&conf, "tls-replication"),
                Some("yes"),
                "{rendering}"
            );
        }
    }
}

#[test]
fn sentinels_use_the_recommended_settings() {
    for (rendering, r) in support::all_renderings() {
        let Some(sentinel) = objects::find(&r.objects, "StatefulSet", "redis-sentinel") else {
            continue;
        };
        assert_eq!(
            sentinel.at("/spec/replicas"),
            Some(&Value::from(3)),
            "{rendering}"
        );
        let (_, c) = containers(sentinel.pod_template().expect("pod"))
            .into_iter()
            .find(|(k, c)| *k == ContainerKind::Main && c["name"] == "sentinel")
            .expect("sentinel container");
        let conf = loaded_config(&r.objects, c, "sentinel.conf");
        let lines: Vec<String> = redis_conf::all(&conf, "sentinel")
            .iter()
            .map(|a| a.join(" "))
            .collect();
        for want in [
            "monitor sessiondb redis-0.redis-headless 6379 2",
            "down-after-milliseconds sessiondb 5000",
            "failover-timeout sessiondb 30000",
            "parallel-syncs sessiondb 1",
            "resolve-hostnames yes",
            "announce-hostnames yes",
        ] {
            assert!(
                lines.iter().any(|l| l == want),
                "{rendering}: no `sentinel {want}` in {lines:?}"
            );
        }
        let args = objects::strings(c, "args").join(" ");
        assert!(
            args.contains("--sentinel announce-ip $(POD_NAME).redis-sentinel-headless"),
            "{args}"
        );
        let redis = objects::find(&r.objects, "StatefulSet", "redis").expect("redis");
        assert_eq!(
            redis.at("/spec/replicas"),
            Some(&Value::from(3)),
            "{rendering}"
        );
        let (_, rc) = containers(redis.pod_template().expect("pod"))
            .into_iter()
            .find(|(k, c)| *k == ContainerKind::Main && c["name"] == "redis")
            .expect("redis container");
        let args = objects::strings(rc, "args").join(" ");
        assert!(
            args.contains("--replica-announce-ip $(POD_NAME).redis-headless"),
            "{args}"
        );
        for name in ["redis", "redis-sentinel"] {
            let set = objects::find(&r.objects, "StatefulSet", name).expect("set");
            assert!(
                set.at("/spec/template/spec/affinity/podAntiAffinity")
                    .is_some(),
                "{rendering}: {name} has no anti-affinity"
            );
            assert!(
                containers(set.pod_template().expect("pod"))
                    .iter()
                    .any(|(_, c)| c["image"]
                        .as_str()
                        .is_some_and(|i| i.contains("redis_exporter"))),
                "{rendering}: no redis_exporter beside {name}"
            );
        }
    }
}

/// Names of Secrets that cert-manager creates (the Certificates' secretName).
fn certificate_secrets(objects: &[Object]) -> BTreeSet<String> {
    objects
        .iter()
        .filter(|o| o.kind() == "Certificate")
        .map(|o| o.str_at("/spec/secretName").to_owned())
        .collect()
}

#[test]
fn every_referenced_config_map_secret_and_key_exists() {
    for (rendering, r) in support::all_renderings() {
        let from_certs = certificate_secrets(&r.objects);
        let exists = |kind: &str, name: &str| {
            r.objects
                .iter()
                .any(|o| o.kind() == kind && o.name() == name)
                || (kind == "Secret" && from_certs.contains(name))
        };
        for (_, workload) in workloads().into_iter().filter(|(n, _)| *n == rendering) {
            let template = workload.pod_template().expect("pod");
            for volume in template
                .pointer("/spec/volumes")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(name) = volume.pointer("/configMap/name").and_then(Value::as_str) {
                    assert!(
                        exists("ConfigMap", name),
                        "{rendering}: {} mounts ConfigMap {name}",
                        workload.id()
                    );
                }
                if let Some(name) = volume.pointer("/secret/secretName").and_then(Value::as_str) {
                    assert!(
                        exists("Secret", name),
                        "{rendering}: {} mounts Secret {name}",
                        workload.id()
                    );
                }
            }
            for (_, c) in containers(template) {
                for e in c["env"].as_array().into_iter().flatten() {
                    if let Some(reference) = e.pointer("/valueFrom/secretKeyRef") {
                        let name = reference["name"].as_str().expect("name");
                        let key = reference["key"].as_str().expect("key");
                        let secret = objects::find(&r.objects, "Secret", name)
                            .unwrap_or_else(|| panic!("{rendering}: no Secret {name}"));
                        assert!(
                            objects::secret_data(secret, key)
                                .expect("decodable")
                                .is_some(),
                            "{rendering}: {} reads key {key} that Secret {name} lacks",
                            workload.id()
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn the_argo_cd_project_allows_exactly_the_kinds_the_manifests_use() {
    let argocd = crate::render::argocd_objects();
    let project = argocd
        .iter()
        .find(|o| o.kind() == "AppProject")
        .expect("AppProject");
    let listed = |field: &str| -> BTreeSet<(String, String)> {
        project
            .at(&format!("/spec/{field}"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|e| {
                (
                    e["group"].as_str().unwrap_or("").to_owned(),
                    e["kind"].as_str().unwrap_or("").to_owned(),
                )
            })
            .collect()
    };
    let allowed: BTreeSet<_> = listed("namespaceResourceWhitelist")
        .union(&listed("clusterResourceWhitelist"))
        .cloned()
        .collect();
    let mut used = BTreeSet::new();
    for (_, r) in support::all_renderings() {
        for o in &r.objects {
            used.insert((o.group().to_owned(), o.kind().to_owned()));
        }
    }
    let missing: Vec<_> = used.difference(&allowed).collect();
    assert!(
        missing.is_empty(),
        "kinds rendered but not allowed: {missing:?}"
    );
    let unused: Vec<_> = allowed.difference(&used).collect();
    assert!(
        unused.is_empty(),
        "kinds allowed but never rendered: {unused:?}"
    );
    assert_eq!(
        listed("clusterResourceWhitelist"),
        BTreeSet::from([(String::new(), "Namespace".to_owned())])
    );

    let repos: BTreeSet<&str> = project
        .at("/spec/sourceRepos")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let app = argocd
        .iter()
        .find(|o| o.kind() == "Application")
        .expect("Application");
    let set = argocd
        .iter()
        .find(|o| o.kind() == "ApplicationSet")
        .expect("ApplicationSet");
    for (source, what) in [
        (app.at("/spec/source"), "Application"),
        (set.at("/spec/template/spec/source"), "ApplicationSet"),
    ] {
        let source = source.expect("source");
        assert!(
            repos.contains(source["repoURL"].as_str().unwrap_or("")),
            "{what} repo not allowed"
        );
    }
    let app_path = app.str_at("/spec/source/path");
    assert!(
        repo_root()
            .join(app_path)
            .join("kustomization.yaml")
            .is_file(),
        "{app_path}"
    );
    let elements = set
        .at("/spec/generators/0/list/elements")
        .and_then(Value::as_array)
        .expect("list generator");
    let envs: Vec<&str> = elements.iter().filter_map(|e| e["env"].as_str()).collect();
    assert_eq!(envs, ["dev", "staging", "production"]);
    for element in elements {
        let overlay = element["overlay"].as_str().expect("overlay");
        let path = set
            .str_at("/spec/template/spec/source/path")
            .replace("{{.overlay}}", overlay);
        assert!(
            repo_root().join(&path).join("kustomization.yaml").is_file(),
            "{path}"
        );
    }
}
