//! Where the token may travel: never in clear to another machine unless the caller says so, and
//! never on to a place a redirect names.

mod support;

use std::sync::{Arc, Mutex};

use support::raw_http::{serve_forever, Captured};
use wavekat_platform_client::{Client, Error, RetryPolicy, Token};

/// A server on 127.0.0.1 that answers `POST` with a `302` to `/landing` and every other method
/// with `200 {}`, recording each request.
async fn redirecting_server() -> (String, Arc<Mutex<Vec<Captured>>>) {
    serve_forever(|request, _| {
        if request.request_line().starts_with("POST ") {
            "HTTP/1.1 302 Found\r\nLocation: /landing\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        } else {
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
        }
        .to_owned()
    })
    .await
}

#[tokio::test]
async fn a_302_answering_revoke_current_is_an_error_not_a_success() {
    let (url, seen) = redirecting_server().await;
    let client = Client::builder(&url)
        .token(Token::new("opaque-revoke-me"))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let result = client.revoke_current_token().await;
    match &result {
        Err(Error::Redirect {
            status,
            url: from,
            location,
        }) => {
            assert_eq!(*status, 302);
            assert!(
                from.ends_with("/api/auth/cli/tokens/revoke-current"),
                "{from}"
            );
            assert_eq!(location.as_deref(), Some("/landing"));
        }
        other => panic!("a redirected revoke must not count as done: {other:?}"),
    }
    let error = result.unwrap_err();
    assert_eq!(error.status(), Some(302));
    assert!(error.to_string().contains("/landing"), "{error}");
    let requests: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.request_line().to_owned())
        .collect();
    assert_eq!(requests.len(), 1, "the redirect was followed: {requests:?}");
    assert!(requests[0].starts_with("POST /api/auth/cli/tokens/revoke-current "));
}

#[tokio::test]
async fn a_redirect_never_carries_the_token_to_its_target() {
    let (url, seen) = redirecting_server().await;
    let client = Client::builder(&url)
        .token(Token::new("opaque-follow-me"))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let _ = client.revoke_current_token().await;
    let requests: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.request_line().to_owned())
        .collect();
    assert!(
        requests.iter().all(|line| !line.contains("/landing")),
        "{requests:?}"
    );
}

#[test]
fn a_plain_http_base_url_to_a_remote_host_is_refused_before_any_request() {
    let refused = Client::new("http://platform.example", Token::new("opaque-in-clear"));
    match refused {
        Err(Error::InvalidInput(message)) => {
            assert!(message.contains("platform.example"), "{message}");
            assert!(message.contains("danger_allow_insecure_http"), "{message}");
            assert!(!message.contains("opaque-in-clear"), "{message}");
        }
        other => panic!("plain http to a remote host must be refused: {other:?}"),
    }
}

#[test]
fn plain_http_to_a_host_whose_name_only_starts_with_localhost_is_refused() {
    for url in [
        "http://localhost.attacker.example",
        "http://127.0.0.1.attacker.example",
        "http://10.0.0.5:8080",
    ] {
        assert!(
            matches!(
                Client::new(url, Token::new("t")),
                Err(Error::InvalidInput(_))
            ),
            "{url}"
        );
    }
}

#[test]
fn plain_http_to_loopback_needs_no_opt_in() {
    for url in [
        "http://127.0.0.1:9",
        "http://127.8.9.10",
        "http://[::1]:9",
        "http://localhost:9",
    ] {
        assert!(Client::new(url, Token::new("t")).is_ok(), "{url}");
    }
}

#[test]
fn danger_allow_insecure_http_lets_the_caller_opt_in() {
    let client = Client::builder("http://platform.example")
        .token(Token::new("t"))
        .danger_allow_insecure_http(true)
        .build();
    assert!(client.is_ok());
}

/// The spec gives the code exchange `security: []`: the token a client holds stays off it (a
/// signed-in CLI that signs in again must not hand its old token to the exchange endpoint).
/// Shown to fail when the request hook attaches the bearer to every operation.
#[tokio::test]
async fn an_operation_the_spec_leaves_unauthenticated_never_carries_the_token() {
    use support::raw_http::{http_response, serve_once};
    use wavekat_platform_client::wire::CliCodeExchangeRequest;
    let (url, captured) = serve_once(http_response(
        "400 Bad Request",
        "application/json",
        r#"{"error":"bad code"}"#,
    ))
    .await;
    let client = Client::builder(&url)
        .token(Token::new("wk_held_by_the_cli"))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let request = CliCodeExchangeRequest::new("ABCD-1234".into(), "state-1".into());
    let err = client.exchange_cli_code(&request).await.unwrap_err();
    assert_eq!(err.status(), Some(400), "{err:?}");
    let captured = captured.await.unwrap();
    assert_eq!(captured.header("authorization"), None, "{}", captured.head);
}
