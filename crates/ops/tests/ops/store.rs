//! Looking at what the store holds, independently of the code under test: every key
//! under a prefix with its value and TTL, and the key schema's invariants.

use std::collections::{BTreeMap, BTreeSet};

use fred::prelude::*;
use fred::types::config::ServerConfig;
use fred::types::Value;

/// A key's value, in a form that compares equal when the data is the same.
#[derive(Debug, Clone, PartialEq)]
pub enum Data {
    String(Vec<u8>),
    /// Members with scores.
    SortedSet(Vec<(String, f64)>),
    /// Entries (id and fields).
    Stream(Vec<String>),
}

/// One key: its value and its remaining TTL in ms (-1: none).
#[derive(Debug, Clone)]
pub struct Stored {
    pub data: Data,
    pub pttl: i64,
}

async fn node(addr: &(String, u16)) -> anyhow::Result<Client> {
    let config = Config {
        server: ServerConfig::new_centralized(addr.0.as_str(), addr.1),
        ..Config::default()
    };
    let client = Builder::from_config(config).build()?;
    client.init().await?;
    Ok(client)
}

/// Every key under `prefix` on the given masters (relative names), except the
/// operational markers.
pub async fn snapshot(
    masters: &[(String, u16)],
    prefix: &str,
) -> anyhow::Result<BTreeMap<String, Stored>> {
    let mut all = BTreeMap::new();
    for addr in masters {
        let client = node(addr).await?;
        let mut cursor = "0".to_owned();
        loop {
            let page: (String, Vec<String>) = client
                .scan_page(cursor.as_str(), format!("{prefix}:*"), Some(1000), None)
                .await?;
            for key in page.1 {
                let relative = key[prefix.len() + 1..].to_owned();
                if relative.starts_with("health")
                    || relative.starts_with("backup:")
                    || relative.starts_with("cleanup:")
                {
                    continue;
                }
                let kind: String = client.r#type(&key).await?;
                let data = match kind.as_str() {
                    "string" => Data::String(client.get::<Vec<u8>, _>(&key).await?),
                    "zset" => {
                        Data::SortedSet(client.zrange(&key, 0, -1, None, false, None, true).await?)
                    }
                    "stream" => {
                        let entries: Value = client.xrange(&key, "-", "+", None).await?;
                        Data::Stream(format_entries(entries))
                    }
                    other => anyhow::bail!("{key} has unexpected type {other}"),
                };
                let pttl: i64 = client.pttl(&key).await?;
                all.insert(relative, Stored { data, pttl });
            }
            cursor = page.0;
            if cursor == "0" {
                break;
            }
        }
        client.quit().await?;
    }
    Ok(all)
}

fn format_entries(value: Value) -> Vec<String> {
    match value {
        Value::Array(items) => items.into_iter().map(|e| format!("{e:?}")).collect(),
        other => vec![format!("{other:?}")],
    }
}

/// What the buckets' schedules and counts mean: a restore recomputes them from the
/// indexes, so an entry for a user without an index (awaiting cleanup, a no-op) and a
/// count of 0 (the same as none) are left out, and a schedule is compared by member
/// (its scores are "visit no later than").
fn meaning(keys: &BTreeMap<String, Stored>) -> BTreeMap<String, Stored> {
    let indexed: BTreeSet<String> = keys
        .keys()
        .filter_map(|k| k.split_once("}:u:").map(|(_, uh)| uh.to_owned()))
        .collect();
    keys.iter()
        .filter_map(|(name, stored)| {
            if name.ends_with(":due") {
                let Data::SortedSet(members) = &stored.data else {
                    return None;
                };
                let members: Vec<(String, f64)> = members
                    .iter()
                    .filter(|(m, _)| indexed.contains(&m[..22]))
                    .map(|(m, _)| (m.clone(), 0.0))
                    .collect();
                (!members.is_empty()).then(|| {
                    (
                        name.clone(),
                        Stored {
                            data: Data::SortedSet(members),
                            pttl: stored.pttl,
                        },
                    )
                })
            } else if name.ends_with(":n") && stored.data == Data::String(b"0".to_vec()) {
                None
            } else {
                Some((name.clone(), stored.clone()))
            }
        })
        .collect()
}

/// Asserts that `restored` holds exactly the data of `original`, with TTLs within
/// `tolerance_ms` (see [`meaning`] for the buckets' schedules and counts).
pub fn assert_same(
    original: &BTreeMap<String, Stored>,
    restored: &BTreeMap<String, Stored>,
    tolerance_ms: i64,
) {
    let (original, restored) = (meaning(original), meaning(restored));
    let a: BTreeSet<&String> = original.keys().collect();
    let b: BTreeSet<&String> = restored.keys().collect();
    assert_eq!(a, b, "the same keys");
    for (name, o) in &original {
        let r = &restored[name];
        assert_eq!(o.data, r.data, "{name}: value");
        if o.pttl < 0 || r.pttl < 0 {
            assert_eq!(o.pttl, r.pttl, "{name}: TTL");
        } else {
            assert!(
                (o.pttl - r.pttl).abs() <= tolerance_ms,
                "{name}: TTL {} vs {}",
                o.pttl,
                r.pttl
            );
        }
    }
}

