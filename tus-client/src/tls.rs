//! The TLS settings of every connection the default transport makes, in one
//! place: rustls with the platform's verifier (the system's roots) plus
//! extra CA certificates, or, when asked for, no verification at all. The
//! same configuration serves reqwest's connections and the direct HTTP/1.1
//! connections that read interim responses ([`direct`](crate::direct)),
//! so both trust exactly the same servers.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, SignatureScheme};

use crate::error::Error;
use crate::transport::NetworkOptions;

/// ALPN for reqwest's connections: HTTP/2 where the server offers it.
pub(crate) const ALPN_ANY: &[&[u8]] = &[b"h2", b"http/1.1"];
/// ALPN for direct connections, which speak HTTP/1.1 only.
pub(crate) const ALPN_HTTP1: &[&[u8]] = &[b"http/1.1"];

/// The TLS configuration for `options`, offering `alpn`.
pub(crate) fn client_config(options: &NetworkOptions, alpn: &[&[u8]]) -> Result<ClientConfig, Error> {
    let provider = CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|error| Error::Config(format!("TLS: {error}")))?
        .dangerous();
    let mut config = if options.insecure {
        builder
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
            .with_no_client_auth()
    } else {
        let extra = extra_roots(options)?;
        let verifier = if extra.is_empty() {
            rustls_platform_verifier::Verifier::new(provider)
        } else {
            rustls_platform_verifier::Verifier::new_with_extra_roots(extra, provider)
        }
        .map_err(|error| Error::Config(format!("TLS roots: {error}")))?;
        builder
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth()
    };
    config.alpn_protocols = alpn.iter().map(|protocol| protocol.to_vec()).collect();
    Ok(config)
}

/// The certificates of every `--cacert` file.
fn extra_roots(options: &NetworkOptions) -> Result<Vec<CertificateDer<'static>>, Error> {
    let mut roots = Vec::new();
    for path in &options.ca_certificates {
        let pem = std::fs::read(path)
            .map_err(|error| Error::Config(format!("reading CA certificates {}: {error}", path.display())))?;
        let before = roots.len();
        for certificate in CertificateDer::pem_slice_iter(&pem) {
            roots.push(
                certificate.map_err(|error| Error::Config(format!("CA certificates {}: {error}", path.display())))?,
            );
        }
        if roots.len() == before {
            return Err(Error::Config(format!("no certificate in {}", path.display())));
        }
    }
    Ok(roots)
}

/// `--insecure`: any certificate for any name, still with a valid handshake
/// signature by the certificate presented.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            certificate,
            signature,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        certificate: &CertificateDer<'_>,
        signature: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            certificate,
            signature,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
