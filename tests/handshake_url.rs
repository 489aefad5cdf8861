//! The sign-in URLs, pinned: loopback (§6.1) and headless code (§6.2).

use std::time::Duration;

use wavekat_platform_client::{
    signin::{
        code_login, loopback_handshake, CodeLoginOptions, HandshakeOptions, PendingHandshake,
    },
    Error,
};

const BASE: &str = "https://platform.wavekat.com";

/// A port that was free a moment ago.
fn free_port() -> u16 {
    let probe = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a probe listener");
    probe.local_addr().expect("probe address").port()
}

/// A handshake pinned to a port that was free: between the probe and the handshake's bind,
/// another test in this binary may take the port (tests run in parallel), so a port found taken
/// is replaced by a fresh one; any other failure fails the test.
async fn handshake_on_a_free_port(options: HandshakeOptions) -> (u16, PendingHandshake) {
    for _ in 0..20 {
        let port = free_port();
        match loopback_handshake(BASE, options.clone().port(port)).await {
            Ok(pending) => return (port, pending),
            Err(Error::Io { io, .. }) if io.kind() == std::io::ErrorKind::AddrInUse => continue,
            Err(e) => panic!("handshake: {e:?}"),
        }
    }
    panic!("no free loopback port in 20 tries");
}

fn query_of(url: &str) -> &str {
    url.split_once('?').map(|(_, query)| query).unwrap_or("")
}

