//! Durability modes: `replicated` acknowledges a write only once replicas have it.

use std::time::Duration;

use anyhow::ensure;
use sessiondb_engine::{Durability, Error};

use crate::cases;
use crate::support::{new_session, Case, CaseResult, Ctx, Topo};

pub fn cases() -> Vec<Case> {
    cases![
        "durability";
        replicated_writes_succeed_only_with_enough_replicas,
    ]
}

async fn replicated_writes_succeed_only_with_enough_replicas(ctx: Ctx) -> CaseResult {
    let replicated = |replicas| {
        move |c: &mut sessiondb_engine::EngineConfig| {
            c.durability = Durability::Replicated {
                replicas,
                timeout: Duration::from_millis(300),
            };
        }
    };
    let one = ctx.engine_with(replicated(1)).await?;
    let has_replicas = ctx.topo == Topo::Sentinel;
    match one.create(new_session("alice")).await {
        Ok(created) => {
            ensure!(has_replicas, "acknowledged without any replica");
            let r = one.refresh(&created.refresh_token).await?;
            one.revoke(&r.session_token).await?;
        }
        Err(Error::NotReplicated {
            acked: 0,
            wanted: 1,
        }) => {
            ensure!(!has_replicas, "2 replicas were available");
        }
        Err(e) => return Err(e.into()),
    }
    // Concurrent creates, which go to Redis a few to a call with one WAIT each: each
    // acknowledged with a replica, each refused without. The pool replicated durability
    // gets by default (4 connections) and a command timeout that outlasts the WAITs that
    // may queue on one connection (a WAIT without replicas holds it for its timeout).
    let crowded = ctx
        .engine_connected(
            |c| {
                c.pool_size = 4;
                c.command_timeout = Duration::from_secs(5);
            },
            replicated(1),
        )
        .await?;
    let crowd = (0..12).map(|i| crowded.create(new_session(&format!("crowd{i}"))));
    for result in futures::future::join_all(crowd).await {
        match result {
            Ok(_) => ensure!(has_replicas, "acknowledged without any replica"),
            Err(Error::NotReplicated {
                acked: 0,
                wanted: 1,
            }) => ensure!(!has_replicas, "2 replicas were available"),
            Err(e) => return Err(e.into()),
        }
    }
    // More replicas than exist: the write is applied but not acknowledged.
    let three = ctx.engine_with(replicated(3)).await?;
    match three.create(new_session("bob")).await {
        Err(Error::NotReplicated { wanted: 3, acked }) => ensure!(acked < 3),
        other => anyhow::bail!("expected not_replicated, got {other:?}"),
    }
    Ok(())
}
