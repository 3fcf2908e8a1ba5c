//! Secrets never show in `Debug` or errors; the docs and `.env.example` cover every
//! variable and key.

mod common;

use std::path::PathBuf;

use common::{env, load, load_err};
use sessiondb_settings::{keys, LoadOptions, Settings, LEGACY_ENV_VARS};

const SECRETS: &[&str] = &[
    "pw-redis-1",
    "pw-admin-2",
    "pw-sentinel-3",
    "pw-app-4",
    "pw-monitor-5",
    "pw-cleanup-6",
    "pw-backup-7",
    "pw-url-8",
    "pw-sentinel-auth-9",
    "pw-override-10",
];

#[test]
fn secrets_are_absent_from_debug() {
    let file = common::config_file("[redis]\nsentinel_password = \"pw-sentinel-auth-9\"\n");
    let options = LoadOptions {
        config_file: Some(file.path.clone()),
        env: env(&[
            ("REDIS_URL", "redis://app:pw-url-8@h:6379/1"),
            ("REDIS_PASSWORD", "pw-redis-1"),
            ("SESSIONDB_ACL__ADMIN_PASSWORD", "pw-admin-2"),
            ("SENTINEL_PASSWORD", "pw-sentinel-3"),
            ("APP_PASSWORD", "pw-app-4"),
            ("MONITOR_PASSWORD", "pw-monitor-5"),
            ("CLEANUP_PASSWORD", "pw-cleanup-6"),
            ("BACKUP_PASSWORD", "pw-backup-7"),
        ]),
        overrides: vec!["acl.app_password=pw-override-10".to_owned()],
    };
    let settings = Settings::load(&options).unwrap();
    let outputs = [
        format!("{settings:?}"),
        format!("{settings:#?}"),
        format!("{options:?}"),
        format!("{:?}", settings.connection_config()),
        format!("{:?}", settings.redacted_values()),
    ];
    for output in &outputs {
        for secret in SECRETS {
            assert!(!output.contains(secret), "{secret} leaked into {output}");
        }
    }
    assert!(outputs[4].contains("<redacted>"));
}

#[test]
fn secrets_are_absent_from_errors() {
    let messages = [
        load_err(Some("[redis]\npassword = 987654321\n"), &[], &[]),
        load_err(Some("[acl]\napp_password = [\"pw-app-4\"]\n"), &[], &[]),
        load_err(Some("[redis]\npassword = \"pw-redis-1\n"), &[], &[]),
        load_err(None, &[("REDIS_URL", "redis://u:pw-url-8@h:99999")], &[]),
        load_err(None, &[("REDIS_URL", "ftp://u:pw-url-8@h")], &[]),
        load_err(None, &[], &["pw-override-10"]),
        load_err(None, &[], &["redis.password="]),
    ];
    for msg in &messages {
        assert!(!msg.contains("987654321") && !msg.contains("pw-"), "{msg}");
    }
    assert!(
        messages[0].contains("redis.password = <redacted> is invalid"),
        "{}",
        messages[0]
    );
    assert!(messages[6].contains("redis.password = <redacted> is invalid: must not be empty"));
}

fn repo_file(name: &str) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn env_example_mentions_every_variable() {
    let text = repo_file(".env.example");
    for (name, _) in LEGACY_ENV_VARS {
        assert!(
            text.contains(&format!("{name}=")),
            ".env.example lacks {name}"
        );
    }
    for info in keys() {
        assert!(
            text.contains(&format!("{}=", info.env_var)),
            ".env.example lacks {}",
            info.env_var
        );
    }
}

#[test]
fn env_example_defaults_are_known_valid_and_equal_to_the_built_in_ones() {
    // Uncomment every `NAME=value` line: each name must be a setting (or a legacy or
    // reserved name), and together they must load to exactly the built-in defaults.
    let text = repo_file(".env.example");
    let assignments: Vec<(String, String)> = text
        .lines()
        .map(|l| l.trim_start_matches('#').trim())
        .filter_map(|l| l.split_once('='))
        .filter(|(name, _)| {
            !name.is_empty() && name.chars().all(|c| c.is_ascii_uppercase() || c == '_')
        })
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
    assert!(
        assignments.len() > 60,
        "parsed only {} assignments",
        assignments.len()
    );
    let known = |name: &str| {
        keys().iter().any(|k| k.env_var == name)
            || LEGACY_ENV_VARS.iter().any(|(n, _)| *n == name)
            || sessiondb_settings::RESERVED_ENV_VARS.contains(&name)
    };
    for (name, _) in &assignments {
        assert!(
            known(name),
            "{name} in .env.example is not a known variable"
        );
    }
    let loaded = Settings::load(&LoadOptions {
        env: assignments,
        ..LoadOptions::default()
    })
    .unwrap();
    assert_eq!(
        loaded.redacted_values(),
        Settings::default().redacted_values()
    );
}

#[test]
fn configuration_reference_documents_every_key() {
    let text = repo_file("docs/configuration.md");
    for info in keys() {
        assert!(
            text.contains(&format!("`{}`", info.key)),
            "docs lack key {}",
            info.key
        );
        assert!(
            text.contains(&format!("`{}`", info.env_var)),
            "docs lack {}",
            info.env_var
        );
        assert!(
            text.contains(&info.allowed),
            "docs lack the range of {}: {}",
            info.key,
            info.allowed
        );
        // The row's default column shows the declared default.
        let row = text
            .lines()
            .find(|l| l.starts_with(&format!("| `{}` |", info.key)))
            .unwrap_or_else(|| panic!("docs have no table row for {}", info.key));
        let documented = row.split('|').nth(3).unwrap_or_default();
        let expected = match info.default {
            marker if marker.starts_with('(') => marker.trim_end_matches(')').to_owned(),
            value => format!("`{value}`"),
        };
        assert!(
            documented.contains(&expected),
            "docs show the default of {} as {documented:?}, declared {}",
            info.key,
            info.default
        );
    }
    for (name, _) in LEGACY_ENV_VARS {
        assert!(
            text.contains(&format!("`{name}`")),
            "docs lack legacy {name}"
        );
    }
    // The documented example values in the reference's TOML example load cleanly.
    let example = text
        .split("```toml")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("docs/configuration.md has a ```toml example");
    load(Some(example), &[], &[]).unwrap();
}
