//! The Lua scripts, loaded from their own files at build time and run as one Redis
//! Functions library.
//!
//! The library is the shared modules, `lib/clock.lua` (the store's clock),
//! `lib/record.lua` (the record and its liveness rule) and `lib/logins.lua` (index, cap,
//! revocation), followed by every script's body registered as a function. Redis runs
//! the modules once when the library loads, so a call pays only for its own body (an
//! `EVALSHA` of the same script re-ran the modules' definitions on every call). A session
//! read needs no script: it is a `GET` and the store's clock (see
//! `Store::get_with_clock`).
//!
//! The library's name and its functions' names carry a hash of its code
//! (`sessiondb_<version>`, `sdb_<version>_create`), so instances of different builds
//! sharing one Redis (a rolling deploy) each call their own code. The engine loads the
//! library with `FUNCTION LOAD REPLACE` on every primary at start and again whenever a
//! call answers `Function not found` (a restarted server without persistence, a new
//! Cluster node). See ADR 0006.

use fred::util::sha1_hash;

/// The shared modules, in the order they build on each other.
const MODULES: &str = concat!(
    include_str!("scripts/lib/clock.lua"),
    "\n",
    include_str!("scripts/lib/record.lua"),
    "\n",
    include_str!("scripts/lib/logins.lua"),
);

/// What Redis may let a function do (`register_function` flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Access {
    /// Changes state: refused up front on a replica and when Redis is out of memory.
    Writes,
    /// Only deletes, or rewrites a value in place (revocations, redeeming a deletion
    /// token): `allow-oom`, so a Redis that is out of memory still lets users sign out.
    Frees,
    /// Reads only (`no-writes`).
    Reads,
}

/// One script of the library: its name (for errors and metrics) and the name Redis
/// knows its function by.
#[derive(Debug, Clone)]
pub(crate) struct NamedScript {
    pub(crate) name: &'static str,
    pub(crate) function: String,
}

/// Every script the engine runs, and the library that holds them.
#[derive(Debug)]
pub(crate) struct Scripts {
    /// The library's code, as `FUNCTION LOAD` takes it.
    pub(crate) code: String,
    /// A function that answers 1: calling it tells whether the library is loaded.
    pub(crate) loaded: NamedScript,
    pub(crate) create: NamedScript,
    pub(crate) touch: NamedScript,
    pub(crate) update: NamedScript,
    pub(crate) rotate: NamedScript,
    pub(crate) revoke: NamedScript,
    pub(crate) revoke_all: NamedScript,
    pub(crate) list: NamedScript,
    pub(crate) refresh: NamedScript,
    pub(crate) deletion_issue: NamedScript,
    pub(crate) deletion_redeem: NamedScript,
    pub(crate) cleanup: NamedScript,
    pub(crate) lease_release: NamedScript,
    pub(crate) events_append: NamedScript,
}

/// The scripts' bodies, in library order.
const BODIES: [(&str, &str, Access); 14] = [
    ("loaded", "return 1", Access::Reads),
    ("create", include_str!("scripts/create.lua"), Access::Writes),
    ("touch", include_str!("scripts/touch.lua"), Access::Writes),
    ("update", include_str!("scripts/update.lua"), Access::Writes),
    ("rotate", include_str!("scripts/rotate.lua"), Access::Writes),
    ("revoke", include_str!("scripts/revoke.lua"), Access::Frees),
    (
        "revoke_all",
        include_str!("scripts/revoke_all.lua"),
        Access::Frees,
    ),
    ("list", include_str!("scripts/list.lua"), Access::Reads),
    (
        "refresh",
        include_str!("scripts/refresh.lua"),
        Access::Writes,
    ),
    (
        "deletion_issue",
        include_str!("scripts/deletion_issue.lua"),
        Access::Writes,
    ),
    (
        "deletion_redeem",
        include_str!("scripts/deletion_redeem.lua"),
        Access::Frees,
    ),
    (
        "cleanup",
        include_str!("scripts/cleanup.lua"),
        Access::Writes,
    ),
    (
        "lease_release",
        include_str!("scripts/lease_release.lua"),
        Access::Writes,
    ),
    (
        "events_append",
        include_str!("scripts/events_append.lua"),
        Access::Writes,
    ),
];

/// The library's code, named `library`, each function named `function(<script>)`.
fn library_code(library: &str, function: impl Fn(&str) -> String) -> String {
    let mut code = format!("#!lua name={library}\n{MODULES}\n");
    for (name, body, access) in BODIES {
        let flags = match access {
            Access::Writes => "",
            Access::Frees => "'allow-oom'",
            Access::Reads => "'no-writes'",
        };
        code.push_str(&format!(
            "redis.register_function{{function_name = '{}', flags = {{ {flags} }},\n\
             callback = function(KEYS, ARGV)\n{body}\nend}}\n",
            function(name)
        ));
    }
    code
}

impl Scripts {
    pub(crate) fn new() -> Self {
        // The version hashes the whole library (modules, bodies, flags) with plain names.
        let plain = library_code("sessiondb", str::to_owned);
        let version = &sha1_hash(&plain)[..12];
        let function = |name: &str| format!("sdb_{version}_{name}");
        let code = library_code(&format!("sessiondb_{version}"), function);
        let named = |name: &'static str| NamedScript {
            name,
            function: function(name),
        };
        Self {
            code,
            loaded: named("loaded"),
            create: named("create"),
            touch: named("touch"),
            update: named("update"),
            rotate: named("rotate"),
            revoke: named("revoke"),
            revoke_all: named("revoke_all"),
            list: named("list"),
            refresh: named("refresh"),
            deletion_issue: named("deletion_issue"),
            deletion_redeem: named("deletion_redeem"),
            cleanup: named("cleanup"),
            lease_release: named("lease_release"),
            events_append: named("events_append"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_function_is_registered_once_under_the_library_version() {
        let scripts = Scripts::new();
        let header = scripts.code.lines().next().unwrap_or_default();
        let version = header
            .strip_prefix("#!lua name=sessiondb_")
            .expect("a library header");
        assert!(version.len() == 12 && version.bytes().all(|b| b.is_ascii_hexdigit()));
        let all = [
            &scripts.loaded,
            &scripts.create,
            &scripts.touch,
            &scripts.update,
            &scripts.rotate,
            &scripts.revoke,
            &scripts.revoke_all,
            &scripts.list,
            &scripts.refresh,
            &scripts.deletion_issue,
            &scripts.deletion_redeem,
            &scripts.cleanup,
            &scripts.lease_release,
            &scripts.events_append,
        ];
        assert_eq!(all.len(), BODIES.len());
        for script in all {
            assert_eq!(script.function, format!("sdb_{version}_{}", script.name));
            let registered = format!("function_name = '{}'", script.function);
            assert_eq!(
                scripts.code.matches(&registered).count(),
                1,
                "{}",
                script.name
            );
        }
    }

    #[test]
    fn the_version_covers_bodies_and_flags() {
        // The version is the hash of this text, so a change to either renames the library.
        let plain = library_code("sessiondb", str::to_owned);
        assert!(plain.contains(include_str!("scripts/create.lua")));
        assert!(plain.contains("function_name = 'revoke', flags = { 'allow-oom' }"));
        assert!(plain.contains("function_name = 'list', flags = { 'no-writes' }"));
    }
}
