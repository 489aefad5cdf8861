//! The sign-in helpers' secrets stay out of `Debug`, and the helpers refuse to run the sign-in
//! over plain http to another machine unless the caller opts in.

use wavekat_platform_client::signin::{
    code_login, loopback_handshake, CodeLoginOptions, HandshakeOptions,
};
use wavekat_platform_client::Error;

#[tokio::test]
async fn pending_handshake_debug_leaves_out_the_state_and_the_sign_in_url() {
    let pending = loopback_handshake(
        "https://platform.example",
        HandshakeOptions::default().without_source(),
    )
    .await
    .unwrap();
    let shown = format!("{pending:?} {:?}", pending.handle());
    assert!(!shown.contains(pending.state()), "{shown}");
    assert!(!shown.contains("state="), "{shown}");
    assert!(!shown.contains("cli-login"), "{shown}");
    assert!(shown.contains(pending.callback_url()), "{shown}");
}

#[test]
fn code_login_debug_leaves_out_the_state_and_the_url() {
    let login = code_login(
        "https://platform.example",
        CodeLoginOptions::default().without_source(),
    )
    .unwrap();
    let shown = format!("{login:?}");
    assert!(!shown.contains(login.state()), "{shown}");
    assert!(!shown.contains("state="), "{shown}");
    assert!(shown.contains("https://platform.example"), "{shown}");
}

#[tokio::test]
async fn an_opaque_token_without_a_wk_prefix_never_shows_in_debug_or_errors() {
    let pending = loopback_handshake(
        "https://platform.example",
        HandshakeOptions::default().without_source(),
    )
    .await
    .unwrap();
    let secret = "9f8e7d6c5b4a3928_17065f4e3d2c1b0a";
    // A pasted URL for another port is refused without echoing the token.
    let elsewhere = format!("http://127.0.0.1:1/callback?token={secret}&state=x");
    let refused = pending.complete_from_redirect(&elsewhere).unwrap_err();
    assert!(!format!("{refused} {refused:?}").contains("9f8e7d6c"));
    let genuine = format!(
        "{}?token={secret}&state={}",
        pending.callback_url(),
        pending.state()
    );
    let outcome = pending.complete_from_redirect(&genuine).unwrap();
    assert_eq!(outcome.token.expose(), secret);
    let shown = format!("{outcome:?}");
    assert!(!shown.contains("9f8e7d6c"), "{shown}");
    assert!(!shown.contains("17065f4e"), "{shown}");
}

#[tokio::test]
async fn loopback_handshake_refuses_a_plain_http_platform_on_another_machine() {
    let refused = loopback_handshake("http://platform.example", HandshakeOptions::default()).await;
    assert!(
        matches!(&refused, Err(Error::InvalidInput(message)) if message.contains("danger_allow_insecure_http")),
        "{refused:?}"
    );
    let allowed = loopback_handshake(
        "http://platform.example",
        HandshakeOptions::default()
            .without_source()
            .danger_allow_insecure_http(true),
    )
    .await;
    assert!(allowed.is_ok());
    let local = loopback_handshake(
        "http://127.0.0.1:9",
        HandshakeOptions::default().without_source(),
    )
    .await;
    assert!(local.is_ok());
}

#[test]
fn code_login_refuses_a_plain_http_platform_on_another_machine() {
    let refused = code_login("http://platform.example", CodeLoginOptions::default());
    assert!(
        matches!(refused, Err(Error::InvalidInput(_))),
        "{refused:?}"
    );
    let allowed = code_login(
        "http://platform.example",
        CodeLoginOptions::default()
            .without_source()
            .danger_allow_insecure_http(true),
    );
    assert!(allowed.is_ok());
    assert!(code_login(
        "http://localhost:8080",
        CodeLoginOptions::default().without_source()
    )
    .is_ok());
}
