//! A recording id is a path segment: an id that a URL parser would rewrite (a dot segment, a
//! separator, an escape) would send the token and the WAV bytes to another route. The client
//! refuses such ids before any request, and the emulator refuses them on the wire.

mod support;

use std::sync::atomic::Ordering;

use support::raw_http::serve_status_forever;
use wavekat_platform_client::upload::RecordingBody;
use wavekat_platform_client::{Client, Error, RetryPolicy, Token};

/// Ids a WHATWG URL parser would normalise, decode, cut or re-route, plus the spec's own limits.
const REWRITTEN_BY_A_URL_PARSER: &[&str] = &[
    ".", "..", "%2e", "%2e%2e", ".%2E", "%2E.", "a/..", "../bytes", "a/b", "a\\b", "..\\", "a?b",
    "a#b", "a%2Fb", "a b", "\t..", "..\n", " . ", "a\u{0}", "é", "",
];

#[tokio::test]
async fn a_dot_dot_recording_id_is_refused_before_any_request() {
    let (url, requests) = serve_status_forever("204 No Content", "").await;
    let client = Client::builder(&url)
        .token(Token::new("opaque-upload-token"))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let too_long = "x".repeat(129);
    for id in REWRITTEN_BY_A_URL_PARSER
        .iter()
        .copied()
        .chain([too_long.as_str()])
    {
        let refused = client
            .upload_recording(id, RecordingBody::bytes(vec![1, 2, 3]))
            .await;
        assert!(
            matches!(refused, Err(Error::InvalidInput(_))),
            "{id:?}: {refused:?}"
        );
    }
    assert_eq!(requests.load(Ordering::SeqCst), 0, "a request went out");
}

/// The generated operation is public too: called directly, it skips the upload helper's id check,
/// so the request hooks refuse any call whose URL lost the shape of its spec path.
#[tokio::test]
async fn the_generated_bytes_operation_refuses_a_dot_segment_id_before_any_request() {
    let (url, requests) = serve_status_forever("204 No Content", "").await;
    let client = Client::builder(&url)
        .token(Token::new("opaque-upload-token"))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    for id in [".", "..", ""] {
        let refused = client.upload_recording_bytes(id, vec![1u8, 2, 3]).await;
        assert!(
            matches!(&refused, Err(Error::InvalidInput(message)) if message.contains("dot segment")),
            "{id:?}: {refused:?}"
        );
    }
    assert_eq!(requests.load(Ordering::SeqCst), 0, "a request went out");
    client
        .upload_recording_bytes("rec.wav", vec![1u8, 2, 3])
        .await
        .expect("an ordinary id goes out");
    assert_eq!(requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn ids_with_dots_that_are_not_dot_segments_still_upload() {
    let (url, requests) = serve_status_forever("204 No Content", "").await;
    let client = Client::builder(&url)
        .token(Token::new("opaque-upload-token"))
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    for id in [
        "...",
        "a..b",
        ".hidden",
        "rec.wav",
        "urn:rec:1",
        &"x".repeat(128),
    ] {
        client
            .upload_recording(id, RecordingBody::bytes(vec![1, 2, 3]))
            .await
            .unwrap_or_else(|e| panic!("{id:?}: {e}"));
    }
    assert_eq!(requests.load(Ordering::SeqCst), 6);
}

#[cfg(feature = "dev-platform")]
mod emulator {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use wavekat_platform_client::dev_platform::{DevPlatform, DevPlatformOptions};

    /// Sends a raw request target (no URL parser in between) and returns the status line.
    async fn raw_put(platform: &DevPlatform, target: &str) -> String {
        let mut stream = TcpStream::connect(platform.local_addr()).await.unwrap();
        let request = format!(
            "PUT {target} HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {}\r\n\
             Content-Type: audio/wav\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
            platform.local_addr(),
            platform.token().expose()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        String::from_utf8_lossy(&answer)
            .lines()
            .next()
            .unwrap_or("")
            .to_owned()
    }

    #[tokio::test]
    async fn the_emulator_refuses_dot_segment_recording_ids_with_400() {
        let platform = DevPlatform::start(DevPlatformOptions::default())
            .await
            .unwrap();
        for segment in [".", "..", "%2e", "%2e%2e", ".%2E", "%2E."] {
            let target = format!("/api/voice/recordings/{segment}/bytes");
            let status = raw_put(&platform, &target).await;
            assert!(status.starts_with("HTTP/1.1 400"), "{target}: {status}");
        }
        platform.shutdown().await;
    }

    #[tokio::test]
    async fn the_emulator_refuses_a_dot_segment_id_in_a_recordings_sync() {
        let platform = DevPlatform::start(DevPlatformOptions::default())
            .await
            .unwrap();
        let http = wavekat_platform_client::dev_platform::http_client().unwrap();
        for id in [".", ".."] {
            let mut record = serde_json::to_value(super::support::minimal_recording()).unwrap();
            record["sourceId"] = serde_json::Value::String(id.to_owned());
            let response = http
                .post(format!("{}/api/voice/recordings/sync", platform.base_url()))
                .bearer_auth(platform.token().expose())
                .json(&serde_json::json!({ "items": [record] }))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), 400, "{id:?}");
        }
        platform.shutdown().await;
    }
}
