//! Settings for the two sign-in flows, and the checks applied to them before anything is bound.

use std::time::Duration;

use super::DEFAULT_CLIENT;
use crate::error::{Error, Result};

/// Settings for [`loopback_handshake`](super::loopback_handshake).
///
/// Start from [`HandshakeOptions::default`] and adjust with the setters (or the public fields).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HandshakeOptions {
    /// Short app identifier sent as `client`, shown as the consent-screen title and in the user's
    /// "Active sessions" list. Default `wavekat-platform-client`.
    pub client: String,
    /// Origin label sent as `source`, shown as "from <source>". `None` (the default) sends the
    /// machine's hostname (env `HOSTNAME`, else the `hostname` command on Unix or `COMPUTERNAME`
    /// on Windows, else `unknown-host`); `Some("")` omits the parameter.
    pub source: Option<String>,
    /// How long [`PendingHandshake::wait`](super::PendingHandshake::wait) waits for an outcome.
    /// Default 300 s.
    pub timeout: Duration,
    /// A fixed loopback port to listen on. `None` or `Some(0)` (the default) takes an ephemeral
    /// port from the OS.
    pub port: Option<u16>,
    /// Cap on a request's line plus headers, in bytes. Larger requests are answered 431 and the
    /// sign-in keeps waiting. Default 8192.
    pub max_header_bytes: usize,
    /// Deadline for a connection to deliver its whole request head (not per read). A slower
    /// client is answered 408 and dropped. Default 5 s.
    pub read_timeout: Duration,
    /// Deadline for writing an answer. Default 5 s.
    pub write_timeout: Duration,
    /// Connections served at once. When a new connection arrives at the cap, the oldest
    /// connection still waiting for its request head is closed to make room (so idle
    /// connections can never lock the browser out); only when every connection is mid-answer is
    /// the new one closed. Default 256.
    pub max_connections: usize,
    /// After the genuine callback, how long the listener stays up to serve the token-free `/done`
    /// page the browser is redirected to; it closes as soon as that page has been served once.
    /// [`wait`](super::PendingHandshake::wait) does not wait for it. Default 10 s.
    pub done_page_grace: Duration,
    /// Allows a plain `http://` platform URL to a host that is not loopback. Off by default:
    /// the sign-in would then travel in clear. See
    /// [`danger_allow_insecure_http`](Self::danger_allow_insecure_http).
    pub allow_insecure_http: bool,
}

impl Default for HandshakeOptions {
    fn default() -> Self {
        HandshakeOptions {
            client: DEFAULT_CLIENT.to_owned(),
            source: None,
            timeout: Duration::from_secs(300),
            port: None,
            max_header_bytes: 8192,
            read_timeout: Duration::from_secs(5),
            write_timeout: Duration::from_secs(5),
            max_connections: 256,
            done_page_grace: Duration::from_secs(10),
            allow_insecure_http: false,
        }
    }
}

impl HandshakeOptions {
    /// Sets the `client` identifier (e.g. `wavekat-voice`).
    pub fn client(mut self, client: impl Into<String>) -> Self {
        self.client = client.into();
        self
    }

    /// Sets the `source` label instead of the hostname; an empty string omits it.
    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Sends no `source` at all (the platform then shows no "from" line).
    pub fn without_source(mut self) -> Self {
        self.source = Some(String::new());
        self
    }

    /// Sets how long [`PendingHandshake::wait`](super::PendingHandshake::wait) waits.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Listens on this loopback port instead of an ephemeral one.
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Sets the cap on a request's line plus headers, in bytes.
    pub fn max_header_bytes(mut self, bytes: usize) -> Self {
        self.max_header_bytes = bytes;
        self
    }

    /// Sets the deadline for a connection's whole request head.
    pub fn read_timeout(mut self, timeout: Duration) -> Self {
        self.read_timeout = timeout;
        self
    }

    /// Sets the deadline for writing an answer.
    pub fn write_timeout(mut self, timeout: Duration) -> Self {
        self.write_timeout = timeout;
        self
    }

    /// Sets how many connections are served at once.
    pub fn max_connections(mut self, connections: usize) -> Self {
        self.max_connections = connections;
        self
    }

    /// Sets how long the listener stays up after the genuine callback to serve `/done`.
    pub fn done_page_grace(mut self, grace: Duration) -> Self {
        self.done_page_grace = grace;
        self
    }

