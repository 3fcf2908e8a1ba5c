//! Renderings shared by the tests (made once per test binary).

use std::sync::OnceLock;

use sessiondb_deploy_tests::generated::RULES_DIR;
use sessiondb_deploy_tests::objects::Object;
use sessiondb_deploy_tests::render::{Rendered, Workspace};
use sessiondb_deploy_tests::{repo_root, OVERLAYS};

type Renderings = Result<Vec<(&'static str, Rendered)>, String>;

/// Every overlay, rendered from a scratch copy with the test secrets.
pub(crate) fn overlays() -> &'static [(&'static str, Rendered)] {
    static CELL: OnceLock<Renderings> = OnceLock::new();
    let renderings = CELL.get_or_init(|| {
        let workspace = Workspace::new().map_err(|e| format!("{e:#}"))?;
        OVERLAYS
            .iter()
            .map(|name| {
                workspace
                    .render(name)
                    .map(|r| (*name, r))
                    .map_err(|e| format!("{e:#}"))
            })
            .collect()
    });
    match renderings {
        Ok(r) => r,
        Err(e) => panic!("rendering the overlays failed: {e}"),
    }
}

/// One overlay's objects.
pub(crate) fn objects(overlay: &str) -> &'static [Object] {
    overlays()
        .iter()
        .find(|(name, _)| *name == overlay)
        .map(|(_, r)| r.objects.as_slice())
        .unwrap_or_else(|| panic!("no overlay {overlay}"))
}

/// The optional components, each rendered on top of the overlays it is meant for:
/// `monitoring` on dev and ha, `prometheus-operator` on ha and production.
/// `None` while `deploy/monitoring` (the rule files those components read) does not
/// exist in this checkout.
pub(crate) fn with_components() -> Option<&'static [(String, Rendered)]> {
    static CELL: OnceLock<Result<Vec<(String, Rendered)>, String>> = OnceLock::new();
    if !monitoring_assets_present() {
        return None;
    }
    let renderings = CELL.get_or_init(|| {
        let workspace = Workspace::new().map_err(|e| format!("{e:#}"))?;
        [
            ("dev", "monitoring"),
            ("ha", "monitoring"),
            ("ha", "prometheus-operator"),
            ("production", "prometheus-operator"),
        ]
        .iter()
        .map(|(overlay, component)| {
            workspace
                .render_with(overlay, &[component])
                .map(|r| (format!("{overlay}+{component}"), r))
                .map_err(|e| format!("{e:#}"))
        })
        .collect()
    });
    match renderings {
        Ok(r) => Some(r),
        Err(e) => panic!("rendering the monitoring components failed: {e}"),
    }
}

/// Whether `deploy/monitoring/prometheus/rules` exists; prints why the tests of the
/// monitoring components are skipped when it does not.
pub(crate) fn monitoring_assets_present() -> bool {
    let present = repo_root().join(RULES_DIR).is_dir();
    if !present {
        eprintln!(
            "SKIPPED: the monitoring and prometheus-operator components are not rendered: \
             {RULES_DIR} does not exist in this checkout (they read its rule files)"
        );
    }
    present
}

/// Every rendering: the overlays, then the overlays with components (when the
/// monitoring assets exist).
pub(crate) fn all_renderings() -> Vec<(String, &'static Rendered)> {
    let mut all: Vec<(String, &'static Rendered)> = overlays()
        .iter()
        .map(|(n, r)| ((*n).to_owned(), r))
        .collect();
    if let Some(extra) = with_components() {
        all.extend(extra.iter().map(|(n, r)| (n.clone(), r)));
    }
    all
}
