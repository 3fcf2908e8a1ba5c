//! Which flows a set of NetworkPolicies allows, following the Kubernetes semantics:
//! a pod is isolated for ingress (egress) once any policy of its namespace selects it
//! with that policy type, and then only what some such policy's rules allow gets
//! through; a flow needs both the source's egress and the destination's ingress.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use anyhow::{bail, Context as _, Result};
use serde_json::Value;

use crate::objects::{string_map, Object};

/// One end of a flow.
#[derive(Debug, Clone)]
pub enum Endpoint {
    /// A pod.
    Pod {
        /// Its namespace's name.
        namespace: String,
        /// Its namespace's labels (including `kubernetes.io/metadata.name`).
        namespace_labels: BTreeMap<String, String>,
        /// Its own labels.
        labels: BTreeMap<String, String>,
    },
    /// An address outside the cluster.
    External(Ipv4Addr),
}

impl Endpoint {
    /// A pod in namespace `namespace` (labelled with its name, as the API server
    /// does, plus `namespace_labels`).
    pub fn pod(
        namespace: &str,
        namespace_labels: &[(&str, &str)],
        labels: &[(&str, &str)],
    ) -> Self {
        let mut ns: BTreeMap<String, String> = namespace_labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ns.insert("kubernetes.io/metadata.name".into(), namespace.into());
        Self::Pod {
            namespace: namespace.into(),
            namespace_labels: ns,
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }
}

/// Direction of a policy rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Direction {
    Ingress,
    Egress,
}

/// Whether `from` may open a connection to `to` on `port`/`protocol` under
/// `policies` (the NetworkPolicies of every namespace involved).
pub fn allowed(
    policies: &[&Object],
    from: &Endpoint,
    to: &Endpoint,
    port: u16,
    protocol: &str,
) -> Result<bool> {
    Ok(
        side_allows(policies, Direction::Egress, from, to, port, protocol)?
            && side_allows(policies, Direction::Ingress, to, from, port, protocol)?,
    )
}

/// The NetworkPolicies of `pod`'s namespace that select it for ingress (or egress)
/// traffic; empty for an address outside the cluster.
pub fn selecting<'a>(
    policies: &[&'a Object],
    pod: &Endpoint,
    ingress: bool,
) -> Result<Vec<&'a Object>> {
    let direction = if ingress {
        Direction::Ingress
    } else {
        Direction::Egress
    };
    let Endpoint::Pod {
        namespace, labels, ..
    } = pod
    else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for policy in policies {
        if policy.namespace() == namespace
            && has_type(policy, direction)
            && selector_matches(policy.at("/spec/podSelector"), labels)
                .with_context(|| policy.id())?
        {
            out.push(*policy);
        }
    }
    Ok(out)
}

