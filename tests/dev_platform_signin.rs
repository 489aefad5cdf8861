//! The dev-platform emulator's browser sign-in over real HTTP: the `/cli-login` page, its
//! Approve and Cancel decisions, auto-approve, and the one-time code exchange.
#![cfg(feature = "dev-platform")]

use reqwest::header::LOCATION;
use reqwest::{redirect, StatusCode};
use serde_json::{json, Value};
use url::Url;
use wavekat_platform_client::dev_platform::{DevPlatform, DevPlatformOptions};

const CALLBACK: &str = "http://127.0.0.1:48213/callback";
const STATE: &str = "c3RhdGUtZm9yLXRoZS1zaWduLWluLXRlc3Q";

async fn start(options: DevPlatformOptions) -> DevPlatform {
    DevPlatform::start(options)
        .await
        .expect("the emulator starts")
}

fn no_redirects() -> reqwest::Client {
    wavekat_platform_client::dev_platform::http_client_builder()
        .expect("an HTTP client")
        .redirect(redirect::Policy::none())
        .build()
        .expect("a client")
}

fn query(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

async fn get_page(platform: &DevPlatform, pairs: &[(&str, &str)]) -> reqwest::Response {
    no_redirects()
        .get(format!(
            "{}/cli-login?{}",
            platform.base_url(),
            query(pairs)
        ))
        .send()
        .await
        .expect("an HTTP answer")
}

/// Presses a button the way a browser does: loads the page for the same sign-in first and posts
/// the decision with the page's CSRF token (none when the page refused the request).
async fn decide(platform: &DevPlatform, pairs: &[(&str, &str)]) -> reqwest::Response {
    let sign_in: Vec<(&str, &str)> = pairs
        .iter()
        .copied()
        .filter(|(key, _)| *key != "decision")
        .collect();
    let page = get_page(platform, &sign_in)
        .await
        .text()
        .await
        .expect("a page");
    let csrf = csrf_on_page(&page);
    let mut form = pairs.to_vec();
    if let Some(csrf) = csrf.as_deref() {
        form.push(("csrf", csrf));
    }
    post_decision(platform, &form).await
}

/// Posts a decision form as-is (no page loaded first).
async fn post_decision(platform: &DevPlatform, pairs: &[(&str, &str)]) -> reqwest::Response {
    no_redirects()
        .post(format!("{}/cli-login/decision", platform.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(query(pairs))
        .send()
        .await
        .expect("an HTTP answer")
}

/// The value of the page's hidden `csrf` input, if it has one.
fn csrf_on_page(html: &str) -> Option<String> {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

fn location(response: &reqwest::Response) -> Url {
    let raw = response
        .headers()
        .get(LOCATION)
        .expect("a Location header")
        .to_str()
        .expect("ASCII");
    Url::parse(raw).expect("an absolute URL")
}

fn param(url: &Url, key: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

async fn me_login(platform: &DevPlatform, token: &str) -> (StatusCode, Value) {
    let response = wavekat_platform_client::dev_platform::http_client()
        .expect("an HTTP client")
        .get(format!("{}/api/me", platform.base_url()))
        .bearer_auth(token)
        .send()
        .await
        .expect("an HTTP answer");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// The code inside `<code id="code">…</code>`.
fn code_on_page(html: &str) -> String {
    let start = html.find("id=\"code\">").expect("a code element") + "id=\"code\">".len();
    let end = html[start..].find('<').expect("the element closes") + start;
    html[start..end].to_owned()
}

async fn exchange(platform: &DevPlatform, code: &str, state: &str) -> (StatusCode, Value) {
    let response = wavekat_platform_client::dev_platform::http_client()
        .expect("an HTTP client")
        .post(format!(
            "{}/api/auth/cli/codes/exchange",
            platform.base_url()
        ))
        .json(&json!({"code": code, "state": state}))
        .send()
        .await
        .expect("an HTTP answer");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Presses Approve on the code-mode page and reads the code off the answer page.
async fn code_from_the_page(platform: &DevPlatform, state: &str) -> String {
    let response = decide(
        platform,
        &[
            ("mode", "code"),
            ("state", state),
            ("client", "wavekat-cli"),
            ("decision", "approve"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    code_on_page(&response.text().await.expect("a page"))
}

/// A one-time code for a code-mode sign-in with `state`, approved without the page.
async fn approved_code(platform: &DevPlatform, state: &str) -> String {
    let url = format!(
        "{}/cli-login?{}",
        platform.base_url(),
        query(&[
            ("mode", "code"),
            ("state", state),
            ("client", "wavekat-cli")
        ])
    );
    let approval = platform
        .approve_sign_in(&url)
        .await
        .expect("the sign-in is approved");
    approval.expose_code().expect("a one-time code").to_owned()
}

#[tokio::test]
async fn the_page_shows_client_and_source_escaped_with_approve_and_cancel_buttons() {
    let platform = start(DevPlatformOptions::default()).await;
    let response = get_page(
        &platform,
        &[
            ("callback", CALLBACK),
            ("state", STATE),
            ("client", "<b>evil</b> app"),
            ("source", "host \"quoted\" & co"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html")));
    let html = response.text().await.expect("a page");
    assert!(html.contains("&lt;b&gt;evil&lt;/b&gt; app"));
    assert!(!html.contains("<b>evil</b>"));
    assert!(html.contains("host &quot;quoted&quot; &amp; co"));
    assert!(html.contains("id=\"approve\""));
    assert!(html.contains("id=\"cancel\""));
}

#[tokio::test]
async fn a_non_loopback_callback_gets_a_400_page_without_buttons() {
    let platform = start(DevPlatformOptions::default()).await;
    for callback in [
        "https://127.0.0.1:48213/callback",
        "http://localhost:48213/callback",
        "http://evil.example:48213/callback",
        "http://127.0.0.1/callback",
        "javascript:alert(1)",
    ] {
        let response = get_page(&platform, &[("callback", callback), ("state", STATE)]).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{callback}");
        let html = response.text().await.expect("a page");
        assert!(!html.contains("id=\"approve\""), "{callback}");
    }
}

#[tokio::test]
async fn an_ipv6_loopback_callback_is_accepted() {
    let platform = start(DevPlatformOptions::default()).await;
    let response = get_page(
        &platform,
        &[
            ("callback", "http://[::1]:48213/callback"),
            ("state", STATE),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_request_without_state_gets_a_400_page() {
    let platform = start(DevPlatformOptions::default()).await;
    let response = get_page(&platform, &[("callback", CALLBACK)]).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn approving_redirects_to_the_callback_with_a_working_token_the_state_and_the_login() {
    let platform = start(DevPlatformOptions::default()).await;
    let response = decide(
        &platform,
        &[
            ("callback", CALLBACK),
            ("state", STATE),
            ("client", "wavekat-voice"),
            ("decision", "approve"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let to = location(&response);
    assert_eq!(
        format!("{}://{}{}", to.scheme(), to.authority(), to.path()),
        CALLBACK
    );
    assert_eq!(param(&to, "state").as_deref(), Some(STATE));
    assert_eq!(param(&to, "login").as_deref(), Some("dev"));
    let token = param(&to, "token").expect("a token");
    assert!(token.starts_with("wk_") && token.len() == 35, "{token}");
    let (status, me) = me_login(&platform, &token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["login"], "dev");
}

#[tokio::test]
async fn cancelling_redirects_with_access_denied_and_no_token() {
    let platform = start(DevPlatformOptions::default()).await;
    let response = decide(
        &platform,
        &[
            ("callback", CALLBACK),
            ("state", STATE),
            ("decision", "cancel"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let to = location(&response);
    assert_eq!(param(&to, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&to, "state").as_deref(), Some(STATE));
    assert_eq!(param(&to, "token"), None);
}

#[tokio::test]
async fn a_decision_posted_with_a_foreign_callback_is_refused() {
    let platform = start(DevPlatformOptions::default()).await;
    let response = decide(
        &platform,
        &[
            ("callback", "https://attacker.example/steal"),
            ("state", STATE),
            ("decision", "approve"),
        ],
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get(LOCATION).is_none());
}

#[tokio::test]
async fn auto_approve_redirects_at_once() {
    let platform = start(DevPlatformOptions::default().auto_approve(true)).await;
    let response = get_page(&platform, &[("callback", CALLBACK), ("state", STATE)]).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let to = location(&response);
    assert_eq!(param(&to, "state").as_deref(), Some(STATE));
    let token = param(&to, "token").expect("a token");
    assert_eq!(me_login(&platform, &token).await.0, StatusCode::OK);
}

#[tokio::test]
async fn auto_approve_still_refuses_a_bad_callback() {
    let platform = start(DevPlatformOptions::default().auto_approve(true)).await;
    let response = get_page(
        &platform,
        &[("callback", "http://evil.example:1/cb"), ("state", STATE)],
    )
    .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn code_mode_shows_a_code_that_trades_for_a_token_once() {
    let platform = start(DevPlatformOptions::default()).await;
    let page = get_page(
        &platform,
        &[
            ("mode", "code"),
            ("state", STATE),
            ("client", "wavekat-cli"),
        ],
    )
    .await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page
        .text()
        .await
        .expect("a page")
        .contains("id=\"approve\""));

    let code = code_from_the_page(&platform, STATE).await;
    assert_eq!(code.len(), 8);
    let (status, body) = exchange(&platform, &format!("  {code}\n"), STATE).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["login"], "dev");
    let token = body["token"].as_str().expect("a token");
    assert_eq!(me_login(&platform, token).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_code_used_twice_is_400_the_second_time() {
    let platform = start(DevPlatformOptions::default()).await;
    let code = approved_code(&platform, STATE).await;
    assert_eq!(exchange(&platform, &code, STATE).await.0, StatusCode::OK);
    let (status, body) = exchange(&platform, &code, STATE).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["error"].is_string());
}

#[tokio::test]
async fn a_code_with_the_wrong_state_is_400_and_stays_usable_with_the_right_one() {
    let platform = start(DevPlatformOptions::default()).await;
    let code = approved_code(&platform, STATE).await;
    assert_eq!(
        exchange(&platform, &code, "another-state").await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(exchange(&platform, &code, STATE).await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_code_never_issued_is_400() {
    let platform = start(DevPlatformOptions::default()).await;
    assert_eq!(
        exchange(&platform, "ABCDEFGH", STATE).await.0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn an_expired_code_is_400() {
    let dir =
        std::env::temp_dir().join(format!("wk-dev-platform-test-code-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let db = dir.join("platform.sqlite");
    let platform = start(DevPlatformOptions::default().db_path(&db)).await;
    let code = approved_code(&platform, STATE).await;
    let conn = rusqlite::Connection::open(&db).expect("the database opens");
    conn.execute("UPDATE login_codes SET expires_at = expires_at - 601", [])
        .expect("the code ages past ten minutes");
    assert_eq!(
        exchange(&platform, &code, STATE).await.0,
        StatusCode::BAD_REQUEST
    );
    drop(platform);
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn auto_approve_in_code_mode_shows_the_code_at_once() {
    let platform = start(DevPlatformOptions::default().auto_approve(true)).await;
    let page = get_page(&platform, &[("mode", "code"), ("state", STATE)]).await;
    assert_eq!(page.status(), StatusCode::OK);
    let code = code_on_page(&page.text().await.expect("a page"));
    assert_eq!(exchange(&platform, &code, STATE).await.0, StatusCode::OK);
}

#[tokio::test]
async fn cancelling_in_code_mode_issues_no_code() {
    let platform = start(DevPlatformOptions::default()).await;
    let response = decide(
        &platform,
        &[("mode", "code"), ("state", STATE), ("decision", "cancel")],
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(!response
        .text()
        .await
        .expect("a page")
        .contains("id=\"code\""));
}

#[tokio::test]
async fn a_malformed_exchange_body_is_400() {
    let platform = start(DevPlatformOptions::default()).await;
    let response = wavekat_platform_client::dev_platform::http_client()
        .expect("an HTTP client")
        .post(format!(
            "{}/api/auth/cli/codes/exchange",
            platform.base_url()
        ))
        .header("content-type", "application/json")
        .body("{\"code\":")
        .send()
        .await
        .expect("an HTTP answer");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_cross_site_form_post_without_the_pages_csrf_token_cannot_approve() {
    let platform = start(DevPlatformOptions::default()).await;
    for (mode, target) in [("callback", CALLBACK), ("mode", "code")] {
        let response = post_decision(
            &platform,
            &[(mode, target), ("state", STATE), ("decision", "approve")],
        )
        .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{mode}");
        assert!(response.headers().get(LOCATION).is_none());
        assert!(!response
            .text()
            .await
            .expect("a page")
            .contains("id=\"code\""));
    }
}

#[tokio::test]
async fn a_csrf_token_rendered_for_another_sign_in_cannot_approve_this_one() {
    let platform = start(DevPlatformOptions::default()).await;
    let page = get_page(
        &platform,
        &[("mode", "code"), ("state", "the-attackers-own")],
    )
    .await
    .text()
    .await
    .expect("a page");
    let csrf = csrf_on_page(&page).expect("the page carries a CSRF token");
    for form in [
        vec![
            ("mode", "code"),
            ("state", STATE),
            ("decision", "approve"),
            ("csrf", csrf.as_str()),
        ],
        vec![
            ("callback", CALLBACK),
            ("state", "the-attackers-own"),
            ("decision", "approve"),
            ("csrf", csrf.as_str()),
        ],
    ] {
        let response = post_decision(&platform, &form).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{form:?}");
    }
}

#[tokio::test]
async fn a_tampered_or_forged_csrf_token_is_refused() {
    let platform = start(DevPlatformOptions::default()).await;
    let page = get_page(&platform, &[("mode", "code"), ("state", STATE)])
        .await
        .text()
        .await
        .expect("a page");
    let csrf = csrf_on_page(&page).expect("the page carries a CSRF token");
    let (issued, mac) = csrf.split_once('.').expect("issued.mac");
    let flipped = format!(
        "{issued}.{}{}",
        if mac.starts_with('0') { "1" } else { "0" },
        &mac[1..]
    );
    let older = format!("{}.{mac}", issued.parse::<i64>().unwrap() - 1);
    for forged in [flipped.as_str(), older.as_str(), "0.00", "", "not-a-token"] {
        let response = post_decision(
            &platform,
            &[
                ("mode", "code"),
                ("state", STATE),
                ("decision", "approve"),
                ("csrf", forged),
            ],
        )
        .await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{forged:?}");
    }
}

/// Sends `request_line` with `Host: host` over raw TCP and returns the whole answer.
async fn raw(platform: &DevPlatform, request_line: &str, host: &str, body: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(platform.local_addr())
        .await
        .expect("connect");
    let request = format!(
        "{request_line}\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_dns_rebinding_page_cannot_load_the_sign_in_page_or_read_a_code() {
    let platform = start(DevPlatformOptions::default().auto_approve(true)).await;
    let port = platform.local_addr().port();
    let target = format!(
        "/cli-login?{}",
        query(&[("mode", "code"), ("state", STATE)])
    );
    for host in [
        format!("rebind.attacker.example:{port}"),
        format!("127.0.0.1.nip.io:{port}"),
        "127.0.0.1:1".to_owned(),
    ] {
        let answer = raw(&platform, &format!("GET {target} HTTP/1.1"), &host, "").await;
        assert!(answer.starts_with("HTTP/1.1 421"), "{host}: {answer}");
        assert!(!answer.contains("id=\"code\""), "{host}");
    }
    let own = raw(
        &platform,
        &format!("GET {target} HTTP/1.1"),
        &format!("localhost:{port}"),
        "",
    )
    .await;
    assert!(own.starts_with("HTTP/1.1 200"), "{own}");
    assert!(own.contains("id=\"code\""));
}

#[tokio::test]
async fn a_dns_rebinding_page_cannot_post_a_decision_even_with_a_valid_csrf_token() {
    let platform = start(DevPlatformOptions::default()).await;
    let port = platform.local_addr().port();
    let page = get_page(&platform, &[("mode", "code"), ("state", STATE)])
        .await
        .text()
        .await
        .expect("a page");
    let csrf = csrf_on_page(&page).expect("the page carries a CSRF token");
    let form = query(&[
        ("mode", "code"),
        ("state", STATE),
        ("decision", "approve"),
        ("csrf", &csrf),
    ]);
    let answer = raw(
        &platform,
        "POST /cli-login/decision HTTP/1.1",
        &format!("rebind.attacker.example:{port}"),
        &form,
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 421"), "{answer}");
    assert!(!answer.contains("id=\"code\""));
}
