//! Every error says what happened, names the thing involved and says what to do; a cause is in
//! `Display` or in `source()`, never both. Each case is one a new user hits, produced for real:
//! the emulator, a raw server or a closed port on 127.0.0.1, files on disk.

mod support;

use std::error::Error as StdError;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use support::raw_http::{http_response, serve_once, Reply};
use support::{minimal_call, minimal_recording};
use wavekat_platform_client::dev_platform::{self, DevPlatform, DevPlatformOptions};
use wavekat_platform_client::mobile::SignedEnvelope;
use wavekat_platform_client::signin::{
    code_login, loopback_handshake, CodeLoginOptions, HandshakeOptions,
};
use wavekat_platform_client::signing::{generate_master, issue_release_credential};
use wavekat_platform_client::sync::{
    PushError, Pusher, SetAsideReason, SqliteStore, VoiceCalls, VoiceRecordings,
};
use wavekat_platform_client::upload::RecordingBody;
use wavekat_platform_client::wire::VoiceCallDirection;
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
async fn a_release_signature_the_platform_refuses_says_to_check_the_credential_not_to_sign_in() {
    let platform = platform().await;
    let (foreign_master, _) = generate_master().unwrap();
    let foreign = issue_release_credential(foreign_master.expose(), "1.4.2").unwrap();
    let err = Client::send_install_heartbeat(platform.base_url(), "i-1", "1.4.2", None, &foreign)
        .await
        .expect_err("a credential from another master");
    assert_eq!(err.status(), Some(401), "{err:?}");
    assert!(
        matches!(err, Error::SignatureRefused { .. }),
        "the heartbeat carries no token by design, so no token was refused: {err:?}"
    );
    let text = err.to_string();
    assert!(
        text.contains("/api/voice/installs/heartbeat"),
        "names the URL: {text}"
    );
    assert!(
        text.contains("release credential was issued for this app version")
            && text.contains("signing in again does not help"),
        "says what to check: {text}"
    );
    assert!(!err.is_unauthorized(), "not a sign-in problem: {err:?}");
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

// --- A refused status says what it asks of the caller -------------------------------------------

#[tokio::test]
async fn a_base_url_with_a_wrong_path_prefix_says_to_check_the_base_url() {
    let platform = platform().await;
    let base = format!("{}/platform", platform.base_url());
    let client = Client::new(&base, platform.token().clone()).unwrap();
    let err = client
        .get_me()
        .await
        .expect_err("the emulator has no /platform prefix");
    assert_eq!(err.status(), Some(404), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&format!("{base}/api/me")),
        "names the URL: {text}"
    );
    assert!(
        text.contains("check the id") && text.contains("base URL is the platform's origin"),
        "says what to check: {text}"
    );
}

#[tokio::test]
async fn a_recording_of_the_wrong_length_says_its_bytes_must_match_size_bytes() {
    let platform = platform().await;
    let client = Client::new(platform.base_url(), platform.token().clone()).unwrap();
    let mut recording = minimal_recording();
    recording.size_bytes = 1000;
    client
        .sync::<VoiceRecordings>(&[recording.clone()])
        .await
        .unwrap();
    let err = client
        .upload_recording(&recording.source_id, RecordingBody::bytes(vec![0u8; 10]))
        .await
        .expect_err("10 bytes for a recording of 1000");
    assert_eq!(err.status(), Some(413), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&recording.source_id),
        "names the recording's URL: {text}"
    );
    assert!(
        text.contains("must be exactly its synced sizeBytes"),
        "says what to fix: {text}"
    );
}

// --- No chain repeats a segment -----------------------------------------------------------------

