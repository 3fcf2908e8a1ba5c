//! Sessions: create, read, update, rotate, revoke, list.

use std::time::Instant;

use fred::prelude::ClientLike as _;
use fred::types::Value;
use serde_json::Value as Json;
use subtle::ConstantTimeEq as _;

use super::{at, hash_arg, millis, script_error, session_ids, Engine};
use crate::config::MAX_SESSIONS_PER_USER;
use crate::error::{Error, InvalidInput};
use crate::events::{EventKind, Reason};
use crate::ids::{SessionId, Tag, UserId};
use crate::keys::Keyspace;
use crate::model::{
    reserved_member_within, CreatedSession, NewSession, RawSession, RevokedAll, Rotated, Session,
    SessionData, SessionMetadata, SessionPage, SessionSummary, SessionTimes, Updated,
    RESERVED_MEMBER,
};
use crate::record::{self, Head};
use crate::replicas::ReplicaClient;
use crate::store::Reply;
use crate::token::{RefreshToken, SessionToken, TokenHash};

/// Name of a listing read from a replica, in metrics and logs.
const LIST_ON_REPLICA: &str = "list_replica";

impl Engine {
    /// Creates a device login for `req.user_id` (a session and its refresh-token family),
    /// enforcing the per-user cap.
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
        let token = SessionToken::generate(sid.clone());
        let refresh = RefreshToken::generate(sid.clone());
        let user_hash = req.user_id.key_hash();
        let keys = &self.inner.keys;
        let refresh_policy = &self.inner.config.refresh;
        let args = vec![
            keys.base(tag).into(),
            user_hash.as_str().into(),
            req.user_id.as_str().into(),
            sid.as_str().into(),
            hash_arg(token.hash()),
            Value::Bytes(record::new_tail(&meta, &data, refresh.hash().as_bytes()).into()),
            millis(idle),
            millis(policy.absolute_ttl),
            millis(refresh_policy.ttl),
            refresh_policy.idle_ttl.map_or(Value::from(0), millis),
            Value::from(i64::from(policy.max_per_user)),
            policy.cap_policy.as_str().into(),
        ];
        let script = &self.inner.scripts.create;
        let mut reply = self
            .inner
            .creates
            .create(&self.inner.store, keys.index(tag, &user_hash), args)
            .await?;
        if reply.string()? != "ok" {
            let code = reply.string()?;
            let ended = reply.ids(script.name)?;
            self.emit_all(EventKind::Expired, &req.user_id, &ended, Reason::Noticed)
                .await;
            return Err(script_error(script.name, &code));
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
        let ended = reply.ids(script.name)?;
        let evicted = session_ids(script.name, reply.rest()?)?;
        self.emit_all(EventKind::Expired, &req.user_id, &ended, Reason::Noticed)
            .await;
        self.emit_all(EventKind::Evicted, &req.user_id, &evicted, Reason::Cap)
            .await;
        self.emit(
            EventKind::Created,
            req.user_id.as_str(),
            sid.as_str(),
            Reason::Create,
        )
        .await;
        Ok(CreatedSession {
            session_id: sid,
            session_token: token,
            refresh_token: refresh,
            times,
            refresh_expires_at,
            evicted,
        })
    }

    /// Reads a session. With `touch`, extends its idle expiry if the last extension is
    /// older than the touch interval (never past the absolute expiry); without, never
    /// writes.
    ///
    /// A read is one round trip without a script: `GET` of the login's record and
    /// `TIME`, pipelined to the node that holds the record. The record outlives its
    /// session while the refresh family lives, so the idle expiry is checked against the
    /// store's clock. Only when a touch is due does the read run the touch script, which
    /// re-checks everything and writes.
    pub async fn get(&self, token: &SessionToken, touch: bool) -> Result<Session, Error> {
        let raw = self.get_raw(token, touch).await?;
        Ok(Session {
            data: serde_json::from_str(raw.data.get()).map_err(|_| Error::Protocol {
                script: "get",
                detail: "stored data is not a JSON object".to_owned(),
            })?,
            id: raw.id,
            user_id: raw.user_id,
            metadata: raw.metadata,
            times: raw.times,
        })
    }

