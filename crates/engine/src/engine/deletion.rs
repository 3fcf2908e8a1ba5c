//! Deletion tokens: single-use capabilities to revoke a device login or a whole user.

use super::{at, hash_arg, millis, session_ids, Engine};
use crate::error::Error;
use crate::events::{EventKind, Reason};
use crate::ids::{DeletionId, UserId};
use crate::model::{DeletionScope, DeletionTarget, IssuedDeletionToken, Redemption};
use crate::token::DeletionToken;

impl Engine {
    /// Issues a deletion token for one live device login of a user (its session and
    /// refresh family, whatever refreshes happen before redemption), or for all of a
    /// user's logins.
    pub async fn issue_deletion_token(
        &self,
        target: &DeletionTarget,
    ) -> Result<IssuedDeletionToken, Error> {
        let (user, scope, session) = match target {
            DeletionTarget::Session {
                user_id,
                session_id,
            } => {
                if session_id.tag() != user_id.tag() {
                    return Err(Error::SessionNotFound);
                }
                (user_id, "session", session_id.as_str())
            }
            DeletionTarget::User { user_id } => (user_id, "user", ""),
        };
        let tag = user.tag();
        let id = DeletionId::generate(tag);
        let token = DeletionToken::generate(id.clone());
        let keys = &self.inner.keys;
        let args = vec![
            keys.base(tag).into(),
            hash_arg(token.hash()),
            scope.into(),
            session.into(),
            user.key_hash().as_str().into(),
            user.as_str().into(),
            millis(self.inner.config.deletion.ttl),
        ];
        let script = &self.inner.scripts.deletion_issue;
        let mut reply = self
            .inner
            .store
            .call_write(script, keys.deletion(tag, id.as_str()), args)
            .await?;
        reply.ok()?;
        Ok(IssuedDeletionToken {
            id,
            token,
            expires_at: at(reply.u64()?),
        })
    }

    /// Consumes a deletion token and revokes its target. A second redemption fails with
    /// [`Error::TokenSpent`]; a target that is already gone is a success with nothing
    /// revoked.
    pub async fn redeem_deletion_token(&self, token: &DeletionToken) -> Result<Redemption, Error> {
        let tag = token.id().tag();
        let keys = &self.inner.keys;
        let args = vec![keys.base(tag).into(), hash_arg(token.hash())];
        let script = &self.inner.scripts.deletion_redeem;
        let mut reply = self
            .inner
            .store
            .call_write(script, keys.deletion(tag, token.id().as_str()), args)
            .await?;
        reply.ok()?;
        let scope = match reply.string()?.as_str() {
            "session" => DeletionScope::Session,
            _ => DeletionScope::User,
        };
        let user = reply.string()?;
        let user_id = UserId::parse(user).map_err(|_| Error::Protocol {
            script: script.name,
            detail: "stored user id is invalid".to_owned(),
        })?;
        let revoked_families = reply.u64()?;
        let ended = reply.ids(script.name)?;
        let revoked_sessions = session_ids(script.name, reply.rest()?)?;
        self.emit_all(EventKind::Expired, &user_id, &ended, Reason::Noticed)
            .await;
        self.emit_all(
            EventKind::Deleted,
            &user_id,
            &revoked_sessions,
            Reason::DeletionToken,
        )
        .await;
        Ok(Redemption {
            scope,
            user_id,
            revoked_sessions,
            revoked_families,
        })
    }
}
