//! Sessions: create, read, update, rotate, revoke, list.

use std::time::Instant;

use fred::prelude::ClientLike as _;
use fred::types::Value;
use serde_json::Value as Json;
use subtle::ConstantTimeEq as _;

use super::{at, millis, script_error, session_ids, Engine};
use crate::error::{Error, InvalidInput};
use crate::events::EventKind;
use crate::ids::{FamilyId, SessionId, Tag, UserId};
use crate::keys::Keyspace;
use crate::model::{
    CreatedSession, NewSession, RevokedAll, Rotated, Session, SessionData, SessionMetadata,
    SessionSummary, SessionTimes, Updated,
};
use crate::replicas::ReplicaClient;
use crate::store::Reply;
use crate::token::{RefreshToken, SessionToken};

/// Name of the plain session read in metrics and errors.
const READ: &str = "get";

/// Fields a read needs, in the order `get.lua` returns them (after the token hash).
const SESSION_FIELDS: [&str; 9] = ["th", "u", "d", "m", "c", "l", "e", "a", "v"];

/// Name of a listing read from a replica, in metrics and logs.
const LIST_ON_REPLICA: &str = "list_replica";

/// Session fields a listing needs: idle expiry, metadata, created, last seen, absolute
/// expiry, version.
const LIST_FIELDS: [&str; 6] = ["e", "m", "c", "l", "a", "v"];

impl Engine {
    /// Creates a session for `req.user_id`, enforcing the per-user cap, and starts its
    /// refresh-token family.
    pub async fn create(&self, req: NewSession) -> Result<CreatedSession, Error> {
        let policy = &self.inner.config.session;
        let idle = match req.idle_ttl {
            None => policy.idle_ttl,
            Some(idle) if idle >= policy.min_idle_ttl && idle <= policy.max_idle_ttl => idle,
            Some(_) => {
                return Err(InvalidInput::new(
                    "idle_ttl_seconds",
                    format!(
                        "must be between {} and {} seconds",
                        policy.min_idle_ttl.as_secs(),
                        policy.max_idle_ttl.as_secs()
                    ),
                )
                .into())
            }
        };
        let data = self.encode_data(&req.data)?;
        req.metadata.validate()?;
        let meta = serde_json::to_string(&req.metadata).expect("metadata serializes");

        let tag = req.user_id.tag();
        let sid = SessionId::generate(tag);
        let fid = FamilyId::generate(tag);
        let token = SessionToken::generate(sid.clone());
        let refresh = RefreshToken::generate(fid.clone());
        let user_hash = req.user_id.key_hash();
        let keys = &self.inner.keys;
        let (cap, cap_policy) = self.cap_args();
        let refresh_policy = &self.inner.config.refresh;
        let args = vec![
            keys.base(tag).into(),
            user_hash.as_str().into(),
            req.user_id.as_str().into(),
            sid.as_str().into(),
            token.hash().as_str().into(),
            data.into(),
            meta.into(),
            millis(idle),
            millis(policy.absolute_ttl),
            cap,
            cap_policy,
            fid.as_str().into(),
            refresh.hash().as_str().into(),
            millis(refresh_policy.ttl),
            refresh_policy.idle_ttl.map_or(Value::from(0), millis),
        ];
        let script = &self.inner.scripts.create;
        let value = self
            .inner
            .store
            .run_write(script, keys.index(tag, &user_hash), args)
            .await?;
        let mut reply = Reply::array(script.name, value)?;
        let status = reply.string()?;
        if status != "ok" {
            return Err(script_error(script.name, &reply.string()?));
        }
        let now = reply.u64()?;
        let times = SessionTimes {
            created_at: at(now),
            last_seen_at: at(now),
            expires_at: at(reply.u64()?),
            absolute_expires_at: at(reply.u64()?),
            version: 1,
        };
        let refresh_expires_at = at(reply.u64()?);
        let evicted = session_ids(script.name, reply.rest()?)?;
        self.emit_evicted(&req.user_id, &evicted);
        self.emit(
            EventKind::Created,
            req.user_id.as_str(),
            sid.as_str(),
            "create",
        );
        Ok(CreatedSession {
            session_id: sid,
            session_token: token,
            refresh_token: refresh,
            family_id: fid,
            times,
            refresh_expires_at,
            evicted,
        })
    }

