//! Renderings shared by the tests (made once per test binary).

use std::sync::OnceLock;

use sessiondb_deploy_tests::objects::Object;
use sessiondb_deploy_tests::render::{Rendered, Workspace};
use sessiondb_deploy_tests::OVERLAYS;

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
/// `monitoring` on dev and ha, `prometheus-operator` on ha and production (both read
/// the rule files of `deploy/monitoring`).
pub(crate) fn with_components() -> &'static [(String, Rendered)] {
    static CELL: OnceLock<Result<Vec<(String, Rendered)>, String>> = OnceLock::new();
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
        Ok(r) => r,
        Err(e) => panic!("rendering the monitoring components failed: {e}"),
    }
}

/// Every rendering: the overlays, then the overlays with components.
pub(crate) fn all_renderings() -> Vec<(String, &'static Rendered)> {
    let mut all: Vec<(String, &'static Rendered)> = overlays()
        .iter()
        .map(|(n, r)| ((*n).to_owned(), r))
        .collect();
    all.extend(with_components().iter().map(|(n, r)| (n.clone(), r)));
    all
}
