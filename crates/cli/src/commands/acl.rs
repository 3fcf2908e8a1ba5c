//! `sessiondb acl generate`: the Redis ACL users file (`users.acl`) of the six roles,
//! from their passwords; `sessiondb acl verify`: each role checked on a live server.
//!
//! The roles, their command lists and what each must be refused live in
//! `sessiondb_acl`; this module reads the passwords and writes or checks.

mod verify;

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, Context as _};
use serde::Serialize;
use sessiondb_acl::{DefaultUser, Passwords, Role};
use sessiondb_local::stack::parse_env_file;
use sessiondb_settings::{LoadOptions, Settings};

use crate::cli::ConnectArgs;
use crate::ctx::{emit, Ctx};

/// `sessiondb acl …`
#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Write the Redis ACL users file (users.acl) from the six role passwords, stored as
    /// SHA-256 hashes only.
    Generate(GenerateArgs),
    /// Log in as each role on a live server, check it can do its job and is refused
    /// what it must not do; exit 1 on any mismatch.
    Verify(verify::Args),
}

/// Arguments of `sessiondb acl generate`.
#[derive(Debug, clap::Args)]
pub(crate) struct GenerateArgs {
    /// Where to write the file (mode 0600, replaced atomically); `-` prints it.
    #[arg(long, short, value_name = "FILE", default_value = "users.acl")]
    out: PathBuf,
    /// Also read the passwords from this env file (`NAME=value` lines, as in
    /// `.env.example`); variables set in the environment win.
    #[arg(long, value_name = "FILE", conflicts_with = "local")]
    env_file: Option<PathBuf>,
    /// The `default` user: `off` (no commands), or `admin` (a second admin with
    /// REDIS_PASSWORD, for tools that log in with a password only).
    #[arg(long, value_enum, default_value_t = DefaultUserArg::Off)]
    default_user: DefaultUserArg,
    #[command(flatten)]
    connect: ConnectArgs,
}

/// `--default-user`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum DefaultUserArg {
    Off,
    Admin,
}

pub(crate) fn run(ctx: &Ctx, command: &Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Generate(args) => generate(ctx, args),
        Command::Verify(args) => verify::run(ctx, args),
    }
}

fn generate(ctx: &Ctx, args: &GenerateArgs) -> anyhow::Result<ExitCode> {
    let settings = load_settings(ctx, &args.connect, args.env_file.as_deref())?;
    let passwords = Passwords::from_fn(|role| settings.acl.password(role).cloned());
    let default_user = match args.default_user {
        DefaultUserArg::Off => DefaultUser::Off,
        DefaultUserArg::Admin => DefaultUser::Admin,
    };
    let text = sessiondb_acl::render_with(&passwords, &settings.key_prefix, default_user)?;
    if args.out == Path::new("-") {
        emit(&text);
        return Ok(ExitCode::SUCCESS);
    }
    write_private(&args.out, &text)?;
    ctx.out().report(&Generated {
        path: args.out.display().to_string(),
        key_prefix: settings.key_prefix.clone(),
        default_user: match default_user {
            DefaultUser::Off => "off",
            DefaultUser::Admin => "admin",
        },
        users: Role::ALL
            .iter()
            .map(|role| GeneratedUser {
                user: role.user(),
                password_from: role.env_var(),
                commands: role.commands(),
            })
            .collect(),
    })?;
    Ok(ExitCode::SUCCESS)
}

/// The settings, with `env_file`'s variables under the process environment.
fn load_settings(
    ctx: &Ctx,
    connect: &ConnectArgs,
    env_file: Option<&Path>,
) -> anyhow::Result<Settings> {
    let Some(path) = env_file else {
        return Ok(ctx.load(connect)?.settings);
    };
    let global = ctx.global();
    let mut options = LoadOptions::from_process(global.config.clone(), global.overrides.clone());
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let vars = parse_env_file(&text)
        .map_err(|(line, message)| anyhow!("{}, line {line}: {message}", path.display()))?;
    for (name, value) in vars {
        let in_process = options.env.iter().any(|(n, v)| *n == name && !v.is_empty());
        if !in_process {
            options.env.push((name, value));
        }
    }
    Settings::load(&options).context("invalid configuration")
}

/// Writes `text` to `path` with mode 0600, through a temporary file in the same
/// directory renamed over it (a reader never sees half a file).
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .with_context(|| format!("{} is not a file name", path.display()))?;
    let temp = dir.join(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .and_then(|mut file| {
            file.write_all(text.as_bytes())?;
            file.sync_all()
        })
        .and_then(|()| std::fs::rename(&temp, path));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(e).with_context(|| format!("writing {}", path.display()));
    }
    Ok(())
}

/// What `acl generate` wrote.
#[derive(Debug, Serialize)]
struct Generated {
    path: String,
    key_prefix: String,
    default_user: &'static str,
    users: Vec<GeneratedUser>,
}

#[derive(Debug, Serialize)]
struct GeneratedUser {
    user: &'static str,
    password_from: &'static str,
    commands: Vec<&'static str>,
}

impl fmt::Display for Generated {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let default = match self.default_user {
            "off" => "the default user off",
            _ => "the default user as a second admin (REDIS_PASSWORD)",
        };
        writeln!(
            f,
            "wrote {} (mode 0600) for key prefix {:?}: {default}, and",
            self.path, self.key_prefix
        )?;
        for u in &self.users {
            let commands = if u.commands.is_empty() {
                "every command".to_owned()
            } else {
                format!("{} commands", u.commands.len())
            };
            writeln!(
                f,
                "  {:<9} password from {:<18} {commands}",
                u.user, u.password_from
            )?;
        }
        write!(
            f,
            "passwords are stored as SHA-256 hashes; load the file with `aclfile {}` in \
             redis.conf (or ACL LOAD)",
            self.path
        )
    }
}
