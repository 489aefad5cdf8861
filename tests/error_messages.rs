//! Every error says what happened, names the thing involved and says what to do; a cause is in
//! `Display` or in `source()`, never both. Each case is one a new user hits, produced for real:
//! the emulator, a raw server or a closed port on 127.0.0.1, files on disk.

mod support;

use std::error::Error as StdError;
use std::path::PathBuf;
use std::time::Duration;

use support::raw_http::{http_response, serve_once};
use support::{minimal_call, minimal_recording};
use wavekat_platform_client::dev_platform::{DevPlatform, DevPlatformOptions};
use wavekat_platform_client::signin::{code_login, CodeLoginOptions};
use wavekat_platform_client::signing::{generate_master, issue_release_credential};
use wavekat_platform_client::sync::{Pusher, SetAsideReason, SqliteStore, VoiceCalls};
use wavekat_platform_client::upload::RecordingBody;
use wavekat_platform_client::{Client, Error, RetryPolicy, Token};

/// The error and every `source()` below it, each as its own `Display`: the segments `anyhow`'s
/// `{:#}` joins with `": "`.
fn segments(error: &(dyn StdError + 'static)) -> Vec<String> {
    let mut out = vec![error.to_string()];
    let mut next = error.source();
    while let Some(inner) = next {
        out.push(inner.to_string());
        next = inner.source();
    }
    out
}

/// The whole chain as `anyhow` prints it with `{:#}`.
fn chain(error: &(dyn StdError + 'static)) -> String {
    segments(error).join(": ")
}

fn emulator() -> DevPlatformOptions {
    DevPlatformOptions::default()
}

async fn platform() -> DevPlatform {
    DevPlatform::start(emulator())
        .await
        .expect("start the emulator")
}

fn quick_retries(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        max_elapsed: Duration::from_secs(30),
    }
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wk-errors-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temp dir");
    dir
}

/// A loopback URL nothing listens on: a port bound a moment ago, then released.
fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    drop(listener);
    url
}

// --- A missing upload file ---------------------------------------------------------------------

async fn missing_file_upload() -> (Error, PathBuf, String) {
    let platform = platform().await;
    let client = Client::new(platform.base_url(), platform.token().clone()).expect("a client");
    let recording = minimal_recording();
    let path = tempdir("missing").join("no-such-recording.wav");
    let err = client
        .upload_recording(&recording.source_id, RecordingBody::file(&path))
        .await
        .expect_err("the file does not exist");
    (err, path, recording.source_id)
}

#[tokio::test]
async fn a_missing_upload_file_names_the_path_and_the_recording() {
    let (err, path, source_id) = missing_file_upload().await;
    let Error::UploadBody {
        source_id: named,
        path: Some(named_path),
        io,
    } = &err
    else {
        panic!("expected UploadBody with the path, got {err:?}");
    };
    assert_eq!(named, &source_id);
    assert_eq!(named_path, &path);
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
    let shown = err.to_string();
    assert!(shown.contains(&source_id), "names the recording: {shown}");
    assert!(
        shown.contains(&path.display().to_string()),
        "names the path: {shown}"
    );
    assert!(shown.contains(&io.to_string()), "says why: {shown}");
    assert!(
        shown.contains("check that the file exists"),
        "says what to do: {shown}"
    );
}

#[tokio::test]
async fn a_pusher_sets_a_vanished_recording_file_aside_naming_it_and_the_fix() {
    let platform = platform().await;
    let client = Client::new(platform.base_url(), platform.token().clone()).expect("a client");
    let store = SqliteStore::in_memory().await.expect("a store");
    let call = minimal_call();
    let recording = minimal_recording();
    assert_eq!(recording.call_source_id, call.source_id);
    let path = tempdir("vanished").join("gone.wav");
    store.add::<VoiceCalls>(&[call]).await.expect("queue");
    store
        .add_recording(&recording, &path)
        .await
        .expect("queue the recording");

    let summary = Pusher::new(client, store)
        .run_once()
        .await
        .expect("a cycle");

    let [(_, aside)] = summary.set_aside.as_slice() else {
        panic!("one recording set aside: {summary}");
    };
    assert_eq!(aside.source_id, recording.source_id);
    let SetAsideReason::Bytes { detail } = &aside.reason else {
        panic!("set aside for its bytes: {}", aside.reason);
    };
    assert!(
        detail.contains(&format!("cannot read {}", path.display())),
        "{detail}"
    );
    let shown = aside.reason.to_string();
    assert!(
        shown.contains("restore the file") && shown.contains("queue the recording again"),
        "says what to do: {shown}"
    );
}

