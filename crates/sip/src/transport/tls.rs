//! SIP over TLS (RFC 3261 section 26.3.1, `sips`/`transport=tls`): the server side.
//!
//! Phones connect to us and keep the connection open; requests to them go back
//! through it (as over TCP), so the PBX needs only a certificate, no client
//! configuration. The certificate and key are read from PEM files and can be read
//! again while running (SIGHUP): a renewed certificate (Let's Encrypt, an internal
//! CA) takes effect for the next handshake, connections already open keep theirs.
//! A reload that fails (a half-written file, a key that does not match) keeps the
//! old certificate and says why, so a bad renewal never takes TLS down.
//!
//! TLS 1.2 and 1.3 only (rustls offers nothing older), with rustls's default cipher
//! suites, all of them AEAD with forward secrecy.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::crypto::ring::sign::any_supported_type;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

/// Why a certificate could not be (re)loaded; the message names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot read TLS certificate {path}: {reason}")]
    Certificate { path: PathBuf, reason: String },
    #[error("cannot read TLS private key {path}: {reason}")]
    Key { path: PathBuf, reason: String },
    #[error("TLS certificate {cert} and key {key} do not belong together: {reason}")]
    Mismatch {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
}

/// Where the TLS listener's certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM: the server certificate first, then any intermediates.
    pub cert: PathBuf,
    /// PEM: PKCS#8, PKCS#1 (RSA) or SEC1 (EC) private key.
    pub key: PathBuf,
}

/// The certificate handed to every new handshake; replaced by `reload`.
pub struct Certificates {
    files: TlsFiles,
    current: RwLock<Arc<CertifiedKey>>,
}

impl fmt::Debug for Certificates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificates")
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

impl Certificates {
    /// Reads the files once; an error here stops the server from starting.
    pub fn load(files: TlsFiles) -> Result<Arc<Certificates>, TlsError> {
        let key = read_certified_key(&files)?;
        Ok(Arc::new(Certificates {
            files,
            current: RwLock::new(Arc::new(key)),
        }))
    }

    /// Reads the files again. On error the certificate in use stays.
    pub fn reload(&self) -> Result<(), TlsError> {
        let key = read_certified_key(&self.files)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(key);
        Ok(())
    }

    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    /// The acceptor for the listener: TLS 1.2 and 1.3, no client certificates.
    pub fn acceptor(self: &Arc<Self>) -> TlsAcceptor {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            // The ring provider supports both versions: this cannot fail.
            .expect("TLS 1.2 and 1.3 are supported by the ring provider")
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        TlsAcceptor::from(Arc::new(config))
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .clone(),
        )
    }
}

fn read_certified_key(files: &TlsFiles) -> Result<CertifiedKey, TlsError> {
    let certs = read_certs(&files.cert)?;
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|e| TlsError::Key {
        path: files.key.clone(),
        reason: e.to_string(),
    })?;
    let signer = any_supported_type(&key).map_err(|e| TlsError::Key {
        path: files.key.clone(),
        reason: e.to_string(),
    })?;
    let certified = CertifiedKey::new(certs, signer);
    certified.keys_match().map_err(|e| TlsError::Mismatch {
        cert: files.cert.clone(),
        key: files.key.clone(),
        reason: e.to_string(),
    })?;
    Ok(certified)
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let err = |reason: String| TlsError::Certificate {
        path: path.to_path_buf(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(e.to_string()))?;
    if certs.is_empty() {
        return Err(err("no CERTIFICATE block in the file".to_string()));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write_pair(dir: &Path, name: &str, host: &str) -> TlsFiles {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![host.to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let files = TlsFiles {
            cert: dir.join(format!("{name}.crt")),
            key: dir.join(format!("{name}.key")),
        };
        std::fs::write(&files.cert, cert.pem()).unwrap();
        std::fs::write(&files.key, key.serialize_pem()).unwrap();
        files
    }

    fn current_der(c: &Certificates) -> Vec<u8> {
        c.current.read().unwrap().cert[0].to_vec()
    }

    #[test]
    fn reload_takes_a_new_certificate_and_keeps_the_old_on_error() {
        let dir = tempfile::tempdir().unwrap();
        let files = write_pair(dir.path(), "a", "pbx.test");
        let certs = Certificates::load(files.clone()).unwrap();
        let first = current_der(&certs);

        // A renewal: new files under the same names.
        let renewed = write_pair(dir.path(), "b", "pbx.test");
        std::fs::copy(&renewed.cert, &files.cert).unwrap();
        std::fs::copy(&renewed.key, &files.key).unwrap();
        certs.reload().unwrap();
        let second = current_der(&certs);
        assert_ne!(first, second);

        // A half-written certificate: the reload fails, the renewed one stays.
        std::fs::write(&files.cert, "-----BEGIN CERTIFICATE-----\nMIIB").unwrap();
        let e = certs.reload().unwrap_err();
        assert!(e.to_string().contains("a.crt"), "{e}");
        assert_eq!(current_der(&certs), second);
    }

    #[test]
    fn a_key_from_another_pair_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let a = write_pair(dir.path(), "a", "pbx.test");
        let b = write_pair(dir.path(), "b", "pbx.test");
        let e = Certificates::load(TlsFiles {
            cert: a.cert,
            key: b.key,
        })
        .unwrap_err();
        assert!(matches!(e, TlsError::Mismatch { .. }), "{e}");
    }

    #[test]
    fn missing_files_name_the_file() {
        let e = Certificates::load(TlsFiles {
            cert: "/nonexistent/pbx.crt".into(),
            key: "/nonexistent/pbx.key".into(),
        })
        .unwrap_err();
        assert!(e.to_string().contains("/nonexistent/pbx.crt"), "{e}");
    }
}
