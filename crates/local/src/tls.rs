//! Certificates for running Redis over TLS on loopback: a throw-away CA and a server
//! certificate signed by it, written as PEM files (keys with mode 0600).

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

use crate::LocalError;

/// PEM files for a TLS-enabled `redis-server`.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The CA certificate clients must trust.
    pub ca_cert: PathBuf,
    /// The server certificate, valid for the names given to [`TlsFiles::generate`].
    pub cert: PathBuf,
    /// The server's private key.
    pub key: PathBuf,
}

impl TlsFiles {
    /// Generates a CA and a server certificate for `server_names` (DNS names or IP
    /// addresses) into `dir`.
    pub fn generate(dir: &Path, server_names: &[&str]) -> Result<Self, LocalError> {
        let tls_error = |e: rcgen::Error| {
            LocalError::InvalidOptions(format!("generating TLS certificates: {e}"))
        };
        let ca_key = KeyPair::generate().map_err(tls_error)?;
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).map_err(tls_error)?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "sessiondb local CA");
        let ca = CertifiedIssuer::self_signed(ca_params, ca_key).map_err(tls_error)?;
        let server_key = KeyPair::generate().map_err(tls_error)?;
        let names: Vec<String> = server_names.iter().map(|s| (*s).to_owned()).collect();
        let server_cert = CertificateParams::new(names)
            .map_err(tls_error)?
            .signed_by(&server_key, &ca)
            .map_err(tls_error)?;

        let files = Self {
            ca_cert: dir.join("ca.crt"),
            cert: dir.join("server.crt"),
            key: dir.join("server.key"),
        };
        write(&files.ca_cert, &ca.pem(), 0o644)?;
        write(&files.cert, &server_cert.pem(), 0o644)?;
        write(&files.key, &server_key.serialize_pem(), 0o600)?;
        Ok(files)
    }

    /// `redis-server` arguments serving TLS on `tls_port` (next to the plain port, which
    /// the fixtures keep for their own probes); clients are not asked for certificates.
    pub fn redis_args(&self, tls_port: u16) -> Vec<String> {
        let path = |p: &Path| p.display().to_string();
        vec![
            "--tls-port".into(),
            tls_port.to_string(),
            "--tls-cert-file".into(),
            path(&self.cert),
            "--tls-key-file".into(),
            path(&self.key),
            "--tls-ca-cert-file".into(),
            path(&self.ca_cert),
            "--tls-auth-clients".into(),
            "no".into(),
        ]
    }
}

fn write(path: &Path, contents: &str, mode: u32) -> Result<(), LocalError> {
    let io = |source| LocalError::Io {
        context: format!("writing {}", path.display()),
        source,
    };
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .map_err(io)?;
    file.write_all(contents.as_bytes()).map_err(io)
}