    /// Reads a session. With `touch`, extends its idle expiry if the last extension is
    /// older than the touch interval (never past the absolute expiry); without, never
    /// writes.
    ///
    /// A read is one `HMGET`: a session key expires with the session (`PEXPIREAT` at its
    /// idle expiry, which never passes the absolute one), so a key Redis returns is live.
    /// Only when a touch is due does the read go through `get.lua`, which re-checks
    /// everything against Redis's clock and writes.
    pub async fn get(&self, token: &SessionToken, touch: bool) -> Result<Session, Error> {
        let tag = token.id().tag();
        let key = self.inner.keys.session(tag, token.id().as_str());
        let value = self
            .inner
            .store
            .read_hash(READ, key, &SESSION_FIELDS)
            .await?;
        let mut fields = value.into_array().into_iter();
        let stored_hash = fields.next().and_then(|v| v.into_string());
        let matches = stored_hash
            .is_some_and(|h| bool::from(h.as_bytes().ct_eq(token.hash().as_str().as_bytes())));
        if !matches {
            return Err(Error::SessionNotFound);
        }
        let session = self.parse_session(token, READ, fields.collect())?;
        let interval = self.inner.config.session.touch_interval;
        let due = unix_now_ms().saturating_sub(session.times.last_seen_at.0)
            >= u64::try_from(interval.as_millis()).unwrap_or(u64::MAX);
        if touch && due {
            return self.touch(token).await;
        }
        Ok(session)
    }

    /// The read-and-touch script: slides the idle expiry when the interval has passed
    /// by Redis's clock.
    async fn touch(&self, token: &SessionToken) -> Result<Session, Error> {
        let tag = token.id().tag();
        let keys = &self.inner.keys;
        let args = vec![
            keys.base(tag).into(),
            token.hash().as_str().into(),
            millis(self.inner.config.session.touch_interval),
        ];
        let script = &self.inner.scripts.get;
        let value = self
            .inner
            .store
            .run(script, keys.session(tag, token.id().as_str()), args)
            .await?;
        let Some(reply) = Reply::new(script.name, value)? else {
            return Err(Error::SessionNotFound);
        };
        self.parse_session(token, script.name, reply.into_values())
    }

    /// Builds a session from `[user, data, metadata, created, last seen, idle expiry,
    /// absolute expiry, version]`.
    fn parse_session(
        &self,
        token: &SessionToken,
        source: &'static str,
        values: Vec<Value>,
    ) -> Result<Session, Error> {
        let mut reply = Reply::from_values(source, values);
        let user = reply.string()?;
        let data = reply.string()?;
        let meta = reply.string()?;
        let protocol = |detail: &str| Error::Protocol {
            script: source,
            detail: detail.to_owned(),
        };
        Ok(Session {
            id: token.id().clone(),
            user_id: UserId::parse(user).map_err(|_| protocol("stored user id is invalid"))?,
            data: serde_json::from_str(&data).map_err(|_| protocol("stored data is not JSON"))?,
            metadata: decode_metadata(&meta).map_err(|_| protocol("stored metadata"))?,
            times: SessionTimes {
                created_at: at(reply.u64()?),
                last_seen_at: at(reply.u64()?),
                expires_at: at(reply.u64()?),
                absolute_expires_at: at(reply.u64()?),
                version: reply.u64()?,
            },
        })
    }

    /// Replaces a session's data. With `expected_version`, fails with
    /// [`Error::VersionConflict`] (changing nothing) unless it is the current version.
    pub async fn replace_data(
        &self,
        token: &SessionToken,
        data: &SessionData,
        expected_version: Option<u64>,
    ) -> Result<Updated, Error> {
        let encoded = self.encode_data(data)?;
        self.write_data(token, encoded, expected_version).await
    }

