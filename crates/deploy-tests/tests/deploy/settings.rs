//! The settings the API and cleanup pods get (the settings file from the ConfigMap,
//! mounted where the pod mounts it, and the environment the pod spec sets, secrets
//! resolved from the rendered Secret) load with sessiondb's own settings loader and
//! validation, and say what each overlay means.

use std::fs;
use std::path::{Path, PathBuf};

use secrecy::ExposeSecret as _;
use serde_json::Value;
use sessiondb_deploy_tests::objects::{self, config_data, containers, Object};
use sessiondb_settings::{DurabilityMode, LoadOptions, RedisMode, Settings};

use crate::support;

/// Where the pods mount their files; the scratch directory stands in for it.
const MOUNT_ROOT: &str = "/etc/sessiondb/";

/// Lays out the volumes `container` mounts under /etc/sessiondb in `dir` (ConfigMap
/// data as is; Secrets that cert-manager issues as placeholder files, since the
/// loader only checks they exist) and returns the environment, secrets resolved.
fn materialize(
    objects_: &[Object],
    template: &Value,
    container: &Value,
    dir: &Path,
) -> Vec<(String, String)> {
    let volumes = template
        .pointer("/spec/volumes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for mount in container["volumeMounts"].as_array().into_iter().flatten() {
        let path = mount["mountPath"].as_str().expect("mountPath");
        let Some(relative) = path.strip_prefix(MOUNT_ROOT) else {
            continue;
        };
        let target = dir.join(relative);
        fs::create_dir_all(&target).expect("mount directory");
        let volume = volumes
            .iter()
            .find(|v| v["name"] == mount["name"])
            .expect("the mounted volume exists");
        if let Some(name) = volume.pointer("/configMap/name").and_then(Value::as_str) {
            let map = objects::find(objects_, "ConfigMap", name).expect("mounted ConfigMap");
            for (key, value) in map
                .at("/data")
                .and_then(Value::as_object)
                .into_iter()
                .flatten()
            {
                fs::write(target.join(key), value.as_str().expect("string data")).expect("write");
            }
        }
        if volume.get("secret").is_some() {
            for item in volume
                .pointer("/secret/items")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                fs::write(
                    target.join(item["path"].as_str().expect("path")),
                    "issued by cert-manager\n",
                )
                .expect("write");
            }
        }
    }
    objects::container_env(container, |from| {
        let reference = from.get("secretKeyRef")?;
        let secret = objects::find(objects_, "Secret", reference["name"].as_str()?)?;
        objects::secret_data(secret, reference["key"].as_str()?)
            .ok()
            .flatten()
    })
}

/// Loads the settings of one container the way the binary does, from the file named
/// by SESSIONDB_CONFIG (moved into `dir`) and the rest of the environment.
fn load(objects_: &[Object], workload: &Object, container_name: &str, dir: &Path) -> Settings {
    let template = workload.pod_template().expect("pod");
    let (_, container) = containers(template)
        .into_iter()
        .find(|(_, c)| c["name"] == container_name)
        .expect("container");
    let mut env = materialize(objects_, template, container, dir);
    let config = env
        .iter()
        .find(|(n, _)| n == "SESSIONDB_CONFIG")
        .map(|(_, v)| v.clone())
        .expect("SESSIONDB_CONFIG names the settings file");
    env.retain(|(n, _)| n != "SESSIONDB_CONFIG");
    let config_file: PathBuf = dir.join(
        config
            .strip_prefix(MOUNT_ROOT)
            .expect("mounted under /etc/sessiondb"),
    );
    assert!(config_file.is_file(), "{config} is not mounted");
    Settings::load(&LoadOptions {
        config_file: Some(config_file),
        env,
        overrides: Vec::new(),
    })
    .unwrap_or_else(|e| panic!("{}: {container_name}: {e}", workload.id()))
}

