//! How connections to PostgreSQL are made: in the clear, or — when the URL says
//! `sslmode=require` — over TLS (rustls), the server's certificate verified against the Mozilla
//! roots and any extra CA certificates given (a private CA).

use std::sync::Arc;

use postgres::config::SslMode;
use postgres::{Client, NoTls};
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::PgError;

/// What connections to one database go over.
#[derive(Clone)]
pub(crate) enum Transport {
    /// Plain TCP (or a unix socket): no `sslmode`, `disable` or `prefer`.
    Plain,
    /// TLS, with the server's certificate verified.
    Tls(MakeRustlsConnect),
}

impl Transport {
    /// The transport `config` asks for; `extra_ca_pem` holds PEM certificates trusted besides
    /// the Mozilla roots.
    pub(crate) fn for_config(
        config: &postgres::Config,
        extra_ca_pem: Option<&[u8]>,
    ) -> Result<Transport, PgError> {
        // `prefer` (the client's default when the URL says nothing) stays plain: TLS is used
        // when asked for, and then always verified.
        if config.get_ssl_mode() != SslMode::Require {
            return Ok(Transport::Plain);
        }
        let mut roots = RootCertStore::empty();
        // A root rustls cannot parse is skipped, as a browser would.
        roots.add_parsable_certificates(webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().cloned());
        if let Some(pem) = extra_ca_pem {
            let mut added = 0;
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| PgError(format!("database CA file: {e}")))?;
                roots
                    .add(cert)
                    .map_err(|e| PgError(format!("database CA file: {e}")))?;
                added += 1;
            }
            if added == 0 {
                return Err(PgError("database CA file holds no certificate".into()));
            }
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| PgError(format!("TLS: {e}")))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Transport::Tls(MakeRustlsConnect::new(tls)))
    }

    /// A new connection to `config` over this transport.
    pub(crate) fn connect(&self, config: &postgres::Config) -> Result<Client, postgres::Error> {
        match self {
            Transport::Plain => config.connect(NoTls),
            Transport::Tls(tls) => config.connect(tls.clone()),
        }
    }
}

impl std::fmt::Debug for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Transport::Plain => "Plain",
            Transport::Tls(_) => "Tls",
        })
    }
}