    /// Applies a JSON merge patch (RFC 7396) to a session's data.
    ///
    /// With an expected version, a mismatch is a [`Error::VersionConflict`] and nothing
    /// changes. Without one there is no condition: the merge is read, applied and written
    /// back conditionally on the version it read, and retried whenever another writer got
    /// in between, so every unconditioned merge is applied however many run at once (each
    /// round some writer wins, so the retries always make progress). The retrying is
    /// bounded by the connection's command timeout: a merge still losing after that long
    /// fails with [`Error::Backend`] (retryable), never with a conflict.
    pub async fn merge_data(
        &self,
        token: &SessionToken,
        patch: &Json,
        expected_version: Option<u64>,
    ) -> Result<Updated, Error> {
        if !patch.is_object() {
            return Err(InvalidInput::new("data", "merge patch must be a JSON object").into());
        }
        let timeout = self
            .inner
            .store
            .pool()
            .perf_config()
            .default_command_timeout;
        // A zero command timeout means "no timeout", and so no deadline here either.
        let deadline = (!timeout.is_zero()).then(|| Instant::now() + timeout);
        loop {
            let current = self.get(token, false).await?;
            if let Some(expected) = expected_version {
                if expected != current.times.version {
                    return Err(Error::VersionConflict {
                        current: current.times.version,
                    });
                }
            }
            let mut merged = Json::Object(current.data);
            json_patch::merge(&mut merged, patch);
            let Json::Object(merged) = merged else {
                unreachable!("merging an object patch into an object yields an object")
            };
            let encoded = self.encode_data(&merged)?;
            match self
                .write_data(token, encoded, Some(current.times.version))
                .await
            {
                Err(Error::VersionConflict { .. }) if expected_version.is_none() => {
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        return Err(Error::Backend(fred::error::Error::new(
                            fred::error::ErrorKind::Timeout,
                            "concurrent writers kept winning the merge until the command timeout",
                        )));
                    }
                }
                other => return other,
            }
        }
    }

    async fn write_data(
        &self,
        token: &SessionToken,
        data: String,
        expected_version: Option<u64>,
    ) -> Result<Updated, Error> {
        let tag = token.id().tag();
        let keys = &self.inner.keys;
        let args = vec![
            keys.base(tag).into(),
            token.hash().as_str().into(),
            data.into(),
            expected_version
                .map_or(String::new(), |v| v.to_string())
                .into(),
        ];
        let script = &self.inner.scripts.update;
        let value = self
            .inner
            .store
            .run_write(script, keys.session(tag, token.id().as_str()), args)
            .await?;
        let mut reply = Reply::array(script.name, value)?;
        match reply.string()?.as_str() {
            "ok" => Ok(Updated {
                version: reply.u64()?,
                last_seen_at: at(reply.u64()?),
                expires_at: at(reply.u64()?),
                absolute_expires_at: at(reply.u64()?),
            }),
            _ => match reply.string()?.as_str() {
                "version_conflict" => Err(Error::VersionConflict {
                    current: reply.u64()?,
                }),
                code => Err(script_error(script.name, code)),
            },
        }
    }

    /// Gives the session a new token; the old one stops working at once.
    pub async fn rotate(&self, token: &SessionToken) -> Result<Rotated, Error> {
        let tag = token.id().tag();
        let keys = &self.inner.keys;
        let new_token = SessionToken::generate(token.id().clone());
        let args = vec![
            keys.base(tag).into(),
            token.hash().as_str().into(),
            new_token.hash().as_str().into(),
        ];
        let script = &self.inner.scripts.rotate;
        let value = self
            .inner
            .store
            .run_write(script, keys.session(tag, token.id().as_str()), args)
            .await?;
        let mut reply = Reply::array(script.name, value)?;
        if reply.string()? != "ok" {
            return Err(script_error(script.name, &reply.string()?));
        }
        let rotated = Rotated {
            session_token: new_token,
            expires_at: at(reply.u64()?),
            absolute_expires_at: at(reply.u64()?),
        };
        self.emit(
            EventKind::Rotated,
            &reply.string()?,
            token.id().as_str(),
            "rotate",
        );
        Ok(rotated)
    }

    /// Revokes the session the token opens, and its refresh family.
    pub async fn revoke(&self, token: &SessionToken) -> Result<(), Error> {
        self.revoke_session(token.id(), token.hash().as_str(), "", "user")
            .await
    }

    /// Revokes one of `user`'s sessions by id (an administrator or the user's
    /// "sign out that device"), and its refresh family.
    pub async fn revoke_by_id(&self, user: &UserId, session: &SessionId) -> Result<(), Error> {
        if session.tag() != user.tag() {
            return Err(Error::SessionNotFound);
        }
        self.revoke_session(session, "", &user.key_hash(), "admin")
            .await
    }

    async fn revoke_session(
        &self,
        sid: &SessionId,
        token_hash: &str,
        user_hash: &str,
        reason: &'static str,
    ) -> Result<(), Error> {
        let tag = sid.tag();
        let keys = &self.inner.keys;
        let args = vec![keys.base(tag).into(), token_hash.into(), user_hash.into()];
        let script = &self.inner.scripts.revoke;
        let value = self
            .inner
            .store
            .run_write(script, keys.session(tag, sid.as_str()), args)
            .await?;
        let mut reply = Reply::array(script.name, value)?;
        if reply.string()? != "ok" {
            return Err(script_error(script.name, &reply.string()?));
        }
        self.emit(EventKind::Revoked, &reply.string()?, sid.as_str(), reason);
        Ok(())
    }

    /// Revokes all of `user`'s sessions and refresh families, except `keep` (and its
    /// family) when given.
    pub async fn revoke_all(
        &self,
        user: &UserId,
        keep: Option<&SessionId>,
    ) -> Result<RevokedAll, Error> {
        let tag = user.tag();
        let user_hash = user.key_hash();
        let keys = &self.inner.keys;
        let args = vec![
            keys.base(tag).into(),
            user_hash.as_str().into(),
            keep.map_or("", SessionId::as_str).into(),
        ];
        if keep.is_some_and(|k| k.tag() != tag) {
            return Err(Error::SessionNotFound);
        }
        let script = &self.inner.scripts.revoke_all;
        let value = self
            .inner
            .store
            .run_write(script, keys.index(tag, &user_hash), args)
            .await?;
        let mut reply = Reply::array(script.name, value)?;
        if reply.string()? != "ok" {
            return Err(script_error(script.name, &reply.string()?));
        }
        let families = reply.u64()?;
        let sessions = session_ids(script.name, reply.rest()?)?;
        for sid in &sessions {
            self.emit(
                EventKind::Revoked,
                user.as_str(),
                sid.as_str(),
                "revoke_all",
            );
        }
        Ok(RevokedAll { sessions, families })
    }

    /// The user's live sessions, oldest expiry first. From the master (`list.lua`) the
    /// listing is exact whatever cleanup has done; from a replica (`read_from =
    /// replica_preferred`) it may lag the master by the replication delay.
    pub async fn list(&self, user: &UserId) -> Result<Vec<SessionSummary>, Error> {
        let tag = user.tag();
        let keys = &self.inner.keys;
        let index = keys.index(tag, &user.key_hash());
        let script = &self.inner.scripts.list;
        let from_replica = self
            .inner
            .store
            .on_replica(LIST_ON_REPLICA, |client| {
                list_on_replica(client, keys, tag, &index)
            })
            .await;
        let values = match from_replica {
            Some(values) => values,
            None => {
                let value = self
                    .inner
                    .store
                    .run(script, index, vec![keys.base(tag).into()])
                    .await?;
                Reply::array(script.name, value)?.into_values()
            }
        };
        let mut reply = Reply::from_values(script.name, values);
        let mut sessions = Vec::new();
        while !reply.is_empty() {
            let id = session_ids(script.name, vec![reply.string()?])?.remove(0);
            let metadata = decode_metadata(&reply.string()?).map_err(|_| Error::Protocol {
                script: script.name,
                detail: "stored metadata".to_owned(),
            })?;
            sessions.push(SessionSummary {
                id,
                metadata,
                times: SessionTimes {
                    created_at: at(reply.u64()?),
                    last_seen_at: at(reply.u64()?),
                    expires_at: at(reply.u64()?),
                    absolute_expires_at: at(reply.u64()?),
                    version: reply.u64()?,
                },
            });
        }
        Ok(sessions)
    }

    /// Serializes session data, enforcing the size limit.
    pub(super) fn encode_data(&self, data: &SessionData) -> Result<String, Error> {
        let encoded = serde_json::to_string(data).expect("a JSON map serializes");
        let limit = self.inner.config.session.max_data_bytes;
        if encoded.len() > limit {
            return Err(Error::PayloadTooLarge {
                field: "data",
                size: encoded.len(),
                limit,
            });
        }
        Ok(encoded)
    }
}

