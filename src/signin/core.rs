//! The sans-IO core of the loopback sign-in: request-head bytes in, a [`Decision`] out.
//!
//! Nothing here touches a socket, a clock or a task, so every rule of CONTRACT §6.1 and every
//! defence (the `Host` check, the constant-time `state` check, the token-free redirect) is
//! unit-tested below on plain bytes. The listener feeds it whatever a connection sent.

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::responder::{cancelled_page, signed_in_page, state_mismatch_page, Reply};
use crate::error::{Error, Result};
use crate::token::Token;

/// The only path whose `GET` counts as the platform's redirect.
pub(super) const CALLBACK_PATH: &str = "/callback";
/// Where the genuine callback is redirected, so the token-bearing URL leaves the address bar and
/// the history; it serves the success page once the sign-in succeeded.
pub(super) const DONE_PATH: &str = "/done";

/// A completed sign-in.
///
/// `Debug` never shows the token (see [`Token`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HandshakeOutcome {
    /// The bearer token the platform minted.
    pub token: Token,
    /// The user's login as echoed by the platform, so a caller can skip a `/api/me` round-trip;
    /// `None` when the platform did not send it (older platforms).
    pub login: Option<String>,
}

/// How a sign-in ended, as delivered to [`PendingHandshake::wait`](super::PendingHandshake::wait).
pub(super) type Verdict = Result<HandshakeOutcome>;

/// Where the sign-in stands, as far as routing is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// No outcome yet: `/callback` may decide it.
    Waiting,
    /// The listener's callback signed in: `/done` serves the success page.
    SignedIn,
}

/// What the listener does with one request head.
#[must_use]
pub(super) enum Decision {
    /// Answer and keep waiting.
    Answer(Reply),
    /// Answer, and this request decides the sign-in (if no other path decided first).
    Decide(Reply, Verdict),
    /// Answer with the sign-in's last page (`/done` after signing in); the listener may close.
    Farewell(Reply),
}

/// The routing rules of one sign-in: its `state` and the listener's own `Host`.
pub(super) struct Router {
    state: Zeroizing<String>,
    authority: String,
}

impl Router {
    /// A router for the sign-in with `state`, listening on `127.0.0.1:port`.
    pub(super) fn new(state: String, port: u16) -> Router {
        Router {
            state: Zeroizing::new(state),
            authority: format!("127.0.0.1:{port}"),
        }
    }

    /// The sign-in's `state`.
    pub(super) fn state(&self) -> &str {
        &self.state
    }

    /// Routes a request head (request line and headers, terminator included) per §6.1.
    ///
    /// Order: a malformed head is 400; a method other than `GET` is 405; an unknown path is 404;
    /// a `Host` other than exactly the listener's `127.0.0.1:<port>` is 400 (a DNS-rebinding
    /// page, or a request not meant for this listener); then the callback's own rules.
    pub(super) fn route(&self, head: &[u8], phase: Phase) -> Decision {
        let Some(request) = parse_head(head) else {
            return Decision::Answer(Reply::plain(400, "bad request"));
        };
        if request.method != "GET" {
            return Decision::Answer(Reply::method_not_allowed(request.method == "HEAD"));
        }
        let (path, query) = request
            .target
            .split_once('?')
            .unwrap_or((request.target, ""));
        let query = query.split_once('#').map_or(query, |(query, _)| query);
        if path != CALLBACK_PATH && path != DONE_PATH {
            return Decision::Answer(Reply::plain(404, "not found"));
        }
        if !request.host_is(&self.authority) {
            return Decision::Answer(Reply::plain(400, "bad host"));
        }
        match (path, phase) {
            (DONE_PATH, Phase::SignedIn) => Decision::Farewell(signed_in_page()),
            (DONE_PATH, Phase::Waiting) => Decision::Answer(Reply::plain(404, "not found")),
            (_, Phase::SignedIn) => Decision::Answer(Reply::plain(409, "sign-in already finished")),
            (_, Phase::Waiting) => self.callback(query),
        }
    }

