//! Tests of the deployment assets, one test binary (see the crate docs).
//!
//! | Module        | What it proves |
//! |---------------|----------------|
//! | `render`      | every overlay renders; objects per overlay; Kubernetes and CRD schemas |
//! | `invariants`  | security contexts, resources, probes, selectors, images, HPA, CronJob, Redis memory, AppProject kinds |
//! | `network`     | default deny, and exactly the needed flows allowed |
//! | `settings`    | the settings file and environment the pods get load with sessiondb's own validation |
//! | `redis`       | the Redis and Sentinel configs and scripts on real processes elect a master and fail over |
//! | `scans`       | checkov on the rendered output, hadolint on the Dockerfile |
//! | `generated`   | the files generated from deploy/monitoring are up to date |

mod generated;
mod invariants;
mod network;
mod redis;
mod render;
mod scans;
mod settings;
mod support;
