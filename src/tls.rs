//! The TLS configuration every HTTP client of this crate uses: rustls on the ring provider,
//! verifying servers against the operating system's roots. It is handed to each reqwest client;
//! nothing is installed process-wide, so a consumer's own choice of rustls provider is untouched.

use std::sync::Arc;

use rustls_platform_verifier::BuilderVerifierExt;

use crate::{Error, Result};

/// A reqwest builder that speaks TLS through rustls on ring (HTTP/1.1 only, as the client is built).
pub(crate) fn http_client_builder() -> Result<reqwest::ClientBuilder> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|builder| builder.with_platform_verifier())
        .map_err(Error::Tls)?
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(reqwest::Client::builder().tls_backend_preconfigured(config))
}
