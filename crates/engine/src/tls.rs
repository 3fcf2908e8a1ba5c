//! TLS towards Redis: the rustls client configuration built from [`TlsConfig`], and a
//! record of the server certificates it refused, so a failed connect can say why (an
//! untrusted CA, an expired certificate, another name) instead of an opaque I/O error.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fred::types::config::{TlsConfig as FredTlsConfig, TlsHostMapping};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};

use crate::config::TlsConfig;
use crate::error::{Error, InvalidInput, Refusal};

/// The client configuration for one pool, and what its verifier refused.
pub(crate) struct ClientTls {
    /// What fred connects with.
    pub(crate) config: FredTlsConfig,
    /// The last server certificate the verifier refused.
    pub(crate) refused: RefusedCertificate,
}

/// The last server certificate refused by one configuration's verifier (shared by all
/// its connections).
#[derive(Debug, Clone, Default)]
pub(crate) struct RefusedCertificate(Arc<Mutex<Option<CertificateError>>>);

impl RefusedCertificate {
    fn record(&self, error: &CertificateError) {
        if let Ok(mut last) = self.0.lock() {
            *last = Some(error.clone());
        }
    }

    /// Why the last refused certificate was refused, if one was.
    pub(crate) fn last(&self) -> Option<CertificateError> {
        self.0.lock().ok().and_then(|last| last.clone())
    }
}

/// Builds the rustls configuration: trusted CAs (`ca_file`, or the system's), the
/// optional client certificate, and the server name every certificate is checked
/// against.
pub(crate) fn client_tls(tls: &TlsConfig) -> Result<ClientTls, Error> {
    let bad = |what: &str, path: &Path, detail: String| {
        Error::InvalidInput(InvalidInput::new(
            "redis.tls",
            format!("cannot use {what} {}: {detail}", path.display()),
        ))
    };
    let mut roots = rustls::RootCertStore::empty();
    match &tls.ca_file {
        Some(path) => {
            for cert in CertificateDer::pem_file_iter(path)
                .map_err(|e| bad("CA file", path, e.to_string()))?
            {
                let cert = cert.map_err(|e| bad("CA file", path, e.to_string()))?;
                roots
                    .add(cert)
                    .map_err(|e| bad("CA file", path, e.to_string()))?;
            }
            if roots.is_empty() {
                return Err(bad(
                    "CA file",
                    path,
                    "it holds no PEM certificate".to_owned(),
                ));
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                // Unusable system certificates are skipped, as browsers do.
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                return Err(Error::InvalidInput(InvalidInput::new(
                    "redis.tls.ca_file",
                    "is not set and the system trusts no CA certificate: set it to the CA \
                     that signed the Redis server certificates",
                )));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let refused = RefusedCertificate::default();
    let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| bad("TLS", Path::new("-"), e.to_string()))?;
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| bad("TLS", Path::new("-"), e.to_string()))?
        .dangerous()
        // The standard WebPKI verification; the wrapper only notes what it refuses.
        .with_custom_certificate_verifier(Arc::new(Recording {
            inner: verifier,
            refused: refused.clone(),
        }));
    let client = match (&tls.client_cert_file, &tls.client_key_file) {
        (Some(cert_path), Some(key_path)) => {
            let certs = CertificateDer::pem_file_iter(cert_path)
                .map_err(|e| bad("client certificate", cert_path, e.to_string()))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| bad("client certificate", cert_path, e.to_string()))?;
            let key = PrivateKeyDer::from_pem_file(key_path)
                .map_err(|e| bad("client key", key_path, e.to_string()))?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| bad("client certificate", cert_path, e.to_string()))?
        }
        _ => builder.with_no_client_auth(),
    };
    // Nodes discovered through CLUSTER SLOTS are checked against the configured name too.
    let hostnames = match &tls.server_name {
        Some(name) => TlsHostMapping::Custom(Arc::new(FixedServerName(name.clone()))),
        None => TlsHostMapping::None,
    };
    Ok(ClientTls {
        config: FredTlsConfig {
            connector: client.into(),
            hostnames,
        },
        refused,
    })
}

/// Checks every server certificate against one configured name (for servers reached by
/// address whose certificate names a host).
#[derive(Debug)]
struct FixedServerName(String);

impl fred::types::config::HostMapping for FixedServerName {
    fn map(&self, _ip: &std::net::IpAddr, _default_host: &str) -> Option<String> {
        Some(self.0.clone())
    }
}

/// The WebPKI verifier, noting each certificate it refuses.
#[derive(Debug)]
struct Recording {
    inner: Arc<WebPkiServerVerifier>,
    refused: RefusedCertificate,
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verified = self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        );
        if let Err(rustls::Error::InvalidCertificate(error)) = &verified {
            self.refused.record(error);
        }
        verified
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }

    fn root_hint_subjects(&self) -> Option<&[DistinguishedName]> {
        self.inner.root_hint_subjects()
    }
}

/// What to tell about a certificate of `server` that `tls` refused with `error`.
pub(crate) fn refusal(server: String, tls: &TlsConfig, error: CertificateError) -> Refusal {
    let time = |t: UnixTime| UNIX_EPOCH + Duration::from_secs(t.as_secs());
    match error {
        CertificateError::UnknownIssuer | CertificateError::BadSignature => {
            Refusal::UntrustedCertificate {
                server,
                ca_file: tls.ca_file.clone(),
            }
        }
        CertificateError::Expired => Refusal::ExpiredCertificate {
            server,
            not_after: None,
        },
        CertificateError::ExpiredContext { not_after, .. } => Refusal::ExpiredCertificate {
            server,
            not_after: Some(time(not_after)),
        },
        CertificateError::NotValidYet => Refusal::CertificateNotYetValid {
            server,
            not_before: None,
        },
        CertificateError::NotValidYetContext { not_before, .. } => {
            Refusal::CertificateNotYetValid {
                server,
                not_before: Some(time(not_before)),
            }
        }
        CertificateError::NotValidForName => Refusal::WrongServerName {
            server,
            expected: None,
            configured: tls.server_name.is_some(),
            valid_for: Vec::new(),
        },
        CertificateError::NotValidForNameContext {
            expected,
            presented,
        } => Refusal::WrongServerName {
            server,
            expected: Some(expected.to_str().into_owned()),
            configured: tls.server_name.is_some(),
            valid_for: presented.iter().map(|name| bare_name(name)).collect(),
        },
        other => Refusal::OtherCertificate {
            server,
            reason: other.to_string(),
        },
    }
}

/// `redis.example` from rustls's `DnsName("redis.example")` (and likewise for IP
/// addresses); other forms as given.
fn bare_name(presented: &str) -> String {
    ["DnsName(\"", "IpAddress("]
        .iter()
        .find_map(|prefix| presented.strip_prefix(prefix))
        .map(|rest| rest.trim_end_matches(')').trim_end_matches('"'))
        .unwrap_or(presented)
        .to_owned()
}

/// A certificate validity bound as shown in errors.
pub(crate) fn format_time(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presented_names_lose_their_wrapping() {
        assert_eq!(bare_name("DnsName(\"redis.example\")"), "redis.example");
        assert_eq!(bare_name("IpAddress(127.0.0.1)"), "127.0.0.1");
        assert_eq!(bare_name("something else"), "something else");
    }
}
