//! [`DevPlatform::approve_sign_in`](super::DevPlatform::approve_sign_in): pressing Approve for a
//! sign-in URL without a browser, through the same validation and store code as the consent page.

use std::fmt;

use url::Url;
use zeroize::Zeroizing;

use super::http::AppState;
use super::login::{self, Grant};
use super::Error;

/// The path of the consent page a sign-in URL must name.
const SIGN_IN_PATH: &str = "/cli-login";

/// What pressing Approve produced for a sign-in URL (see
/// [`DevPlatform::approve_sign_in`](super::DevPlatform::approve_sign_in)).
///
/// Both answers are secrets (a one-time code, or a redirect carrying a bearer token): `Debug`
/// shows only which flow it was, and the text is zeroized on drop.
pub struct SignInApproval {
    flow: Flow,
}

enum Flow {
    Code(Zeroizing<String>),
    Redirect(Zeroizing<String>),
}

impl SignInApproval {
    /// The code flow's one-time code (what the page shows after Approve), to hand to
    /// [`CodeLogin::exchange`](crate::signin::CodeLogin::exchange) together with that sign-in's
    /// state; it works once, within ten minutes. `None` for a loopback sign-in.
    pub fn expose_code(&self) -> Option<&str> {
        match &self.flow {
            Flow::Code(code) => Some(code),
            Flow::Redirect(_) => None,
        }
    }

    /// The loopback flow's redirect, where the page would send the browser:
    /// `<callback>?token=…&state=…&login=…`. It is not delivered: hand it to
    /// [`PendingHandshake::complete_from_redirect`](crate::signin::PendingHandshake::complete_from_redirect),
    /// or `GET` it while [`PendingHandshake::wait`](crate::signin::PendingHandshake::wait) runs
    /// to exercise the listener too. `None` for a code sign-in.
    pub fn expose_redirect_url(&self) -> Option<&str> {
        match &self.flow {
            Flow::Redirect(url) => Some(url),
            Flow::Code(_) => None,
        }
    }
}

impl fmt::Debug for SignInApproval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (flow, secret) = match self.flow {
            Flow::Code(_) => ("code", "code"),
            Flow::Redirect(_) => ("loopback", "redirect_url"),
        };
        f.debug_struct("SignInApproval")
            .field("flow", &flow)
            .field(secret, &crate::error::Redacted)
            .finish()
    }
}

/// Approves the sign-in `sign_in_url` asks for: the URL must name this emulator (as the page's
/// `Host` check requires) and `/cli-login`, and its query must pass the page's validation.
pub(super) async fn approve(state: &AppState, sign_in_url: &str) -> Result<SignInApproval, Error> {
    // The URL carries the sign-in's state: no error repeats it.
    let url = Url::parse(sign_in_url.trim()).map_err(|_| Error::InvalidSignInUrl {
        reason: "it is not an absolute URL".to_owned(),
    })?;
    if !state.sign_in_pages.url_is_ours(&url) {
        return Err(Error::ForeignSignInUrl {
            origin: url.origin().ascii_serialization(),
            emulator: state.sign_in_pages.local_addr(),
        });
    }
    if url.path() != SIGN_IN_PATH {
        return Err(Error::InvalidSignInUrl {
            reason: format!("its path is not {SIGN_IN_PATH}"),
        });
    }
    let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    let request =
        login::parse_sign_in(&pairs).map_err(|reason| Error::InvalidSignInUrl { reason })?;
    let flow = match login::grant(state, request).await? {
        Grant::Code(code) => Flow::Code(code),
        Grant::Redirect(url) => Flow::Redirect(Zeroizing::new(url.into())),
    };
    Ok(SignInApproval { flow })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_the_flow_but_neither_the_code_nor_the_redirect() {
        let code = SignInApproval {
            flow: Flow::Code(Zeroizing::new("ABCDEFGH".to_owned())),
        };
        let redirect = SignInApproval {
            flow: Flow::Redirect(Zeroizing::new(
                "http://127.0.0.1:9/callback?token=wk_secretvalue&state=s".to_owned(),
            )),
        };
        let (code, redirect) = (format!("{code:?}"), format!("{redirect:?}"));
        assert!(
            code.contains("code") && !code.contains("ABCDEFGH"),
            "{code}"
        );
        assert!(
            redirect.contains("loopback") && !redirect.contains("secretvalue"),
            "{redirect}"
        );
    }
}
