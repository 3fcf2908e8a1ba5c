//! Rendering: a scratch copy of `deploy/` holding test secrets (the repository holds
//! none), rendered with `kubectl kustomize`.
//!
//! Each overlay reads its Secret from `secrets.env` in its own directory, a file in
//! the format of `.env.example`; the production overlay also reads `users.acl`.
//! [`Workspace::new`] writes both from [`test_env_file`] and [`test_acl_file`].

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context as _, Result};
use tempfile::TempDir;

use crate::objects::{self, Object};
use crate::{repo_root, tools, OVERLAYS};

/// The six password variables of `.env.example`, which the Secret carries (the role
/// table's).
pub use sessiondb_acl::PASSWORD_VARIABLES;

/// The value the tests use for a password variable.
pub fn test_password(variable: &str) -> String {
    format!(
        "test-{}-5f0c2a",
        variable.to_ascii_lowercase().replace('_', "-")
    )
}

/// `.env.example` with the six password lines uncommented and set to
/// [`test_password`]: what an operator's `secrets.env` looks like.
pub fn test_env_file(example: &str) -> Result<String> {
    let mut out = String::new();
    let mut found = Vec::new();
    for line in example.lines() {
        let variable = PASSWORD_VARIABLES
            .iter()
            .find(|v| line.strip_prefix('#').and_then(|l| l.strip_prefix(**v)) == Some("="));
        match variable {
            Some(v) => {
                found.push(*v);
                writeln!(out, "{v}={}", test_password(v))?;
            }
            None => writeln!(out, "{line}")?,
        }
    }
    for v in PASSWORD_VARIABLES {
        if !found.contains(&v) {
            bail!(".env.example has no `#{v}=` line: the Secret's format changed");
        }
    }
    Ok(out)
}

/// The Redis ACL users file for the tests: what `sessiondb acl generate` writes for
/// the test passwords and the deployment's key prefix (`sdb`), so the tests show the
/// generated permissions suffice for the deployment's own processes (probes, master
/// discovery, Sentinel, replication).
pub fn test_acl_file() -> Result<String> {
    let passwords = sessiondb_acl::Passwords::from_fn(|role| {
        Some(sessiondb_acl::SecretString::from(test_password(
            role.env_var(),
        )))
    });
    Ok(sessiondb_acl::render(&passwords, "sdb")?)
}

/// A scratch copy of the repository's `deploy/` directory with the test secrets in
/// every overlay. Removed when dropped.
#[derive(Debug)]
pub struct Workspace {
    dir: TempDir,
}

/// The output of one `kubectl kustomize` run.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// What it printed: a multi-document YAML stream.
    pub yaml: String,
    /// The same, parsed.
    pub objects: Vec<Object>,
}

impl Workspace {
    /// Copies `deploy/` (leaving out any local `secrets.env` / `users.acl`) and writes
    /// the test secrets into each overlay.
    pub fn new() -> Result<Self> {
        let repo = repo_root();
        let dir = tempfile::Builder::new()
            .prefix("sessiondb-deploy-")
            .tempdir()
            .context("creating a scratch directory")?;
        copy_tree(&repo.join("deploy"), &dir.path().join("deploy"))?;
        let example =
            fs::read_to_string(repo.join(".env.example")).context("reading .env.example")?;
        let env_file = test_env_file(&example)?;
        let workspace = Self { dir };
        for overlay in OVERLAYS {
            let path = workspace.overlay_dir(overlay).join("secrets.env");
            fs::write(&path, &env_file).with_context(|| format!("writing {}", path.display()))?;
        }
        let acl = workspace.overlay_dir("production").join("users.acl");
        fs::write(&acl, test_acl_file()?).with_context(|| format!("writing {}", acl.display()))?;
        Ok(workspace)
    }

    /// The copy's `deploy/kubernetes/overlays/NAME`.
    pub fn overlay_dir(&self, name: &str) -> PathBuf {
        self.kubernetes_dir().join("overlays").join(name)
    }

    /// The copy's `deploy/kubernetes`.
    pub fn kubernetes_dir(&self) -> PathBuf {
        self.dir.path().join("deploy/kubernetes")
    }

    /// The copy's root (holding `deploy/`).
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Renders overlay `name` as `kubectl kustomize` does by default.
    pub fn render(&self, name: &str) -> Result<Rendered> {
        kustomize(&self.overlay_dir(name), false)
    }

    /// Renders overlay `name` with extra `components` (paths relative to
    /// `deploy/kubernetes/components`), through an overlay written for the purpose,
    /// without Kustomize's load restrictor (the monitoring component reads files
    /// under `deploy/monitoring`).
    pub fn render_with(&self, name: &str, components: &[&str]) -> Result<Rendered> {
        let dir = self
            .kubernetes_dir()
            .join("overlays")
            .join(format!("{name}+{}", components.join("+")));
        fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut kustomization = format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n\
             resources:\n  - ../{name}\ncomponents:\n"
        );
        for component in components {
            writeln!(kustomization, "  - ../../components/{component}")?;
        }
        fs::write(dir.join("kustomization.yaml"), kustomization)?;
        kustomize(&dir, true)
    }
}

/// `kubectl kustomize DIR` (with `--load-restrictor LoadRestrictionsNone` when
/// `unrestricted`), parsed.
pub fn kustomize(dir: &Path, unrestricted: bool) -> Result<Rendered> {
    let mut command = Command::new(tools::kubectl()?);
    command.arg("kustomize").arg(dir);
    if unrestricted {
        command.args(["--load-restrictor", "LoadRestrictionsNone"]);
    }
    let output = command
        .output()
        .with_context(|| format!("running kubectl kustomize {}", dir.display()))?;
    if !output.status.success() {
        bail!(
            "kubectl kustomize {} failed ({}):\n{}",
            dir.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let yaml = String::from_utf8(output.stdout).context("kubectl printed non-UTF-8 output")?;
    let objects = objects::parse_stream(&yaml)
        .with_context(|| format!("parsing the rendering of {}", dir.display()))?;
    Ok(Rendered { yaml, objects })
}

/// Copies the directory tree `from` to `to`, leaving out local secret files.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    for entry in fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        if name == "secrets.env" || name == "users.acl" {
            continue;
        }
        let (source, target) = (entry.path(), to.join(&name));
        if entry.file_type()?.is_dir() {
            copy_tree(&source, &target)?;
        } else {
            fs::copy(&source, &target).with_context(|| format!("copying {}", source.display()))?;
        }
    }
    Ok(())
}
