//! How a call's outcome becomes this crate's [`Error`]: transport failures, statuses, bodies.

use std::time::Duration;

use super::hooks::Sent;
use super::ERROR_BODY_READ_LIMIT;
use crate::error::{truncate_body, Error};
use crate::retry;

/// How [`Client::settle`] ended a call that did not fail.
pub(super) enum Settled {
    /// The generated call returned its value.
    Done,
    /// A 2xx status the spec does not list: its whole body, and the request URL.
    Body(bytes::Bytes, String),
    /// A 2xx status the spec does not list, its body unread.
    Response(reqwest::Response),
}

/// A generated call that settled as done without handing over its value (it cannot: the value
/// is stored before the call returns `Ok`).
pub(super) fn no_response() -> Error {
    Error::InvalidInput("the generated call ended without a response".into())
}

pub(super) fn transport_error(sent: &Sent, err: reqwest::Error) -> Error {
    let url = sent.url.clone();
    let attempts = sent.attempts.max(1);
    if err.is_timeout() {
        Error::Timeout { url, attempts }
    } else {
        Error::Network {
            url,
            attempts,
            transport: err.without_url(),
        }
    }
}

/// Maps a generated client's error to [`Error`], reading at most 64 KiB of an error body.
pub(crate) async fn map_error(sent: &Sent, err: progenitor_client::Error<()>) -> Error {
    use progenitor_client::Error as E;
    match err {
        E::CommunicationError(e) | E::ResponseBodyError(e) | E::InvalidUpgrade(e) => {
            transport_error(sent, e)
        }
        E::InvalidResponsePayload(_, e) => Error::Decode {
            url: sent.url.clone(),
            message: e.to_string(),
        },
        E::InvalidRequest(message) | E::Custom(message) => Error::InvalidInput(message),
        E::ErrorResponse(value) => {
            let location = location_of(value.headers());
            status_error(sent, value.status().as_u16(), None, location, b"")
        }
        E::UnexpectedResponse(response) => error_from_response(sent, response).await,
    }
}

/// Classifies a non-success response: 401 (`reauth_required` matched as a substring, because a
/// proxy may answer in HTML), other statuses with their body cut to 500 bytes.
async fn error_from_response(sent: &Sent, mut response: reqwest::Response) -> Error {
    let status = response.status().as_u16();
    let retry_after = retry::retry_after(response.headers());
    let location = location_of(response.headers());
    let mut body = Vec::new();
    while body.len() < ERROR_BODY_READ_LIMIT {
        match response.chunk().await {
            Ok(Some(chunk)) => body.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    status_error(sent, status, retry_after, location, &body)
}

/// A response's `Location`, as text (invalid bytes replaced), cut to [`crate::ERROR_BODY_LIMIT`].
fn location_of(headers: &reqwest::header::HeaderMap) -> Option<String> {
    headers
        .get(reqwest::header::LOCATION)
        .map(|value| truncate_body(value.as_bytes()))
}

/// Whether `body` holds `needle` anywhere (bytes, not parsed: a proxy may answer in HTML).
fn mentions(body: &[u8], needle: &[u8]) -> bool {
    body.windows(needle.len()).any(|w| w == needle)
}

fn status_error(
    sent: &Sent,
    status: u16,
    retry_after: Option<Duration>,
    location: Option<String>,
    body: &[u8],
) -> Error {
    let url = sent.url.clone();
    if (300..400).contains(&status) {
        return Error::Redirect {
            status,
            url,
            location,
        };
    }
    if status == 401 {
        if sent.release_signed {
            return Error::SignatureRefused {
                url,
                body: truncate_body(body),
            };
        }
        if mentions(body, b"reauth_required") {
            return Error::ReauthRequired { url };
        }
        if sent.needs_token && !sent.token_sent {
            return Error::TokenMissing {
                url,
                stripped: false,
            };
        }
        if sent.token_sent && mentions(body, b"missing Authorization header") {
            return Error::TokenMissing {
                url,
                stripped: true,
            };
        }
        return Error::Unauthorized {
            url,
            body: truncate_body(body),
        };
    }
    Error::Http {
        status,
        url,
        body: truncate_body(body),
        retry_after,
    }
}
