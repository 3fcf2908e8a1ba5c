//! The credentials of a secure drill topology ([`Security::Secure`]): the six ACL roles
//! with random passwords for keys under the drill engine's prefix, a Sentinel password,
//! and a CA with server and client certificates, in a private temporary directory that
//! lives as long as the topology (restarted nodes read the ACL file and certificates
//! again).
//!
//! [`Security::Secure`]: crate::drill::Security::Secure

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::Path;

use sessiondb_acl::{render_with, DefaultUser, Role};
use sessiondb_local::stack::StackPasswords;
use sessiondb_local::{SecretString, SentinelOptions, TlsFiles, TopologyAcl};
use tempfile::TempDir;

use crate::app::DRILL_KEY_PREFIX;
use crate::DrillError;

/// Passwords, certificates and `users.acl` of one secure topology. `Debug` shows no
/// password.
#[derive(Debug)]
pub(crate) struct Secrets {
    /// The six role passwords, generated at random.
    passwords: StackPasswords,
    /// The certificates every node, Sentinel and client uses.
    tls: TlsFiles,
    /// Holds `users.acl` and the certificates; removed on drop.
    dir: TempDir,
}

impl Secrets {
    /// Generates the passwords and certificates and writes `users.acl`: the six roles
    /// for keys under [`DRILL_KEY_PREFIX`], and the `default` user as a second admin
    /// with the admin password (the fixture's own probes log in with a password only).
    pub(crate) fn generate() -> Result<Self, DrillError> {
        let dir = tempfile::Builder::new()
            .prefix("sessiondb-drill-")
            .tempdir()
            .map_err(|source| DrillError::Io {
                context: "creating the secure topology's directory".to_owned(),
                source,
            })?;
        let (passwords, _) = StackPasswords::from_env_or_generate(|_| None)?;
        let acl = render_with(
            &passwords.acl_passwords(),
            DRILL_KEY_PREFIX,
            DefaultUser::Admin,
        )?;
        write_private(&dir.path().join("users.acl"), &acl)?;
        let tls = TlsFiles::generate(dir.path(), &["127.0.0.1"])?;
        Ok(Self {
            passwords,
            tls,
            dir,
        })
    }

    /// Sets `options` up as production runs: TLS only, the nodes load `users.acl`,
    /// replicas and Sentinels log in to the nodes as `sentinel`, the Sentinels require
    /// the Sentinel password, and the fixture probes as `default` with the admin
    /// password.
    pub(crate) fn apply(&self, options: &mut SentinelOptions) {
        options.password = Some(self.passwords.admin.clone());
        options.sentinel_password = Some(self.passwords.sentinel.clone());
        options.tls = Some(self.tls.clone());
        options.acl = Some(TopologyAcl {
            file: self.dir.path().join("users.acl"),
            replication_user: Role::Sentinel.user().to_owned(),
            replication_password: self.passwords.sentinel.clone(),
        });
    }

    /// The password of `role`.
    pub(crate) fn password(&self, role: Role) -> &SecretString {
        self.passwords.get(role)
    }
}

/// Writes `contents` to a new file only its owner can read.
fn write_private(path: &Path, contents: &str) -> Result<(), DrillError> {
    let io = |source| DrillError::Io {
        context: format!("writing {}", path.display()),
        source,
    };
    fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io)?
        .write_all(contents.as_bytes())
        .map_err(io)
}
