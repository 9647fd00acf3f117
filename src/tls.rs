//! TLS for listeners, with rustls: nats-server's `tls { cert_file, key_file, ca_file, verify,
//! timeout, min_version }` turned into a rustls server configuration, and, for the routes
//! this server dials, into a client configuration.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

/// nats-server's default for `tls { timeout }`.
pub const DEFAULT_TLS_TIMEOUT: Duration = Duration::from_secs(2);

/// A `tls { }` block as written.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsOptions {
    pub cert_file: Option<PathBuf>,
    pub key_file: Option<PathBuf>,
    /// CAs that client certificates must chain to (with `verify`).
    pub ca_file: Option<PathBuf>,
    /// Require and verify a client certificate.
    pub verify: bool,
    /// How long the TLS handshake may take.
    pub timeout: Duration,
    /// The oldest version accepted: TLS 1.2 (the default) or 1.3.
    pub min_version: TlsVersion,
    /// Clients start TLS at once, before the server's INFO (NATS port only).
    pub handshake_first: bool,
}

impl Default for TlsOptions {
    fn default() -> Self {
        TlsOptions {
            cert_file: None,
            key_file: None,
            ca_file: None,
            verify: false,
            timeout: DEFAULT_TLS_TIMEOUT,
            min_version: TlsVersion::Tls12,
            handshake_first: false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsVersion {
    Tls12,
    Tls13,
}

impl TlsVersion {
    /// `min_version` as nats-server reads it (`"1.2"`, `"1.3"`, or Go's `"TLS 1.2"` names);
    /// older versions are refused as nats-server refuses them.
    pub fn parse(text: &str) -> Result<TlsVersion, String> {
        let v = text.trim();
        let v = v
            .strip_prefix("TLS")
            .or_else(|| v.strip_prefix("tls"))
            .unwrap_or(v)
            .trim_start_matches([' ', 'v']);
        match v {
            "1.2" | "12" => Ok(TlsVersion::Tls12),
            "1.3" | "13" => Ok(TlsVersion::Tls13),
            "1.0" | "10" | "1.1" | "11" => Err(format!("unsupported TLS version: TLS {v}")),
            _ => Err(format!("unknown version: {text}")),
        }
    }
}

/// Why a TLS configuration could not be built; the texts follow nats-server's.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("missing 'cert_file' in TLS configuration")]
    MissingCert,
    #[error("missing 'key_file' in TLS configuration")]
    MissingKey,
    #[error("error parsing X509 certificate/key pair: {0}")]
    KeyPair(String),
    #[error("error reading {path}: {error}")]
    Read { path: String, error: String },
    #[error("failed to parse root ca certificate")]
    BadCa,
    #[error("'verify' requires a 'ca_file' with the CAs client certificates must chain to")]
    VerifyWithoutCa,
    #[error("TLS configuration: {0}")]
    Rustls(String),
}

fn read_error(path: &Path, error: impl std::fmt::Display) -> TlsError {
    TlsError::Read {
        path: path.display().to_string(),
        error: error.to_string(),
    }
}

/// Runs the server side of a TLS handshake within `limit`; `Err` says why it failed.
pub async fn handshake<S>(
    acceptor: &tokio_rustls::TlsAcceptor,
    stream: S,
    limit: Duration,
) -> Result<tokio_rustls::server::TlsStream<S>, String>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    match tokio::time::timeout(limit, acceptor.accept(stream)).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("timeout after {limit:?}")),
    }
}

/// The certificate chain and key named by `opts`.
fn cert_and_key(
    opts: &TlsOptions,
) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>), TlsError> {
    let (cert_file, key_file) = match (&opts.cert_file, &opts.key_file) {
        (Some(c), Some(k)) => (c, k),
        (None, _) => return Err(TlsError::MissingCert),
        (Some(_), None) => return Err(TlsError::MissingKey),
    };
    let pem = std::fs::read(cert_file).map_err(|e| read_error(cert_file, e))?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::KeyPair(format!("{}: {e}", cert_file.display())))?;
    if certs.is_empty() {
        return Err(TlsError::KeyPair(format!(
            "no certificate found in {}",
            cert_file.display()
        )));
    }
    let pem = std::fs::read(key_file).map_err(|e| read_error(key_file, e))?;
    let key = PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|e| TlsError::KeyPair(format!("{}: {e}", key_file.display())))?;
    Ok((certs, key))
}

