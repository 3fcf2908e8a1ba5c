//! Rendered Kubernetes objects, and the pod templates and containers inside them.

use std::collections::BTreeMap;

use anyhow::{Context as _, Result};
use serde_json::Value;

/// One rendered object.
#[derive(Debug, Clone, PartialEq)]
pub struct Object(pub Value);

impl Object {
    /// `kind`.
    pub fn kind(&self) -> &str {
        self.str_at("/kind")
    }

    /// `apiVersion`.
    pub fn api_version(&self) -> &str {
        self.str_at("/apiVersion")
    }

    /// The API group (`""` for the core group).
    pub fn group(&self) -> &str {
        self.api_version().rsplit_once('/').map_or("", |(g, _)| g)
    }

    /// `metadata.name`.
    pub fn name(&self) -> &str {
        self.str_at("/metadata/name")
    }

    /// `metadata.namespace` (empty for cluster-scoped objects).
    pub fn namespace(&self) -> &str {
        self.str_at("/metadata/namespace")
    }

    /// `Kind/name`, for messages.
    pub fn id(&self) -> String {
        format!("{}/{}", self.kind(), self.name())
    }

    /// The value at a JSON pointer.
    pub fn at(&self, pointer: &str) -> Option<&Value> {
        self.0.pointer(pointer)
    }

    /// The string at a JSON pointer, or `""`.
    pub fn str_at(&self, pointer: &str) -> &str {
        self.0
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or("")
    }

    /// The pod template of a workload (Deployment, StatefulSet, DaemonSet, Job,
    /// CronJob), if this is one.
    pub fn pod_template(&self) -> Option<&Value> {
        match self.kind() {
            "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
                self.at("/spec/template")
            }
            "CronJob" => self.at("/spec/jobTemplate/spec/template"),
            _ => None,
        }
    }

    /// Whether this is a generated ConfigMap or Secret named `base` plus
    /// Kustomize's hash suffix (or exactly `base`).
    pub fn is_generated(&self, kind: &str, base: &str) -> bool {
        self.kind() == kind
            && (self.name() == base
                || self
                    .name()
                    .strip_prefix(base)
                    .and_then(|rest| rest.strip_prefix('-'))
                    .is_some_and(|hash| hash.len() == 10 && !hash.contains('-')))
    }
}

/// Parses a multi-document YAML stream into objects (empty documents skipped).
pub fn parse_stream(yaml: &str) -> Result<Vec<Object>> {
    let mut objects = Vec::new();
    for (i, document) in serde_yaml_ng::Deserializer::from_str(yaml).enumerate() {
        let value: Value = serde::Deserialize::deserialize(document)
            .with_context(|| format!("YAML document {i}"))?;
        if !value.is_null() {
            objects.push(Object(value));
        }
    }
    Ok(objects)
}

/// Parses one YAML document into JSON.
pub fn parse_yaml(yaml: &str) -> Result<Value> {
    serde_yaml_ng::from_str(yaml).context("parsing YAML")
}

/// The object of `kind` named `name`.
pub fn find<'a>(objects: &'a [Object], kind: &str, name: &str) -> Option<&'a Object> {
    objects
        .iter()
        .find(|o| o.kind() == kind && o.name() == name)
}

/// The generated ConfigMap or Secret whose name starts with `base`.
pub fn find_generated<'a>(objects: &'a [Object], kind: &str, base: &str) -> Option<&'a Object> {
    objects.iter().find(|o| o.is_generated(kind, base))
}

/// Whether a container is an init container or a regular one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerKind {
    /// `initContainers`.
    Init,
    /// `containers`.
    Main,
}

/// The containers of a pod template, with their kind.
pub fn containers(template: &Value) -> Vec<(ContainerKind, &Value)> {
    let list = |field: &str| {
        template
            .pointer(&format!("/spec/{field}"))
            .and_then(Value::as_array)
            .map(|a| a.iter().collect::<Vec<_>>())
            .unwrap_or_default()
    };
    list("initContainers")
        .into_iter()
        .map(|c| (ContainerKind::Init, c))
        .chain(
            list("containers")
                .into_iter()
                .map(|c| (ContainerKind::Main, c)),
        )
        .collect()
}

/// A string map (labels, selectors) at `pointer`; empty when absent.
pub fn string_map(value: &Value, pointer: &str) -> BTreeMap<String, String> {
    value
        .pointer(pointer)
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default()
}

/// A ConfigMap's `data` entry.
pub fn config_data<'a>(config_map: &'a Object, key: &str) -> Option<&'a str> {
    config_map
        .at("/data")
        .and_then(|d| d.get(key))
        .and_then(Value::as_str)
}

/// A Secret's `data` entry, decoded (Kustomize wraps long values over several lines,
/// which Kubernetes' decoder skips, as this one does).
pub fn secret_data(secret: &Object, key: &str) -> Result<Option<String>> {
    use base64::Engine as _;
    let Some(encoded) = secret
        .at("/data")
        .and_then(|d| d.get(key))
        .and_then(Value::as_str)
    else {
        return Ok(None);
    };
    let compact: String = encoded
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .with_context(|| format!("{} key {key} is not base64", secret.id()))?;
    Ok(Some(String::from_utf8(bytes).with_context(|| {
        format!("{} key {key} is not UTF-8", secret.id())
    })?))
}

/// A container's environment, with `$(VAR)` references expanded as the kubelet does
/// and secret and field references resolved by `resolve` (given the `valueFrom`
/// value). Entries that `resolve` returns `None` for are left out.
pub fn container_env(
    container: &Value,
    mut resolve: impl FnMut(&Value) -> Option<String>,
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = Vec::new();
    for entry in container
        .get("env")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(name) = entry.get("name").and_then(Value::as_str) else {
            continue;
        };
        let value = match (entry.get("value"), entry.get("valueFrom")) {
            (Some(Value::String(v)), _) => Some(expand(v, &env)),
            (_, Some(from)) => resolve(from),
            _ => Some(String::new()),
        };
        if let Some(value) = value {
            env.push((name.to_owned(), value));
        }
    }
    env
}

/// Expands `$(NAME)` references to earlier variables, as the kubelet does for `env`
/// values, `command` and `args` (unknown references stay as they are).
pub fn expand(text: &str, env: &[(String, String)]) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("$(") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find(')') {
            Some(end) => {
                let name = &after[..end];
                match env.iter().rev().find(|(n, _)| n == name) {
                    Some((_, value)) => out.push_str(value),
                    None => out.push_str(&rest[start..start + 3 + end]),
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The strings of an array at `key` (`command`, `args`).
pub fn strings(container: &Value, key: &str) -> Vec<String> {
    container
        .get(key)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