    fn callback(&self, query: &str) -> Decision {
        match classify(query, &self.state) {
            Callback::StateMismatch => Decision::Answer(state_mismatch_page()),
            Callback::MissingToken => Decision::Answer(Reply::plain(400, "missing token")),
            Callback::Cancelled(reason) => Decision::Decide(
                cancelled_page(&reason),
                Err(Error::HandshakeCancelled { reason }),
            ),
            Callback::Signed(outcome) => Decision::Decide(Reply::see_other(DONE_PATH), Ok(outcome)),
        }
    }
}

/// A parsed request head; borrowed from the bytes.
struct RequestHead<'a> {
    method: &'a str,
    target: &'a str,
    /// Every `Host` header value, surrounding whitespace trimmed.
    hosts: Vec<&'a str>,
}

impl RequestHead<'_> {
    /// Exactly one `Host`, equal (ASCII case-insensitively) to `authority`.
    fn host_is(&self, authority: &str) -> bool {
        matches!(self.hosts.as_slice(), [host] if host.eq_ignore_ascii_case(authority))
    }
}

/// Parses the request line (`METHOD SP target SP HTTP/x`) and the headers; `None` when any line
/// is not UTF-8, the request line is malformed, or a header line has no `:`.
fn parse_head(head: &[u8]) -> Option<RequestHead<'_>> {
    let text = std::str::from_utf8(head).ok()?;
    let mut lines = text.split('\n').map(|line| line.trim_end_matches('\r'));
    let mut parts = lines.next()?.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return None;
    };
    if method.is_empty() || target.is_empty() || !version.starts_with("HTTP/") {
        return None;
    }
    let mut hosts = Vec::new();
    for line in lines.take_while(|line| !line.is_empty()) {
        // A folded continuation line is obsolete (RFC 9112 §5.2); refuse rather than guess.
        if line.starts_with([' ', '\t']) {
            return None;
        }
        let (name, value) = line.split_once(':')?;
        if name.eq_ignore_ascii_case("host") {
            hosts.push(value.trim_matches([' ', '\t']));
        }
    }
    Some(RequestHead {
        method,
        target,
        hosts,
    })
}

/// Index just past the blank line ending a request head (`\n\n` or `\n\r\n`), searching from
/// `from`.
pub(super) fn head_end(buf: &[u8], from: usize) -> Option<usize> {
    (from..buf.len()).find_map(|i| match (buf.get(i), buf.get(i + 1), buf.get(i + 2)) {
        (Some(b'\n'), Some(b'\n'), _) => Some(i + 2),
        (Some(b'\n'), Some(b'\r'), Some(b'\n')) => Some(i + 3),
        _ => None,
    })
}

/// What a callback query says, once its `state` has been checked.
pub(super) enum Callback {
    Signed(HandshakeOutcome),
    Cancelled(String),
    StateMismatch,
    MissingToken,
}

/// Reads `token`, `state`, `error` and `login` from a form-urlencoded query (first occurrence of
/// each; other keys ignored) and applies §6.1's order: state first (constant time), then error,
/// then token.
pub(super) fn classify(query: &str, expected_state: &str) -> Callback {
    let mut state: Option<Zeroizing<String>> = None;
    let mut token: Option<Zeroizing<String>> = None;
    let mut error: Option<String> = None;
    let mut login: Option<String> = None;
    for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "state" if state.is_none() => state = Some(Zeroizing::new(value.into_owned())),
            "token" if token.is_none() => token = Some(Zeroizing::new(value.into_owned())),
            "error" if error.is_none() => error = Some(value.into_owned()),
            "login" if login.is_none() => login = Some(value.into_owned()),
            _ => {}
        }
    }

    let state_matches = state
        .as_deref()
        .is_some_and(|got| bool::from(got.as_bytes().ct_eq(expected_state.as_bytes())));
    if !state_matches {
        return Callback::StateMismatch;
    }
    if let Some(reason) = error {
        return Callback::Cancelled(reason);
    }
    match token {
        Some(mut token) if !token.is_empty() => Callback::Signed(HandshakeOutcome {
            token: Token::new(std::mem::take(&mut *token)),
            login: login.filter(|login| !login.is_empty()),
        }),
        _ => Callback::MissingToken,
    }
}