/// The CAs of `ca_file`.
fn roots(ca_file: &Path) -> Result<RootCertStore, TlsError> {
    let pem = std::fs::read(ca_file).map_err(|e| read_error(ca_file, e))?;
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        roots
            .add(cert.map_err(|_| TlsError::BadCa)?)
            .map_err(|_| TlsError::BadCa)?;
    }
    if roots.is_empty() {
        return Err(TlsError::BadCa);
    }
    Ok(roots)
}

static TLS12_AND_13: [&rustls::SupportedProtocolVersion; 2] =
    [&rustls::version::TLS13, &rustls::version::TLS12];
static TLS13_ONLY: [&rustls::SupportedProtocolVersion; 1] = [&rustls::version::TLS13];

fn versions(opts: &TlsOptions) -> &'static [&'static rustls::SupportedProtocolVersion] {
    match opts.min_version {
        TlsVersion::Tls12 => &TLS12_AND_13,
        TlsVersion::Tls13 => &TLS13_ONLY,
    }
}

/// The dialling side of TLS for a route: this server's certificate as the
/// client certificate, and the peer's checked against `ca_file`.
pub fn client_config(opts: &TlsOptions) -> Result<Arc<ClientConfig>, TlsError> {
    let (certs, key) = cert_and_key(opts)?;
    let ca_file = opts.ca_file.as_ref().ok_or(TlsError::VerifyWithoutCa)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions(opts))
        .map_err(|e| TlsError::Rustls(e.to_string()))?
        .with_root_certificates(roots(ca_file)?)
        .with_client_auth_cert(certs, key)
        .map_err(|e| TlsError::KeyPair(e.to_string()))?;
    Ok(Arc::new(config))
}

/// The client side of TLS for a remote: a leaf node dialling a hub, a
/// gateway dialling another cluster. Its own certificate when it has one,
/// the other side's checked against `ca_file`, or the system's roots
/// without one (as nats-server does).
pub fn remote_client_config(opts: &TlsOptions) -> Result<Arc<ClientConfig>, TlsError> {
    let roots = match &opts.ca_file {
        Some(ca_file) => roots(ca_file)?,
        None => {
            let mut store = rustls::RootCertStore::empty();
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = store.add(cert);
            }
            store
        }
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions(opts))
        .map_err(|e| TlsError::Rustls(e.to_string()))?
        .with_root_certificates(roots);
    let config = if opts.cert_file.is_some() {
        let (certs, key) = cert_and_key(opts)?;
        builder
            .with_client_auth_cert(certs, key)
            .map_err(|e| TlsError::KeyPair(e.to_string()))?
    } else {
        builder.with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// Loads the certificates and keys named by `opts` and builds the server side of TLS.
pub fn server_config(opts: &TlsOptions) -> Result<Arc<ServerConfig>, TlsError> {
    let (certs, key) = cert_and_key(opts)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions(opts))
        .map_err(|e| TlsError::Rustls(e.to_string()))?;
    let builder = if opts.verify {
        let ca_file = opts.ca_file.as_ref().ok_or(TlsError::VerifyWithoutCa)?;
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots(ca_file)?), provider)
            .build()
            .map_err(|e| TlsError::Rustls(e.to_string()))?;
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let config = builder
        .with_single_cert(certs, key)
        .map_err(|e| TlsError::KeyPair(e.to_string()))?;
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_version_names() {
        assert_eq!(TlsVersion::parse("1.2"), Ok(TlsVersion::Tls12));
        assert_eq!(TlsVersion::parse("TLS 1.3"), Ok(TlsVersion::Tls13));
        assert_eq!(
            TlsVersion::parse("1.1"),
            Err("unsupported TLS version: TLS 1.1".into())
        );
        assert!(TlsVersion::parse("2").is_err());
    }

    #[test]
    fn missing_files_are_named() {
        let missing = TlsOptions {
            cert_file: Some("/nonexistent/cert.pem".into()),
            key_file: Some("/nonexistent/key.pem".into()),
            ..TlsOptions::default()
        };
        let e = server_config(&missing).unwrap_err().to_string();
        assert!(e.contains("/nonexistent/cert.pem"), "{e}");
        assert_eq!(
            server_config(&TlsOptions::default()).unwrap_err().to_string(),
            "missing 'cert_file' in TLS configuration"
        );
    }
}
