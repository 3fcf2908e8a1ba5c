//! Refresh-token rotation with a grace window and reuse detection.

use super::{at, millis, script_error, session_ids, Engine};
use crate::config::ReuseScope;
use crate::error::Error;
use crate::events::EventKind;
use crate::ids::SessionId;
use crate::model::Refreshed;
use crate::store::Reply;
use crate::token::{new_nonce, RefreshToken};

impl Engine {
    /// Exchanges a refresh token for a new session and the family's next refresh token.
    ///
    /// Presenting the token that was just rotated again within the grace window returns
    /// the same successor tokens (`replayed`); presenting any older token revokes the
    /// family and its session ([`Error::ReuseDetected`], now and on every later attempt).
    pub async fn refresh(&self, token: &RefreshToken) -> Result<Refreshed, Error> {
        let fid = token.id();
        let tag = fid.tag();
        let keys = &self.inner.keys;
        let config = &self.inner.config;
        let nonce = new_nonce();
        let new_sid = SessionId::generate(tag);
        let (next_refresh, next_session) = token.successors(&nonce, new_sid.clone());
        let (cap, policy) = self.cap_args();
        let scope = match config.refresh.reuse_scope {
            ReuseScope::Family => "family",
            ReuseScope::User => "user",
        };
        let args = vec![
            keys.base(tag).into(),
            token.hash().as_str().into(),
            nonce.as_str().into(),
            next_refresh.hash().as_str().into(),
            next_session.hash().as_str().into(),
            new_sid.as_str().into(),
            fid.as_str().into(),
            millis(config.session.absolute_ttl),
            millis(config.refresh.grace),
            cap,
            policy,
            scope.into(),
        ];
        let script = &self.inner.scripts.refresh;
        let value = self
            .inner
            .store
            .run_write(script, keys.family(tag, fid.as_str()), args)
            .await?;
        let mut reply = Reply::array(script.name, value)?;
        match reply.string()?.as_str() {
            "rotated" => {
                let sid = reply.string()?;
                let _now = reply.u64()?;
                let expires_at = at(reply.u64()?);
                let absolute_expires_at = at(reply.u64()?);
                let refresh_expires_at = at(reply.u64()?);
                let replaced = reply.string()?;
                let user = reply.string()?;
                let evicted = session_ids(script.name, reply.rest()?)?;
                debug_assert_eq!(sid, new_sid.as_str());
                for old in &evicted {
                    self.emit(EventKind::Evicted, &user, old.as_str(), "cap");
                }
                let reason = if replaced.is_empty() {
                    "expired_session"
                } else {
                    "refresh"
                };
                self.emit(EventKind::Refreshed, &user, new_sid.as_str(), reason);
                Ok(Refreshed {
                    session_id: new_sid,
                    session_token: next_session,
                    refresh_token: next_refresh,
                    expires_at,
                    absolute_expires_at,
                    refresh_expires_at,
                    replayed: false,
                    evicted,
                })
            }
            "replay" => {
                let nonce = reply.string()?;
                let sid = session_ids(script.name, vec![reply.string()?])?.remove(0);
                let expires_at = at(reply.u64()?);
                let absolute_expires_at = at(reply.u64()?);
                let refresh_expires_at = at(reply.u64()?);
                let (refresh_token, session_token) = token.successors(&nonce, sid.clone());
                Ok(Refreshed {
                    session_id: sid,
                    session_token,
                    refresh_token,
                    expires_at,
                    absolute_expires_at,
                    refresh_expires_at,
                    replayed: true,
                    evicted: Vec::new(),
                })
            }
            _ => {
                let code = reply.string()?;
                if code == "reuse_detected" {
                    let user = reply.string()?;
                    let first_detection = reply.u64()? == 1;
                    if first_detection {
                        let revoked = reply.rest()?;
                        tracing::warn!(
                            family_id = fid.as_str(),
                            token_hash = token.hash().log_prefix(),
                            revoked = revoked.len(),
                            "refresh token reuse detected; family revoked"
                        );
                        self.emit(EventKind::ReuseDetected, &user, "", "reuse");
                        for sid in &revoked {
                            self.emit(EventKind::Revoked, &user, sid, "reuse");
                        }
                    }
                }
                Err(script_error(script.name, &code))
            }
        }
    }
}
