//! Schema validation: built-in kinds with `kubernetes-validate` (the Kubernetes
//! OpenAPI schemas, strict: unknown fields are errors), custom resources (Argo CD,
//! prometheus-operator, cert-manager) with the validators the `@kubernetes-models/*`
//! npm packages generate from the projects' CRD schemas.

use std::fs;
use std::io::Write as _;
use std::process::{Command, Stdio};

use anyhow::{bail, Context as _, Result};
use serde_json::Value;

use crate::objects::Object;
use crate::tools;

/// The Kubernetes versions whose schemas the objects must satisfy: the oldest
/// release still commonly run, and the newest the validator knows.
pub const KUBERNETES_VERSIONS: [&str; 2] = ["1.30.0", "1.37.0"];

/// API groups whose kinds are custom resources, with the npm package that carries
/// their schemas.
pub const CRD_PACKAGES: [(&str, &str); 3] = [
    ("argoproj.io", "argo-cd"),
    ("monitoring.coreos.com", "prometheus-operator"),
    ("cert-manager.io", "cert-manager"),
];

/// Whether an object is a custom resource validated by [`validate_custom`].
pub fn is_custom(object: &Object) -> bool {
    CRD_PACKAGES
        .iter()
        .any(|(group, _)| object.group() == *group)
}

/// One object's validation outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// `Kind/name`.
    pub object: String,
    /// The validator's complaints; empty when valid.
    pub errors: Vec<String>,
}

/// Validates built-in objects with `kubernetes-validate --strict` for `version`, in
/// one run. An object is valid only when the validator reports it as passed.
pub fn validate_builtin(objects: &[&Object], version: &str) -> Result<Vec<Outcome>> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("objects.yaml");
    let mut stream = String::new();
    for object in objects {
        stream.push_str("---\n");
        stream.push_str(&serde_json::to_string(&object.0)?);
        stream.push('\n');
    }
    fs::write(&path, stream)?;
    let output = Command::new(tools::venv_tool("kubernetes-validate")?)
        .args(["--strict", "--kubernetes-version", version])
        .arg(&path)
        .output()
        .context("running kubernetes-validate")?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(objects
        .iter()
        .map(|object| {
            let resource = format!(
                "resource {}/{} against",
                object.kind().to_ascii_lowercase(),
                object.name()
            );
            let mine: Vec<&str> = text.lines().filter(|l| l.contains(&resource)).collect();
            let passed = !mine.is_empty() && mine.iter().all(|l| l.contains("passed for"));
            Outcome {
                object: object.id(),
                errors: if passed {
                    Vec::new()
                } else if mine.is_empty() {
                    vec![format!("not reported as passed:\n{}", text.trim())]
                } else {
                    mine.iter().map(|l| (*l).to_owned()).collect()
                },
            }
        })
        .collect())
}

/// The node script that validates custom resources: reads a JSON array of objects
/// on stdin, prints a JSON array of `{object, errors}`.
const CRD_SCRIPT: &str = r#"
import { pathToFileURL } from "node:url";
import { existsSync, readFileSync } from "node:fs";
const [modules, packagesJson] = process.argv.slice(2);
const packages = JSON.parse(packagesJson);
const objects = JSON.parse(readFileSync(0, "utf8"));
const results = [];
for (const object of objects) {
  const id = `${object.kind}/${object.metadata?.name}`;
  const [group, version] = object.apiVersion.split("/");
  const pkg = packages[group];
  const file = `${modules}/@kubernetes-models/${pkg}/${group}/${version}/${object.kind}.js`;
  if (!pkg || !existsSync(file)) {
    results.push({ object: id, errors: [`no schema for ${object.apiVersion} ${object.kind}`] });
    continue;
  }
  const Model = (await import(pathToFileURL(file).href))[object.kind];
  try {
    new Model(object).validate();
    results.push({ object: id, errors: [] });
  } catch (e) {
    results.push({ object: id, errors: [String(e.message ?? e)] });
  }
}
process.stdout.write(JSON.stringify(results));
"#;

/// Validates custom resources against their CRD schemas.
pub fn validate_custom(objects: &[&Object]) -> Result<Vec<Outcome>> {
    let modules = tools::schema_modules()?;
    let node = tools::on_path("node")?;
    let dir = tempfile::tempdir()?;
    let script = dir.path().join("validate.mjs");
    fs::write(&script, CRD_SCRIPT)?;
    let packages: serde_json::Map<String, Value> = CRD_PACKAGES
        .iter()
        .map(|(g, p)| ((*g).to_owned(), Value::from(*p)))
        .collect();
    let mut child = Command::new(node)
        .arg(&script)
        .arg(&modules)
        .arg(Value::Object(packages).to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting node")?;
    let input: Vec<&Value> = objects.iter().map(|o| &o.0).collect();
    child
        .stdin
        .take()
        .context("node's stdin")?
        .write_all(&serde_json::to_vec(&input)?)?;
    let output = child.wait_with_output().context("waiting for node")?;
    if !output.status.success() {
        bail!(
            "the CRD validation script failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let results: Vec<Value> =
        serde_json::from_slice(&output.stdout).context("parsing the validation results")?;
    results
        .into_iter()
        .map(|r| {
            Ok(Outcome {
                object: r["object"]
                    .as_str()
                    .context("result without object")?
                    .to_owned(),
                errors: r["errors"]
                    .as_array()
                    .context("result without errors")?
                    .iter()
                    .filter_map(|e| e.as_str().map(str::to_owned))
                    .collect(),
            })
        })
        .collect()
}
