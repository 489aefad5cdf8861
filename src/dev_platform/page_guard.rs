//! Guards for the emulator's browser pages (`/cli-login` and its decision): a `Host` check and
//! CSRF tokens. A leaf module: it knows nothing of the handlers, so the shared state can hold one
//! without an import cycle.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use axum::http::header::HOST;
use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use url::{Host, Url};
use zeroize::Zeroizing;

use super::{random_bytes, time};

/// How long a rendered page's CSRF token stays valid.
const CSRF_TTL_SECS: i64 = 600;
/// Domain tag of the CSRF MAC.
const CSRF_TAG: &[u8] = b"wk-dev-platform-cli-login-csrf-v1";

/// The pages' two guards: the emulator's own address for the `Host` check (a DNS-rebinding page
/// names its own domain), and the per-instance key of the CSRF tokens (a cross-site form cannot
/// read a page to learn one).
pub(crate) struct PageGuard {
    key: Zeroizing<[u8; 32]>,
    local: SocketAddr,
}

impl PageGuard {
    /// Guards for an emulator listening on `local`, with a fresh random CSRF key.
    pub(crate) fn new(local: SocketAddr) -> Result<PageGuard, super::Error> {
        Ok(PageGuard {
            key: Zeroizing::new(random_bytes()?),
            local,
        })
    }

    /// The address the emulator listens on.
    pub(crate) fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// Whether `headers` carry exactly one `Host` naming this emulator on loopback:
    /// `127.0.0.1`, `[::1]`, `localhost` or the loopback address it listens on, with its port.
    pub(crate) fn host_is_ours(&self, headers: &HeaderMap) -> bool {
        let mut hosts = headers.get_all(HOST).iter();
        let (Some(host), None) = (hosts.next(), hosts.next()) else {
            return false;
        };
        let Ok(host) = host.to_str() else {
            return false;
        };
        let Ok(parsed) = Url::parse(&format!("http://{host}/")) else {
            return false;
        };
        self.authority_is_ours(&parsed) && parsed.path() == "/"
    }

    /// Whether `url` is an `http://` URL naming this emulator by the same rule as
    /// [`host_is_ours`](Self::host_is_ours) (its path is not looked at).
    pub(crate) fn url_is_ours(&self, url: &Url) -> bool {
        url.scheme() == "http" && self.authority_is_ours(url)
    }

    /// Whether `url`'s host, port and user info name this emulator on loopback.
    fn authority_is_ours(&self, parsed: &Url) -> bool {
        let loopback_name = match parsed.host() {
            Some(Host::Ipv4(ip)) => {
                ip == Ipv4Addr::LOCALHOST || (ip.is_loopback() && IpAddr::V4(ip) == self.local.ip())
            }
            Some(Host::Ipv6(ip)) => ip == Ipv6Addr::LOCALHOST,
            Some(Host::Domain(name)) => name == "localhost",
            None => false,
        };
        loopback_name
            && parsed.port_or_known_default() == Some(self.local.port())
            && parsed.username().is_empty()
            && parsed.password().is_none()
    }

    /// The MAC binding a token to this emulator's key, its issue time and `fields`.
    fn mac(&self, issued: i64, fields: &[&[u8]]) -> Option<Vec<u8>> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key[..]).ok()?;
        let issued = issued.to_string();
        for field in [CSRF_TAG, issued.as_bytes()].iter().chain(fields) {
            // Length-prefixed, so no two field lists give the same input.
            mac.update(&(field.len() as u64).to_be_bytes());
            mac.update(field);
        }
        Some(mac.finalize().into_bytes().to_vec())
    }

    /// A CSRF token for a page rendered now for `fields`: `<issued unix secs>.<hex MAC>`.
    pub(crate) fn issue(&self, fields: &[&[u8]]) -> Option<String> {
        let issued = time::now_unix_secs();
        Some(format!(
            "{issued}.{}",
            hex::encode(self.mac(issued, fields)?)
        ))
    }

    /// Whether `token` was issued by this emulator within the last ten minutes for exactly
    /// `fields`. Compared in constant time.
    pub(crate) fn check(&self, token: Option<&str>, fields: &[&[u8]]) -> bool {
        let Some((issued, mac_hex)) = token.and_then(|t| t.split_once('.')) else {
            return false;
        };
        let Ok(issued) = issued.parse::<i64>() else {
            return false;
        };
        let age = time::now_unix_secs().saturating_sub(issued);
        if !(0..=CSRF_TTL_SECS).contains(&age) {
            return false;
        }
        let (Ok(got), Some(want)) = (hex::decode(mac_hex), self.mac(issued, fields)) else {
            return false;
        };
        bool::from(got.ct_eq(&want))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn guard() -> PageGuard {
        PageGuard::new(SocketAddr::from((Ipv4Addr::LOCALHOST, 4100))).expect("OS randomness")
    }

    fn with_host(hosts: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for host in hosts {
            if let Ok(value) = HeaderValue::from_str(host) {
                headers.append(HOST, value);
            }
        }
        headers
    }

    #[test]
    fn only_the_emulators_own_loopback_authority_passes_the_host_check() {
        let guard = guard();
        for ours in [
            "127.0.0.1:4100",
            "localhost:4100",
            "[::1]:4100",
            "LOCALHOST:4100",
        ] {
            assert!(guard.host_is_ours(&with_host(&[ours])), "{ours}");
        }
        for foreign in [
            "evil.example:4100",
            "127.0.0.1:4101",
            "127.0.0.1",
            "127.0.0.1:4100@evil.example",
            "user@127.0.0.1:4100",
            "127.0.0.1:4100/x",
            "localhost.evil.example:4100",
            "127.0.0.2:4100",
            "",
        ] {
            assert!(!guard.host_is_ours(&with_host(&[foreign])), "{foreign}");
        }
        assert!(!guard.host_is_ours(&with_host(&[])));
        assert!(!guard.host_is_ours(&with_host(&["127.0.0.1:4100", "evil.example:4100"])));
    }

    #[test]
    fn a_token_checks_only_for_the_fields_it_was_issued_for() {
        let guard = guard();
        let token = guard.issue(&[b"state-a", b"client"]).expect("a token");
        assert!(guard.check(Some(&token), &[b"state-a", b"client"]));
        assert!(!guard.check(Some(&token), &[b"state-b", b"client"]));
        assert!(!guard.check(Some(&token), &[b"state-aclient"]));
        assert!(!guard.check(None, &[b"state-a", b"client"]));
        assert!(!guard.check(Some(&token), &[b"state-a", b"client", b""]));
    }

    #[test]
    fn another_emulators_token_does_not_check() {
        let token = guard().issue(&[b"state"]).expect("a token");
        assert!(!guard().check(Some(&token), &[b"state"]));
    }
}