    /// [`Engine::get`], with the data as the stored JSON text: what an API passes on to
    /// its client without parsing it.
    pub async fn get_raw(&self, token: &SessionToken, touch: bool) -> Result<RawSession, Error> {
        const READ: &str = "get";
        let key = self
            .inner
            .keys
            .session(token.id().tag(), token.id().as_str());
        let Some((record, now)) = self.inner.store.get_with_clock(READ, key).await? else {
            return Err(Error::SessionNotFound);
        };
        let (head, now) = live_head(READ, token, &record, now)?;
        let interval =
            u64::try_from(self.inner.config.session.touch_interval.as_millis()).unwrap_or(u64::MAX);
        if touch && now.saturating_sub(head.seen) >= interval {
            return match self.touch(token).await {
                // A Redis out of memory refuses the touch (it writes). The session is live
                // by the read above, so it is served as it is, its idle expiry not slid.
                Err(Error::Backend(error)) if error.details().starts_with("OOM") => {
                    session_from(READ, token, head)
                }
                touched => touched,
            };
        }
        session_from(READ, token, head)
    }

    /// The touch script: slides the idle expiry when the interval has passed by Redis's
    /// clock.
    async fn touch(&self, token: &SessionToken) -> Result<RawSession, Error> {
        let tag = token.id().tag();
        let keys = &self.inner.keys;
        let args = vec![
            keys.base(tag).into(),
            token.id().as_str().into(),
            hash_arg(token.hash()),
            millis(self.inner.config.session.touch_interval),
        ];
        let script = &self.inner.scripts.touch;
        let value = self
            .inner
            .store
            .run(script, keys.session(tag, token.id().as_str()), args)
            .await?;
        let (head, _) = live_session(script.name, token, value)?;
        session_from(script.name, token, head)
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
            token.id().as_str().into(),
            hash_arg(token.hash()),
            data.into(),
            expected_version
                .map_or(String::new(), |v| v.to_string())
                .into(),
        ];
        let script = &self.inner.scripts.update;
        let mut reply = self
            .inner
            .store
            .call_write(script, keys.session(tag, token.id().as_str()), args)
            .await?;
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

    /// Gives the login a new session token and a new refresh token; the old session
    /// token stops working at once and every earlier refresh token becomes reuse.
    pub async fn rotate(&self, token: &SessionToken) -> Result<Rotated, Error> {
        let sid = token.id();
        let tag = sid.tag();
        let keys = &self.inner.keys;
        let new_token = SessionToken::generate(sid.clone());
        let new_refresh = RefreshToken::generate(sid.clone());
        let args = vec![
            keys.base(tag).into(),
            sid.as_str().into(),
            hash_arg(token.hash()),
            hash_arg(new_token.hash()),
            hash_arg(new_refresh.hash()),
        ];
        let script = &self.inner.scripts.rotate;
        let mut reply = self
            .inner
            .store
            .call_write(script, keys.session(tag, sid.as_str()), args)
            .await?;
        reply.ok()?;
        let rotated = Rotated {
            session_token: new_token,
            refresh_token: new_refresh,
            expires_at: at(reply.u64()?),
            absolute_expires_at: at(reply.u64()?),
            refresh_expires_at: at(reply.u64()?),
        };
        self.emit(
            EventKind::Rotated,
            &reply.string()?,
            sid.as_str(),
            Reason::Rotate,
        )
        .await;
        Ok(rotated)
    }

    /// Revokes the device login the session token belongs to: its session and its
    /// refresh family. A session token that a refresh or rotation has since replaced
    /// still reaches the login while it lives.
    pub async fn revoke(&self, token: &SessionToken) -> Result<(), Error> {
        self.revoke_login(token.id(), Some(token.hash()), None, Reason::User)
            .await
    }

    /// Revokes the device login a refresh token belongs to (current, previous or
    /// retired), for clients that hold only the refresh token.
    pub async fn revoke_by_refresh_token(&self, token: &RefreshToken) -> Result<(), Error> {
        self.revoke_login(token.id(), Some(token.hash()), None, Reason::User)
            .await
    }

    /// Revokes one of `user`'s device logins by id (an administrator or the user's
    /// "sign out that device").
    pub async fn revoke_by_id(&self, user: &UserId, session: &SessionId) -> Result<(), Error> {
        if session.tag() != user.tag() {
            return Err(Error::SessionNotFound);
        }
        self.revoke_login(session, None, Some(user), Reason::Admin)
            .await
    }

