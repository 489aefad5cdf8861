//! The one rule on plain `http://`: a bearer token or sign-in secret only travels in clear to this
//! machine (a loopback host), unless the caller opted in with a method named `danger_…`.

use std::net::IpAddr;

use url::{Host, Url};

use crate::error::{Error, Result};

/// Whether `url`'s host is this machine: `127.0.0.0/8`, `::1` (also as `::ffff:127.x.y.z`) or
/// the name `localhost`.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).to_canonical().is_loopback(),
        Some(Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// Refuses an `http://` URL to a host other than loopback, unless `allow_insecure` is set.
///
/// The message names the host, never the whole URL (a query may carry a secret).
pub(crate) fn refuse_plain_http(url: &Url, allow_insecure: bool, setter: &str) -> Result<()> {
    if url.scheme() != "http" || allow_insecure || is_loopback(url) {
        return Ok(());
    }
    Err(Error::InvalidInput(format!(
        "refusing plain http:// to {}: credentials would cross the network unencrypted; use \
         https://, a loopback host, or opt in with {setter}(true)",
        url.host_str().unwrap_or("(no host)")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loopback(text: &str) -> bool {
        Url::parse(text)
            .map(|url| is_loopback(&url))
            .unwrap_or(false)
    }

    #[test]
    fn loopback_means_127_slash_8_ipv6_one_and_localhost() {
        for url in [
            "http://127.0.0.1:8080",
            "http://127.1.2.3",
            "http://[::1]:9",
            "http://[::ffff:127.0.0.1]",
            "http://localhost:3000",
            "http://LOCALHOST",
        ] {
            assert!(loopback(url), "{url}");
        }
        for url in [
            "http://128.0.0.1",
            "http://10.0.0.1",
            "http://[::2]",
            "http://localhost.evil.example",
            "http://127.0.0.1.nip.io",
            "http://0.0.0.0",
        ] {
            assert!(!loopback(url), "{url}");
        }
    }

    #[test]
    fn plain_http_to_a_remote_host_is_refused_unless_opted_in() {
        let remote = Url::parse("http://platform.example/x?token=secret").unwrap();
        let refused = refuse_plain_http(&remote, false, "danger_allow_insecure_http");
        match refused {
            Err(Error::InvalidInput(message)) => {
                assert!(message.contains("platform.example"), "{message}");
                assert!(!message.contains("secret"), "{message}");
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(refuse_plain_http(&remote, true, "danger_allow_insecure_http").is_ok());
        let tls = Url::parse("https://platform.example").unwrap();
        assert!(refuse_plain_http(&tls, false, "danger_allow_insecure_http").is_ok());
    }
}
