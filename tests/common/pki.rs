//! Certificates for the TLS tests, made on the fly with rcgen.

/// A CA, a server certificate for `localhost` it signed, and a client
/// certificate it signed, as PEM files in a temporary directory.
pub struct Pki {
    pub dir: tempfile::TempDir,
    ca: rcgen::Certificate,
    client_chain: Vec<rustls::pki_types::CertificateDer<'static>>,
    client_key: rustls::pki_types::PrivateKeyDer<'static>,
}

impl Pki {
    pub fn new() -> Pki {
        use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, KeyPair};
        let dir = tempfile::tempdir().unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let server_key = KeyPair::generate().unwrap();
        let server = CertificateParams::new(vec!["localhost".into()])
            .unwrap()
            .signed_by(&server_key, &ca, &ca_key)
            .unwrap();
        let client_key = KeyPair::generate().unwrap();
        let mut client_params = CertificateParams::new(vec!["client".into()]).unwrap();
        client_params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let client = client_params.signed_by(&client_key, &ca, &ca_key).unwrap();
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
        std::fs::write(dir.path().join("server.pem"), server.pem()).unwrap();
        std::fs::write(dir.path().join("server-key.pem"), server_key.serialize_pem()).unwrap();
        std::fs::write(dir.path().join("client.pem"), client.pem()).unwrap();
        std::fs::write(dir.path().join("client-key.pem"), client_key.serialize_pem()).unwrap();
        Pki {
            dir,
            client_chain: vec![client.der().clone()],
            client_key: rustls::pki_types::PrivateKeyDer::try_from(client_key.serialize_der()).unwrap(),
            ca,
        }
    }

    /// A file of the set: `ca.pem`, `server.pem`, `server-key.pem`, `client.pem`, `client-key.pem`.
    pub fn path(&self, name: &str) -> std::path::PathBuf {
        self.dir.path().join(name)
    }

    pub fn tls(&self, verify: bool) -> junction::tls::TlsOptions {
        junction::tls::TlsOptions {
            cert_file: Some(self.dir.path().join("server.pem")),
            key_file: Some(self.dir.path().join("server-key.pem")),
            ca_file: Some(self.dir.path().join("ca.pem")),
            verify,
            ..Default::default()
        }
    }

    /// `GET path` over TLS to `addr` (as `localhost`), trusting the CA and
    /// without a client certificate: the whole response, or the error.
    pub async fn https_get(&self, addr: std::net::SocketAddr, path: &str) -> std::io::Result<String> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let mut tls = self.connector(false).connect(name, tcp).await?;
        let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        tls.write_all(request.as_bytes()).await?;
        let mut response = Vec::new();
        tokio::time::timeout(std::time::Duration::from_secs(5), tls.read_to_end(&mut response))
            .await
            .expect("response in time")?;
        Ok(String::from_utf8_lossy(&response).into_owned())
    }

    /// A TLS client trusting the CA, presenting the client certificate when asked to.
    pub fn connector(&self, with_cert: bool) -> tokio_rustls::TlsConnector {
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(self.ca.der().clone()).unwrap();
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let config = if with_cert {
            builder
                .with_client_auth_cert(self.client_chain.clone(), self.client_key.clone_key())
                .unwrap()
        } else {
            builder.with_no_client_auth()
        };
        tokio_rustls::TlsConnector::from(std::sync::Arc::new(config))
    }
}