    async fn revoke_login(
        &self,
        sid: &SessionId,
        credential: Option<&TokenHash>,
        user: Option<&UserId>,
        reason: Reason,
    ) -> Result<(), Error> {
        let tag = sid.tag();
        let keys = &self.inner.keys;
        let args = vec![
            keys.base(tag).into(),
            sid.as_str().into(),
            credential.map_or(Value::from(""), hash_arg),
            user.map_or("", UserId::as_str).into(),
        ];
        let script = &self.inner.scripts.revoke;
        let mut reply = self
            .inner
            .store
            .call_write(script, keys.session(tag, sid.as_str()), args)
            .await?;
        reply.ok()?;
        self.emit(EventKind::Revoked, &reply.string()?, sid.as_str(), reason)
            .await;
        Ok(())
    }

    /// Revokes all of `user`'s device logins, except `keep` when given.
    pub async fn revoke_all(
        &self,
        user: &UserId,
        keep: Option<&SessionId>,
    ) -> Result<RevokedAll, Error> {
        let tag = user.tag();
        if keep.is_some_and(|k| k.tag() != tag) {
            return Err(Error::SessionNotFound);
        }
        let user_hash = user.key_hash();
        let keys = &self.inner.keys;
        let args = vec![
            keys.base(tag).into(),
            user_hash.as_str().into(),
            keep.map_or("", SessionId::as_str).into(),
            user.as_str().into(),
        ];
        let script = &self.inner.scripts.revoke_all;
        let mut reply = self
            .inner
            .store
            .call_write(script, keys.index(tag, &user_hash), args)
            .await?;
        reply.ok()?;
        let families = reply.u64()?;
        let ended = reply.ids(script.name)?;
        let sessions = session_ids(script.name, reply.rest()?)?;
        self.emit_all(EventKind::Expired, user, &ended, Reason::Noticed)
            .await;
        self.emit_all(EventKind::Revoked, user, &sessions, Reason::RevokeAll)
            .await;
        Ok(RevokedAll { sessions, families })
    }

    /// All of the user's live sessions (at most the cap), page by page; see
    /// [`Engine::list_page`].
    pub async fn list(&self, user: &UserId) -> Result<Vec<SessionSummary>, Error> {
        let mut sessions = Vec::new();
        let mut offset = 0;
        loop {
            let page = self.list_page(user, offset, MAX_SESSIONS_PER_USER).await?;
            sessions.extend(page.sessions);
            match page.next {
                Some(next) => offset = next,
                None => return Ok(sessions),
            }
        }
    }

    /// One page of the user's live sessions, `limit` (1..=1000) from `offset`, in order
    /// of when their logins end. From the master (`list.lua`) the listing is exact
    /// whatever cleanup has done; from a replica (`read_from = replica_preferred`) it may
    /// lag the master by the replication delay. A page may hold fewer than `limit`
    /// sessions (logins whose session idled out are skipped) while `next` is set.
    pub async fn list_page(
        &self,
        user: &UserId,
        offset: u64,
        limit: u32,
    ) -> Result<SessionPage, Error> {
        if !(1..=MAX_SESSIONS_PER_USER).contains(&limit) {
            return Err(InvalidInput::new(
                "limit",
                format!("must be between 1 and {MAX_SESSIONS_PER_USER}"),
            )
            .into());
        }
        let tag = user.tag();
        let keys = &self.inner.keys;
        let index = keys.index(tag, &user.key_hash());
        let script = &self.inner.scripts.list;
        let from_replica = self
            .inner
            .store
            .on_replica(LIST_ON_REPLICA, |client| {
                list_on_replica(client, keys, tag, &index, offset, limit)
            })
            .await;
        let values = match from_replica {
            Some(values) => values,
            None => {
                let args = vec![
                    keys.base(tag).into(),
                    Value::from(i64::try_from(offset).unwrap_or(i64::MAX)),
                    Value::from(i64::from(limit)),
                ];
                let value = self.inner.store.run(script, index, args).await?;
                Reply::array(script.name, value)?.into_values()
            }
        };
        let mut reply = Reply::from_values(script.name, values);
        let next = reply.i64()?;
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
        Ok(SessionPage {
            sessions,
            next: u64::try_from(next).ok(),
        })
    }

