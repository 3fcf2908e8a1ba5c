//! `server.api_keys`: the TOML tables and the environment format, the checks on names,
//! hashes and scopes, and that no hash is ever printed.

mod common;

use common::{load, load_err};
use sessiondb_settings::{ApiKeySettings, Scope, Settings};

const HASH_A: &str = "87759acdc00ef80a40ea646f5cd0a29a7eaaef082084b05149ab1324c228efa4";
const HASH_B: &str = "8ce414c1a0fcec84fd49af9340c5f7e6485fdc9e259530186af9e3037f0d7dd4";

fn keys_toml(entries: &[(&str, &str, &str)]) -> String {
    entries
        .iter()
        .map(|(name, hash, scopes)| {
            format!("[[server.api_keys]]\nname = {name:?}\nsha256 = {hash:?}\nscopes = {scopes}\n")
        })
        .collect()
}

#[test]
fn api_keys_are_read_from_toml_tables() {
    let toml = keys_toml(&[
        ("checkout", HASH_A, r#"["sessions:read", "sessions:write"]"#),
        (
            "support-tool.v2",
            HASH_B,
            r#"["SESSIONS:ADMIN", "sessions:admin"]"#,
        ),
    ]);
    let s = load(
        Some(&format!("[server]\nlisten = \"127.0.0.1:8000\"\n{toml}")),
        &[],
        &[],
    )
    .unwrap();
    assert_eq!(
        s.server.api_keys,
        vec![
            ApiKeySettings {
                name: "checkout".into(),
                sha256: HASH_A.into(),
                scopes: vec![Scope::SessionsRead, Scope::SessionsWrite],
            },
            ApiKeySettings {
                name: "support-tool.v2".into(),
                sha256: HASH_B.into(),
                scopes: vec![Scope::SessionsAdmin],
            },
        ],
        "scopes are case-insensitive and a repeated scope is kept once"
    );
    assert_eq!(s.server.listen.port(), 8000);
    // Neither Debug nor the listing prints a hash.
    let listing = format!("{:?}", s.redacted_values());
    for output in [format!("{s:?}"), format!("{s:#?}"), listing.clone()] {
        assert!(
            !output.contains(HASH_A) && !output.contains(HASH_B),
            "{output}"
        );
    }
    assert!(
        listing
            .contains("checkout (sessions:read sessions:write); support-tool.v2 (sessions:admin)"),
        "{listing}"
    );
}

#[test]
fn api_keys_are_read_from_the_environment_format() {
    let raw = format!(
        " checkout : {HASH_A} : sessions:read, sessions:write ;ops:{HASH_B}:sessions:admin;"
    );
    let file = keys_toml(&[("from-file", HASH_A, r#"["sessions:read"]"#)]);
    let s = load(Some(&file), &[("SESSIONDB_SERVER__API_KEYS", &raw)], &[]).unwrap();
    let names: Vec<&str> = s.server.api_keys.iter().map(|k| k.name.as_str()).collect();
    assert_eq!(
        names,
        ["checkout", "ops"],
        "the variable replaces the file's list"
    );
    assert_eq!(
        s.server.api_keys[0].scopes,
        [Scope::SessionsRead, Scope::SessionsWrite]
    );
    assert_eq!(s.server.api_keys[1].sha256, HASH_B);

    // An empty variable is unset: the file's list stays.
    let s = load(Some(&file), &[("SESSIONDB_SERVER__API_KEYS", "")], &[]).unwrap();
    assert_eq!(s.server.api_keys[0].name, "from-file");
    // Overrides use the same format; an empty override clears the list.
    let s = load(
        Some(&file),
        &[],
        &[&format!("server.api_keys=cli:{HASH_B}:sessions:write")],
    )
    .unwrap();
    assert_eq!(s.server.api_keys[0].name, "cli");
    let s = load(Some(&file), &[], &["server.api_keys="]).unwrap();
    assert!(s.server.api_keys.is_empty());
}

#[test]
fn bad_hashes_are_named_by_key_but_never_printed() {
    let bad = [
        HASH_A.to_uppercase(),
        HASH_A[..63].to_owned(),
        format!("{HASH_A}0"),
        "sdb_live_the-raw-api-key-pasted-by-mistake".to_owned(),
        HASH_A.replace('a', "g"),
    ];
    for hash in &bad {
        let toml = keys_toml(&[
            ("ok", HASH_B, r#"["sessions:read"]"#),
            ("checkout", hash, r#"["sessions:read"]"#),
        ]);
        let msg = load_err(Some(&toml), &[], &[]);
        assert!(
            msg.starts_with(
                "server.api_keys[1].sha256 = <redacted> is invalid: is not 64 lowercase hex characters"
            ),
            "{msg}"
        );
        assert!(
            msg.contains("\"checkout\"") && msg.contains("sessiondb.toml"),
            "{msg}"
        );
        assert!(!msg.contains(hash.as_str()), "{msg}");

        let env_value = format!("checkout:{hash}:sessions:read");
        let msg = load_err(None, &[("SESSIONDB_SERVER__API_KEYS", &env_value)], &[]);
        assert!(
            msg.contains(
                "server.api_keys[0].sha256 = <redacted> is invalid: is not 64 lowercase hex"
            ),
            "{msg}"
        );
        assert!(
            msg.ends_with("(set by environment variable SESSIONDB_SERVER__API_KEYS)"),
            "{msg}"
        );
        assert!(!msg.contains(hash.as_str()), "{msg}");
    }

    // Malformed entries and wrongly typed values are not quoted either.
    let msgs = [
        load_err(None, &[("SESSIONDB_SERVER__API_KEYS", HASH_A)], &[]),
        load_err(None, &[("SESSIONDB_SERVER__API_KEYS", &format!("a:{HASH_A}"))], &[]),
        load_err(None, &[], &[&format!("server.api_keys=a:{HASH_A}")]),
        load_err(Some(&format!("[server]\napi_keys = \"a:{HASH_A}:sessions:read\"\n")), &[], &[]),
        load_err(Some(&format!("[server]\napi_keys = [\"{HASH_A}\"]\n")), &[], &[]),
        load_err(Some(&format!("[server]\napi_keys = [{{ name = \"a\", sha256 = [\"{HASH_A}\"], scopes = [\"sessions:read\"] }}]\n")), &[], &[]),
    ];
    for msg in &msgs {
        assert!(msg.contains("server.api_keys"), "{msg}");
        assert!(msg.contains("<redacted>"), "{msg}");
        assert!(!msg.contains(HASH_A), "{msg}");
    }
    assert!(
        msgs[0].contains("expected name:sha256:scope"),
        "{}",
        msgs[0]
    );
    assert!(
        msgs[3].contains("server.api_keys = <redacted> is invalid: expected a list of API keys"),
        "{}",
        msgs[3]
    );

    // Keys built in code are checked by validate, with the same care.
    let mut s = Settings::default();
    s.server.api_keys.push(ApiKeySettings {
        name: "code".into(),
        sha256: "not-a-hash-0123".into(),
        scopes: vec![Scope::SessionsRead],
    });
    let msg = s.validate().unwrap_err().to_string();
    assert!(
        msg.starts_with("server.api_keys[0].sha256 = <redacted> is invalid"),
        "{msg}"
    );
    assert!(!msg.contains("not-a-hash-0123"), "{msg}");
}

#[test]
fn api_key_names_scopes_and_fields_are_checked() {
    let one = |name: &str, scopes: &str| keys_toml(&[(name, HASH_A, scopes)]);
    let long = "n".repeat(65);
    let cases: Vec<(String, &str)> = vec![
        (
            one("check out", r#"["sessions:read"]"#),
            "server.api_keys[0].name = \"check out\" is invalid: expected 1-64 characters of A-Z a-z 0-9 _ . -",
        ),
        (one("", r#"["sessions:read"]"#), "server.api_keys[0].name = \"\" is invalid"),
        (one(&long, r#"["sessions:read"]"#), "expected 1-64 characters"),
        (
            keys_toml(&[
                ("dup", HASH_A, r#"["sessions:read"]"#),
                ("dup", HASH_B, r#"["sessions:write"]"#),
            ]),
            "server.api_keys[1].name = \"dup\" is invalid: another API key has the same name",
        ),
        (
            one("a", "[]"),
            "server.api_keys[0].scopes = [] is invalid: API key \"a\" needs at least one of \
             sessions:read, sessions:write, sessions:admin",
        ),
        (
            one("a", r#"["sessions:read", "sessions:delete"]"#),
            "server.api_keys[0].scopes = \"sessions:delete\" is invalid: expected one of \
             sessions:read, sessions:write, sessions:admin",
        ),
        (one("a", r#""sessions:read""#), "server.api_keys[0].scopes = \"sessions:read\" is invalid: expected a list of"),
        (
            format!("[[server.api_keys]]\nname = \"a\"\nsha256 = \"{HASH_A}\"\nscope = [\"sessions:read\"]\n"),
            "unknown setting `server.api_keys[0].scope`",
        ),
        (
            "[[server.api_keys]]\nname = \"a\"\nscopes = [\"sessions:read\"]\n".to_owned(),
            "server.api_keys[0].sha256 = (not set) is invalid: expected a string; every API key \
             needs name, sha256 and scopes",
        ),
    ];
    for (toml, expected) in &cases {
        let msg = load_err(Some(toml), &[], &[]);
        assert!(msg.contains(expected), "{toml}\n{msg}");
        assert!(msg.contains("sessiondb.toml"), "{msg}");
    }
    let msg = load_err(Some(&cases[7].0), &[], &[]);
    assert!(
        msg.contains("did you mean server.api_keys[0].scopes?"),
        "{msg}"
    );

    let msg = load_err(
        None,
        &[(
            "SESSIONDB_SERVER__API_KEYS",
            &format!("a:{HASH_A}:sessions:read,admin"),
        )],
        &[],
    );
    assert!(
        msg.contains("server.api_keys[0].scopes = \"admin\" is invalid: expected one of"),
        "{msg}"
    );
    let msg = load_err(
        None,
        &[("SESSIONDB_SERVER__API_KEYS", &format!("a:{HASH_A}:"))],
        &[],
    );
    assert!(
        msg.contains("server.api_keys[0].scopes = [] is invalid"),
        "{msg}"
    );
}
