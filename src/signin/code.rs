//! The headless one-time-code sign-in (CONTRACT §6.2): a URL for any browser, then a code the
//! user types back, exchanged together with this sign-in's `state` (the exchange itself lives in
//! `crate::code_exchange`, beside the generated client).

use std::fmt;

use super::hostname::default_source;
use super::options::{checked_base, CodeLoginOptions};
use super::random::random_alphanumeric;
use crate::error::Result;

/// Characters in a code-flow `state`.
const CODE_STATE_LEN: usize = 32;

/// A headless sign-in: the user opens [`url`](Self::url) on any machine, signs in, and is shown a
/// one-time code to type back; the code is exchanged together with [`state`](Self::state).
///
/// `Debug` shows only the platform base URL: the `state` and the URL carrying it stay out.
#[derive(Clone)]
pub struct CodeLogin {
    base_url: String,
    url: String,
    state: String,
    allow_insecure_http: bool,
}

impl fmt::Debug for CodeLogin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CodeLogin")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl CodeLogin {
    /// The sign-in URL to show the user.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The 32-character alphanumeric `state` to send with the code.
    pub fn state(&self) -> &str {
        &self.state
    }

    /// The platform base URL, trailing `/` stripped, that the code is exchanged against.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Whether the caller allowed plain `http://` to a host that is not loopback.
    pub(crate) fn allows_insecure_http(&self) -> bool {
        self.allow_insecure_http
    }
}

/// Builds the headless one-time-code sign-in URL:
/// `<base>/cli-login?mode=code&state=<32 alphanumerics>&client=<client>[&source=<host>]`.
///
/// No listener is bound. When `source` is unset and `HOSTNAME` is not set, this runs the
/// `hostname` command (a brief blocking call).
///
/// # Errors
/// [`Error::InvalidInput`](crate::Error::InvalidInput) for a `base_url` that is not an absolute
/// `http(s)` URL, or is `http://` to a host that is not loopback without
/// [`CodeLoginOptions::danger_allow_insecure_http`]; [`Error::Io`](crate::Error::Io) when the OS
/// random source fails.
pub fn code_login(base_url: &str, options: CodeLoginOptions) -> Result<CodeLogin> {
    let base = checked_base(base_url, options.allow_insecure_http)?;
    let state = random_alphanumeric(CODE_STATE_LEN)?;
    let source = options.source.unwrap_or_else(default_source);

    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query
        .append_pair("mode", "code")
        .append_pair("state", &state)
        .append_pair("client", &options.client);
    if !source.is_empty() {
        query.append_pair("source", &source);
    }
    let url = format!("{base}/cli-login?{}", query.finish());
    Ok(CodeLogin {
        base_url: base.to_owned(),
        url,
        state,
        allow_insecure_http: options.allow_insecure_http,
    })
}
