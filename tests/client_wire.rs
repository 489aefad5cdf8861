//! What the client puts on the wire and how it reads answers, pinned against a raw TCP server:
//! headers, timeouts, decode errors, error classification, secrets.

mod support;

use std::time::Duration;

use support::raw_http::{http_response, serve_once, Reply};
use wavekat_platform_client::{upload::RecordingBody, Client, Error, RetryPolicy, Token};

const TOKEN: &str = "wk_wiretest_secret_value";

fn client(url: &str) -> Client {
    Client::builder(url)
        .token(Token::new(TOKEN))
        .retry_policy(RetryPolicy::none())
        .request_timeout(Duration::from_millis(500))
        .build()
        .unwrap()
}

const ME: &str = r#"{"id":"u1","login":"eason","name":"Eason","email":null,"role":"user"}"#;

#[tokio::test]
async fn requests_carry_bearer_and_default_user_agent_and_no_extra_headers() {
    let (url, captured) = serve_once(http_response("200 OK", "application/json", ME)).await;
    let me = client(&url).get_me().await.unwrap();
    assert_eq!(me.login, "eason");
    let req = captured.await.unwrap();
    assert_eq!(req.request_line(), "GET /api/me HTTP/1.1");
    assert_eq!(
        req.header("authorization").as_deref(),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(
        req.header("user-agent").as_deref(),
        Some(Client::DEFAULT_USER_AGENT)
    );
    assert_eq!(
        Client::DEFAULT_USER_AGENT,
        concat!("wavekat-platform-client/", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(
        req.header("api-version"),
        None,
        "progenitor's api-version header must not leak"
    );
}

#[tokio::test]
async fn a_custom_user_agent_replaces_the_default() {
    let (url, captured) = serve_once(http_response("200 OK", "application/json", ME)).await;
    Client::builder(&url)
        .token(Token::new(TOKEN))
        .user_agent("wavekat-cli/0.0.28")
        .build()
        .unwrap()
        .get_me()
        .await
        .unwrap();
    assert_eq!(
        captured.await.unwrap().header("user-agent").as_deref(),
        Some("wavekat-cli/0.0.28")
    );
}

#[tokio::test]
async fn trailing_slashes_are_stripped_and_a_path_prefix_is_kept() {
    let (url, captured) = serve_once(http_response("200 OK", "application/json", ME)).await;
    client(&format!("{url}/prefix///")).get_me().await.unwrap();
    assert_eq!(
        captured.await.unwrap().request_line(),
        "GET /prefix/api/me HTTP/1.1"
    );
}

#[tokio::test]
async fn recording_bytes_go_as_audio_wav_with_a_content_length() {
    let (url, captured) = serve_once(http_response("204 No Content", "text/plain", "")).await;
    let wav = vec![7u8; 200_000];
    client(&url)
        .upload_recording("rec-1", RecordingBody::bytes(wav.clone()))
        .await
        .unwrap();
    let req = captured.await.unwrap();
    assert_eq!(
        req.request_line(),
        "PUT /api/voice/recordings/rec-1/bytes HTTP/1.1"
    );
    assert_eq!(req.header("content-type").as_deref(), Some("audio/wav"));
    assert_eq!(req.header("content-length").as_deref(), Some("200000"));
    assert_eq!(req.header("transfer-encoding"), None);
    assert_eq!(req.body, wav);
}

#[tokio::test]
async fn revoke_treats_any_2xx_as_success() {
    let (url, captured) = serve_once(http_response(
        "200 OK",
        "application/json",
        r#"{"ok":true}"#,
    ))
    .await;
    client(&url).revoke_current_token().await.unwrap();
    let req = captured.await.unwrap();
    assert_eq!(
        req.request_line(),
        "POST /api/auth/cli/tokens/revoke-current HTTP/1.1"
    );
    assert!(req.body.is_empty());
}

#[tokio::test]
async fn a_hung_server_hits_the_request_timeout() {
    let (url, _captured) = serve_once(Reply::Hang).await;
    let err = client(&url).get_me().await.unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    assert!(err.is_timeout() && err.is_retryable());
    assert_eq!(err.url(), Some(format!("{url}/api/me").as_str()));
}

#[tokio::test]
async fn a_garbage_body_is_a_decode_error_naming_the_url() {
    let (url, _c) = serve_once(http_response(
        "200 OK",
        "application/json",
        "<html>oops</html>",
    ))
    .await;
    let err = client(&url).get_me().await.unwrap_err();
    match &err {
        Error::Decode { url: u, .. } => assert_eq!(u, &format!("{url}/api/me")),
        other => panic!("expected a decode error, got {other:?}"),
    }
    assert!(err.to_string().contains(&format!("{url}/api/me")));
}

#[tokio::test]
async fn unauthorized_401_keeps_url_and_body() {
    let (url, _c) = serve_once(http_response(
        "401 Unauthorized",
        "application/json",
        r#"{"error":"unauthenticated"}"#,
    ))
    .await;
    let err = client(&url).get_me().await.unwrap_err();
    match &err {
        Error::Unauthorized { url: u, body } => {
            assert_eq!(u, &format!("{url}/api/me"));
            assert_eq!(body, r#"{"error":"unauthenticated"}"#);
        }
        other => panic!("expected Unauthorized, got {other:?}"),
    }
    assert_eq!(err.status(), Some(401));
    assert!(err.is_unauthorized() && !err.is_retryable());
}

#[tokio::test]
async fn a_401_mentioning_reauth_required_anywhere_is_reauth_even_in_html() {
    let html = "<html><body><p>Proxy says: reauth_required</p></body></html>";
    let (url, _c) = serve_once(http_response("401 Unauthorized", "text/html", html)).await;
    let err = client(&url).get_me().await.unwrap_err();
    assert!(matches!(err, Error::ReauthRequired { .. }), "{err:?}");
    assert!(err.is_reauth_required());
}

#[tokio::test]
async fn other_statuses_carry_status_url_and_a_body_cut_to_500_bytes_on_a_char_boundary() {
    let body = format!("{}é{}", "x".repeat(499), "y".repeat(600));
    let (url, _c) = serve_once(http_response("418 I'm a teapot", "text/plain", &body)).await;
    let err = client(&url).get_me().await.unwrap_err();
    match &err {
        Error::Http {
            status,
            url: u,
            body,
            ..
        } => {
            assert_eq!(*status, 418);
            assert_eq!(u, &format!("{url}/api/me"));
            assert_eq!(
                body,
                &"x".repeat(499),
                "the 2-byte é straddling byte 500 is dropped whole"
            );
        }
        other => panic!("expected Http, got {other:?}"),
    }
    assert!(err
        .to_string()
        .starts_with(&format!("HTTP 418 {url}/api/me: xxx")));
}

#[tokio::test]
async fn a_refused_connection_is_a_network_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let err = client(&url).get_me().await.unwrap_err();
    assert!(err.is_network(), "{err:?}");
}

#[tokio::test]
async fn the_token_never_appears_in_errors_or_debug_output() {
    let (url, _c) = serve_once(http_response(
        "401 Unauthorized",
        "application/json",
        r#"{"error":"unauthenticated"}"#,
    ))
    .await;
    let c = client(&url);
    let err = c.get_me().await.unwrap_err();
    for shown in [format!("{err}"), format!("{err:?}"), format!("{c:?}")] {
        assert!(!shown.contains("wiretest_secret"), "token leaked: {shown}");
    }
}

#[test]
fn bad_configuration_is_refused_with_a_typed_error() {
    assert!(matches!(
        Client::new("not a url", Token::new("wk_x")),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        Client::new("ftp://example.com", Token::new("wk_x")),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        Client::new("https://example.com?a=b", Token::new("wk_x")),
        Err(Error::InvalidInput(_))
    ));
    let err = Client::new("https://example.com", Token::new("wk_bad\nvalue")).unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)));
    assert!(!err.to_string().contains("bad\nvalue"));
    assert!(Client::builder("https://example.com")
        .sync_batch_size(101)
        .build()
        .is_err());
    assert!(Client::builder("https://example.com")
        .sync_batch_size(0)
        .build()
        .is_err());
}

#[tokio::test]
async fn an_empty_recording_id_is_refused_before_sending() {
    let c = client("http://127.0.0.1:9");
    let err = c
        .upload_recording("", RecordingBody::bytes(vec![1, 2, 3]))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)));
}
