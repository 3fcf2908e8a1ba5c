//! The six Redis ACL roles of sessiondb, in one place: their table (user, password
//! variable, settings key, purpose), what each may run and touch, what each must be
//! refused, and the `users.acl` file that `sessiondb acl generate` writes.
//!
//! ```
//! use sessiondb_acl::{render, Passwords, Role, SecretString};
//!
//! let passwords = Passwords::from_fn(|role| Some(SecretString::from(format!("pw-{role}"))));
//! let users_acl = render(&passwords, "sdb")?;
//! assert!(users_acl.contains("user app on #"));
//! assert!(!users_acl.contains("pw-app"));
//! assert_eq!(Role::App.env_var(), "APP_PASSWORD");
//! # Ok::<(), sessiondb_acl::AclError>(())
//! ```
//!
//! # Layout
//!
//! | module | file | contents |
//! |---|---|---|
//! | `roles` | `roles.rs` | [`Role`], [`ROLES`] (the table), [`PASSWORD_VARIABLES`] |
//! | `rules` | `rules.rs` | [`Permissions`]: the command lists and key rules of each role |
//! | `refusals` | `refusals.rs` | [`Probe`]s each role must be refused |
//! | `file` | `file.rs` | [`Passwords`], [`render`] (`users.acl`), [`password_hash`] |

#![deny(missing_docs)]

mod file;
mod refusals;
mod roles;
mod rules;

pub use file::{password_hash, render, render_with, role_rules, DefaultUser, Passwords};
pub use refusals::{forbidden, refusals, Probe, NOPERM};
pub use roles::{Role, RoleSpec, PASSWORD_VARIABLES, ROLES};
pub use rules::{Permissions, SENTINEL_CHANNEL};
pub use secrecy::SecretString;

/// What can go wrong building the ACL file. Never holds a password.
#[derive(Debug, thiserror::Error)]
pub enum AclError {
    /// A role's password is not set.
    #[error(
        "the password of the `{user}` ACL user is not set: set {var} (or {key} in the \
         configuration file)",
        user = .0.user(),
        var = .0.env_var(),
        key = .0.setting_key()
    )]
    MissingPassword(Role),
    /// The key prefix cannot be used in ACL key patterns.
    #[error("key prefix {0:?} is invalid: expected 1-64 characters of A-Z a-z 0-9 - _ . :")]
    BadPrefix(String),
}

/// Checks that `prefix` is a valid key prefix (the settings' rule), which also keeps
/// glob characters out of the ACL key patterns.
pub fn check_prefix(prefix: &str) -> Result<(), AclError> {
    let ok = !prefix.is_empty()
        && prefix.len() <= 64
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(AclError::BadPrefix(prefix.to_owned()))
    }
}