/// Whether the policies of `subject`'s namespace let it send (egress) or receive
/// (ingress) this flow with `peer` on the other end.
fn side_allows(
    policies: &[&Object],
    direction: Direction,
    subject: &Endpoint,
    peer: &Endpoint,
    port: u16,
    protocol: &str,
) -> Result<bool> {
    let applicable = selecting(policies, subject, direction == Direction::Ingress)?;
    if applicable.is_empty() {
        // Not isolated in this direction (or not a pod at all).
        return Ok(true);
    }
    let (rules_key, peers_key) = match direction {
        Direction::Ingress => ("ingress", "from"),
        Direction::Egress => ("egress", "to"),
    };
    for policy in applicable {
        let namespace = policy.namespace();
        for rule in policy
            .at(&format!("/spec/{rules_key}"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !ports_match(rule.get("ports"), port, protocol).with_context(|| policy.id())? {
                continue;
            }
            let peers = rule.get(peers_key).and_then(Value::as_array);
            let any_peer = match peers {
                None => true,
                Some(peers) if peers.is_empty() => true,
                Some(peers) => {
                    let mut hit = false;
                    for p in peers {
                        hit |= peer_matches(p, namespace, peer).with_context(|| policy.id())?;
                    }
                    hit
                }
            };
            if any_peer {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

fn has_type(policy: &Object, direction: Direction) -> bool {
    match policy.at("/spec/policyTypes").and_then(Value::as_array) {
        Some(types) => types.iter().any(|t| {
            t.as_str()
                == Some(match direction {
                    Direction::Ingress => "Ingress",
                    Direction::Egress => "Egress",
                })
        }),
        // Defaults: always Ingress; Egress when there are egress rules.
        None => direction == Direction::Ingress || policy.at("/spec/egress").is_some(),
    }
}

fn ports_match(ports: Option<&Value>, port: u16, protocol: &str) -> Result<bool> {
    let Some(ports) = ports.and_then(Value::as_array) else {
        return Ok(true);
    };
    if ports.is_empty() {
        return Ok(true);
    }
    for p in ports {
        let proto = p.get("protocol").and_then(Value::as_str).unwrap_or("TCP");
        if proto != protocol {
            continue;
        }
        let number = match p.get("port") {
            None => return Ok(true),
            Some(Value::Number(n)) => n.as_u64().context("port is not a number")?,
            Some(other) => bail!("named or malformed port {other} (the checks need numbers)"),
        };
        let end = p.get("endPort").and_then(Value::as_u64).unwrap_or(number);
        if (number..=end).contains(&u64::from(port)) {
            return Ok(true);
        }
    }
    Ok(false)
}

fn peer_matches(peer: &Value, policy_namespace: &str, endpoint: &Endpoint) -> Result<bool> {
    if let Some(block) = peer.get("ipBlock") {
        let Endpoint::External(ip) = endpoint else {
            // ipBlock is meant for addresses outside the cluster.
            return Ok(false);
        };
        let cidr = block
            .get("cidr")
            .and_then(Value::as_str)
            .context("ipBlock without cidr")?;
        if !in_cidr(*ip, cidr)? {
            return Ok(false);
        }
        for except in block
            .get("except")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if in_cidr(*ip, except.as_str().context("ipBlock.except entry")?)? {
                return Ok(false);
            }
        }
        return Ok(true);
    }
    let Endpoint::Pod {
        namespace,
        namespace_labels,
        labels,
    } = endpoint
    else {
        return Ok(false);
    };
    let namespace_ok = match peer.get("namespaceSelector") {
        Some(selector) => selector_matches(Some(selector), namespace_labels)?,
        None => namespace == policy_namespace,
    };
    let pod_ok = match peer.get("podSelector") {
        Some(selector) => selector_matches(Some(selector), labels)?,
        None => true,
    };
    Ok(namespace_ok && pod_ok)
}

/// Whether a label selector (`matchLabels` and `matchExpressions`) matches `labels`;
/// an absent or empty selector matches everything.
pub fn selector_matches(
    selector: Option<&Value>,
    labels: &BTreeMap<String, String>,
) -> Result<bool> {
    let Some(selector) = selector else {
        return Ok(true);
    };
    for (key, value) in string_map(selector, "/matchLabels") {
        if labels.get(&key) != Some(&value) {
            return Ok(false);
        }
    }
    for expression in selector
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = expression
            .get("key")
            .and_then(Value::as_str)
            .context("expression key")?;
        let operator = expression
            .get("operator")
            .and_then(Value::as_str)
            .context("operator")?;
        let values: Vec<&str> = expression
            .get("values")
            .and_then(Value::as_array)
            .map(|v| v.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let actual = labels.get(key).map(String::as_str);
        let ok = match operator {
            "In" => actual.is_some_and(|a| values.contains(&a)),
            "NotIn" => !actual.is_some_and(|a| values.contains(&a)),
            "Exists" => actual.is_some(),
            "DoesNotExist" => actual.is_none(),
            other => bail!("unknown selector operator {other}"),
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

fn in_cidr(ip: Ipv4Addr, cidr: &str) -> Result<bool> {
    let (network, bits) = cidr
        .split_once('/')
        .with_context(|| format!("CIDR {cidr}"))?;
    let network: Ipv4Addr = network.parse().with_context(|| format!("CIDR {cidr}"))?;
    let bits: u32 = bits.parse().with_context(|| format!("CIDR {cidr}"))?;
    if bits > 32 {
        bail!("CIDR {cidr}: prefix longer than 32 bits");
    }
    let mask = if bits == 0 {
        0
    } else {
        u32::MAX << (32 - bits)
    };
    Ok(u32::from(ip) & mask == u32::from(network) & mask)
}
