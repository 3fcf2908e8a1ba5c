//! `sessiondb apikey new`: prints a new API key once, and the hash to configure.

use std::process::ExitCode;

use anyhow::bail;
use sessiondb_http::config::Scope;

use crate::cli::ApikeyNewArgs;

pub(crate) fn new(args: &ApikeyNewArgs, json: bool) -> anyhow::Result<ExitCode> {
    let mut scopes = Vec::new();
    for s in &args.scopes {
        match Scope::parse(s.trim()) {
            Some(scope) => scopes.push(scope.as_str()),
            None => bail!(
                "unknown scope {s:?}: expected sessions:read, sessions:write or sessions:admin"
            ),
        }
    }
    let key = sessiondb_http::generate_api_key();
    let hash = sessiondb_http::hash_api_key(&key);
    if json {
        let out = serde_json::json!({
            "name": args.name, "key": key, "sha256": hash, "scopes": scopes,
        });
        println!("{out}");
    } else {
        println!("API key (shown once; give it to the calling service):\n  {key}\n");
        println!("Add to the sessiondb configuration file:\n");
        println!("[[server.api_keys]]");
        println!("name = {:?}", args.name);
        println!("sha256 = {hash:?}");
        println!("scopes = {scopes:?}\n");
        println!(
            "or in the environment: SESSIONDB_SERVER__API_KEYS='{}:{hash}:{}'",
            args.name,
            scopes.join(",")
        );
    }
    Ok(ExitCode::SUCCESS)
}
