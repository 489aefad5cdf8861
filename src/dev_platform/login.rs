//! Browser sign-in: the `/cli-login` consent page (loopback redirect or one-time code) and the
//! code exchange.
//!
//! The page and its decision are guarded twice (see [`PageGuard`](super::page_guard::PageGuard)):
//! the `Host` must be the
//! emulator's own loopback `host:port` (a DNS-rebinding page names its own domain), and a
//! decision must carry the CSRF token of a page this emulator rendered for the same sign-in (a
//! cross-site form cannot read one).

use std::net::{Ipv4Addr, Ipv6Addr};

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, REFERRER_POLICY};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use url::{Host, Url};
use zeroize::Zeroizing;

use super::http::{read_body, ApiError, AppState, Shared, JSON_BODY_CAP};
use super::store;
use super::{hash_secret, mint_token, random_bytes, time, Error};
use crate::wire::{CliCodeExchangeRequest, CliCodeExchangeResponse};

/// How long a one-time code works.
const CODE_TTL_SECS: i64 = 600;
/// Characters of a one-time code: no `0/O`, `1/I` look-alikes; 32 symbols, so a byte's low five
/// bits pick one without bias.
const CODE_ALPHABET: &[u8; 32] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
const CODE_LEN: usize = 8;
/// Cap of the decision form body.
const FORM_CAP: usize = 64 * 1024;
/// Longest accepted `state`, `client` or `source`.
const FIELD_MAX: usize = 512;
/// The fields a sign-in page's CSRF token is bound to: where the answer goes, and every other
/// field of the sign-in.
fn csrf_fields(req: &SignIn) -> [&[u8]; 5] {
    [
        req.callback
            .as_ref()
            .map_or("mode=code", Url::as_str)
            .as_bytes(),
        req.state.as_bytes(),
        req.client.as_bytes(),
        req.source.as_deref().unwrap_or("").as_bytes(),
        if req.source.is_some() { b"1" } else { b"0" },
    ]
}

/// The answer to a sign-in page request whose `Host` is not this emulator's.
fn misdirected() -> Response {
    html(
        StatusCode::MISDIRECTED_REQUEST,
        "Sign-in request refused",
        "<h1>This sign-in page is only served to this machine's own address</h1>
         <p id=\"error\">The request named another host.</p>",
    )
}

/// A validated sign-in request.
#[derive(Clone)]
pub(super) struct SignIn {
    /// `None` in code mode.
    callback: Option<Url>,
    state: String,
    client: String,
    source: Option<String>,
}

fn field<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

/// Whether `url` is a loopback callback: `http://127.0.0.1:<port>/…` or `http://[::1]:<port>/…`.
fn loopback_callback(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|_| "callback is not a URL".to_owned())?;
    let loopback = match url.host() {
        Some(Host::Ipv4(ip)) => ip == Ipv4Addr::LOCALHOST,
        Some(Host::Ipv6(ip)) => ip == Ipv6Addr::LOCALHOST,
        _ => false,
    };
    if url.scheme() != "http"
        || !loopback
        || url.port().is_none()
        || !url.username().is_empty()
        || url.password().is_some()
        || url.fragment().is_some()
    {
        return Err(
            "callback must be http://127.0.0.1:<port>/… or http://[::1]:<port>/…".to_owned(),
        );
    }
    Ok(url)
}

/// Validates a sign-in's fields (from the page's query or the decision form), as the page does:
/// the reason is what the page's 400 shows.
pub(super) fn parse_sign_in(pairs: &[(String, String)]) -> Result<SignIn, String> {
    let code_mode = match field(pairs, "mode") {
        None | Some("") => false,
        Some("code") => true,
        Some(_) => return Err("unknown mode (only `code` is supported)".to_owned()),
    };
    let state = match field(pairs, "state") {
        Some(s) if !s.is_empty() && s.len() <= FIELD_MAX => s.to_owned(),
        _ => return Err("state is missing or too long".to_owned()),
    };
    let client = match field(pairs, "client") {
        Some(c) if c.len() > FIELD_MAX => return Err("client is too long".to_owned()),
        Some(c) if !c.is_empty() => c.to_owned(),
        _ => "an unnamed app".to_owned(),
    };
    let source = match field(pairs, "source") {
        Some(s) if s.len() > FIELD_MAX => return Err("source is too long".to_owned()),
        Some(s) if !s.is_empty() => Some(s.to_owned()),
        _ => None,
    };
    let callback = if code_mode {
        None
    } else {
        let raw = field(pairs, "callback").ok_or_else(|| "callback is missing".to_owned())?;
        Some(loopback_callback(raw)?)
    };
    Ok(SignIn {
        callback,
        state,
        client,
        source,
    })
}

fn html(status: StatusCode, title: &str, body: &str) -> Response {
    let page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{title}</title></head>\n<body>\n{body}\n</body></html>\n",
        title = crate::html::escape(title)
    );
    let mut response = (status, page).into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