fn is_url_safe_base64(text: &str) -> bool {
    text.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

#[tokio::test]
async fn sign_in_url_sends_callback_state_client_source_in_order_form_encoded() {
    let options = HandshakeOptions::default()
        .client("wavekat voice")
        .source("studio mac:1/2");
    let (port, pending) = handshake_on_a_free_port(options).await;
    let expected = format!(
        "https://platform.wavekat.com/cli-login?callback=http%3A%2F%2F127.0.0.1%3A{port}%2Fcallback\
         &state={}&client=wavekat+voice&source=studio+mac%3A1%2F2",
        pending.state()
    );
    assert_eq!(pending.url(), expected);
}

#[tokio::test]
async fn callback_url_is_http_127_0_0_1_on_the_pinned_port() {
    let (port, pending) = handshake_on_a_free_port(HandshakeOptions::default()).await;
    assert_eq!(
        pending.callback_url(),
        format!("http://127.0.0.1:{port}/callback")
    );
}

#[tokio::test]
async fn ephemeral_port_is_taken_when_none_is_pinned() {
    let pending = loopback_handshake(BASE, HandshakeOptions::default())
        .await
        .expect("handshake");
    let port: u16 = pending
        .callback_url()
        .strip_prefix("http://127.0.0.1:")
        .and_then(|rest| rest.strip_suffix("/callback"))
        .and_then(|port| port.parse().ok())
        .expect("callback URL carries a port");
    assert_ne!(port, 0);
    tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("the listener accepts on the callback port");
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn listener_is_not_reachable_on_another_address() {
    let (port, _pending) = handshake_on_a_free_port(HandshakeOptions::default()).await;
    // 127.0.0.2 reaches this host but not a socket bound to 127.0.0.1 alone.
    let other = tokio::net::TcpStream::connect(("127.0.0.2", port)).await;
    assert!(other.is_err(), "a listener bound wider than 127.0.0.1");
}

#[tokio::test]
async fn client_defaults_to_wavekat_platform_client() {
    let pending = loopback_handshake(BASE, HandshakeOptions::default())
        .await
        .expect("handshake");
    assert!(query_of(pending.url()).contains("&client=wavekat-platform-client"));
}

#[tokio::test]
async fn source_defaults_to_the_hostname_environment_variable() {
    // The only test in this binary that depends on HOSTNAME's value.
    std::env::set_var("HOSTNAME", "build box:7");
    let pending = loopback_handshake(BASE, HandshakeOptions::default())
        .await
        .expect("handshake");
    assert!(
        pending.url().ends_with("&source=build+box%3A7"),
        "{}",
        pending.url()
    );
}

#[tokio::test]
async fn empty_source_omits_the_source_parameter() {
    let pending = loopback_handshake(BASE, HandshakeOptions::default().source(""))
        .await
        .expect("handshake");
    assert!(!pending.url().contains("source="), "{}", pending.url());
}

#[tokio::test]
async fn without_source_omits_the_source_parameter() {
    let pending = loopback_handshake(BASE, HandshakeOptions::default().without_source())
        .await
        .expect("handshake");
    assert!(!pending.url().contains("source="), "{}", pending.url());
}

#[tokio::test]
async fn every_trailing_slash_of_the_base_is_stripped() {
    let pending = loopback_handshake(
        "https://platform.wavekat.com///",
        HandshakeOptions::default(),
    )
    .await
    .expect("handshake");
    assert!(pending
        .url()
        .starts_with("https://platform.wavekat.com/cli-login?callback="));
}

#[tokio::test]
async fn base_path_prefix_is_kept() {
    let pending = loopback_handshake("https://example.com/wk/", HandshakeOptions::default())
        .await
        .expect("handshake");
    assert!(pending
        .url()
        .starts_with("https://example.com/wk/cli-login?callback="));
}

#[tokio::test]
async fn base_without_a_scheme_is_refused() {
    let refused = loopback_handshake("platform.wavekat.com", HandshakeOptions::default()).await;
    assert!(
        matches!(refused, Err(Error::InvalidInput(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn base_with_a_non_http_scheme_is_refused() {
    let refused =
        loopback_handshake("ftp://platform.wavekat.com", HandshakeOptions::default()).await;
    assert!(
        matches!(refused, Err(Error::InvalidInput(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn state_is_32_url_safe_base64_characters() {
    let pending = loopback_handshake(BASE, HandshakeOptions::default())
        .await
        .expect("handshake");
    assert_eq!(pending.state().len(), 32);
    assert!(is_url_safe_base64(pending.state()), "{}", pending.state());
}

#[tokio::test]
async fn each_handshake_gets_its_own_state() {
    let first = loopback_handshake(BASE, HandshakeOptions::default())
        .await
        .expect("handshake");
    let second = loopback_handshake(BASE, HandshakeOptions::default())
        .await
        .expect("handshake");
    assert_ne!(first.state(), second.state());
}

#[tokio::test]
async fn pinned_port_already_in_use_is_an_io_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("address").port();
    let refused = loopback_handshake(BASE, HandshakeOptions::default().port(port)).await;
    assert!(matches!(refused, Err(Error::Io { .. })), "{refused:?}");
}

#[tokio::test]
async fn zero_read_timeout_is_refused_naming_the_field() {
    let options = HandshakeOptions::default().read_timeout(Duration::ZERO);
    let refused = loopback_handshake(BASE, options).await;
    assert!(
        matches!(&refused, Err(Error::InvalidInput(message)) if message.contains("read_timeout")),
        "{refused:?}"
    );
}

#[test]
fn code_login_url_matches_the_pinned_example_shape() {
    let options = CodeLoginOptions::default()
        .client("wavekat-cli")
        .source("my box");
    let login = code_login("https://platform.wavekat.com/", options).expect("code login");
    let expected = format!(
        "https://platform.wavekat.com/cli-login?mode=code&state={}&client=wavekat-cli&source=my+box",
        login.state()
    );
    assert_eq!(login.url(), expected);
}

#[test]
fn code_login_state_is_32_alphanumerics() {
    let login = code_login(BASE, CodeLoginOptions::default()).expect("code login");
    assert_eq!(login.state().len(), 32);
    assert!(login.state().bytes().all(|b| b.is_ascii_alphanumeric()));
}

#[test]
fn code_login_client_defaults_to_wavekat_platform_client() {
    let login = code_login(BASE, CodeLoginOptions::default()).expect("code login");
    assert!(query_of(login.url()).contains("&client=wavekat-platform-client"));
}

#[test]
fn code_login_without_source_omits_the_source_parameter() {
    let login = code_login(BASE, CodeLoginOptions::default().without_source()).expect("code login");
    assert!(!login.url().contains("source="), "{}", login.url());
}

#[test]
fn code_login_keeps_the_stripped_base_for_the_exchange() {
    let login = code_login(
        "https://platform.wavekat.com//",
        CodeLoginOptions::default(),
    )
    .expect("code login");
    assert_eq!(login.base_url(), "https://platform.wavekat.com");
}

#[test]
fn code_login_has_no_callback_parameter() {
    let login = code_login(BASE, CodeLoginOptions::default()).expect("code login");
    assert!(!login.url().contains("callback="), "{}", login.url());
}
