//! Retries: idempotent calls are retried within the policy's bounds; non-idempotent ones never.

mod support;

use std::sync::atomic::Ordering;
use std::time::Duration;

use support::raw_http::serve_status_forever;
use wavekat_platform_client::{sync::VoiceCalls, Client, Error, RetryPolicy, Token};

fn quick(attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts: attempts,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(5),
        max_elapsed: Duration::from_secs(30),
    }
}

fn client(url: &str, policy: RetryPolicy) -> Client {
    Client::builder(url)
        .token(Token::new("wk_retry_test"))
        .retry_policy(policy)
        .build()
        .unwrap()
}

#[tokio::test]
async fn an_idempotent_get_is_retried_up_to_max_attempts_then_reports_the_last_status() {
    let (url, requests) = serve_status_forever("503 Service Unavailable", "").await;
    let err = client(&url, quick(4)).get_me().await.unwrap_err();
    assert_eq!(requests.load(Ordering::SeqCst), 4);
    assert!(matches!(err, Error::Http { status: 503, .. }), "{err:?}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn a_sync_upsert_is_retried_because_it_is_idempotent() {
    let (url, requests) = serve_status_forever("502 Bad Gateway", "").await;
    let records = vec![support::minimal_call()];
    let err = client(&url, quick(3))
        .sync::<VoiceCalls>(&records)
        .await
        .unwrap_err();
    assert_eq!(requests.load(Ordering::SeqCst), 3);
    assert!(
        matches!(err, Error::SyncIncomplete { applied: 0, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn revoking_a_token_is_never_retried() {
    let (url, requests) = serve_status_forever("503 Service Unavailable", "").await;
    let err = client(&url, quick(5))
        .revoke_current_token()
        .await
        .unwrap_err();
    assert_eq!(requests.load(Ordering::SeqCst), 1);
    assert_eq!(err.status(), Some(503));
}

#[tokio::test]
async fn retries_can_be_turned_off() {
    let (url, requests) = serve_status_forever("429 Too Many Requests", "Retry-After: 0\r\n").await;
    let err = client(&url, RetryPolicy::none())
        .get_me()
        .await
        .unwrap_err();
    assert_eq!(requests.load(Ordering::SeqCst), 1);
    assert!(
        matches!(err, Error::Http { status: 429, retry_after: Some(d), .. } if d == Duration::ZERO),
        "{err:?}"
    );
}

#[tokio::test]
async fn statuses_that_are_not_transient_are_not_retried() {
    for status in [
        "400 Bad Request",
        "404 Not Found",
        "413 Payload Too Large",
        "500 Internal Server Error",
    ] {
        let (url, requests) = serve_status_forever(status, "").await;
        let _ = client(&url, quick(5)).get_me().await.unwrap_err();
        assert_eq!(requests.load(Ordering::SeqCst), 1, "{status}");
    }
}

#[tokio::test]
async fn the_total_time_bound_stops_retrying_before_the_attempts_run_out() {
    let (url, requests) =
        serve_status_forever("503 Service Unavailable", "Retry-After: 1\r\n").await;
    let policy = RetryPolicy {
        max_attempts: 10,
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_secs(1),
        max_elapsed: Duration::from_millis(1500),
    };
    let _ = client(&url, policy).get_me().await.unwrap_err();
    // Waits of 1 s each (Retry-After): the second fits in 1.5 s, the third would not.
    assert_eq!(requests.load(Ordering::SeqCst), 2);
}
