//! Grafana dashboards: their panels, the queries the panels run and the queries of the
//! template variables.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::paths::{self, files_ending_with};
use crate::Error;

/// A dashboard file.
#[derive(Debug)]
pub struct Dashboard {
    /// Where it is.
    pub path: PathBuf,
    /// Its JSON.
    pub json: Value,
}

/// A panel that shows data (not a row).
#[derive(Debug)]
pub struct Panel<'a> {
    /// The panel's JSON.
    pub json: &'a Value,
    /// Its title.
    pub title: &'a str,
    /// The PromQL of each target, in order (a missing `expr` is an empty string).
    pub queries: Vec<&'a str>,
}

impl Dashboard {
    /// Every `*.json` in `deploy/monitoring/grafana/dashboards/`.
    pub fn load_all() -> Result<Vec<Self>, Error> {
        files_ending_with(&paths::grafana_dir().join("dashboards"), ".json")?
            .into_iter()
            .map(|path| Self::load(&path))
            .collect()
    }

    /// One dashboard file.
    pub fn load(path: &Path) -> Result<Self, Error> {
        let text = paths::read(path)?;
        let json = serde_json::from_str(&text).map_err(|source| Error::Json {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(Self {
            path: path.to_path_buf(),
            json,
        })
    }

    /// The file name, for messages.
    pub fn name(&self) -> String {
        self.path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
    }

    /// Every panel that is not a row, including the panels of collapsed rows.
    pub fn panels(&self) -> Vec<Panel<'_>> {
        let mut out = Vec::new();
        collect_panels(self.json.get("panels"), &mut out);
        out
    }

    /// Every panel's JSON, rows included (for id checks).
    pub fn all_panel_json(&self) -> Vec<&Value> {
        let mut out = Vec::new();
        let top = self.json.get("panels").and_then(Value::as_array);
        for panel in top.into_iter().flatten() {
            out.push(panel);
            let nested = panel.get("panels").and_then(Value::as_array);
            out.extend(nested.into_iter().flatten());
        }
        out
    }

    /// The template variables.
    pub fn variables(&self) -> Vec<&Value> {
        self.json
            .pointer("/templating/list")
            .and_then(Value::as_array)
            .map(|list| list.iter().collect())
            .unwrap_or_default()
    }

    /// The PromQL selectors of the query variables (`label_values(<selector>, label)`
    /// yields `<selector>`; `label_values(label)` selects no metric).
    pub fn variable_selectors(&self) -> Vec<String> {
        self.variables()
            .into_iter()
            .filter(|v| v.get("type").and_then(Value::as_str) == Some("query"))
            .filter_map(|v| {
                v.pointer("/query/query")
                    .or_else(|| v.get("query"))
                    .and_then(Value::as_str)
            })
            .filter_map(label_values_selector)
            .collect()
    }
}

fn collect_panels<'a>(panels: Option<&'a Value>, out: &mut Vec<Panel<'a>>) {
    for panel in panels.and_then(Value::as_array).into_iter().flatten() {
        if panel.get("type").and_then(Value::as_str) == Some("row") {
            collect_panels(panel.get("panels"), out);
            continue;
        }
        let queries = panel
            .get("targets")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|t| t.get("expr").and_then(Value::as_str).unwrap_or(""))
            .collect();
        out.push(Panel {
            json: panel,
            title: panel.get("title").and_then(Value::as_str).unwrap_or(""),
            queries,
        });
    }
}

/// The selector inside `label_values(selector, label)`; `None` for `label_values(label)`
/// and for anything else the variable may run (which is then a PromQL query itself).
pub fn label_values_selector(query: &str) -> Option<String> {
    let query = query.trim();
    let Some(inner) = query
        .strip_prefix("label_values(")
        .and_then(|rest| rest.strip_suffix(')'))
    else {
        return Some(query.to_owned());
    };
    inner
        .rsplit_once(',')
        .map(|(selector, _label)| selector.trim().to_owned())
}

/// Replaces Grafana's variables in `query` by values that make it plain PromQL, so
/// promtool can check it: ranges become `5m`, template variables match anything.
pub fn substitute_variables(query: &str) -> String {
    let mut out = query.to_owned();
    for (variable, value) in [
        ("$__rate_interval", "5m"),
        ("$__interval", "1m"),
        ("$__range", "1h"),
    ] {
        out = out.replace(variable, value);
    }
    // Remaining `$name` / `${name}` are template variables used inside `=~"..."`.
    let chars: Vec<char> = out.chars().collect();
    let mut result = String::with_capacity(out.len());
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '$' {
            let mut j = i + 1;
            if chars.get(j) == Some(&'{') {
                while j < chars.len() && chars[j] != '}' {
                    j += 1;
                }
                j += 1;
            } else {
                while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
                    j += 1;
                }
            }
            result.push_str(".*");
            i = j;
        } else {
            result.push(chars[i]);
            i += 1;
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_queries_yield_their_selector() {
        assert_eq!(
            label_values_selector(r#"label_values(redis_up{job=~"$job"}, instance)"#).as_deref(),
            Some(r#"redis_up{job=~"$job"}"#)
        );
        assert_eq!(label_values_selector("label_values(job)"), None);
        assert_eq!(label_values_selector("up").as_deref(), Some("up"));
    }

    #[test]
    fn variables_become_plain_promql() {
        assert_eq!(
            substitute_variables(r#"rate(x{job=~"$job", i=~"${instance}"}[$__rate_interval])"#),
            r#"rate(x{job=~".*", i=~".*"}[5m])"#
        );
        assert_eq!(
            substitute_variables("increase(y[$__range])"),
            "increase(y[1h])"
        );
    }
}
