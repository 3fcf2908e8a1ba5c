//! Refresh-token rotation with a grace window and reuse detection.

use super::{at, hash_arg, millis, script_error, session_ids, Engine};
use crate::error::Error;
use crate::events::{EventKind, Reason};
use crate::ids::UserId;
use crate::model::Refreshed;
use crate::token::{new_nonce, RefreshToken};

impl Engine {
    /// Exchanges a refresh token for the login's next session token and next refresh
    /// token. The session carries the login's latest data, also when it had idled out.
    ///
    /// Presenting the token that was just rotated again within the grace window returns
    /// the same successor tokens (`replayed`); presenting any older token ends the login
    /// ([`Error::ReuseDetected`], now and on every later attempt).
    pub async fn refresh(&self, token: &RefreshToken) -> Result<Refreshed, Error> {
        let sid = token.id();
        let tag = sid.tag();
        let keys = &self.inner.keys;
        let config = &self.inner.config;
        let nonce = new_nonce();
        let (next_refresh, next_session) = token.successors(&nonce);
        let args = vec![
            keys.base(tag).into(),
            sid.as_str().into(),
            hash_arg(token.hash()),
            fred::types::Value::Bytes(fred::bytes::Bytes::copy_from_slice(&nonce)),
            hash_arg(next_refresh.hash()),
            hash_arg(next_session.hash()),
            millis(config.session.absolute_ttl),
            millis(config.refresh.grace),
            config.refresh.reuse_scope.as_str().into(),
        ];
        let script = &self.inner.scripts.refresh;
        let mut reply = self
            .inner
            .store
            .call_write(script, keys.session(tag, sid.as_str()), args)
            .await?;
        match reply.string()?.as_str() {
            "rotated" => {
                let _now = reply.u64()?;
                let expires_at = at(reply.u64()?);
                let absolute_expires_at = at(reply.u64()?);
                let refresh_expires_at = at(reply.u64()?);
                let was_live = reply.u64()? == 1;
                let user = reply.string()?;
                let reason = if was_live {
                    Reason::Refresh
                } else {
                    Reason::ExpiredSession
                };
                self.emit(EventKind::Refreshed, &user, sid.as_str(), reason)
                    .await;
                Ok(Refreshed {
                    session_id: sid.clone(),
                    session_token: next_session,
                    refresh_token: next_refresh,
                    expires_at,
                    absolute_expires_at,
                    refresh_expires_at,
                    replayed: false,
                })
            }
            "replay" => {
                let nonce = reply.bytes()?;
                let expires_at = at(reply.u64()?);
                let absolute_expires_at = at(reply.u64()?);
                let refresh_expires_at = at(reply.u64()?);
                let (refresh_token, session_token) = token.successors(&nonce);
                Ok(Refreshed {
                    session_id: sid.clone(),
                    session_token,
                    refresh_token,
                    expires_at,
                    absolute_expires_at,
                    refresh_expires_at,
                    replayed: true,
                })
            }
            _ => {
                let code = reply.string()?;
                if code == "reuse_detected" {
                    let user = reply.string()?;
                    let first_detection = reply.u64()? == 1;
                    let ended = reply.ids(script.name)?;
                    if first_detection {
                        let revoked = session_ids(script.name, reply.rest()?)?;
                        tracing::warn!(
                            session_id = sid.as_str(),
                            token_hash = token.hash().log_prefix(),
                            revoked = revoked.len(),
                            "refresh token reuse detected; login revoked"
                        );
                        self.emit(EventKind::ReuseDetected, &user, sid.as_str(), Reason::Reuse)
                            .await;
                        if let Ok(user) = UserId::parse(user) {
                            self.emit_all(EventKind::Expired, &user, &ended, Reason::Noticed)
                                .await;
                            self.emit_all(EventKind::Revoked, &user, &revoked, Reason::Reuse)
                                .await;
                        }
                    }
                }
                Err(script_error(script.name, &code))
            }
        }
    }
}
