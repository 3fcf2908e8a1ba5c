//! Prometheus rule files and `promtool test rules` files, as far as the checks need them.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::paths::{self, AREAS};
use crate::Error;

/// A rule file: `groups:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleFile {
    /// Its rule groups.
    pub groups: Vec<RuleGroup>,
}

/// One rule group.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleGroup {
    /// The group's name.
    pub name: String,
    /// Evaluation interval, when it differs from the global one.
    #[serde(default)]
    pub interval: Option<String>,
    /// Its rules, in evaluation order.
    pub rules: Vec<Rule>,
}

/// An alerting rule (`alert`) or a recording rule (`record`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// The alert's name.
    #[serde(default)]
    pub alert: Option<String>,
    /// The recorded series' name.
    #[serde(default)]
    pub record: Option<String>,
    /// The PromQL expression.
    pub expr: String,
    /// How long the expression must hold before the alert fires.
    #[serde(default, rename = "for")]
    pub for_: Option<String>,
    /// Labels added to the alert or series.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The alert's annotations.
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
}

/// An alert with the area (rules file) it belongs to.
#[derive(Debug)]
pub struct Alert<'a> {
    /// `redis`, `sentinel` or `sessiondb`.
    pub area: &'static str,
    /// The rule.
    pub rule: &'a Rule,
    /// Its name.
    pub name: &'a str,
}

/// The rule files of every area.
#[derive(Debug)]
pub struct Rules {
    /// One file per area, in [`AREAS`] order.
    pub files: Vec<(&'static str, RuleFile)>,
}

impl Rules {
    /// Loads `deploy/monitoring/prometheus/rules/<area>.rules.yml` for every area.
    pub fn load() -> Result<Self, Error> {
        let files = AREAS
            .iter()
            .map(|area| Ok((*area, load_yaml(&paths::rules_file(area))?)))
            .collect::<Result<_, Error>>()?;
        Ok(Self { files })
    }

    /// Every rule of every file.
    pub fn all(&self) -> impl Iterator<Item = (&'static str, &Rule)> {
        self.files
            .iter()
            .flat_map(|(area, file)| file.groups.iter().map(move |g| (*area, g)))
            .flat_map(|(area, group)| group.rules.iter().map(move |r| (area, r)))
    }

    /// Every alerting rule.
    pub fn alerts(&self) -> Vec<Alert<'_>> {
        self.all()
            .filter_map(|(area, rule)| rule.alert.as_deref().map(|name| Alert { area, rule, name }))
            .collect()
    }

    /// The names of every recording rule.
    pub fn recorded_names(&self) -> Vec<&str> {
        self.all()
            .filter_map(|(_, rule)| rule.record.as_deref())
            .collect()
    }
}

/// A `promtool test rules` file.
#[derive(Debug, Deserialize)]
pub struct RuleTestFile {
    /// Rule files under test, relative to the test file.
    pub rule_files: Vec<String>,
    /// The test groups.
    pub tests: Vec<RuleTestGroup>,
}

/// One test group: input series and the checks made on them.
#[derive(Debug, Deserialize)]
pub struct RuleTestGroup {
    /// The group's name.
    #[serde(default)]
    pub name: Option<String>,
    /// Alert checks.
    #[serde(default)]
    pub alert_rule_test: Vec<AlertCheck>,
}

/// "At `eval_time`, `alertname` fires exactly these alerts".
#[derive(Debug, Deserialize)]
pub struct AlertCheck {
    /// When.
    pub eval_time: String,
    /// Which alert.
    pub alertname: String,
    /// The firing alerts expected; empty means "must not fire".
    #[serde(default)]
    pub exp_alerts: Vec<ExpectedAlert>,
}

/// One expected firing alert.
#[derive(Debug, Deserialize)]
pub struct ExpectedAlert {
    /// Its labels (besides `alertname`).
    #[serde(default)]
    pub exp_labels: BTreeMap<String, String>,
    /// Its annotations.
    #[serde(default)]
    pub exp_annotations: BTreeMap<String, String>,
}

impl RuleTestFile {
    /// Loads the test file of `area`.
    pub fn load(area: &str) -> Result<Self, Error> {
        load_yaml(&paths::rule_test_file(area))
    }

    /// Every alert check of every group, with the group's name.
    pub fn checks(&self) -> impl Iterator<Item = (&str, &AlertCheck)> {
        self.tests.iter().flat_map(|group| {
            let name = group.name.as_deref().unwrap_or("(unnamed)");
            group.alert_rule_test.iter().map(move |check| (name, check))
        })
    }
}

/// Reads and deserialises a YAML file.
pub fn load_yaml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, Error> {
    let text = paths::read(path)?;
    serde_yaml_ng::from_str(&text).map_err(|source| Error::Yaml {
        path: path.to_path_buf(),
        source,
    })
}