    /// Allows a plain `http://` platform URL to a host that is not loopback, so the sign-in
    /// page, its `state` and the platform's session cookie cross the network unencrypted.
    /// `http://` to `127.0.0.0/8`, `::1` or `localhost` (a local emulator) needs no opt-in.
    pub fn danger_allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }
}

/// Settings for [`code_login`](super::code_login).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CodeLoginOptions {
    /// Short app identifier sent as `client`. Default `wavekat-platform-client` (the CLI sends
    /// `wavekat-cli`).
    pub client: String,
    /// Origin label sent as `source`; `None` (the default) sends the hostname as in
    /// [`HandshakeOptions::source`], `Some("")` omits it.
    pub source: Option<String>,
    /// Allows a plain `http://` platform URL to a host that is not loopback, for the sign-in URL
    /// and the code exchange (which then carries the token in clear). Off by default.
    pub allow_insecure_http: bool,
}

impl Default for CodeLoginOptions {
    fn default() -> Self {
        CodeLoginOptions {
            client: DEFAULT_CLIENT.to_owned(),
            source: None,
            allow_insecure_http: false,
        }
    }
}

impl CodeLoginOptions {
    /// Sets the `client` identifier.
    pub fn client(mut self, client: impl Into<String>) -> Self {
        self.client = client.into();
        self
    }

    /// Sets the `source` label instead of the hostname; an empty string omits it.
    pub fn source(mut self, source: impl Into<String>) -> Self {
        self.source = Some(source.into());
        self
    }

    /// Sends no `source` at all.
    pub fn without_source(mut self) -> Self {
        self.source = Some(String::new());
        self
    }

    /// Allows a plain `http://` platform URL to a host that is not loopback; the code exchange
    /// then returns the token over an unencrypted connection. `http://` to loopback needs no
    /// opt-in.
    pub fn danger_allow_insecure_http(mut self, allow: bool) -> Self {
        self.allow_insecure_http = allow;
        self
    }
}

/// Per-connection limits copied out of [`HandshakeOptions`].
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    pub(super) max_header_bytes: usize,
    pub(super) read_timeout: Duration,
    pub(super) write_timeout: Duration,
    pub(super) max_connections: usize,
    pub(super) done_page_grace: Duration,
}

pub(super) fn checked_limits(options: &HandshakeOptions) -> Result<Limits> {
    let zero =
        |field: &str| Error::InvalidInput(format!("HandshakeOptions::{field} must not be 0"));
    if options.max_connections == 0 {
        return Err(zero("max_connections"));
    }
    if options.max_header_bytes == 0 {
        return Err(zero("max_header_bytes"));
    }
    if options.read_timeout.is_zero() {
        return Err(zero("read_timeout"));
    }
    if options.write_timeout.is_zero() {
        return Err(zero("write_timeout"));
    }
    Ok(Limits {
        max_header_bytes: options.max_header_bytes,
        read_timeout: options.read_timeout,
        write_timeout: options.write_timeout,
        max_connections: options.max_connections,
        done_page_grace: options.done_page_grace,
    })
}

/// `base_url` with every trailing `/` stripped, once it is known to be an absolute http(s) URL
/// that is `https://`, loopback, or explicitly allowed in clear.
pub(super) fn checked_base(base_url: &str, allow_insecure_http: bool) -> Result<&str> {
    let base = base_url.trim_end_matches('/');
    match url::Url::parse(base) {
        Ok(parsed) if matches!(parsed.scheme(), "http" | "https") && parsed.has_host() => {
            crate::plain_http::refuse_plain_http(
                &parsed,
                allow_insecure_http,
                "danger_allow_insecure_http",
            )?;
            crate::client::refuse_api_suffix(&parsed, base)?;
            Ok(base)
        }
        _ => Err(Error::InvalidInput(
            "base_url must be an absolute http(s) URL such as https://platform.wavekat.com"
                .to_owned(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_connection_cap_is_refused() {
        let options = HandshakeOptions::default().max_connections(0);
        assert!(matches!(
            checked_limits(&options),
            Err(Error::InvalidInput(message)) if message.contains("max_connections")
        ));
    }

    #[test]
    fn plain_http_platform_urls_are_refused_unless_loopback_or_opted_in() {
        assert!(matches!(
            checked_base("http://platform.example/", false),
            Err(Error::InvalidInput(_))
        ));
        assert_eq!(
            checked_base("http://platform.example/", true).ok(),
            Some("http://platform.example")
        );
        assert!(checked_base("http://127.0.0.1:8080", false).is_ok());
        assert!(checked_base("https://platform.example", false).is_ok());
    }
}
