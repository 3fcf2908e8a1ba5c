//! The `users.acl` file: one `user` line per role, passwords as SHA-256 hashes only.

use std::fmt::Write as _;

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

use crate::{check_prefix, AclError, Role};

/// The six passwords. `Debug` shows no secrets.
#[derive(Clone, Default)]
pub struct Passwords {
    by_role: [Option<SecretString>; 6],
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set: Vec<&str> = Role::ALL
            .iter()
            .filter(|r| self.get(**r).is_some())
            .map(|r| r.user())
            .collect();
        f.debug_struct("Passwords").field("set", &set).finish()
    }
}

impl Passwords {
    /// Passwords looked up by role (`None`: not set).
    pub fn from_fn(mut lookup: impl FnMut(Role) -> Option<SecretString>) -> Self {
        Self {
            by_role: Role::ALL.map(|r| lookup(r).filter(|p| !p.expose_secret().is_empty())),
        }
    }

    /// The password of `role`, if set.
    pub fn get(&self, role: Role) -> Option<&SecretString> {
        self.by_role[role as usize].as_ref()
    }

    /// The password of `role`, or an error naming its variable and settings key.
    pub fn require(&self, role: Role) -> Result<&SecretString, AclError> {
        self.get(role).ok_or(AclError::MissingPassword(role))
    }
}

/// The SHA-256 of `password` in lower-case hex, as the ACL file's `#<hash>` form holds it.
pub fn password_hash(password: &SecretString) -> String {
    let digest = Sha256::digest(password.expose_secret().as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// The ACL rule line of `role` (without the password), e.g.
/// `resetkeys resetchannels -@all +evalsha … ~sdb:*`.
pub fn role_rules(role: Role, prefix: &str) -> Result<String, AclError> {
    check_prefix(prefix)?;
    let mut rules = vec!["resetkeys".to_owned(), "resetchannels".to_owned()];
    if role == Role::Admin {
        rules.push("+@all".to_owned());
    } else {
        rules.push("-@all".to_owned());
        rules.extend(role.commands().iter().map(|c| format!("+{c}")));
    }
    rules.extend(role.key_rules(prefix));
    Ok(rules.join(" "))
}

/// What the `default` user (the one a client is without logging in) becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DefaultUser {
    /// Disabled: no password, no commands. A client must log in as one of the six.
    #[default]
    Off,
    /// A second admin with the admin's password, for tools that log in with a password
    /// only (`requirepass`-style: `AUTH <password>`, `redis-cli -a`, `masterauth`
    /// without `masteruser`). Still unusable without the password.
    Admin,
}

/// The whole `users.acl` text for keys under `prefix`: the `default` user disabled (no
/// password, no commands), then the six roles with their passwords as `#<sha256>`.
/// Every password must be set; the error names the first missing one's variable.
pub fn render(passwords: &Passwords, prefix: &str) -> Result<String, AclError> {
    render_with(passwords, prefix, DefaultUser::Off)
}

/// [`render`] with the `default` user as `default_user` says.
pub fn render_with(
    passwords: &Passwords,
    prefix: &str,
    default_user: DefaultUser,
) -> Result<String, AclError> {
    check_prefix(prefix)?;
    let mut text = match default_user {
        DefaultUser::Off => "user default off resetpass resetkeys resetchannels -@all\n".to_owned(),
        DefaultUser::Admin => format!(
            "user default on resetpass #{} {}\n",
            password_hash(passwords.require(Role::Admin)?),
            role_rules(Role::Admin, prefix)?
        ),
    };
    for role in Role::ALL {
        let hash = password_hash(passwords.require(role)?);
        let rules = role_rules(role, prefix)?;
        let _ = writeln!(text, "user {} on #{hash} {rules}", role.user());
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_set() -> Passwords {
        Passwords::from_fn(|r| Some(SecretString::from(format!("pw-{r}"))))
    }

    #[test]
    fn the_file_holds_hashes_not_passwords() {
        let text = render(&all_set(), "sdb").unwrap();
        for role in Role::ALL {
            assert!(!text.contains(&format!("pw-{role}")), "{text}");
            let hash = password_hash(&SecretString::from(format!("pw-{role}")));
            assert!(
                text.contains(&format!("user {} on #{hash} ", role.user())),
                "{text}"
            );
        }
        assert!(text.starts_with("user default off "));
        assert_eq!(text.lines().count(), 7);
        assert!(text.contains(" ~sdb:*"));
    }

    #[test]
    fn the_default_user_can_be_a_second_admin_with_the_admin_password() {
        let text = render_with(&all_set(), "sdb", DefaultUser::Admin).unwrap();
        let hash = password_hash(&SecretString::from("pw-admin".to_owned()));
        let first = text.lines().next().unwrap();
        assert_eq!(
            first,
            format!("user default on resetpass #{hash} resetkeys resetchannels +@all ~* &*")
        );
    }

    #[test]
    fn a_missing_password_names_its_variable() {
        let passwords =
            Passwords::from_fn(|r| (r != Role::Backup).then(|| SecretString::from("x".to_owned())));
        let err = render(&passwords, "sdb").unwrap_err().to_string();
        assert!(err.contains("BACKUP_PASSWORD"), "{err}");
        assert!(err.contains("acl.backup_password"), "{err}");
    }

    #[test]
    fn debug_shows_which_passwords_are_set_but_no_value() {
        let debug = format!("{:?}", all_set());
        assert!(!debug.contains("pw-"), "{debug}");
        assert!(debug.contains("app"), "{debug}");
    }

    #[test]
    fn the_hash_is_sha256_in_lower_case_hex() {
        // printf %s foobared | sha256sum
        assert_eq!(
            password_hash(&SecretString::from("foobared".to_owned())),
            "1b58ee375b42e41f0e48ef2ff27d10a5b1f6924a9acdcdba7cae868e7adce6bf"
        );
    }
}
