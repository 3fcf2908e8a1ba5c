//! The engine's conformance suite: every rule of the session semantics, run against real
//! Redis in each topology the engine supports (standalone, Sentinel, Cluster).
//!
//! One process starts each topology once (lazily, only if a selected test needs it) and
//! stops it at the end; every test gets its own key prefix and its own engine. Test names
//! are `<topology>::<area>::<behaviour>`, so `cargo test -p sessiondb-engine --test
//! conformance -- standalone::` runs one topology.

#![allow(unreachable_pub)] // a test binary has no public API

mod cap;
mod cleanup;
mod deletion;
mod durability;
mod refresh;
mod secrets;
mod sessions;
mod signout;
mod support;

use std::sync::Arc;

use libtest_mimic::{Arguments, Failed, Trial};

use support::{Backends, Case, Ctx, Topo};

fn main() {
    let args = Arguments::from_args();
    let runtime = Arc::new(
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime starts"),
    );
    let backends = Arc::new(Backends::default());
    let cases: Vec<Case> = [
        sessions::cases(),
        cap::cases(),
        refresh::cases(),
        deletion::cases(),
        durability::cases(),
        cleanup::cases(),
        secrets::cases(),
        signout::cases(),
    ]
    .concat();

    let mut trials = Vec::new();
    for topo in Topo::ALL {
        for case in &cases {
            let (runtime, backends, run) = (runtime.clone(), backends.clone(), case.run);
            let name = format!("{}::{}", topo.name(), case.name);
            let prefix_hint = case.name.replace("::", ".");
            trials.push(Trial::test(name, move || {
                let backend = backends.get(topo).map_err(Failed::from)?;
                runtime.block_on(async move {
                    let ctx = Ctx::new(topo, backend, &prefix_hint);
                    run(ctx).await.map_err(|e| Failed::from(format!("{e:#}")))
                })
            }));
        }
    }
    let conclusion = libtest_mimic::run(&args, trials);
    // Stop every Redis process before exiting (exit() skips destructors).
    drop(backends);
    conclusion.exit();
}
