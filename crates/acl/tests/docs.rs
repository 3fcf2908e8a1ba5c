//! `docs/security.md` lists each role's commands as the code grants them.

use std::collections::BTreeSet;

use sessiondb_acl::Role;

/// The commands named in the paragraph of `role`'s section that starts with `label`.
fn documented_commands(doc: &str, role: Role, label: &str) -> Option<BTreeSet<String>> {
    let heading = format!("### `{}`\n", role.user());
    let section = doc.split(&heading).nth(1)?.split("\n### ").next()?;
    let paragraph = section
        .split(&format!("\n{label}"))
        .nth(1)?
        .split("\n\n")
        .next()?;
    Some(
        paragraph
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_owned)
            .collect(),
    )
}

#[test]
fn security_doc_lists_every_role_with_its_commands() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/security.md");
    let doc = std::fs::read_to_string(path).expect("docs/security.md");
    for role in Role::ALL {
        let spec = role.spec();
        assert!(
            doc.contains(&format!(
                "| `{}` | `{}` | `{}` |",
                spec.user, spec.env_var, spec.setting_key
            )),
            "the role table lacks {}",
            spec.user
        );
        if role == Role::Admin {
            continue;
        }
        let p = role.permissions();
        let granted: BTreeSet<String> = p
            .sessiondb
            .iter()
            .chain(p.standalone)
            .chain(p.cluster)
            .chain(p.external)
            .map(|c| (*c).to_owned())
            .collect();
        let documented = documented_commands(&doc, role, "Commands:")
            .unwrap_or_else(|| panic!("no `Commands:` paragraph for {role}"));
        assert_eq!(documented, granted, "docs/security.md, role {role}");
        // The commands sent only in some deployments, each in its own paragraph.
        for (label, list) in [
            ("On a Cluster only:", p.cluster),
            (
                "On a standalone server or through Sentinel only:",
                p.standalone,
            ),
        ] {
            let listed: BTreeSet<String> = list.iter().map(|c| (*c).to_owned()).collect();
            let documented = documented_commands(&doc, role, label).unwrap_or_default();
            assert_eq!(documented, listed, "docs/security.md, role {role}, {label}");
        }
    }
}

#[test]
fn security_doc_shows_the_generated_rules() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/security.md");
    let doc = std::fs::read_to_string(path).expect("docs/security.md");
    for role in Role::ALL {
        let rules = sessiondb_acl::role_rules(role, "sdb").expect("valid prefix");
        assert!(
            doc.contains(&format!("… {rules}\n")) || doc.contains(&format!("…  {rules}\n")),
            "docs/security.md does not show the rules of {role}: {rules}"
        );
    }
}
