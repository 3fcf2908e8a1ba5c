//! Reading `redis.conf` / `sentinel.conf` text: directives as token lists, the way
//! Redis splits them (whitespace, double and single quotes).

use anyhow::{bail, Result};

/// The directives of a config file, in order, each as its tokens.
pub fn directives(text: &str) -> Result<Vec<Vec<String>>> {
    let mut out = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let tokens = split(line).map_err(|e| anyhow::anyhow!("line {}: {e}", number + 1))?;
        if !tokens.is_empty() {
            out.push(tokens);
        }
    }
    Ok(out)
}

/// The last value of a single-argument directive (later lines win in Redis).
pub fn value<'a>(directives: &'a [Vec<String>], name: &str) -> Option<&'a str> {
    directives
        .iter()
        .rev()
        .find(|d| d.len() == 2 && d[0].eq_ignore_ascii_case(name))
        .map(|d| d[1].as_str())
}

/// Every directive named `name` with its arguments (e.g. all `sentinel` lines).
pub fn all<'a>(directives: &'a [Vec<String>], name: &str) -> Vec<&'a [String]> {
    directives
        .iter()
        .filter(|d| d[0].eq_ignore_ascii_case(name))
        .map(|d| &d[1..])
        .collect()
}

/// Redis memory sizes: `384mb`, `3gb`, `1048576`, `4G`.
pub fn memory_bytes(text: &str) -> Result<u64> {
    let lower = text.to_ascii_lowercase();
    let split = lower
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(lower.len());
    let (digits, unit) = lower.split_at(split);
    let n: u64 = digits.parse()?;
    let factor = match unit {
        "" | "b" => 1,
        "k" => 1000,
        "kb" => 1024,
        "m" => 1000 * 1000,
        "mb" => 1024 * 1024,
        "g" => 1000 * 1000 * 1000,
        "gb" => 1024 * 1024 * 1024,
        other => bail!("unknown memory unit {other:?} in {text:?}"),
    };
    Ok(n * factor)
}

/// Kubernetes quantities for memory: `512Mi`, `4Gi`, `256M`, `1000`.
pub fn quantity_bytes(text: &str) -> Result<u64> {
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(split);
    let n: u64 = digits.parse()?;
    let factor: u64 = match unit {
        "" => 1,
        "Ki" => 1 << 10,
        "Mi" => 1 << 20,
        "Gi" => 1 << 30,
        "Ti" => 1 << 40,
        "k" => 1_000,
        "M" => 1_000_000,
        "G" => 1_000_000_000,
        other => bail!("unsupported quantity unit {other:?} in {text:?}"),
    };
    Ok(n * factor)
}

fn split(line: &str) -> Result<Vec<String>> {
    let mut tokens = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut token = String::new();
        if c == '"' || c == '\'' {
            chars.next();
            let mut closed = false;
            while let Some(d) = chars.next() {
                if d == c {
                    closed = true;
                    break;
                }
                if d == '\\' && c == '"' {
                    if let Some(e) = chars.next() {
                        token.push(e);
                    }
                    continue;
                }
                token.push(d);
            }
            if !closed {
                bail!("unbalanced quotes");
            }
        } else {
            while let Some(&d) = chars.peek() {
                if d.is_whitespace() {
                    break;
                }
                token.push(d);
                chars.next();
            }
        }
        tokens.push(token);
    }
    Ok(tokens)
}
