//! The dev-platform emulator's deterministic fault injection over real HTTP.
#![cfg(feature = "dev-platform")]

use reqwest::StatusCode;
use serde_json::json;
use wavekat_platform_client::dev_platform::{DevPlatform, DevPlatformOptions, Faults};

/// What one request came back as.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Answered(u16),
    ConnectionError,
}

async fn start(options: DevPlatformOptions) -> DevPlatform {
    DevPlatform::start(options)
        .await
        .expect("the emulator starts")
}

/// A client that never reuses a connection, so one dropped connection affects one request.
fn fresh_client() -> reqwest::Client {
    wavekat_platform_client::dev_platform::http_client_builder()
        .expect("an HTTP client")
        .pool_max_idle_per_host(0)
        .build()
        .expect("a client")
}

async fn outcomes(platform: &DevPlatform, n: usize) -> Vec<Outcome> {
    let client = fresh_client();
    let mut seen = Vec::with_capacity(n);
    for _ in 0..n {
        let result = client
            .get(format!("{}/api/me", platform.base_url()))
            .bearer_auth(platform.token().expose())
            .send()
            .await;
        seen.push(match result {
            Ok(response) => Outcome::Answered(response.status().as_u16()),
            Err(_) => Outcome::ConnectionError,
        });
    }
    seen
}

#[tokio::test]
async fn the_same_seed_gives_the_same_fault_sequence() {
    let a = start(DevPlatformOptions::default().faults(Faults::new(0.5, 1234))).await;
    let b = start(DevPlatformOptions::default().faults(Faults::new(0.5, 1234))).await;
    let seq_a = outcomes(&a, 48).await;
    let seq_b = outcomes(&b, 48).await;
    assert_eq!(seq_a, seq_b);
    for kind in [
        Outcome::Answered(200),
        Outcome::Answered(503),
        Outcome::Answered(429),
        Outcome::ConnectionError,
    ] {
        assert!(
            seq_a.contains(&kind),
            "{kind:?} never occurred in {seq_a:?}"
        );
    }
}

#[tokio::test]
async fn a_different_seed_gives_a_different_fault_sequence() {
    let a = start(DevPlatformOptions::default().faults(Faults::new(0.5, 1))).await;
    let b = start(DevPlatformOptions::default().faults(Faults::new(0.5, 2))).await;
    assert_ne!(outcomes(&a, 48).await, outcomes(&b, 48).await);
}

#[tokio::test]
async fn rate_zero_injects_nothing() {
    let platform = start(DevPlatformOptions::default().faults(Faults::new(0.0, 9))).await;
    assert!(outcomes(&platform, 20)
        .await
        .iter()
        .all(|o| *o == Outcome::Answered(200)));
}

#[tokio::test]
async fn an_injected_429_carries_the_configured_retry_after() {
    let platform =
        start(DevPlatformOptions::default().faults(Faults::new(1.0, 5).retry_after_secs(7))).await;
    let client = fresh_client();
    for _ in 0..60 {
        let Ok(response) = client
            .get(format!("{}/api/me", platform.base_url()))
            .send()
            .await
        else {
            continue;
        };
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            assert_eq!(retry_after.as_deref(), Some("7"));
            let body: serde_json::Value = response.json().await.expect("a JSON body");
            assert!(body["error"].is_string());
            return;
        }
    }
    panic!("no 429 in 60 requests at rate 1.0");
}

#[tokio::test]
async fn a_dropped_connection_reaches_the_client_as_a_connection_error_not_a_response() {
    let platform = start(DevPlatformOptions::default().faults(Faults::new(1.0, 11))).await;
    let client = fresh_client();
    let mut drops = 0;
    for _ in 0..60 {
        match client
            .get(format!("{}/api/me", platform.base_url()))
            .send()
            .await
        {
            Ok(response) => {
                assert!(
                    matches!(response.status().as_u16(), 429 | 503),
                    "at rate 1.0 every answer is a fault, got {}",
                    response.status()
                );
                // A whole answer, never the head of a dropped one.
                let body: serde_json::Value = response.json().await.expect("a complete body");
                assert!(body["error"].is_string());
            }
            Err(e) => {
                assert!(e.status().is_none());
                drops += 1;
            }
        }
    }
    assert!(
        drops > 0,
        "no dropped connection in 60 requests at rate 1.0"
    );
}

#[tokio::test]
async fn the_sign_in_page_is_never_faulted() {
    let platform = start(DevPlatformOptions::default().faults(Faults::new(1.0, 3))).await;
    let client = fresh_client();
    for _ in 0..20 {
        let response = client
            .get(format!(
                "{}/cli-login?callback=http%3A%2F%2F127.0.0.1%3A9%2Fcallback&state=s",
                platform.base_url()
            ))
            .send()
            .await
            .expect("the page answers");
        assert_eq!(response.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn a_faulted_sync_writes_nothing() {
    let dir = std::env::temp_dir().join(format!(
        "wk-dev-platform-test-faults-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let db = dir.join("platform.sqlite");

    let faulty = start(
        DevPlatformOptions::default()
            .db_path(&db)
            .faults(Faults::new(1.0, 21)),
    )
    .await;
    let client = fresh_client();
    let body = json!({"items": [{
        "sourceId": "c1", "accountId": "a", "direction": "inbound", "party": "+1",
        "ringAt": "2026-05-16T10:00:00Z", "endAt": "2026-05-16T10:01:00Z",
        "disposition": "missed", "endReason": "missed", "schemaVersion": 1
    }]});
    for _ in 0..20 {
        let _ = client
            .post(format!("{}/api/voice/calls/sync", faulty.base_url()))
            .bearer_auth(faulty.token().expose())
            .json(&body)
            .send()
            .await;
    }
    faulty.shutdown().await;

    let healthy = start(DevPlatformOptions::default().db_path(&db)).await;
    let page: serde_json::Value = client
        .get(format!(
            "{}/api/voice/calls?includeDeleted=true",
            healthy.base_url()
        ))
        .bearer_auth(healthy.token().expose())
        .send()
        .await
        .expect("an HTTP answer")
        .json()
        .await
        .expect("a page");
    assert_eq!(page["items"], json!([]));
    healthy.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_rate_outside_zero_to_one_is_refused_at_start() {
    for rate in [-0.1, 1.5, f64::NAN] {
        assert!(
            DevPlatform::start(DevPlatformOptions::default().faults(Faults::new(rate, 0)))
                .await
                .is_err(),
            "{rate}"
        );
    }
}
