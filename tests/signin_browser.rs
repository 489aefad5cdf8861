//! Sign-in in a real browser: headless Chromium, driven over WebDriver (chromedriver), clicks
//! Approve or Cancel on the emulator's real sign-in page, and the loopback handshake resolves.
//! `.ci/run` installs Debian's `chromium` and `chromium-driver` and sets WK_REQUIRE_BROWSER=1, so
//! in CI a missing browser fails; elsewhere the tests say they were skipped.
#![cfg(feature = "dev-platform")]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};
use wavekat_platform_client::dev_platform::{DevPlatform, DevPlatformOptions};
use wavekat_platform_client::{
    signin::{loopback_handshake, HandshakeOptions},
    Client, Error,
};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn browser_available() -> bool {
    let present =
        std::path::Path::new(CHROMIUM).exists() && std::path::Path::new(CHROMEDRIVER).exists();
    if !present && std::env::var_os("WK_REQUIRE_BROWSER").is_some() {
        panic!("WK_REQUIRE_BROWSER is set but {CHROMIUM} / {CHROMEDRIVER} are missing");
    }
    if !present {
        eprintln!("skipped: Chromium is not installed (bash .ci/run installs it)");
    }
    present
}

/// A chromedriver process and one headless Chromium session, both ended on drop.
struct Browser {
    driver: Child,
    http: reqwest::Client,
    session: String,
    base: String,
    profile: std::path::PathBuf,
}

impl Browser {
    async fn start() -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let base = format!("http://127.0.0.1:{port}");
        let http = wavekat_platform_client::dev_platform::http_client().expect("an HTTP client");
        for _ in 0..100 {
            if http.get(format!("{base}/status")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile =
            std::env::temp_dir().join(format!("wk-chromium-{}-{port}", std::process::id()));
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-quic", "--no-first-run", format!("--user-data-dir={}", profile.display())]
        }}}});
        let created: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = created["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_owned();
        Browser {
            driver,
            http,
            session,
            base,
            profile,
        }
    }

    async fn command(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let request = self.http.request(method, url);
        let request = if body.is_null() {
            request
        } else {
            request.json(&body)
        };
        let response: Value = request.send().await.unwrap().json().await.unwrap();
        response["value"].clone()
    }

    async fn open(&self, url: &str) {
        self.command(reqwest::Method::POST, "/url", json!({ "url": url }))
            .await;
    }

    async fn page_source(&self) -> String {
        self.command(reqwest::Method::GET, "/source", Value::Null)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn current_url(&self) -> String {
        self.command(reqwest::Method::GET, "/url", Value::Null)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn click(&self, css: &str) {
        let element = self
            .command(
                reqwest::Method::POST,
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        let id = element[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {element}"))
            .to_owned();
        self.command(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            json!({}),
        )
        .await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn approving_in_chromium_resolves_wait_with_a_working_token() {
    if !browser_available() {
        return;
    }
    let platform = DevPlatform::start(DevPlatformOptions::default())
        .await
        .unwrap();
    let browser = Browser::start().await;
    let pending = loopback_handshake(
        platform.base_url(),
        HandshakeOptions::default()
            .client("wavekat-browser-test")
            .source("ci box"),
    )
    .await
    .unwrap();
    browser.open(pending.url()).await;
    let consent = browser.page_source().await;
    assert!(
        consent.contains("wavekat-browser-test"),
        "the page shows which client signs in"
    );
    assert!(consent.contains("ci box"), "the page shows the source");
    let waiting = tokio::spawn(pending.wait());
    browser.click("#approve").await;
    let outcome = tokio::time::timeout(Duration::from_secs(30), waiting)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(outcome.login.as_deref(), Some(platform.login()));
    let me = Client::new(platform.base_url(), outcome.token)
        .unwrap()
        .get_me()
        .await
        .unwrap();
    assert_eq!(me.login, platform.login());
    assert!(
        browser.page_source().await.contains("signed in"),
        "the browser lands on the success page"
    );
    let landed = browser.current_url().await;
    assert!(
        landed.ends_with("/done") && !landed.contains("token="),
        "the address bar keeps a token-free URL: {landed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_in_chromium_resolves_wait_as_cancelled() {
    if !browser_available() {
        return;
    }
    let platform = DevPlatform::start(DevPlatformOptions::default())
        .await
        .unwrap();
    let browser = Browser::start().await;
    let pending = loopback_handshake(platform.base_url(), HandshakeOptions::default())
        .await
        .unwrap();
    browser.open(pending.url()).await;
    let waiting = tokio::spawn(pending.wait());
    browser.click("#cancel").await;
    let result = tokio::time::timeout(Duration::from_secs(30), waiting)
        .await
        .unwrap()
        .unwrap();
    assert!(
        matches!(result, Err(Error::HandshakeCancelled { .. })),
        "{result:?}"
    );
    let page = browser.page_source().await;
    assert!(page.to_lowercase().contains("cancelled"));
}