    /// Serializes session data, enforcing the size limit and refusing the reserved member
    /// name (see [`RESERVED_MEMBER`]). Every write of data (create, replace, merge) passes
    /// here.
    pub(super) fn encode_data(&self, data: &SessionData) -> Result<String, Error> {
        if data.contains_key(RESERVED_MEMBER) || reserved_member_within(data.values()) {
            return Err(InvalidInput::new(
                "data",
                format!("must not contain an object member named `{RESERVED_MEMBER}` (reserved)"),
            )
            .into());
        }
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

/// A listing from a replica, in `list.lua`'s reply format. A replica runs no scripts
/// for us and hides expired keys, so the local clock filters out logins and sessions
/// whose end passed but whose deletion has not replicated yet.
async fn list_on_replica(
    client: ReplicaClient,
    keys: &Keyspace,
    tag: Tag,
    index: &str,
    offset: u64,
    limit: u32,
) -> Result<Vec<Value>, fred::error::Error> {
    let now = unix_now_ms();
    let ids = client
        .members_from(index, now.saturating_add(1), offset, limit)
        .await?;
    let records =
        futures::future::try_join_all(ids.iter().map(|sid| client.record(keys.session(tag, sid))))
            .await?;
    let next = if ids.len() == limit as usize {
        i64::try_from(offset + u64::from(limit)).unwrap_or(i64::MAX)
    } else {
        -1
    };
    let mut values = vec![Value::from(next)];
    for (sid, record) in ids.into_iter().zip(records) {
        let Some(head) = record.and_then(|r| Head::decode(LIST_ON_REPLICA, &r).ok()) else {
            continue;
        };
        if head.live && head.idle_expiry > now {
            values.extend([
                Value::from(sid),
                Value::from(head.metadata),
                Value::from(head.created as i64),
                Value::from(head.seen as i64),
                Value::from(head.idle_expiry as i64),
                Value::from(head.absolute_expiry as i64),
                Value::from(head.version as i64),
            ]);
        }
    }
    Ok(values)
}

/// Decodes a read or touch reply (`{record, now}`) and checks that it opens a live
/// session for `token`: a live record whose session token hash matches (compared in
/// constant time) and whose idle expiry lies ahead of Redis's clock.
fn live_session(
    script: &'static str,
    token: &SessionToken,
    value: Value,
) -> Result<(Head, u64), Error> {
    let Some(reply) = Reply::new(script, value)? else {
        return Err(Error::SessionNotFound);
    };
    let mut values = reply.into_values().into_iter();
    let (Some(record), Some(now)) = (values.next(), values.next().and_then(|v| v.as_u64())) else {
        return Err(Error::Protocol {
            script,
            detail: "expected a record and the time".to_owned(),
        });
    };
    let record = record.as_bytes().ok_or_else(|| Error::Protocol {
        script,
        detail: "expected a record".to_owned(),
    })?;
    live_head(script, token, record, now)
}

/// The leading fields of `record` when it is a live session of `token` at `now`;
/// [`Error::SessionNotFound`] otherwise (the token hash is compared in constant time).
fn live_head(
    script: &'static str,
    token: &SessionToken,
    record: &[u8],
    now: u64,
) -> Result<(Head, u64), Error> {
    let head = Head::decode(script, record)?;
    let matches = head.token_hash.len() == token.hash().as_bytes().len()
        && bool::from(head.token_hash.ct_eq(token.hash().as_bytes()));
    if !head.live || !matches || now >= head.idle_expiry {
        return Err(Error::SessionNotFound);
    }
    Ok((head, now))
}

/// Builds the session a read returns from a record's leading fields.
fn session_from(
    script: &'static str,
    token: &SessionToken,
    head: Head,
) -> Result<RawSession, Error> {
    let protocol = |detail: &str| Error::Protocol {
        script,
        detail: detail.to_owned(),
    };
    Ok(RawSession {
        id: token.id().clone(),
        user_id: UserId::parse(head.user_id).map_err(|_| protocol("stored user id is invalid"))?,
        data: serde_json::value::RawValue::from_string(head.data)
            .map_err(|_| protocol("stored data is not JSON"))?,
        metadata: decode_metadata(&head.metadata).map_err(|_| protocol("stored metadata"))?,
        times: SessionTimes {
            created_at: at(head.created),
            last_seen_at: at(head.seen),
            expires_at: at(head.idle_expiry),
            absolute_expires_at: at(head.absolute_expiry),
            version: head.version,
        },
    })
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