/// The query of a pasted callback URL, once it is known to point at this sign-in's listener.
pub(super) fn callback_query(
    pasted: &str,
    port: u16,
    callback_url: &str,
) -> Result<Zeroizing<String>> {
    // Messages never echo the pasted text: it may carry the token.
    let url = url::Url::parse(pasted).map_err(|_| {
        Error::InvalidInput(format!(
            "the pasted text is not a URL; paste the whole address (starting {callback_url}) \
             from the browser's address bar"
        ))
    })?;
    let ours = url.scheme() == "http"
        && url.host_str() == Some("127.0.0.1")
        && url.port() == Some(port)
        && url.path() == CALLBACK_PATH;
    if !ours {
        return Err(Error::InvalidInput(format!(
            "the pasted URL is not this sign-in's callback; it should start {callback_url}"
        )));
    }
    Ok(Zeroizing::new(url.query().unwrap_or("").to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PORT: u16 = 48213;

    fn router() -> Router {
        Router::new("s".to_owned(), PORT)
    }

    fn get(target: &str) -> Vec<u8> {
        format!("GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{PORT}\r\nAccept: text/html\r\n\r\n")
            .into_bytes()
    }

    fn status_of(decision: &Decision) -> u16 {
        match decision {
            Decision::Answer(reply) | Decision::Decide(reply, _) | Decision::Farewell(reply) => {
                reply.status
            }
        }
    }

    fn decides(decision: &Decision) -> bool {
        matches!(decision, Decision::Decide(..))
    }

    #[test]
    fn head_end_finds_crlf_and_bare_lf_blank_lines() {
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nA: b\r\n\r\nbody", 0), Some(24));
        assert_eq!(head_end(b"GET / HTTP/1.1\n\nbody", 0), Some(16));
        assert_eq!(head_end(b"GET / HTTP/1.1\r\nA: b\r\n", 0), None);
    }

    #[test]
    fn the_genuine_callback_signs_in_with_a_303_to_a_url_without_the_token() {
        let decision = router().route(
            &get("/callback?token=wk_t0ken&state=s&login=o"),
            Phase::Waiting,
        );
        let Decision::Decide(reply, Ok(outcome)) = decision else {
            panic!("the genuine callback must decide the sign-in");
        };
        assert_eq!(reply.status, 303);
        assert_eq!(reply.location, Some(DONE_PATH));
        assert!(!String::from_utf8_lossy(&reply.render()).contains("t0ken"));
        assert_eq!(outcome.token.expose(), "wk_t0ken");
        assert_eq!(outcome.login.as_deref(), Some("o"));
    }

    #[test]
    fn a_forged_state_is_answered_400_and_decides_nothing() {
        let decision = router().route(
            &get("/callback?token=wk_forged&state=forged"),
            Phase::Waiting,
        );
        assert_eq!(status_of(&decision), 400);
        assert!(!decides(&decision));
    }

    #[test]
    fn a_missing_state_is_answered_400_and_decides_nothing() {
        let decision = router().route(&get("/callback?token=wk_forged"), Phase::Waiting);
        assert_eq!(status_of(&decision), 400);
        assert!(!decides(&decision));
    }

    #[test]
    fn a_forged_state_cannot_cancel_the_sign_in_either() {
        let decision = router().route(
            &get("/callback?error=access_denied&state=x"),
            Phase::Waiting,
        );
        assert_eq!(status_of(&decision), 400);
        assert!(!decides(&decision));
    }

    #[test]
    fn a_dns_rebinding_host_cannot_deliver_the_callback() {
        for host in [
            "evil.example:48213",
            "localhost:48213",
            "127.0.0.1:1",
            "127.0.0.1",
            "",
        ] {
            let head = format!("GET /callback?token=wk_t&state=s HTTP/1.1\r\nHost: {host}\r\n\r\n");
            let decision = router().route(head.as_bytes(), Phase::Waiting);
            assert_eq!(status_of(&decision), 400, "{host}");
            assert!(!decides(&decision), "{host}");
        }
    }

    #[test]
    fn a_missing_or_repeated_host_cannot_deliver_the_callback() {
        let missing = b"GET /callback?token=wk_t&state=s HTTP/1.1\r\n\r\n";
        assert!(!decides(&router().route(missing, Phase::Waiting)));
        let repeated = format!(
            "GET /callback?token=wk_t&state=s HTTP/1.1\r\nHost: 127.0.0.1:{PORT}\r\nhost: evil.example\r\n\r\n"
        );
        assert!(!decides(
            &router().route(repeated.as_bytes(), Phase::Waiting)
        ));
    }

    #[test]
    fn host_name_case_and_surrounding_spaces_do_not_matter() {
        let head = format!(
            "GET /callback?token=wk_t&state=s HTTP/1.1\r\nhOsT:  127.0.0.1:{PORT} \r\n\r\n"
        );
        assert!(decides(&router().route(head.as_bytes(), Phase::Waiting)));
    }

    #[test]
    fn a_folded_header_line_is_a_bad_request() {
        let head = format!(
            "GET /callback?token=wk_t&state=s HTTP/1.1\r\nHost: 127.0.0.1:{PORT}\r\n x\r\n\r\n"
        );
        assert_eq!(
            status_of(&router().route(head.as_bytes(), Phase::Waiting)),
            400
        );
    }

    #[test]
    fn done_serves_the_success_page_only_after_signing_in() {
        assert_eq!(
            status_of(&router().route(&get("/done"), Phase::Waiting)),
            404
        );
        let Decision::Farewell(reply) = router().route(&get("/done"), Phase::SignedIn) else {
            panic!("/done is the last page and never decides");
        };
        assert_eq!(reply.status, 200);
        assert!(reply.body.contains("You're signed in."));
    }

    #[test]
    fn a_callback_after_signing_in_decides_nothing() {
        let decision = router().route(&get("/callback?token=wk_again&state=s"), Phase::SignedIn);
        assert_eq!(status_of(&decision), 409);
        assert!(!decides(&decision));
    }

    #[test]
    fn the_platforms_error_with_the_right_state_cancels() {
        let decision = router().route(
            &get("/callback?error=access_denied&state=s"),
            Phase::Waiting,
        );
        assert!(matches!(
            decision,
            Decision::Decide(_, Err(Error::HandshakeCancelled { ref reason })) if reason == "access_denied"
        ));
    }

    #[test]
    fn request_line_with_two_parts_is_a_bad_request() {
        assert_eq!(
            status_of(&router().route(b"GET /callback\r\n\r\n", Phase::Waiting)),
            400
        );
    }

    #[test]
    fn request_line_that_is_not_utf8_is_a_bad_request() {
        assert_eq!(
            status_of(&router().route(b"GET /\xff HTTP/1.1\r\n\r\n", Phase::Waiting)),
            400
        );
    }

    #[test]
    fn lowercase_get_is_not_get() {
        let head = b"get /callback HTTP/1.1\r\n\r\n";
        assert_eq!(status_of(&router().route(head, Phase::Waiting)), 405);
    }

    #[test]
    fn callback_path_with_a_suffix_is_not_the_callback() {
        let decision = router().route(&get("/callback/x?state=s&token=t"), Phase::Waiting);
        assert_eq!(status_of(&decision), 404);
    }

    #[test]
    fn first_state_parameter_is_the_one_checked() {
        assert!(matches!(
            classify("state=wrong&state=s&token=t", "s"),
            Callback::StateMismatch
        ));
    }

    #[test]
    fn state_of_a_different_length_does_not_match() {
        assert!(matches!(
            classify("state=ss&token=t", "s"),
            Callback::StateMismatch
        ));
    }

    #[test]
    fn empty_token_counts_as_missing() {
        assert!(matches!(
            classify("state=s&token=", "s"),
            Callback::MissingToken
        ));
    }

    #[test]
    fn percent_encoded_values_are_decoded() {
        let Callback::Signed(outcome) = classify("state=s&token=wk_a%2Bb&login=a+b", "s") else {
            panic!("expected a signed-in callback");
        };
        assert_eq!(outcome.token.expose(), "wk_a+b");
        assert_eq!(outcome.login.as_deref(), Some("a b"));
    }
}