// --- No token at all ---------------------------------------------------------------------------

async fn no_token_get_me() -> (Error, String) {
    let platform = platform().await;
    let client = Client::builder(platform.base_url())
        .build()
        .expect("a client without a token");
    let err = client
        .get_me()
        .await
        .expect_err("the platform needs a token");
    (err, format!("{}/api/me", platform.base_url()))
}

#[tokio::test]
async fn a_client_without_a_token_says_no_token_was_sent() {
    let (err, url) = no_token_get_me().await;
    assert!(
        matches!(&err, Error::TokenMissing { url: u, stripped: false } if *u == url),
        "{err:?}"
    );
    assert!(err.is_unauthorized() && err.status() == Some(401));
    let shown = err.to_string();
    assert!(shown.contains("no token was sent"), "{shown}");
    assert!(shown.contains(&url), "names the URL: {shown}");
    assert!(
        shown.contains("ClientBuilder::token"),
        "says what to do: {shown}"
    );
    assert!(!shown.contains("refused the token"), "{shown}");
}

#[tokio::test]
async fn a_token_the_platform_refuses_says_so_and_quotes_its_reason() {
    let platform = platform().await;
    let client = Client::new(platform.base_url(), Token::new("wk_not_issued_here")).unwrap();
    let err = client.get_me().await.expect_err("an unknown token");
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
    let shown = err.to_string();
    assert!(
        shown.contains("refused the token (unknown token)"),
        "{shown}"
    );
    assert!(shown.contains("sign in again"), "{shown}");
    assert!(
        !shown.contains("not_issued_here"),
        "the token leaked: {shown}"
    );
}

#[tokio::test]
async fn a_token_that_never_arrives_says_something_drops_the_header() {
    let (url, _captured) = serve_once(http_response(
        "401 Unauthorized",
        "application/json",
        r#"{"error":"unauthenticated","message":"missing Authorization header"}"#,
    ))
    .await;
    let client = Client::builder(&url)
        .token(Token::new("wk_sent_but_dropped"))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let err = client.get_me().await.expect_err("a 401");
    assert!(
        matches!(err, Error::TokenMissing { stripped: true, .. }),
        "{err:?}"
    );
    let shown = err.to_string();
    assert!(shown.contains("drops the Authorization header"), "{shown}");
    assert!(shown.contains(&format!("{url}/api/me")), "{shown}");
}

#[tokio::test]
async fn a_release_signed_401_is_not_blamed_on_a_missing_token() {
    let platform = platform().await;
    let (foreign_master, _) = generate_master().unwrap();
    let foreign = issue_release_credential(foreign_master.expose(), "1.4.2").unwrap();
    let err = Client::send_install_heartbeat(platform.base_url(), "i-1", "1.4.2", None, &foreign)
        .await
        .expect_err("a credential from another master");
    assert_eq!(err.status(), Some(401), "{err:?}");
    assert!(
        !matches!(err, Error::TokenMissing { .. }),
        "the heartbeat carries no token by design: {err}"
    );
}

// --- A token read from a file with its newline -------------------------------------------------

fn built_with_token(token: &str) -> Error {
    Client::new("https://platform.wavekat.com", Token::new(token))
        .expect_err("the token is refused")
}

#[test]
fn a_token_with_a_trailing_newline_says_to_trim_it() {
    let err = built_with_token("wk_s3cr3t_from_a_file\n");
    assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
    let shown = err.to_string();
    assert!(shown.contains("ends with a newline"), "{shown}");
    assert!(shown.contains("trim it"), "says what to do: {shown}");
    assert!(!shown.contains("s3cr3t"), "the token leaked: {shown}");
    assert!(!format!("{err:?}").contains("s3cr3t"));
    for (token, says) in [
        ("wk_s3cr3t\r\n", "ends with a newline"),
        ("wk_s3cr3t ", "ends with whitespace"),
        (" wk_s3cr3t", "starts with whitespace"),
        ("", "the token is empty"),
        ("wk_s3c\tr3t", "at byte 6 of 10"),
    ] {
        let shown = built_with_token(token).to_string();
        assert!(shown.contains(says), "{token:?}: {shown}");
        assert!(!shown.contains("s3c"), "{token:?} leaked: {shown}");
    }
}