#[test]
fn the_pods_settings_load_and_match_each_overlay() {
    for (overlay, rendered) in support::overlays() {
        let objects_ = &rendered.objects;
        let api = objects::find(objects_, "Deployment", "sessiondb").expect("API");
        let job = objects::find(objects_, "CronJob", "sessiondb-cleanup").expect("cleanup");
        let backup = objects::find(objects_, "CronJob", "sessiondb-backup").expect("backup");
        let config =
            objects::find_generated(objects_, "ConfigMap", "sessiondb-config").expect("config");
        assert!(
            config_data(config, "sessiondb.toml").is_some(),
            "{overlay}: no sessiondb.toml"
        );
        for (workload, container) in [(api, "sessiondb"), (job, "cleanup"), (backup, "backup")] {
            let dir = tempfile::tempdir().expect("scratch directory");
            let settings = load(objects_, workload, container, dir.path());
            let at = format!("{overlay}: {container}");
            assert_eq!(settings.server.listen.to_string(), "0.0.0.0:8080", "{at}");
            assert_eq!(
                settings.server.admin_listen.to_string(),
                "0.0.0.0:9090",
                "{at}"
            );
            let password = settings
                .redis
                .password
                .as_ref()
                .map(|p| p.expose_secret().to_owned());
            let sentinel_password = settings
                .redis
                .sentinel_password
                .as_ref()
                .map(|p| p.expose_secret().to_owned());
            let (want_user, want_variable) = match (*overlay, container) {
                ("production", "sessiondb") => (Some("app"), "APP_PASSWORD"),
                ("production", "backup") => (Some("backup"), "BACKUP_PASSWORD"),
                ("production", _) => (Some("cleanup"), "CLEANUP_PASSWORD"),
                _ => (None, "REDIS_PASSWORD"),
            };
            assert_eq!(settings.redis.username.as_deref(), want_user, "{at}");
            assert_eq!(
                password,
                Some(sessiondb_deploy_tests::render::test_password(want_variable)),
                "{at}: password"
            );
            match *overlay {
                "dev" => {
                    assert_eq!(settings.redis.mode, RedisMode::Standalone, "{at}");
                    assert_eq!(settings.redis.host.as_deref(), Some("redis"), "{at}");
                    assert!(objects::find(objects_, "Service", "redis").is_some());
                }
                _ => {
                    assert_eq!(settings.redis.mode, RedisMode::Sentinel, "{at}");
                    let sentinels: Vec<String> = settings
                        .redis
                        .sentinels
                        .iter()
                        .map(|s| format!("{}:{}", s.host, s.port))
                        .collect();
                    assert_eq!(
                        sentinels,
                        (0..3)
                            .map(|i| format!("redis-sentinel-{i}.redis-sentinel-headless:26379"))
                            .collect::<Vec<_>>(),
                        "{at}"
                    );
                    assert_eq!(settings.redis.sentinel_service, "sessiondb", "{at}");
                    assert_eq!(
                        sentinel_password,
                        Some(sessiondb_deploy_tests::render::test_password(
                            "SENTINEL_PASSWORD"
                        )),
                        "{at}"
                    );
                }
            }
            let production = *overlay == "production";
            assert_eq!(settings.redis.tls.enabled, production, "{at}: TLS");
            assert_eq!(
                settings.redis.durability,
                if production {
                    DurabilityMode::Replicated
                } else {
                    DurabilityMode::Async
                },
                "{at}: durability"
            );
            let trusted: Vec<String> = settings
                .server
                .trusted_proxies
                .iter()
                .map(ToString::to_string)
                .collect();
            let expected: &[&str] = if production { &["10.244.0.0/16"] } else { &[] };
            assert_eq!(trusted, expected, "{at}: trusted proxies");
            if production {
                let ca = settings.redis.tls.ca_file.as_ref().expect("CA file");
                assert!(ca.is_file(), "{at}: {} not mounted", ca.display());
            }
        }
    }
}
