//! Metric families and sample names in Prometheus / OpenMetrics exposition text.

use std::collections::{BTreeMap, BTreeSet};

/// A metric family announced by `# TYPE` (with its `# HELP`, when given).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Family {
    /// The family name (`sessiondb_http_requests` for the counter
    /// `sessiondb_http_requests_total`).
    pub name: String,
    /// `counter`, `gauge`, `histogram`, `summary`, `info`, …
    pub kind: String,
    /// The HELP text.
    pub help: String,
}

impl Family {
    /// The name queries use for the family's main series: `_total` for counters,
    /// `_info` for info metrics, the family name otherwise.
    pub fn sample_name(&self) -> String {
        match self.kind.as_str() {
            "counter" if !self.name.ends_with("_total") => format!("{}_total", self.name),
            "info" => format!("{}_info", self.name),
            _ => self.name.clone(),
        }
    }
}

/// The families of `text`, by name.
pub fn families(text: &str) -> BTreeMap<String, Family> {
    let mut help: BTreeMap<&str, &str> = BTreeMap::new();
    let mut families = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            if let Some((name, text)) = rest.split_once(' ') {
                help.insert(name, text);
            }
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            if let Some((name, kind)) = rest.split_once(' ') {
                families.insert(
                    name.to_owned(),
                    Family {
                        name: name.to_owned(),
                        kind: kind.trim().to_owned(),
                        help: String::new(),
                    },
                );
            }
        }
    }
    for (name, family) in &mut families {
        if let Some(text) = help.get(name.as_str()) {
            family.help = (*text).to_owned();
        }
    }
    families
}

/// The names of the samples in `text` (what a query selects), without comments.
pub fn sample_names(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| {
            let end = line.find(['{', ' ']).unwrap_or(line.len());
            let name = &line[..end];
            (!name.is_empty()).then(|| name.to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# HELP a_requests Requests.\n# TYPE a_requests counter\n\
        a_requests_total{route=\"/x\"} 1\n# HELP a_build Build information.\n\
        # TYPE a_build info\na_build_info{version=\"1\"} 1\n# TYPE g gauge\ng 3\n";

    #[test]
    fn families_carry_type_help_and_sample_name() {
        let f = families(TEXT);
        assert_eq!(f["a_requests"].sample_name(), "a_requests_total");
        assert_eq!(f["a_requests"].help, "Requests.");
        assert_eq!(f["a_build"].sample_name(), "a_build_info");
        assert_eq!(f["g"].sample_name(), "g");
        assert_eq!(f["g"].help, "");
    }

    #[test]
    fn sample_names_skip_comments() {
        let names: Vec<String> = sample_names(TEXT).into_iter().collect();
        assert_eq!(names, ["a_build_info", "a_requests_total", "g"]);
    }
}