/// The first fields of a record: kind, user id, user hash.
fn record_head(bytes: &[u8]) -> anyhow::Result<(String, String, String)> {
    let mut rd = bytes;
    let mut string = || -> anyhow::Result<String> {
        let len =
            rmp::decode::read_str_len(&mut rd).map_err(|e| anyhow::anyhow!("{e:?}"))? as usize;
        let (value, rest) = rd.split_at(len);
        rd = rest;
        Ok(String::from_utf8_lossy(value).into_owned())
    };
    let kind = string()?;
    let _token_hash = string()?;
    let user = string()?;
    let uh = string()?;
    Ok((kind, user, uh))
}

/// Checks the key schema's invariants on a snapshot: every index entry has a live
/// record of that user whose TTL ends with the entry's score (within `slack_ms`), no
/// user holds more than `cap` live logins, every live record is indexed, the schedule
/// lists exactly the users with an index, and each bucket's count equals its index
/// entries. Returns the number of live logins.
pub fn assert_invariants(
    keys: &BTreeMap<String, Stored>,
    cap: usize,
    now_ms: i64,
    slack_ms: i64,
) -> anyhow::Result<usize> {
    let mut indexed: BTreeSet<String> = BTreeSet::new();
    let mut per_bucket: BTreeMap<String, i64> = BTreeMap::new();
    let mut users_per_bucket: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (name, stored) in keys {
        let Some((bucket, rest)) = name.split_once("}:") else {
            continue;
        };
        let bucket = bucket.trim_start_matches('{').to_owned();
        if let Some(uh) = rest.strip_prefix("u:") {
            let Data::SortedSet(entries) = &stored.data else {
                anyhow::bail!("{name} is not a zset")
            };
            let live = entries
                .iter()
                .filter(|(_, score)| *score as i64 > now_ms)
                .count();
            assert!(live <= cap, "{name}: {live} live logins over the cap {cap}");
            *per_bucket.entry(bucket.clone()).or_default() += entries.len() as i64;
            users_per_bucket
                .entry(bucket.clone())
                .or_default()
                .insert(uh.to_owned());
            for (sid, score) in entries {
                let record_name = format!("{{{bucket}}}:s:{sid}");
                if (*score as i64) <= now_ms {
                    continue; // ended, awaiting cleanup: its record may be gone
                }
                let record = keys
                    .get(&record_name)
                    .unwrap_or_else(|| panic!("{name} lists {sid} but {record_name} is missing"));
                let Data::String(bytes) = &record.data else {
                    anyhow::bail!("{record_name} is not a string")
                };
                let (kind, _, record_uh) = record_head(bytes)?;
                assert_eq!(kind, "L", "{record_name} is indexed but not live");
                assert_eq!(record_uh, uh, "{record_name} belongs to another user");
                let ends = now_ms + record.pttl;
                assert!(
                    (ends - *score as i64).abs() <= slack_ms,
                    "{record_name} ends at {ends}, its index entry says {score}"
                );
                indexed.insert(record_name);
            }
        }
    }
    for (name, stored) in keys {
        let Some((bucket, rest)) = name.split_once("}:") else {
            continue;
        };
        let bucket = bucket.trim_start_matches('{');
        if rest.starts_with("s:") {
            let Data::String(bytes) = &stored.data else {
                anyhow::bail!("{name} is not a string")
            };
            if record_head(bytes)?.0 == "L" {
                assert!(
                    indexed.contains(name),
                    "{name} is live but no index lists it"
                );
            }
        } else if rest == "n" {
            let Data::String(n) = &stored.data else {
                anyhow::bail!("{name} is not a string")
            };
            let n: i64 = String::from_utf8_lossy(n).parse()?;
            assert_eq!(
                n,
                per_bucket.get(bucket).copied().unwrap_or(0),
                "{name}: live count"
            );
        } else if rest == "due" {
            let Data::SortedSet(members) = &stored.data else {
                anyhow::bail!("{name} is not a zset")
            };
            let users: BTreeSet<String> = members.iter().map(|(m, _)| m[..22].to_owned()).collect();
            assert_eq!(
                Some(&users),
                users_per_bucket.get(bucket),
                "{name}: the schedule lists the users with an index"
            );
        }
    }
    for (bucket, count) in &per_bucket {
        if *count > 0 {
            assert!(
                keys.contains_key(&format!("{{{bucket}}}:n")),
                "bucket {bucket} has no count"
            );
        }
    }
    Ok(indexed.len())
}

/// Redis's clock on `addr`, in ms.
pub async fn redis_now(addr: &(String, u16)) -> anyhow::Result<i64> {
    let client = node(addr).await?;
    let time: Vec<String> = client
        .custom(
            fred::types::CustomCommand::new_static("TIME", fred::types::ClusterHash::Random, false),
            Vec::<Value>::new(),
        )
        .await?;
    client.quit().await?;
    Ok(time[0].parse::<i64>()? * 1000 + time[1].parse::<i64>()? / 1000)
}

/// Keys in database 0 of every node.
pub async fn dbsize(nodes: &[(String, u16)]) -> anyhow::Result<u64> {
    let mut total = 0;
    for addr in nodes {
        let client = node(addr).await?;
        let n: u64 = client.dbsize().await?;
        client.quit().await?;
        total += n;
    }
    Ok(total)
}