fn error_page(reason: &str) -> Response {
    html(
        StatusCode::BAD_REQUEST,
        "Sign-in request refused",
        &format!(
            "<h1>This sign-in request cannot be used</h1>\n<p id=\"error\">{}</p>",
            crate::html::escape(reason)
        ),
    )
}

fn redirect(to: &Url) -> Response {
    match HeaderValue::from_str(to.as_str()) {
        Ok(location) => {
            let mut response = StatusCode::SEE_OTHER.into_response();
            let headers = response.headers_mut();
            headers.insert(LOCATION, location);
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
            response
        }
        Err(_) => error_page("the callback cannot be redirected to"),
    }
}

fn hidden_fields(req: &SignIn) -> String {
    let mut fields = vec![
        ("state", req.state.as_str()),
        ("client", req.client.as_str()),
    ];
    match &req.callback {
        Some(cb) => fields.push(("callback", cb.as_str())),
        None => fields.push(("mode", "code")),
    }
    if let Some(source) = &req.source {
        fields.push(("source", source));
    }
    fields
        .into_iter()
        .map(|(name, value)| {
            format!(
                "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
                crate::html::escape(value)
            )
        })
        .collect()
}

fn consent_page(state: &AppState, req: &SignIn) -> Response {
    let Some(csrf) = state.sign_in_pages.issue(&csrf_fields(req)) else {
        return ApiError::internal().into_response();
    };
    let from = req
        .source
        .as_ref()
        .map(|s| format!("<p id=\"source\">from {}</p>\n", crate::html::escape(s)))
        .unwrap_or_default();
    let hidden = format!(
        "{}<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        hidden_fields(req),
        crate::html::escape(&csrf)
    );
    let body = format!(
        "<h1 id=\"client\">{client}</h1>\n{from}\
         <p>wants to sign in to the WaveKat dev platform as <strong id=\"login\">{login}</strong>.</p>\n\
         <form method=\"post\" action=\"/cli-login/decision\">{hidden}\
         <button id=\"approve\" type=\"submit\" name=\"decision\" value=\"approve\">Approve</button></form>\n\
         <form method=\"post\" action=\"/cli-login/decision\">{hidden}\
         <button id=\"cancel\" type=\"submit\" name=\"decision\" value=\"cancel\">Cancel</button></form>",
        client = crate::html::escape(&req.client),
        login = crate::html::escape(&state.default_user.login),
    );
    html(StatusCode::OK, "Sign in to WaveKat (dev platform)", &body)
}

/// What approving a sign-in granted.
pub(super) enum Grant {
    /// Loopback flow: the callback URL with `token`, `state` and `login` appended, where the
    /// browser is redirected.
    Redirect(Url),
    /// Code flow: the one-time code the user pastes, valid for ten minutes.
    Code(Zeroizing<String>),
}

/// Approves a validated sign-in, as pressing Approve does: mints a token for the default user
/// and builds the loopback redirect carrying it, or issues a one-time code. The one place a
/// sign-in is approved: the decision form, auto-approve and
/// [`DevPlatform::approve_sign_in`](super::DevPlatform::approve_sign_in) all come here.
pub(super) async fn grant(state: &AppState, req: SignIn) -> Result<Grant, Error> {
    let user = state.default_user.clone();
    match req.callback {
        Some(mut callback) => {
            let token = mint_token()?;
            let hash = hash_secret(token.expose());
            let (user_id, client, source) = (user.id.clone(), req.client, req.source);
            let now = time::now_rfc3339_millis();
            state
                .store
                .call(move |conn| {
                    store::insert_token(
                        conn,
                        &hash,
                        &user_id,
                        Some(&client),
                        source.as_deref(),
                        &now,
                    )
                })
                .await?;
            callback
                .query_pairs_mut()
                .append_pair("token", token.expose())
                .append_pair("state", &req.state)
                .append_pair("login", &user.login);
            Ok(Grant::Redirect(callback))
        }
        None => {
            let code = Zeroizing::new(new_code()?);
            let hash = hash_secret(&code);
            let expires = time::now_unix_secs().saturating_add(CODE_TTL_SECS);
            let (user_id, sign_in_state, client, source) =
                (user.id.clone(), req.state, req.client, req.source);
            state
                .store
                .call(move |conn| {
                    store::insert_code(
                        conn,
                        &hash,
                        &sign_in_state,
                        &user_id,
                        Some(&client),
                        source.as_deref(),
                        expires,
                    )
                })
                .await?;
            Ok(Grant::Code(code))
        }
    }
}

/// The Approve button's answer: the redirect to the loopback callback, or the page showing the
/// one-time code.
async fn approve(state: &AppState, req: SignIn) -> Response {
    match grant(state, req).await {
        Ok(Grant::Redirect(callback)) => redirect(&callback),
        Ok(Grant::Code(code)) => html(
            StatusCode::OK,
            "Your sign-in code",
            &format!(
                "<h1>Paste this code into your terminal</h1>\n<p><code id=\"code\">{}</code></p>\n\
                 <p>It works once, within 10 minutes.</p>",
                crate::html::escape(&code)
            ),
        ),
        Err(e) => {
            tracing::error!(error = %e, "approving a sign-in failed");
            ApiError::internal().into_response()
        }
    }
}

