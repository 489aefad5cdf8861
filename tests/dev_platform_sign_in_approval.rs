//! `DevPlatform::approve_sign_in`: a test completing a sign-in as if it pressed Approve, without
//! a browser or scraping the consent page.
#![cfg(feature = "dev-platform")]

use wavekat_platform_client::dev_platform::{self, DevPlatform, DevPlatformOptions};
use wavekat_platform_client::signin::{
    code_login, loopback_handshake, CodeLoginOptions, HandshakeOptions,
};
use wavekat_platform_client::{Client, Error};

async fn start() -> DevPlatform {
    DevPlatform::start(DevPlatformOptions::default())
        .await
        .expect("the emulator starts")
}

async fn signed_in_login(platform: &DevPlatform, token: wavekat_platform_client::Token) -> String {
    Client::new(platform.base_url(), token)
        .expect("a client")
        .get_me()
        .await
        .expect("the token works")
        .login
}

#[tokio::test]
async fn approving_a_code_login_gives_a_code_that_exchange_trades_for_a_working_token() {
    let platform = start().await;
    let login = code_login(
        platform.base_url(),
        CodeLoginOptions::default().source("test-box"),
    )
    .expect("a code login");
    let approval = platform
        .approve_sign_in(login.url())
        .await
        .expect("the sign-in is approved");
    assert!(approval.expose_redirect_url().is_none());
    let code = approval.expose_code().expect("a one-time code");
    assert!(!format!("{approval:?}").contains(code), "{approval:?}");

    let outcome = login.exchange(code).await.expect("the code trades");
    assert_eq!(outcome.login.as_deref(), Some(platform.login()));
    assert_eq!(signed_in_login(&platform, outcome.token).await, "dev");

    // The same stored code as the page's: it works once.
    let again = login.exchange(code).await.expect_err("a code works once");
    assert!(matches!(again, Error::CodeRejected), "{again:?}");
}

#[tokio::test]
async fn approving_a_loopback_sign_in_gives_the_redirect_that_completes_the_handshake() {
    let platform = start().await;
    let pending = loopback_handshake(
        platform.base_url(),
        HandshakeOptions::default().source("test-box"),
    )
    .await
    .expect("a pending handshake");
    let approval = platform
        .approve_sign_in(pending.url())
        .await
        .expect("the sign-in is approved");
    assert!(approval.expose_code().is_none());
    let redirect = approval.expose_redirect_url().expect("a redirect");
    assert!(redirect.starts_with(pending.callback_url()), "{approval:?}");
    assert!(!format!("{approval:?}").contains("token"), "{approval:?}");

    let outcome = pending
        .complete_from_redirect(redirect)
        .expect("the redirect completes the sign-in");
    assert_eq!(signed_in_login(&platform, outcome.token).await, "dev");
}

#[tokio::test]
async fn a_sign_in_url_for_another_origin_is_refused_naming_it() {
    let platform = start().await;
    let port = platform.local_addr().port();
    let elsewhere = code_login("https://platform.wavekat.com", CodeLoginOptions::default())
        .expect("a code login");
    for (url, origin) in [
        (
            elsewhere.url().to_owned(),
            "https://platform.wavekat.com".to_owned(),
        ),
        (
            format!("http://evil.example:{port}/cli-login?mode=code&state=s"),
            format!("http://evil.example:{port}"),
        ),
        (
            format!("http://127.0.0.1:{}/cli-login?mode=code&state=s", port ^ 1),
            format!("http://127.0.0.1:{}", port ^ 1),
        ),
        (
            format!("https://127.0.0.1:{port}/cli-login?mode=code&state=s"),
            format!("https://127.0.0.1:{port}"),
        ),
    ] {
        match platform.approve_sign_in(&url).await {
            Err(dev_platform::Error::ForeignSignInUrl {
                origin: refused,
                emulator,
            }) => {
                assert_eq!(refused, origin);
                assert_eq!(emulator, platform.local_addr());
            }
            other => panic!("{url}: expected ForeignSignInUrl, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_url_the_page_would_refuse_is_refused_with_the_pages_reason() {
    let platform = start().await;
    let base = platform.base_url();
    for (url, reason) in [
        (format!("{base}/cli-login?mode=code"), "state is missing"),
        (
            format!("{base}/cli-login?callback=http%3A%2F%2Fevil.example%3A1%2Fcb&state=s"),
            "callback must be",
        ),
        (
            format!("{base}/cli-login?mode=magic&state=s"),
            "unknown mode",
        ),
        (format!("{base}/elsewhere?mode=code&state=s"), "path"),
        ("not a url".to_owned(), "not an absolute URL"),
    ] {
        match platform.approve_sign_in(&url).await {
            Err(dev_platform::Error::InvalidSignInUrl { reason: why }) => {
                assert!(why.contains(reason), "{url}: {why}");
            }
            other => panic!("{url}: expected InvalidSignInUrl, got {other:?}"),
        }
    }
}
