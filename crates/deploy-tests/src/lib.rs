//! Helpers for the tests of sessiondb's deployment assets: the Kustomize tree under
//! `deploy/kubernetes`, the Argo CD objects under `deploy/argocd` and the
//! `Dockerfile`. The tests themselves live in `tests/deploy/`; they render every
//! overlay with `kubectl kustomize`, validate the objects against the Kubernetes and
//! CRD schemas, check invariants over them, run the Redis and Sentinel configs on
//! real processes and run the policy scanners. Every external tool is required: a
//! missing one fails the test that needs it, naming what to install.
//!
//! # Layout
//!
//! | Module        | File               | Contents |
//! |---------------|--------------------|----------|
//! | [`tools`]     | `src/tools.rs`     | locating kubectl, the Python tools and the schema packages |
//! | [`redis_conf`] | `src/redis_conf.rs` | reading redis.conf and sentinel.conf directives |
//! | [`render`]    | `src/render.rs`    | a scratch copy of `deploy/` with test secrets; `kubectl kustomize` |
//! | [`objects`]   | `src/objects.rs`   | rendered objects, pod templates and containers |
//! | [`netpol`]    | `src/netpol.rs`    | which flows the NetworkPolicies allow |
//! | [`generated`] | `src/generated.rs` | files generated from `deploy/monitoring` |
//! | [`validate`]  | `src/validate.rs`  | Kubernetes and CRD schema validation |

pub mod generated;
pub mod netpol;
pub mod objects;
pub mod redis_conf;
pub mod render;
pub mod tools;
pub mod validate;

use std::path::PathBuf;

/// The repository's root directory.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the crate lives two levels below the repository root")
}

/// The overlays under `deploy/kubernetes/overlays`, each rendered on its own.
pub const OVERLAYS: [&str; 3] = ["dev", "ha", "production"];