fn cancel(req: SignIn) -> Response {
    match req.callback {
        Some(mut callback) => {
            callback
                .query_pairs_mut()
                .append_pair("error", "access_denied")
                .append_pair("state", &req.state);
            redirect(&callback)
        }
        None => html(
            StatusCode::OK,
            "Sign-in cancelled",
            "<h1 id=\"cancelled\">Sign-in cancelled</h1>\n<p>You can close this page.</p>",
        ),
    }
}

fn new_code() -> Result<String, Error> {
    let bytes: [u8; CODE_LEN] = random_bytes()?;
    Ok(bytes
        .iter()
        .map(|b| char::from(CODE_ALPHABET[usize::from(b & 31)]))
        .collect())
}

/// `GET /cli-login`: refuses a foreign `Host` (421), validates the request (400 page if
/// unusable), then shows the consent page with its CSRF token, or with auto-approve acts as if
/// Approve was pressed.
pub(crate) async fn page(
    State(state): State<Shared>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    if !state.sign_in_pages.host_is_ours(&headers) {
        return misdirected();
    }
    let pairs: Vec<(String, String)> = raw
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let req = match parse_sign_in(&pairs) {
        Ok(req) => req,
        Err(reason) => return error_page(&reason),
    };
    if state.auto_approve {
        return approve(&state, req).await;
    }
    consent_page(&state, &req)
}

/// `POST /cli-login/decision`: the Approve or Cancel button. Refuses a foreign `Host` (421);
/// every field is validated again, and the form must carry the CSRF token of a page rendered for
/// exactly this sign-in (403 otherwise).
pub(crate) async fn decision(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    if !state.sign_in_pages.host_is_ours(&headers) {
        return misdirected();
    }
    let bytes = match read_body(&headers, body, FORM_CAP).await {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&bytes).into_owned().collect();
    let req = match parse_sign_in(&pairs) {
        Ok(req) => req,
        Err(reason) => return error_page(&reason),
    };
    if !state
        .sign_in_pages
        .check(field(&pairs, "csrf"), &csrf_fields(&req))
    {
        return html(
            StatusCode::FORBIDDEN,
            "Sign-in decision refused",
            "<h1>This decision did not come from the sign-in page</h1>
             <p id=\"error\">Reload the sign-in page and choose again.</p>",
        );
    }
    match field(&pairs, "decision") {
        Some("approve") => approve(&state, req).await,
        Some("cancel") => cancel(req),
        _ => error_page("decision must be approve or cancel"),
    }
}

/// `POST /api/auth/cli/codes/exchange`: a valid, unused, unexpired code for this `state` becomes
/// a token exactly once; anything else is 400.
pub(crate) async fn exchange_code(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<CliCodeExchangeResponse>, ApiError> {
    let bytes = read_body(&headers, body, JSON_BODY_CAP).await?;
    let request: CliCodeExchangeRequest = serde_json::from_slice(&bytes)
        .map_err(|e| ApiError::bad_request(format!("code exchange body: {e}")))?;
    let code = request.code.trim().to_ascii_uppercase();
    let code_hash = hash_secret(&code);
    let token = mint_token().map_err(|_| ApiError::internal())?;
    let token_hash = hash_secret(token.expose());
    let sign_in_state = request.state;
    let now_secs = time::now_unix_secs();
    let now = time::now_rfc3339_millis();
    let user = state
        .store
        .call(move |conn| {
            store::redeem_code(
                conn,
                &code_hash,
                &sign_in_state,
                now_secs,
                &token_hash,
                &now,
            )
        })
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_code",
                "the code is wrong, already used, expired, or for another sign-in",
            )
        })?;
    Ok(Json(CliCodeExchangeResponse {
        token: token.clone(),
        login: Some(user.login),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_callbacks_are_accepted() {
        assert!(loopback_callback("http://127.0.0.1:5000/callback").is_ok());
        assert!(loopback_callback("http://[::1]:5000/callback").is_ok());
    }

    #[test]
    fn non_loopback_callbacks_are_refused() {
        for bad in [
            "https://127.0.0.1:5000/callback",
            "http://localhost:5000/callback",
            "http://127.0.0.2:5000/callback",
            "http://evil.example:5000/callback",
            "http://127.0.0.1/callback",
            "http://user@127.0.0.1:5000/callback",
            "http://127.0.0.1:5000/callback#frag",
            "not a url",
        ] {
            assert!(loopback_callback(bad).is_err(), "{bad} must be refused");
        }
    }

    #[test]
    fn escaping_neutralises_markup() {
        assert_eq!(
            crate::html::escape("<script>\"x\" & 'y'</script>"),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;"
        );
    }

    #[test]
    fn codes_use_only_the_unambiguous_alphabet() {
        let code = new_code().unwrap_or_default();
        assert_eq!(code.len(), CODE_LEN);
        assert!(code.bytes().all(|b| CODE_ALPHABET.contains(&b)));
    }
}
