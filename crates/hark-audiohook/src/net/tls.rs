//! TLS for `wss://` clients: rustls (aws-lc-rs provider) trusting the Mozilla root store, plus
//! any extra roots given (a private CA for monitors on an internal network, or tests).

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;

use super::client_error::ClientError;

/// Makes TLS connections; cheap to clone.
#[derive(Clone)]
pub struct TlsConnector {
    config: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for TlsConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConnector").finish_non_exhaustive()
    }
}

impl TlsConnector {
    /// Trusts the Mozilla roots and the certificates in `extra_roots_pem`, if given.
    pub fn new(extra_roots_pem: Option<&[u8]>) -> Result<Self, ClientError> {
        let bad =
            |what: &str, e: &dyn std::fmt::Display| ClientError::Request(format!("{what}: {e}"));
        let mut roots = rustls::RootCertStore::empty();
        roots.add_parsable_certificates(webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().cloned());
        if let Some(pem) = extra_roots_pem {
            let mut added = 0;
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| bad("invalid PEM certificate", &e))?;
                roots
                    .add(cert)
                    .map_err(|e| bad("unusable root certificate", &e))?;
                added += 1;
            }
            if added == 0 {
                return Err(ClientError::Request(
                    "no certificate in the PEM roots".into(),
                ));
            }
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| bad("TLS set-up", &e))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(TlsConnector {
            config: Arc::new(config),
        })
    }

    /// The TLS handshake with `host` over `tcp`, checking its certificate.
    pub(crate) async fn connect(
        &self,
        host: &str,
        tcp: TcpStream,
    ) -> Result<tokio_rustls::client::TlsStream<TcpStream>, ClientError> {
        let name = ServerName::try_from(host.to_owned())
            .map_err(|e| ClientError::Request(format!("invalid TLS server name {host:?}: {e}")))?;
        tokio_rustls::TlsConnector::from(Arc::clone(&self.config))
            .connect(name, tcp)
            .await
            .map_err(|e| ClientError::Connection(format!("TLS with {host}: {e}")))
    }
}
