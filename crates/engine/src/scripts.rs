//! The Lua scripts, loaded from their own files at build time.
//!
//! Every script is the shared modules it needs followed by its own body, so helpers are
//! shared without Redis Functions (which would need `FUNCTION LOAD` rights and a separate
//! deploy step): `lib/clock.lua` (the store's clock), `lib/record.lua` (the record and
//! its liveness rule) and `lib/logins.lua` (index, cap, revocation). A session read needs
//! no script: it is a `GET` and the store's clock (see `Store::get_with_clock`).
//! Scripts run by SHA (`EVALSHA`) and are reloaded automatically after `NOSCRIPT`
//! (a restarted or failed-over server has an empty script cache).

use fred::types::scripts::Script;

/// A script with every shared module.
macro_rules! script {
    ($file:literal) => {
        concat!(
            include_str!("scripts/lib/clock.lua"),
            "\n",
            include_str!("scripts/lib/record.lua"),
            "\n",
            include_str!("scripts/lib/logins.lua"),
            "\n",
            include_str!(concat!("scripts/", $file))
        )
    };
}

/// One loaded script and its name (for errors and metrics).
#[derive(Debug)]
pub(crate) struct NamedScript {
    pub(crate) name: &'static str,
    pub(crate) script: Script,
}

impl NamedScript {
    fn new(name: &'static str, source: &'static str) -> Self {
        Self {
            name,
            script: Script::from_lua(source),
        }
    }
}

/// Every script the engine runs.
#[derive(Debug)]
pub(crate) struct Scripts {
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
}

impl Scripts {
    pub(crate) fn new() -> Self {
        Self {
            create: NamedScript::new("create", script!("create.lua")),
            touch: NamedScript::new("touch", script!("touch.lua")),
            update: NamedScript::new("update", script!("update.lua")),
            rotate: NamedScript::new("rotate", script!("rotate.lua")),
            revoke: NamedScript::new("revoke", script!("revoke.lua")),
            revoke_all: NamedScript::new("revoke_all", script!("revoke_all.lua")),
            list: NamedScript::new("list", script!("list.lua")),
            refresh: NamedScript::new("refresh", script!("refresh.lua")),
            deletion_issue: NamedScript::new("deletion_issue", script!("deletion_issue.lua")),
            deletion_redeem: NamedScript::new("deletion_redeem", script!("deletion_redeem.lua")),
            cleanup: NamedScript::new("cleanup", script!("cleanup.lua")),
            lease_release: NamedScript::new(
                "lease_release",
                include_str!("scripts/lease_release.lua"),
            ),
        }
    }

    pub(crate) fn all(&self) -> [&NamedScript; 12] {
        [
            &self.create,
            &self.touch,
            &self.update,
            &self.rotate,
            &self.revoke,
            &self.revoke_all,
            &self.list,
            &self.refresh,
            &self.deletion_issue,
            &self.deletion_redeem,
            &self.cleanup,
            &self.lease_release,
        ]
    }
}
