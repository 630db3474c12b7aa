//! TLS for client connections (SSLRequest, and direct TLS with ALPN `postgresql`),
//! with rustls from a PEM certificate chain and key named in `[server.tls]`.

use std::path::Path;
use std::sync::Arc;

use pgwire::tokio::TlsAcceptor;
use pgwire::tokio::tokio_rustls::rustls::{ServerConfig, crypto};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Builds the acceptor; errors name the file and what is wrong with it.
pub fn acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor, String> {
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("server.tls.cert {}: {e}", cert.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "server.tls.cert {}: no PEM certificate in it",
            cert.display()
        ));
    }
    // The key's contents never appear in an error.
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        format!(
            "server.tls.key {}: no readable PEM private key ({})",
            key.display(),
            match e {
                rustls_pki_types::pem::Error::Io(io) => io.to_string(),
                _ => "not PKCS#8, PKCS#1 or SEC1 PEM".to_owned(),
            }
        )
    })?;
    let mut config =
        ServerConfig::builder_with_provider(Arc::new(crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(|e| {
                format!("server.tls: certificate and key do not form a usable pair: {e}")
            })?;
    // PostgreSQL 17's direct TLS negotiation asks for this protocol name.
    config.alpn_protocols = vec![b"postgresql".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}
