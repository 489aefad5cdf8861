//! The "paste the redirect URL" fallback (§6.3): the pasted callback decides the sign-in exactly
//! once, racing the loopback listener.

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use wavekat_platform_client::{
    signin::{loopback_handshake, HandshakeOptions, PendingHandshake},
    Error,
};

async fn pending() -> PendingHandshake {
    loopback_handshake(
        "https://platform.example",
        HandshakeOptions::default().without_source(),
    )
    .await
    .expect("bind the sign-in listener")
}

fn redirect(pending: &PendingHandshake, query: &str) -> String {
    format!("{}?{query}", pending.callback_url())
}

#[tokio::test]
async fn pasted_callback_signs_in_with_token_and_login() {
    let pending = pending().await;
    let pasted = redirect(
        &pending,
        &format!("token=wk_pasted&state={}&login=octocat", pending.state()),
    );
    let outcome = pending.complete_from_redirect(&pasted).expect("signed in");
    assert_eq!(outcome.token.expose(), "wk_pasted");
    assert_eq!(outcome.login.as_deref(), Some("octocat"));
}

#[tokio::test]
async fn whitespace_around_the_pasted_url_is_ignored() {
    let pending = pending().await;
    let pasted = redirect(
        &pending,
        &format!("token=wk_pasted&state={}", pending.state()),
    );
    let outcome = pending
        .complete_from_redirect(&format!("  {pasted}\r\n"))
        .expect("signed in");
    assert_eq!(outcome.token.expose(), "wk_pasted");
}

#[tokio::test]
async fn pasting_resolves_the_running_wait_with_the_same_outcome() {
    let pending = pending().await;
    let handle = pending.handle();
    let pasted = redirect(
        &pending,
        &format!("token=wk_pasted&state={}&login=octocat", pending.state()),
    );
    let waiting = tokio::spawn(pending.wait());
    let pasted_outcome = handle.complete_from_redirect(&pasted).expect("signed in");
    let waited = waiting.await.expect("wait task").expect("signed in");
    assert_eq!(waited.token, pasted_outcome.token);
    assert_eq!(waited.login.as_deref(), Some("octocat"));
}

#[tokio::test]
async fn pasting_before_wait_makes_wait_return_the_same_outcome() {
    let pending = pending().await;
    let pasted = redirect(
        &pending,
        &format!("token=wk_pasted&state={}", pending.state()),
    );
    pending.complete_from_redirect(&pasted).expect("signed in");
    let waited = pending.wait().await.expect("signed in");
    assert_eq!(waited.token.expose(), "wk_pasted");
}

#[tokio::test]
async fn pasted_url_with_a_wrong_state_is_refused_as_state_mismatch_and_the_sign_in_goes_on() {
    let pending = pending().await;
    let pasted = redirect(&pending, "token=wk_forged&state=forged");
    let refused = pending.complete_from_redirect(&pasted);
    assert!(
        matches!(refused, Err(Error::HandshakeStateMismatch)),
        "{refused:?}"
    );
    let genuine = redirect(
        &pending,
        &format!("token=wk_pasted&state={}", pending.state()),
    );
    let outcome = pending.complete_from_redirect(&genuine).expect("signed in");
    assert_eq!(outcome.token.expose(), "wk_pasted");
    let waited = pending
        .wait()
        .await
        .expect("the wait ends with the genuine outcome");
    assert_eq!(waited.token.expose(), "wk_pasted");
}

#[tokio::test]
async fn pasted_error_url_is_cancelled_with_the_reason() {
    let pending = pending().await;
    let pasted = redirect(
        &pending,
        &format!("error=access_denied&state={}", pending.state()),
    );
    let refused = pending.complete_from_redirect(&pasted);
    assert!(
        matches!(&refused, Err(Error::HandshakeCancelled { reason }) if reason == "access_denied"),
        "{refused:?}"
    );
    let ended = pending.wait().await;
    assert!(
        matches!(&ended, Err(Error::HandshakeCancelled { reason }) if reason == "access_denied"),
        "{ended:?}"
    );
}