/// Every error this test can produce for real, labelled.
async fn every_reachable_error() -> Vec<(&'static str, Box<dyn StdError + Send + Sync>)> {
    let mut errors: Vec<(&'static str, Box<dyn StdError + Send + Sync>)> = Vec::new();
    errors.push((
        "upload of a missing file",
        Box::new(missing_file_upload().await.0),
    ));
    errors.push((
        "client without a token",
        Box::new(no_token_get_me().await.0),
    ));
    errors.push(("token with a newline", Box::new(built_with_token("wk_x\n"))));
    errors.push((
        "base URL ending in /api",
        Box::new(Client::new("https://platform.wavekat.com/api", Token::new("wk_x")).unwrap_err()),
    ));
    errors.push((
        "platform down mid-sync",
        Box::new(sync_against_a_closed_port(2).await.0),
    ));

    let platform = platform().await;
    let client = Client::new(platform.base_url(), platform.token().clone()).unwrap();
    let unknown = Client::new(platform.base_url(), Token::new("wk_unknown")).unwrap();
    errors.push((
        "unknown token",
        Box::new(unknown.get_me().await.unwrap_err()),
    ));
    let mut refused = vec![minimal_call(), minimal_call()];
    refused[1].source_id = String::new();
    errors.push((
        "a record the platform refuses",
        Box::new(client.sync::<VoiceCalls>(&refused).await.unwrap_err()),
    ));
    let mut invalid = minimal_call();
    invalid.direction = VoiceCallDirection::Unknown("sideways".into());
    errors.push((
        "a record the client refuses",
        Box::new(client.sync::<VoiceCalls>(&[invalid]).await.unwrap_err()),
    ));
    let mut short = minimal_recording();
    short.size_bytes = 1000;
    client.sync::<VoiceRecordings>(&[short.clone()]).await.ok();
    errors.push((
        "a reader shorter than its length",
        Box::new(
            client
                .upload_recording(
                    &short.source_id,
                    RecordingBody::reader(std::io::Cursor::new(vec![0u8; 10]), 1000),
                )
                .await
                .unwrap_err(),
        ),
    ));
    errors.push((
        "a bytes length the platform refuses",
        Box::new(
            client
                .upload_recording(&short.source_id, RecordingBody::bytes(vec![0u8; 10]))
                .await
                .unwrap_err(),
        ),
    ));
    errors.push((
        "a sourceId refused before sending",
        Box::new(
            client
                .upload_recording("..", RecordingBody::bytes(vec![0u8; 10]))
                .await
                .unwrap_err(),
        ),
    ));

    let revoked = DevPlatform::start(emulator()).await.unwrap();
    let revoked_client = Client::new(revoked.base_url(), revoked.token().clone()).unwrap();
    revoked_client.revoke_current_token().await.unwrap();
    let store = SqliteStore::in_memory().await.unwrap();
    store.add::<VoiceCalls>(&[minimal_call()]).await.unwrap();
    let stopped: PushError<_> = Pusher::new(revoked_client, store)
        .run_once()
        .await
        .unwrap_err();
    errors.push(("a pusher whose token was revoked", Box::new(stopped)));

    let dir = tempdir("store");
    errors.push((
        "a store that cannot open",
        Box::new(SqliteStore::open(&dir).await.unwrap_err()),
    ));

    for (label, reply) in [
        (
            "a redirect",
            Reply::Raw(
                "HTTP/1.1 302 Found\r\nLocation: https://elsewhere.example/login\r\n\
                 Content-Length: 0\r\nConnection: close\r\n\r\n"
                    .to_owned(),
            ),
        ),
        (
            "reauth required",
            http_response(
                "401 Unauthorized",
                "application/json",
                r#"{"error":"reauth_required"}"#,
            ),
        ),
        (
            "a body that does not decode",
            http_response("200 OK", "application/json", "<html>oops</html>"),
        ),
        (
            "a 404",
            http_response(
                "404 Not Found",
                "application/json",
                r#"{"error":"not found"}"#,
            ),
        ),
    ] {
        let (url, _c) = serve_once(reply).await;
        let err = Client::builder(&url)
            .token(Token::new("wk_x"))
            .retry_policy(RetryPolicy::none())
            .build()
            .unwrap()
            .get_me()
            .await
            .unwrap_err();
        errors.push((label, Box::new(err)));
    }
    let (url, _c) = serve_once(Reply::Hang).await;
    let timeout = Client::builder(&url)
        .token(Token::new("wk_x"))
        .retry_policy(RetryPolicy::none())
        .request_timeout(Duration::from_millis(200))
        .build()
        .unwrap()
        .get_me()
        .await
        .unwrap_err();
    errors.push(("a hung platform", Box::new(timeout)));

    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    errors.push((
        "a sign-in port in use",
        Box::new(
            loopback_handshake(
                "https://platform.wavekat.com",
                HandshakeOptions::default().port(port),
            )
            .await
            .map(|_| ())
            .unwrap_err(),
        ),
    ));
    let addr: SocketAddr = taken.local_addr().unwrap();
    let bind: dev_platform::Error = DevPlatform::start(emulator().listen(addr))
        .await
        .map(|_| ())
        .unwrap_err();
    errors.push(("an emulator address in use", Box::new(bind)));
    errors.push((
        "an emulator release version refused",
        Box::new(platform.issue_release_credential("has space").unwrap_err()),
    ));

    let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    errors.push((
        "an envelope checked against a malformed key",
        Box::new(
            SignedEnvelope::sign(b"hi".to_vec(), &key, 1)
                .verify_multibase("zzz-not-base58")
                .unwrap_err(),
        ),
    ));
    errors
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_error_chain_repeats_a_segment() {
    let errors = every_reachable_error().await;
    assert!(errors.len() >= 20, "{} errors", errors.len());
    for (label, error) in &errors {
        let error: &(dyn StdError + 'static) = error.as_ref();
        let parts = segments(error);
        for (i, earlier) in parts.iter().enumerate() {
            assert!(
                !earlier.trim().is_empty(),
                "{label}: an empty segment in {parts:?}"
            );
            for later in parts.iter().skip(i + 1) {
                assert!(
                    !earlier.contains(later.as_str()) && !later.contains(earlier.as_str()),
                    "{label}: {:?} repeats {:?} in {:#}",
                    later,
                    earlier,
                    chain(error)
                );
            }
        }
    }
    let with_a_source: Vec<&str> = errors
        .iter()
        .filter(|(_, e)| e.source().is_some())
        .map(|(label, _)| *label)
        .collect();
    assert_eq!(
        with_a_source,
        [
            "platform down mid-sync",
            "a record the platform refuses",
            "a pusher whose token was revoked"
        ],
        "only the wrapping errors (SyncIncomplete, PushError) chain to a source"
    );
}
