//! The metric names a PromQL expression selects.
//!
//! A small scanner, not a parser: it skips strings, label matchers (`{...}`), ranges
//! and subqueries (`[...]`), numbers and durations, Grafana variables (`$job`,
//! `${job}`, `$__rate_interval`), the label lists of `by`/`without`/`on`/`ignoring`/
//! `group_left`/`group_right`, keywords, and identifiers followed by `(` (functions and
//! aggregations). What remains are metric names. That the expression is valid PromQL
//! is promtool's job.

use std::collections::BTreeSet;

/// Aggregation operators, which may be followed by `by (...)` before their `(`.
const AGGREGATIONS: [&str; 12] = [
    "sum",
    "min",
    "max",
    "avg",
    "group",
    "stddev",
    "stdvar",
    "count",
    "count_values",
    "bottomk",
    "topk",
    "quantile",
];

/// Keywords followed by a parenthesised label list.
const LABEL_LIST_KEYWORDS: [&str; 6] = [
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
];

/// Other keywords and literals that look like identifiers.
const KEYWORDS: [&str; 8] = [
    "and", "or", "unless", "bool", "offset", "atan2", "inf", "nan",
];

/// The metric names `expr` selects, in order.
pub fn metric_names(expr: &str) -> BTreeSet<String> {
    let chars: Vec<char> = expr.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '#' => i = skip_line(&chars, i),
            '"' | '\'' | '`' => i = skip_string(&chars, i),
            '{' => i = skip_group(&chars, i, '}'),
            '[' => i = skip_group(&chars, i, ']'),
            '$' => i = skip_variable(&chars, i),
            c if c.is_ascii_digit() || (c == '.' && next_is_digit(&chars, i)) => {
                i = skip_while(&chars, i, |c| {
                    c.is_ascii_alphanumeric() || c == '.' || c == '_'
                });
            }
            c if is_ident_start(c) => {
                let end = skip_while(&chars, i, is_ident_char);
                let word: String = chars[i..end].iter().collect();
                let after = skip_while(&chars, end, char::is_whitespace);
                let next = chars.get(after).copied();
                i = end;
                if LABEL_LIST_KEYWORDS.contains(&word.as_str()) {
                    if next == Some('(') {
                        i = skip_group(&chars, after, ')');
                    }
                } else if KEYWORDS.contains(&word.as_str())
                    || AGGREGATIONS.contains(&word.as_str())
                    || next == Some('(')
                {
                    // A keyword, an aggregation or a function call.
                } else {
                    names.insert(word);
                }
            }
            _ => i += 1,
        }
    }
    names
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == ':'
}

fn next_is_digit(chars: &[char], i: usize) -> bool {
    chars.get(i + 1).is_some_and(char::is_ascii_digit)
}

fn skip_while(chars: &[char], mut i: usize, keep: impl Fn(char) -> bool) -> usize {
    while i < chars.len() && keep(chars[i]) {
        i += 1;
    }
    i
}

fn skip_line(chars: &[char], i: usize) -> usize {
    skip_while(chars, i, |c| c != '\n')
}

/// Skips the string starting at `i` (its opening quote); backslash escapes apply except
/// in backtick strings.
fn skip_string(chars: &[char], i: usize) -> usize {
    let quote = chars[i];
    let mut j = i + 1;
    while j < chars.len() {
        match chars[j] {
            '\\' if quote != '`' => j += 2,
            c if c == quote => return j + 1,
            _ => j += 1,
        }
    }
    j
}

/// Skips from the opening bracket at `i` to just after its matching `close`, skipping
/// strings and nested brackets of the same kind.
fn skip_group(chars: &[char], i: usize, close: char) -> usize {
    let open = chars[i];
    let mut depth = 0usize;
    let mut j = i;
    while j < chars.len() {
        match chars[j] {
            '"' | '\'' | '`' => {
                j = skip_string(chars, j);
                continue;
            }
            c if c == open => depth += 1,
            c if c == close => {
                depth -= 1;
                if depth == 0 {
                    return j + 1;
                }
            }
            _ => {}
        }
        j += 1;
    }
    j
}

/// Skips a Grafana variable: `$name`, `$__name` or `${name}` / `${name:format}`.
fn skip_variable(chars: &[char], i: usize) -> usize {
    if chars.get(i + 1) == Some(&'{') {
        skip_group(chars, i + 1, '}')
    } else {
        skip_while(chars, i + 1, is_ident_char)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(expr: &str) -> Vec<String> {
        metric_names(expr).into_iter().collect()
    }

    #[test]
    fn finds_selectors_and_skips_matchers_ranges_and_functions() {
        assert_eq!(
            names(
                r#"sum by (job) (rate(sessiondb_http_requests_total{status=~"5..", route!="x{y}"}[5m]))"#
            ),
            ["sessiondb_http_requests_total"]
        );
        assert_eq!(
            names(
                "histogram_quantile(0.99, sum by (le, route) (rate(a_bucket[$__rate_interval])))"
            ),
            ["a_bucket"]
        );
    }

    #[test]
    fn skips_vector_matching_label_lists_and_keywords() {
        assert_eq!(
            names("redis_master_repl_offset - on (instance) group_right () redis_connected_slave_offset_bytes > bool 1e3"),
            ["redis_connected_slave_offset_bytes", "redis_master_repl_offset"]
        );
        assert_eq!(
            names("a unless on(job) b and ignoring(x) c or d offset 10m"),
            ["a", "b", "c", "d"]
        );
        assert_eq!(
            names("count without (message) (x) / count by(job)(y)"),
            ["x", "y"]
        );
    }

    #[test]
    fn keeps_recording_rule_names_and_skips_strings_numbers_and_variables() {
        assert_eq!(
            names(
                r#"label_replace(job:sessiondb_http_requests:rate5m{job=~"$job"}, "master", "$1", "instance", "(.*)") > 0.05"#
            ),
            ["job:sessiondb_http_requests:rate5m"]
        );
        assert_eq!(
            names("time() - max(x{a=\"b\"} > 0) > 3600 # comment with words"),
            ["x"]
        );
        assert_eq!(
            names("count_over_time(m[${__range}]) - .5 * m2[5m:1m]"),
            ["m", "m2"]
        );
    }
}
