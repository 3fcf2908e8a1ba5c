//! The parts of `docs/metrics.md` and `docs/runbooks.md` the checks compare.

use std::path::Path;

use crate::Error;

/// Whether sessiondb exports a documented metric yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// `/metrics` has it.
    Exported,
    /// Named and specified, not implemented yet.
    Planned,
}

/// One row of the metric table of `docs/metrics.md`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocMetric {
    /// The sample name (`sessiondb_..._total` for counters, `..._info` for info).
    pub name: String,
    /// `counter`, `gauge`, `histogram` or `info`.
    pub kind: String,
    /// The labels cell, as written.
    pub labels: String,
    /// The HELP text, exactly as `/metrics` prints it.
    pub help: String,
    /// Exported or planned.
    pub status: Status,
}

impl DocMetric {
    /// The names a query may use for this metric: the name itself, and for histograms
    /// also its `_bucket`, `_sum` and `_count` series.
    pub fn series_names(&self) -> Vec<String> {
        if self.kind == "histogram" {
            ["", "_bucket", "_sum", "_count"]
                .iter()
                .map(|suffix| format!("{}{suffix}", self.name))
                .collect()
        } else {
            vec![self.name.clone()]
        }
    }
}

/// The rows of the metric table: lines `| `sessiondb_…` | type | labels | HELP | status |`.
pub fn parse_metric_table(path: &Path, text: &str) -> Result<Vec<DocMetric>, Error> {
    let format_error = |line: usize, message: String| Error::Format {
        path: path.to_path_buf(),
        message: format!("line {line}: {message}"),
    };
    let mut metrics = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line_no = n + 1;
        if !line.starts_with("| `sessiondb_") {
            continue;
        }
        let cells: Vec<&str> = line
            .trim()
            .trim_start_matches('|')
            .trim_end_matches('|')
            .split('|')
            .map(str::trim)
            .collect();
        let [name, kind, labels, help, status] = cells[..] else {
            return Err(format_error(
                line_no,
                format!(
                    "a metric row needs 5 cells (metric, type, labels, HELP, status), found {}",
                    cells.len()
                ),
            ));
        };
        let name = name.trim_matches('`');
        let status = match status {
            "exported" => Status::Exported,
            "planned" => Status::Planned,
            other => {
                return Err(format_error(
                    line_no,
                    format!("status of {name} must be `exported` or `planned`, not {other:?}"),
                ))
            }
        };
        if !["counter", "gauge", "histogram", "info"].contains(&kind) {
            return Err(format_error(
                line_no,
                format!("type of {name} must be counter, gauge, histogram or info, not {kind:?}"),
            ));
        }
        metrics.push(DocMetric {
            name: name.to_owned(),
            kind: kind.to_owned(),
            labels: labels.to_owned(),
            help: help.to_owned(),
            status,
        });
    }
    Ok(metrics)
}

/// A `##`/`###` heading of a Markdown document and the text under it (up to the next
/// heading of the same or a higher level).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// Heading level (number of `#`).
    pub level: usize,
    /// Heading text.
    pub title: String,
    /// GitHub's anchor for it.
    pub anchor: String,
    /// The section's text, without the heading line.
    pub body: String,
}

/// Every heading of `text` with its body. Headings inside fenced code blocks are not
/// headings.
pub fn sections(text: &str) -> Vec<Section> {
    let mut sections: Vec<Section> = Vec::new();
    let mut open: Vec<usize> = Vec::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        }
        let level = line.chars().take_while(|c| *c == '#').count();
        let is_heading = !in_code && level > 0 && line[level..].starts_with(' ');
        if is_heading {
            open.retain(|i| sections[*i].level < level);
            let title = line[level..].trim().to_owned();
            sections.push(Section {
                level,
                anchor: github_anchor(&title),
                title,
                body: String::new(),
            });
            open.push(sections.len() - 1);
        } else {
            for i in &open {
                sections[*i].body.push_str(line);
                sections[*i].body.push('\n');
            }
        }
    }
    sections
}

/// The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to `-`.
pub fn github_anchor(title: &str) -> String {
    title
        .chars()
        .filter_map(|c| match c {
            c if c.is_alphanumeric() => Some(c.to_lowercase().collect::<String>()),
            ' ' | '-' => Some("-".to_owned()),
            '_' => Some("_".to_owned()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_follow_github() {
        assert_eq!(github_anchor("RedisDown"), "redisdown");
        assert_eq!(
            github_anchor("How to use this page"),
            "how-to-use-this-page"
        );
        assert_eq!(github_anchor("Redis (data nodes)"), "redis-data-nodes");
    }

    #[test]
    fn sections_nest_and_ignore_code_blocks() {
        let text = "# T\nintro\n## A\na\n```sh\n# not a heading\n```\n### A1\nx\n## B\nb\n";
        let s = sections(text);
        let titles: Vec<&str> = s.iter().map(|s| s.title.as_str()).collect();
        assert_eq!(titles, ["T", "A", "A1", "B"]);
        assert!(s[1].body.contains("# not a heading") && s[1].body.contains('x'));
        assert!(!s[1].body.contains('b'));
        assert_eq!(s[2].body, "x\n");
    }

    #[test]
    fn metric_rows_are_checked() {
        let path = Path::new("metrics.md");
        let ok = "| `sessiondb_x_total` | counter | `a` | Xs. | planned |\n";
        let rows = parse_metric_table(path, ok).expect("valid row");
        assert_eq!(rows[0].status, Status::Planned);
        assert_eq!(rows[0].help, "Xs.");
        let bad = "| `sessiondb_x_total` | counter | `a` | Xs. | maybe |\n";
        let error = parse_metric_table(path, bad).expect_err("bad status");
        assert!(error.to_string().contains("line 1"), "{error}");
    }
}
