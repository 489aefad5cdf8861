//! Contract drill (added to a copy of the repo by `.ci/drill.sh`, never to the repo itself): a
//! consumer calls `GET /api/voice/calls/{sourceId}` (operationId `getVoiceCall`), an operation
//! that exists only in the drill's edited spec. It must be a public method after a rebuild, and,
//! being a read, retried on a 503.

mod support;

use std::sync::{Arc, Mutex};

use support::raw_http::{serve_forever, Captured};
use wavekat_platform_client::{Client, RetryPolicy, Token};

const RECORD: &str = r#"{"sourceId":"x","accountId":"22222222-2222-4222-8222-222222222222","direction":"outbound","party":"+1","ringAt":"2026-05-16T10:00:00Z","endAt":"2026-05-16T10:00:20Z","disposition":"cancelled","endReason":"cancelled_local"}"#;

/// A loopback server answering its first request `503` (with `Retry-After: 0`) and every later
/// one `200` with [`RECORD`]; returns its URL and the requests it has seen.
async fn unavailable_once_then_the_record() -> (String, Arc<Mutex<Vec<Captured>>>) {
    serve_forever(|_, before| {
        let (status, extra, body) = if before == 0 {
            (
                "503 Service Unavailable",
                "Retry-After: 0\r\n",
                r#"{"error":"unavailable"}"#,
            )
        } else {
            ("200 OK", "", RECORD)
        };
        format!(
            "HTTP/1.1 {status}\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    })
    .await
}

#[tokio::test]
async fn the_operation_added_to_the_spec_is_callable_and_retried_as_a_read() {
    let (url, seen) = unavailable_once_then_the_record().await;
    let client = Client::builder(&url)
        .token(Token::new("wk_drill"))
        .retry_policy(RetryPolicy::default())
        .build()
        .unwrap();

    let record = client.get_voice_call("x").await.unwrap();

    assert_eq!(record.source_id, "x");
    assert_eq!(record.party, "+1");
    let seen: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.request_line().to_owned())
        .collect();
    assert_eq!(
        seen,
        [
            "GET /api/voice/calls/x HTTP/1.1",
            "GET /api/voice/calls/x HTTP/1.1"
        ],
        "one 503, one retry"
    );
}
