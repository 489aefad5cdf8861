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

/// A server that answers its requests with `statuses` in turn (then the last one), recording each
/// request's head (lower-cased) and full body.
async fn serve_sequence(
    statuses: &'static [&'static str],
) -> (
    String,
    std::sync::Arc<std::sync::Mutex<Vec<(String, Vec<u8>)>>>,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        for n in 0.. {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let mut data = Vec::new();
            let mut buf = vec![0u8; 64 * 1024];
            let head_end = loop {
                if let Some(at) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                    break at + 4;
                }
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(k) => data.extend_from_slice(&buf[..k]),
                }
            };
            let head = String::from_utf8_lossy(&data[..head_end]).to_ascii_lowercase();
            let header = |name: &str| {
                head.lines()
                    .find_map(|l| l.strip_prefix(&format!("{name}: ")).map(str::to_owned))
                    .unwrap_or_default()
            };
            let length: usize = header("content-length").trim().parse().unwrap_or(0);
            while data.len() < head_end + length {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(k) => data.extend_from_slice(&buf[..k]),
                }
            }
            log.lock()
                .unwrap()
                .push((head.clone(), data[head_end..].to_vec()));
            let status = statuses[n.min(statuses.len() - 1)];
            let reply =
                format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            let _ = socket.write_all(reply.as_bytes()).await;
        }
    });
    (url, seen)
}

#[tokio::test]
async fn a_file_upload_is_reopened_for_a_retry_and_its_progress_restarts() {
    let (url, seen) = serve_sequence(&["503 Service Unavailable", "204 No Content"]).await;
    let wav: Vec<u8> = (0..700_000u32).map(|n| (n % 251) as u8).collect();
    let path = std::env::temp_dir().join(format!("wk-retry-upload-{}.wav", std::process::id()));
    std::fs::write(&path, &wav).unwrap();
    let progress = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let events = progress.clone();
    client(&url, quick(3))
        .upload_recording_with_progress(
            "rec-1",
            wavekat_platform_client::upload::RecordingBody::file(&path),
            move |p| events.lock().unwrap().push(p.sent),
        )
        .await
        .unwrap();
    std::fs::remove_file(&path).ok();
    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 2, "one 503, then the retry");
    for (head, body) in &requests {
        assert_eq!(
            header_of(head, "content-type").as_deref(),
            Some("audio/wav"),
            "the spec's media type on every attempt"
        );
        assert!(body == &wav, "every attempt sends the whole file");
    }
    let sent = progress.lock().unwrap().clone();
    let restarts = sent.iter().filter(|s| **s == 0).count();
    assert_eq!(
        restarts, 2,
        "progress starts from 0 on each attempt: {sent:?}"
    );
    assert_eq!(sent.last(), Some(&700_000));
}

#[tokio::test]
async fn a_reader_upload_is_sent_once_because_it_cannot_be_replayed() {
    let (url, seen) = serve_sequence(&["503 Service Unavailable", "204 No Content"]).await;
    let body = wavekat_platform_client::upload::RecordingBody::reader(
        std::io::Cursor::new(vec![7u8; 1000]),
        1000,
    );
    let err = client(&url, quick(3))
        .upload_recording("rec-1", body)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(503), "{err:?}");
    assert_eq!(seen.lock().unwrap().len(), 1);
}

fn header_of(head: &str, name: &str) -> Option<String> {
    head.lines().find_map(|l| {
        l.strip_prefix(&format!("{name}: "))
            .map(|v| v.trim().to_owned())
    })
}

fn heartbeat_client(url: &str) -> wavekat_platform_client::ClientBuilder {
    Client::builder(url)
        .token(Token::new("wk_bearer_secret_value"))
        .user_agent("wavekat-cli/9.9.9")
        .retry_policy(quick(4))
}

#[tokio::test]
async fn a_release_signed_operation_carries_no_bearer_or_user_agent_and_is_never_retried() {
    use wavekat_platform_client::heartbeat::SystemInfo;
    use wavekat_platform_client::signing::{generate_master, issue_release_credential};
    let (url, seen) = serve_sequence(&["503 Service Unavailable", "200 OK"]).await;
    let (master, _) = generate_master().unwrap();
    let credential = issue_release_credential(master.expose(), "1.4.2").unwrap();
    let client = heartbeat_client(&url)
        .release_credential(credential)
        .build()
        .unwrap();
    let request = SystemInfo::detect().heartbeat_request("install-1", "1.4.2");
    let err = client.install_heartbeat(&request).await.unwrap_err();
    assert_eq!(err.status(), Some(503), "{err:?}");
    let requests = seen.lock().unwrap().clone();
    assert_eq!(
        requests.len(),
        1,
        "x-wavekat-signing: release is never retried"
    );
    let head = &requests[0].0;
    assert_eq!(header_of(head, "authorization"), None, "{head}");
    assert_eq!(header_of(head, "user-agent"), None, "{head}");
    assert!(header_of(head, "x-wk-sig").is_some(), "signed: {head}");
}

#[tokio::test]
async fn a_release_signed_operation_without_a_credential_is_refused_before_sending() {
    use wavekat_platform_client::heartbeat::SystemInfo;
    let (url, seen) = serve_sequence(&["200 OK"]).await;
    let client = heartbeat_client(&url).build().unwrap();
    let request = SystemInfo::detect().heartbeat_request("install-1", "1.4.2");
    let err = client.install_heartbeat(&request).await.unwrap_err();
    assert!(
        matches!(&err, Error::InvalidInput(m) if m.contains("release_credential")),
        "{err:?}"
    );
    assert!(seen.lock().unwrap().is_empty());
}
