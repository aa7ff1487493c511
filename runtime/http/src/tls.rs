//! Built-in TLS: the rustls server configuration [`serve_tls`] presents,
//! read from a certificate chain and a private key in PEM files.
//!
//! For a single machine without a reverse proxy; the deployment of `ops/`
//! terminates TLS in Caddy instead (certificates from ACME, HTTP/3).
//! Every way the files can be wrong is a [`TlsError`] naming the file, so a
//! bad deployment stops at start-up with a message, never a panic.
//!
//! [`serve_tls`]: crate::serve_tls

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::ServerConfig;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Why the certificate or key files cannot be served with.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The certificate file is missing, unreadable or not PEM.
    #[error("TLS certificate file {}: {source}", path.display())]
    Certificate {
        /// The file at fault.
        path: PathBuf,
        /// What was wrong with it.
        source: pem::Error,
    },
    /// The certificate file is readable but holds no certificate.
    #[error(
        "TLS certificate file {}: no certificate in it (PEM `-----BEGIN CERTIFICATE-----` blocks, the server's first)",
        path.display()
    )]
    NoCertificate {
        /// The file at fault.
        path: PathBuf,
    },
    /// The key file is missing, unreadable, or holds no PEM private key.
    #[error("TLS key file {}: {}", path.display(), describe_key_error(source))]
    Key {
        /// The file at fault.
        path: PathBuf,
        /// What was wrong with it.
        source: pem::Error,
    },
    /// rustls refused the pair: the key does not belong to the certificate,
    /// or is of a kind it cannot sign with.
    #[error(
        "TLS key file {} cannot serve the certificate in {}: {source}",
        key.display(),
        certificate.display()
    )]
    Refused {
        /// The certificate file.
        certificate: PathBuf,
        /// The key file.
        key: PathBuf,
        /// rustls's reason.
        source: rustls::Error,
    },
}

/// "no items found" says little to whoever configured the file.
fn describe_key_error(error: &pem::Error) -> String {
    match error {
        pem::Error::NoItemsFound => {
            "no private key in it (a PEM `PRIVATE KEY`, `RSA PRIVATE KEY` or `EC PRIVATE KEY` block)"
                .to_owned()
        }
        other => other.to_string(),
    }
}

/// A TLS 1.2/1.3 server configuration presenting the chain in `certificate`
/// (PEM, the server's certificate first) with the key in `key` (PEM,
/// PKCS#8, PKCS#1 or SEC1). No client certificates are asked for.
///
/// Uses the process's installed crypto provider (the `steward` binary
/// installs ring), or ring when none is, so that it never panics over two
/// providers being compiled in.
pub fn server_config(certificate: &Path, key: &Path) -> Result<ServerConfig, TlsError> {
    let chain = CertificateDer::pem_file_iter(certificate)
        .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
        .map_err(|source| TlsError::Certificate {
            path: certificate.to_path_buf(),
            source,
        })?;
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: certificate.to_path_buf(),
        });
    }
    let private_key = PrivateKeyDer::from_pem_file(key).map_err(|source| TlsError::Key {
        path: key.to_path_buf(),
        source,
    })?;
    let refused = |source| TlsError::Refused {
        certificate: certificate.to_path_buf(),
        key: key.to_path_buf(),
        source,
    };
    let provider = CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()));
    ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(refused)?
        .with_no_client_auth()
        .with_single_cert(chain, private_key)
        .map_err(refused)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed certificate and its key, as PEM files in `dir`.
    fn write_pair(dir: &Path, name: &str) -> (PathBuf, PathBuf) {
        let issued = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
            .expect("a self-signed certificate");
        let certificate = dir.join(format!("{name}.crt"));
        let key = dir.join(format!("{name}.key"));
        std::fs::write(&certificate, issued.cert.pem()).expect("write certificate");
        std::fs::write(&key, issued.signing_key.serialize_pem()).expect("write key");
        (certificate, key)
    }

    #[test]
    fn a_certificate_and_its_key_make_a_server_configuration() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (certificate, key) = write_pair(dir.path(), "server");
        server_config(&certificate, &key).expect("a configuration");
    }

    #[test]
    fn a_missing_certificate_file_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_, key) = write_pair(dir.path(), "server");
        let missing = dir.path().join("nowhere.crt");
        let error = server_config(&missing, &key).expect_err("refused");
        let message = error.to_string();
        assert!(message.contains("nowhere.crt"), "{message}");
        assert!(message.contains("No such file"), "{message}");
    }

    #[test]
    fn garbage_in_either_file_is_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (certificate, key) = write_pair(dir.path(), "server");
        let garbage = dir.path().join("garbage.pem");
        std::fs::write(&garbage, "not a PEM file\n\u{0}\u{1}").expect("write");

        let error = server_config(&garbage, &key).expect_err("refused");
        assert!(matches!(error, TlsError::NoCertificate { .. }), "{error}");
        assert!(error.to_string().contains("garbage.pem"), "{error}");

        let error = server_config(&certificate, &garbage).expect_err("refused");
        assert!(matches!(error, TlsError::Key { .. }), "{error}");
        let message = error.to_string();
        assert!(
            message.contains("garbage.pem") && message.contains("no private key"),
            "{message}"
        );

        // A key file holding a certificate is no key either.
        let error = server_config(&certificate, &certificate).expect_err("refused");
        assert!(matches!(error, TlsError::Key { .. }), "{error}");
    }

    #[test]
    fn a_key_of_another_certificate_is_refused_naming_both_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (certificate, _) = write_pair(dir.path(), "one");
        let (_, other_key) = write_pair(dir.path(), "two");
        let error = server_config(&certificate, &other_key).expect_err("refused");
        assert!(matches!(error, TlsError::Refused { .. }), "{error}");
        let message = error.to_string();
        assert!(
            message.contains("one.crt") && message.contains("two.key"),
            "{message}"
        );
    }
}
