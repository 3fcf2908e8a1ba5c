//! Creates sent to Redis together.
//!
//! A create is one call of the `create` function, and on one master most of what a
//! create costs Redis and this process is per call rather than per login: sending and
//! parsing the command, running the function, the reply and the wake-ups on both sides.
//! So creates that arrive while earlier ones are on their way go in one call: a
//! background task takes what queued (at most [`MOST`]) and sends it as one `create`
//! call, with at most [`IN_FLIGHT`] calls on their way at once. A create that finds
//! nothing on its way is sent at once, alone; under load the calls fill up by
//! themselves. Each login in a call is checked against the cap and written in turn, so
//! a call holds exactly what the same creates one by one would have produced in some
//! order, and a login that fails does not stop the others (see `create.lua`).
//!
//! On a Cluster the logins of one call would have to share a slot, which concurrent
//! creates for different users rarely do, so there every create is a call of its own.

use std::sync::Arc;
use std::time::Instant;

use fred::types::Value;
use tokio::sync::{mpsc, oneshot, Semaphore};

use crate::error::Error;
use crate::scripts::NamedScript;
use crate::store::{answered, Reply, Store};

/// The most creates in one call. Most of what a call saves is saved by then, and small
/// calls keep Redis and the server working side by side: with large ones, each waited
/// for the other's batch (measured in docs/benchmarks.md).
const MOST: usize = 8;
/// The most calls on their way at once.
const IN_FLIGHT: usize = 8;
/// Arguments per login (see `create.lua`).
const ARGS_PER_LOGIN: usize = 12;

/// One create waiting for its call's reply.
pub(crate) struct Pending {
    key: String,
    args: Vec<Value>,
    started: Instant,
    reply: oneshot::Sender<Result<Reply, Error>>,
}

/// How the engine sends creates: together (one master) or one by one (Cluster).
#[derive(Debug)]
pub(crate) enum Creates {
    /// To the background task that sends queued creates together.
    Together(mpsc::Sender<Pending>),
    /// Each create is a call of its own, of this function.
    OneByOne(NamedScript),
}

impl Creates {
    /// Starts the task that sends creates together on `store` as calls of `script` (the
    /// `create` function), unless `one_by_one`.
    pub(crate) fn start(store: &Store, script: &NamedScript, one_by_one: bool) -> Self {
        if one_by_one {
            return Creates::OneByOne(script.clone());
        }
        let (tx, rx) = mpsc::channel(MOST * 16);
        tokio::spawn(send_together(store.clone(), script.clone(), rx));
        Creates::Together(tx)
    }

    /// Creates one login: `key` is the user's index key, `args` the login's
    /// [`ARGS_PER_LOGIN`] arguments. Answers the login's own reply.
    pub(crate) async fn create(
        &self,
        store: &Store,
        key: String,
        args: Vec<Value>,
    ) -> Result<Reply, Error> {
        debug_assert_eq!(args.len(), ARGS_PER_LOGIN);
        let started = Instant::now();
        let queue = match self {
            Creates::Together(queue) => queue,
            Creates::OneByOne(script) => {
                let result = store.write(script, vec![key], args).await;
                let reply = split(script, result, 1).pop().expect("one reply");
                store.observe(script.name, started, answered(&reply));
                return reply;
            }
        };
        let (reply, answer) = oneshot::channel();
        let pending = Pending {
            key,
            args,
            started,
            reply,
        };
        if queue.send(pending).await.is_err() {
            return Err(stopped());
        }
        answer.await.unwrap_or_else(|_| Err(stopped()))
    }
}

/// The background task: sends what queued as one call, keeping at most [`IN_FLIGHT`]
/// calls on their way. Ends when the engine is dropped.
async fn send_together(store: Store, script: NamedScript, mut queue: mpsc::Receiver<Pending>) {
    let script = Arc::new(script);
    let in_flight = Arc::new(Semaphore::new(IN_FLIGHT));
    loop {
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            return;
        };
        let mut batch = Vec::with_capacity(MOST);
        if queue.recv_many(&mut batch, MOST).await == 0 {
            return;
        }
        let (store, script) = (store.clone(), script.clone());
        tokio::spawn(async move {
            send(&store, &script, batch).await;
            drop(permit);
        });
    }
}

/// Sends `batch` as one call and hands each create its reply.
async fn send(store: &Store, script: &NamedScript, batch: Vec<Pending>) {
    let mut keys = Vec::with_capacity(batch.len());
    let mut args = Vec::with_capacity(batch.len() * ARGS_PER_LOGIN);
    let mut waiting = Vec::with_capacity(batch.len());
    for pending in batch {
        keys.push(pending.key);
        args.extend(pending.args);
        waiting.push((pending.started, pending.reply));
    }
    let result = store.write(script, keys, args).await;
    let replies = split(script, result, waiting.len());
    for ((started, reply), result) in waiting.into_iter().zip(replies) {
        store.observe(script.name, started, answered(&result));
        // The create may have given up waiting (its request was cancelled).
        let _ = reply.send(result);
    }
}

/// The replies of a call with `logins` logins, one per login in order; a failed call, or
/// an answer of another shape, fails every login with the same error.
fn split(
    script: &NamedScript,
    result: Result<Value, Error>,
    logins: usize,
) -> Vec<Result<Reply, Error>> {
    let error = match result {
        Ok(Value::Array(replies)) if replies.len() == logins => {
            return replies
                .into_iter()
                .map(|value| login_reply(script, value))
                .collect();
        }
        Ok(_) => Error::Protocol {
            script: script.name,
            detail: "expected one reply per login".to_owned(),
        },
        Err(error) => error,
    };
    (0..logins).map(|_| Err(error.clone())).collect()
}

/// One login's reply: `{'fail', message}` when Redis refused one of its commands, as the
/// error the call would have given had the login been alone.
fn login_reply(script: &NamedScript, value: Value) -> Result<Reply, Error> {
    let mut reply = Reply::array(script.name, value)?;
    if reply.first_is("fail") {
        let _ = reply.string()?;
        let message = reply.string()?;
        return Err(crate::store::backend(
            script,
            fred::error::Error::new(fred::error::ErrorKind::Unknown, message),
        ));
    }
    Ok(reply)
}

/// The background task is gone (it ends only with the engine).
fn stopped() -> Error {
    Error::Protocol {
        script: "create",
        detail: "the engine is shutting down".to_owned(),
    }
}
