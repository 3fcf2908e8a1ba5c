//! What a key under the prefix is, from its name (the key schema of
//! `docs/architecture.md`, version 2). Names here are relative: the key without
//! `<prefix>:`.

/// The kinds of key under the prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeyKind {
    /// `{<tag>}:u:<uh>`: a user's index.
    Index { tag: String },
    /// `{<tag>}:s:<sid>`: a device login record (or a reuse tombstone).
    Record { tag: String },
    /// `{<tag>}:d:<did>`: a deletion token.
    Deletion,
    /// `{<tag>}:due` or `{<tag>}:n`: a bucket's cleanup schedule or live count, which a
    /// restore rebuilds from the indexes instead of applying.
    Bucket,
    /// `schema`.
    Schema,
    /// `events`.
    Events,
    /// Operational markers that describe one deployment's activity, not session data:
    /// `cleanup:lease`, `cleanup:last`, `backup:last`, `health`, `health:{<n>}`. Never
    /// backed up.
    Marker,
    /// Anything else (e.g. keys of a longer prefix such as `<prefix>:other:…`).
    Foreign,
}

/// Number of routing buckets (`sessiondb_engine::TAG_BUCKETS`).
const BUCKETS: u16 = sessiondb_engine::TAG_BUCKETS;

/// Classifies a relative key name.
pub(crate) fn classify(relative: &str) -> KeyKind {
    match relative {
        "schema" => return KeyKind::Schema,
        "events" => return KeyKind::Events,
        "cleanup:lease" | "cleanup:last" | "backup:last" | "health" => return KeyKind::Marker,
        _ => {}
    }
    if relative.starts_with("health:{") {
        return KeyKind::Marker;
    }
    let Some((tag, rest)) = bucket(relative) else {
        return KeyKind::Foreign;
    };
    let tag = tag.to_owned();
    match rest.split_once(':') {
        Some(("u", uh)) if uh.len() == 22 => KeyKind::Index { tag },
        Some(("s", sid)) if sid.len() == 25 && sid.starts_with(&tag) => KeyKind::Record { tag },
        Some(("d", did)) if did.len() == 25 && did.starts_with(&tag) => KeyKind::Deletion,
        None if rest == "due" || rest == "n" => KeyKind::Bucket,
        _ => KeyKind::Foreign,
    }
}

/// `({tag}, rest)` of `{<tag>}:<rest>` when the tag is a valid bucket.
pub(crate) fn bucket(relative: &str) -> Option<(&str, &str)> {
    let inner = relative.strip_prefix('{')?;
    let (tag, rest) = inner.split_once("}:")?;
    let valid = tag.len() == 3
        && tag
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        && u16::from_str_radix(tag, 16).is_ok_and(|n| n < BUCKETS);
    valid.then_some((tag, rest))
}

/// The session id of a record name `{<tag>}:s:<sid>`.
pub(crate) fn record_id(relative: &str) -> Option<&str> {
    let (_, rest) = bucket(relative)?;
    rest.strip_prefix("s:")
}

#[cfg(test)]
mod tests {
    use super::*;

    const UH: &str = "abcdefghijklmnopqrstuv";
    const SID: &str = "1a2bcdefghijklmnopqrstuvw";

    #[test]
    fn names_of_the_schema_are_recognised() {
        assert_eq!(
            classify(&format!("{{1a2}}:u:{UH}")),
            KeyKind::Index { tag: "1a2".into() }
        );
        assert_eq!(
            classify(&format!("{{1a2}}:s:{SID}")),
            KeyKind::Record { tag: "1a2".into() }
        );
        assert_eq!(classify(&format!("{{1a2}}:d:{SID}")), KeyKind::Deletion);
        assert_eq!(classify("{1a2}:due"), KeyKind::Bucket);
        assert_eq!(classify("{1a2}:n"), KeyKind::Bucket);
        assert_eq!(classify("schema"), KeyKind::Schema);
        assert_eq!(classify("events"), KeyKind::Events);
        for marker in [
            "cleanup:lease",
            "cleanup:last",
            "backup:last",
            "health",
            "health:{7}",
        ] {
            assert_eq!(classify(marker), KeyKind::Marker, "{marker}");
        }
        assert_eq!(record_id(&format!("{{1a2}}:s:{SID}")), Some(SID));
    }

    #[test]
    fn anything_else_is_foreign() {
        for name in [
            "other:{1a2}:n",
            "{400}:n",
            "{1A2}:n",
            "{1a2}:x",
            "{1a2}:u:short",
            &format!("{{1a2}}:s:{}", SID.replacen("1a2", "000", 1)),
            "cleanup",
        ] {
            assert_eq!(classify(name), KeyKind::Foreign, "{name}");
        }
    }
}