#[tokio::test]
async fn pasted_text_that_is_not_a_url_is_a_bad_request_and_the_sign_in_goes_on() {
    let pending = pending().await;
    let refused = pending.complete_from_redirect("wk_just_a_token");
    assert!(
        matches!(refused, Err(Error::InvalidInput(_))),
        "{refused:?}"
    );
    let pasted = redirect(
        &pending,
        &format!("token=wk_pasted&state={}", pending.state()),
    );
    let outcome = pending.complete_from_redirect(&pasted).expect("signed in");
    assert_eq!(outcome.token.expose(), "wk_pasted");
}

#[tokio::test]
async fn pasted_url_for_another_port_is_a_bad_request() {
    let pending = pending().await;
    let other_port = format!(
        "http://127.0.0.1:1/callback?token=wk_pasted&state={}",
        pending.state()
    );
    let refused = pending.complete_from_redirect(&other_port);
    assert!(
        matches!(refused, Err(Error::InvalidInput(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn pasted_url_for_another_path_is_a_bad_request() {
    let pending = pending().await;
    let wrong_path = redirect(
        &pending,
        &format!("token=wk_pasted&state={}", pending.state()),
    )
    .replace("/callback", "/favicon.ico");
    let refused = pending.complete_from_redirect(&wrong_path);
    assert!(
        matches!(refused, Err(Error::InvalidInput(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn pasted_callback_without_a_token_is_a_bad_request() {
    let pending = pending().await;
    let pasted = redirect(&pending, &format!("state={}", pending.state()));
    let refused = pending.complete_from_redirect(&pasted);
    assert!(
        matches!(&refused, Err(Error::InvalidInput(message)) if message.contains("token")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn refusal_messages_never_contain_the_pasted_token() {
    let pending = pending().await;
    let refused = pending
        .complete_from_redirect("http://127.0.0.1:1/callback?token=wk_s3cr3tvalue&state=x")
        .expect_err("another port is refused");
    assert!(!refused.to_string().contains("s3cr3t"), "{refused}");
    assert!(!format!("{refused:?}").contains("s3cr3t"), "{refused:?}");
}

#[tokio::test]
async fn a_second_paste_is_refused_once_the_sign_in_has_an_outcome() {
    let pending = pending().await;
    let pasted = redirect(
        &pending,
        &format!("token=wk_pasted&state={}", pending.state()),
    );
    pending.complete_from_redirect(&pasted).expect("signed in");
    let again = pending.complete_from_redirect(&pasted);
    assert!(matches!(again, Err(Error::InvalidInput(_))), "{again:?}");
}

#[tokio::test]
async fn paste_after_the_listener_signed_in_is_refused() {
    let pending = pending().await;
    let handle = pending.handle();
    let callback = pending.callback_url().to_owned();
    let state = pending.state().to_owned();
    let addr = callback
        .trim_start_matches("http://")
        .trim_end_matches("/callback")
        .to_owned();
    let waiting = tokio::spawn(pending.wait());

    let mut browser = TcpStream::connect(addr.as_str()).await.expect("connect");
    let request =
        format!("GET /callback?token=wk_loopback&state={state} HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    browser
        .write_all(request.as_bytes())
        .await
        .expect("send the callback");
    let mut answer = Vec::new();
    browser.read_to_end(&mut answer).await.expect("answer");
    let outcome = waiting.await.expect("wait task").expect("signed in");
    assert_eq!(outcome.token.expose(), "wk_loopback");

    let late = handle.complete_from_redirect(&format!("{callback}?token=wk_pasted&state={state}"));
    assert!(matches!(late, Err(Error::InvalidInput(_))), "{late:?}");
}

#[tokio::test]
async fn paste_after_cancel_is_refused() {
    let mut pending = pending().await;
    let pasted = redirect(
        &pending,
        &format!("token=wk_pasted&state={}", pending.state()),
    );
    pending.cancel();
    let refused = pending.complete_from_redirect(&pasted);
    assert!(
        matches!(refused, Err(Error::InvalidInput(_))),
        "{refused:?}"
    );
}