/// A listing from a replica, in `list.lua`'s reply format: the index entries not yet
/// idle-expired, then each session's fields. A replica runs no scripts and does not
/// expire keys itself (it hides expired ones), so the local clock filters out sessions
/// whose expiry passed but whose deletion has not replicated yet.
async fn list_on_replica(
    client: ReplicaClient,
    keys: &Keyspace,
    tag: Tag,
    index: &str,
) -> Result<Vec<Value>, fred::error::Error> {
    let now = unix_now_ms();
    let ids = client.members_from(index, now.saturating_add(1)).await?;
    let sessions: Vec<String> = ids.iter().map(|sid| keys.session(tag, sid)).collect();
    let rows =
        futures::future::try_join_all(sessions.iter().map(|key| client.fields(key, &LIST_FIELDS)))
            .await?;
    let mut values = Vec::new();
    for (sid, row) in ids.into_iter().zip(rows) {
        let [Some(e), Some(m), Some(c), Some(l), Some(a), Some(v)] =
            <[Option<String>; 6]>::try_from(row).unwrap_or_default()
        else {
            continue;
        };
        if e.parse::<u64>().is_ok_and(|e| e > now) {
            values.extend([sid, m, c, l, e, a, v].map(Value::from));
        }
    }
    Ok(values)
}

fn decode_metadata(s: &str) -> Result<SessionMetadata, serde_json::Error> {
    serde_json::from_str(s)
}

/// The local clock, only to decide whether a touch may be due (the touch script decides
/// with Redis's clock, so skew costs at most an early or late script call).
fn unix_now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