// --- A base URL ending in /api ------------------------------------------------------------------

#[test]
fn a_base_url_ending_in_api_says_to_drop_it() {
    for base in [
        "https://platform.wavekat.com/api",
        "https://platform.wavekat.com/api/",
        "https://platform.wavekat.com/API",
    ] {
        let err = Client::new(base, Token::new("wk_x")).expect_err(base);
        assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
        let shown = err.to_string();
        assert!(shown.contains(base.trim_end_matches('/')), "{shown}");
        assert!(
            shown.to_lowercase().contains("/api/api/me"),
            "says where it would go: {shown}"
        );
        assert!(
            shown.contains("use \"https://platform.wavekat.com\""),
            "says what to use: {shown}"
        );
        let refused = code_login(base, CodeLoginOptions::default())
            .map(|_| ())
            .expect_err("the sign-in refuses it too");
        assert!(
            refused.to_string().to_lowercase().contains("drop the /api"),
            "{refused}"
        );
    }
    let prefixed = Client::new("https://proxy.example/tools/api", Token::new("wk_x"))
        .expect_err("a prefix ending in /api");
    assert!(
        prefixed
            .to_string()
            .contains("use \"https://proxy.example/tools\""),
        "{prefixed}"
    );
    for fine in [
        "https://platform.wavekat.com",
        "https://proxy.example/platform",
        "https://proxy.example/apis",
        "https://proxy.example/api/wavekat",
    ] {
        assert!(Client::new(fine, Token::new("wk_x")).is_ok(), "{fine}");
    }
}

// --- The platform down mid-sync -----------------------------------------------------------------

async fn sync_against_a_closed_port(attempts: u32) -> (Error, String) {
    let url = closed_port_url();
    let client = Client::builder(&url)
        .token(Token::new("wk_x"))
        .retry_policy(quick_retries(attempts))
        .build()
        .unwrap();
    let err = client
        .sync::<VoiceCalls>(&[minimal_call()])
        .await
        .expect_err("nothing listens");
    (err, url)
}

#[tokio::test]
async fn a_platform_that_is_down_names_the_refused_connection_and_the_attempts() {
    let (err, url) = sync_against_a_closed_port(3).await;
    let Error::Network {
        url: named,
        attempts,
        transport,
    } = err.cause()
    else {
        panic!("expected a network cause, got {err:?}");
    };
    assert_eq!(named, &format!("{url}/api/voice/calls/sync"));
    assert_eq!(*attempts, 3, "the policy allows 3 attempts");
    assert_eq!(err.attempts(), Some(3));
    assert!(transport.is_connect(), "{transport:?}");
    let cause = err.cause().to_string();
    assert!(
        cause.to_lowercase().contains("connection refused"),
        "names the root cause: {cause}"
    );
    assert!(cause.contains("(3 attempts)"), "{cause}");
    assert!(
        cause.contains(&format!("{url}/api/voice/calls/sync")),
        "{cause}"
    );
    assert!(
        cause.contains(&format!("check that the platform at {url} is running")),
        "says what to do: {cause}"
    );
    assert!(
        !cause.contains("error sending request"),
        "the HTTP stack's wrapper is not the cause: {cause}"
    );
    let whole = chain(&err);
    assert!(
        whole.starts_with("sync stopped after 0 of 1 records"),
        "{whole}"
    );
    assert!(whole.contains("send the other 1 again"), "{whole}");
}

#[tokio::test]
async fn a_request_that_is_not_retried_says_one_attempt() {
    let url = closed_port_url();
    let client = Client::builder(&url)
        .token(Token::new("wk_x"))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let err = client.get_me().await.expect_err("nothing listens");
    assert_eq!(err.attempts(), Some(1), "{err:?}");
    assert!(err.to_string().contains("(1 attempt)"), "{err}");
}
