//! Certificates for running Redis over TLS on loopback: a throw-away CA, a server
//! certificate and a client certificate signed by it, written as PEM files (keys with
//! mode 0600); and [`TlsClient`], the client side this crate's probes and `redis-cli`
//! calls use towards TLS-only servers.

use std::fs;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair,
};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::conf::ConfFile;
use crate::LocalError;

/// PEM files for TLS-enabled `redis-server`s and `redis-sentinel`s and their clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The CA certificate clients and servers trust.
    pub ca_cert: PathBuf,
    /// The server certificate, valid for the names given to [`TlsFiles::generate`].
    pub cert: PathBuf,
    /// The server's private key.
    pub key: PathBuf,
    /// A client certificate signed by the same CA, for servers that require client
    /// certificates (`tls-auth-clients yes`).
    pub client_cert: PathBuf,
    /// The client certificate's private key.
    pub client_key: PathBuf,
}

impl TlsFiles {
    /// The file names inside `dir` ([`generate`](Self::generate) writes them,
    /// [`load`](Self::load) expects them).
    fn paths(dir: &Path) -> Self {
        Self {
            ca_cert: dir.join("ca.crt"),
            cert: dir.join("server.crt"),
            key: dir.join("server.key"),
            client_cert: dir.join("client.crt"),
            client_key: dir.join("client.key"),
        }
    }

    /// Generates a CA, a server certificate for `server_names` (DNS names or IP
    /// addresses) and a client certificate into `dir`. The CA's key is not kept.
    pub fn generate(dir: &Path, server_names: &[&str]) -> Result<Self, LocalError> {
        Self::generate_valid(dir, server_names, true)
    }

    /// [`generate`](Self::generate), but the server certificate expired on
    /// 2021-01-01: for tests of how clients refuse it.
    pub fn generate_expired(dir: &Path, server_names: &[&str]) -> Result<Self, LocalError> {
        Self::generate_valid(dir, server_names, false)
    }

    fn generate_valid(dir: &Path, server_names: &[&str], valid: bool) -> Result<Self, LocalError> {
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
        let mut server_params = CertificateParams::new(names).map_err(tls_error)?;
        server_params
            .distinguished_name
            .push(DnType::CommonName, "sessiondb local server");
        // Redis also presents this certificate when it connects out: replicas to their
        // master, Sentinels to the nodes they monitor.
        server_params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        if !valid {
            server_params.not_before = rcgen::date_time_ymd(2020, 1, 1);
            server_params.not_after = rcgen::date_time_ymd(2021, 1, 1);
        }
        let server_cert = server_params
            .signed_by(&server_key, &ca)
            .map_err(tls_error)?;

        let client_key = KeyPair::generate().map_err(tls_error)?;
        let mut client_params = CertificateParams::new(Vec::<String>::new()).map_err(tls_error)?;
        client_params
            .distinguished_name
            .push(DnType::CommonName, "sessiondb local client");
        client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client_cert = client_params
            .signed_by(&client_key, &ca)
            .map_err(tls_error)?;

        let files = Self::paths(dir);
        write(&files.ca_cert, &ca.pem(), 0o644)?;
        write(&files.cert, &server_cert.pem(), 0o644)?;
        write(&files.key, &server_key.serialize_pem(), 0o600)?;
        write(&files.client_cert, &client_cert.pem(), 0o644)?;
        write(&files.client_key, &client_key.serialize_pem(), 0o600)?;
        Ok(files)
    }

    /// The files [`generate`](Self::generate) wrote into `dir`; fails naming the
    /// first one that is missing.
    pub fn load(dir: &Path) -> Result<Self, LocalError> {
        let files = Self::paths(dir);
        for path in files.all() {
            if !path.is_file() {
                return Err(LocalError::InvalidOptions(format!(
                    "TLS file {} is missing",
                    path.display()
                )));
            }
        }
        Ok(files)
    }

    fn all(&self) -> [&Path; 5] {
        [
            &self.ca_cert,
            &self.cert,
            &self.key,
            &self.client_cert,
            &self.client_key,
        ]
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

    /// Directives for a server or Sentinel that speaks TLS only, on `port`: the
    /// plaintext port off, client certificates required, and TLS for the connections
    /// it opens itself (replication, Sentinel to nodes and to other Sentinels).
    pub(crate) fn tls_only_directives(&self, conf: &mut ConfFile, port: u16) {
        let path = |p: &Path| p.display().to_string();
        conf.directive("port", &["0"])
            .directive("tls-port", &[&port.to_string()])
            .directive("tls-cert-file", &[&path(&self.cert)])
            .directive("tls-key-file", &[&path(&self.key)])
            .directive("tls-ca-cert-file", &[&path(&self.ca_cert)])
            .directive("tls-auth-clients", &["yes"])
            .directive("tls-replication", &["yes"]);
    }

    /// The client side: trusts the CA and presents the client certificate.
    pub fn client(&self) -> Result<TlsClient, LocalError> {
        let bad = |path: &Path, detail: String| {
            LocalError::InvalidOptions(format!("cannot use TLS file {}: {detail}", path.display()))
        };
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(&self.ca_cert)
            .map_err(|e| bad(&self.ca_cert, e.to_string()))?
        {
            let cert = cert.map_err(|e| bad(&self.ca_cert, e.to_string()))?;
            roots
                .add(cert)
                .map_err(|e| bad(&self.ca_cert, e.to_string()))?;
        }
        let chain = CertificateDer::pem_file_iter(&self.client_cert)
            .map_err(|e| bad(&self.client_cert, e.to_string()))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| bad(&self.client_cert, e.to_string()))?;
        let key = PrivateKeyDer::from_pem_file(&self.client_key)
            .map_err(|e| bad(&self.client_key, e.to_string()))?;
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| bad(&self.ca_cert, e.to_string()))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| bad(&self.client_cert, e.to_string()))?;
        Ok(TlsClient {
            config: Arc::new(config),
            files: self.clone(),
        })
    }
}

/// How this crate's probes, and the `redis-cli` calls it makes, reach TLS-only
/// servers: the CA to verify them with and the client certificate to present. Cheap to
/// clone.
#[derive(Clone)]
pub struct TlsClient {
    config: Arc<rustls::ClientConfig>,
    files: TlsFiles,
}

impl std::fmt::Debug for TlsClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsClient")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl TlsClient {
    /// The rustls configuration.
    pub(crate) fn config(&self) -> Arc<rustls::ClientConfig> {
        Arc::clone(&self.config)
    }

    /// The files it was built from.
    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    /// `redis-cli` arguments for a TLS connection with this CA and client certificate.
    pub fn cli_args(&self) -> Vec<String> {
        let path = |p: &Path| p.display().to_string();
        vec![
            "--tls".into(),
            "--cacert".into(),
            path(&self.files.ca_cert),
            "--cert".into(),
            path(&self.files.client_cert),
            "--key".into(),
            path(&self.files.client_key),
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
