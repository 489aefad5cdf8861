//! Bad input and load against the desktop endpoint over 127.0.0.1: each offender is refused with
//! its typed reason, and the endpoint stays responsive to a genuine phone.

mod mobile_support;

use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use mobile_support::*;
use tokio_tungstenite::tungstenite::Message;
use wavekat_platform_client::mobile::transport::{
    DesktopEvent, DesktopEvents, DesktopSecurity, DisconnectReason, MobileDesktop, PhoneSecurity,
};
use wavekat_platform_client::mobile::{ServerFrame, MAX_FRAME_BYTES};

async fn disconnect_reason(events: &mut DesktopEvents) -> DisconnectReason {
    expect_event(events, |e| match e {
        DesktopEvent::Disconnected { reason, .. } => Some(reason),
        _ => None,
    })
    .await
}

/// A genuine phone pairs and streams a short utterance.
async fn genuine_phone_streams(desktop: &MobileDesktop, events: &mut DesktopEvents) {
    let (phone, _phone_events, _) = pair(desktop, desktop.url(), PhoneSecurity::PreferSecure).await;
    phone.send_audio_start(16_000).await.expect("queued");
    phone.send_audio(&[0.25; 320]).await.expect("queued");
    let _receipt = phone.send_audio_end().await.expect("queued");
    let samples = expect_event(events, |e| match e {
        DesktopEvent::AudioChunk { samples, .. } => Some(samples),
        _ => None,
    })
    .await;
    assert_eq!(samples, vec![0.25; 320]);
    phone.close();
}

#[tokio::test]
async fn an_oversized_frame_is_refused_as_too_large() {
    let (desktop, mut events) = desktop(DesktopSecurity::AllowPlain).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(desktop.url())
        .await
        .expect("upgrade");
    let huge = format!(
        r#"{{"type":"hello_init","proto":2,"agent":"{}","pubkey":"z","wid":"w"}}"#,
        "a".repeat(MAX_FRAME_BYTES + 4096)
    );
    let _ = ws.send(Message::text(huge)).await;
    assert_eq!(
        disconnect_reason(&mut events).await,
        DisconnectReason::FrameTooLarge
    );
    genuine_phone_streams(&desktop, &mut events).await;
    desktop.shutdown().await;
}

#[tokio::test]
async fn a_flood_of_frames_before_pairing_is_refused_as_a_handshake_flood() {
    let (desktop, mut events) = desktop(DesktopSecurity::AllowPlain).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(desktop.url())
        .await
        .expect("upgrade");
    for i in 0..64 {
        if ws
            .send(Message::text(format!(r#"{{"type":"noise_{i}"}}"#)))
            .await
            .is_err()
        {
            break;
        }
    }
    assert_eq!(
        disconnect_reason(&mut events).await,
        DisconnectReason::HandshakeFlood
    );
    genuine_phone_streams(&desktop, &mut events).await;
    desktop.shutdown().await;
}

#[tokio::test]
async fn a_connection_that_never_pairs_is_closed_at_the_handshake_deadline() {
    let (desktop, mut events) =
        desktop_with(|c| c.handshake_timeout = Duration::from_millis(300)).await;
    let (_ws, _) = tokio_tungstenite::connect_async(desktop.url())
        .await
        .expect("upgrade");
    assert_eq!(
        disconnect_reason(&mut events).await,
        DisconnectReason::HandshakeTimeout
    );
    desktop.shutdown().await;
}

#[tokio::test]
async fn a_binary_message_on_a_plain_connection_is_refused() {
    let (desktop, mut events) = desktop(DesktopSecurity::AllowPlain).await;
    let mut ws = raw_plain_pair(&desktop).await;
    expect_event(&mut events, |e| {
        matches!(e, DesktopEvent::Paired { .. }).then_some(())
    })
    .await;
    ws.send(Message::binary(vec![0u8; 64])).await.expect("sent");
    assert_eq!(
        disconnect_reason(&mut events).await,
        DisconnectReason::WrongMessageType
    );
    desktop.shutdown().await;
}

#[tokio::test]
async fn a_phone_that_never_reads_is_closed_as_a_slow_reader_and_others_are_served() {
    let (desktop, mut events) = desktop_with(|c| {
        c.write_timeout = Duration::from_millis(300);
        c.send_queue = 4;
    })
    .await;
    let _never_reads = raw_plain_pair(&desktop).await;
    let connection = expect_event(&mut events, |e| match e {
        DesktopEvent::Paired { connection, .. } => Some(connection),
        _ => None,
    })
    .await;
    let chunk = ServerFrame::audio_chunk_from_pcm(&vec![7u8; 192 * 1024], 24_000, false)
        .expect("a chunk under the limit");
    let sender = tokio::spawn(async move {
        let mut full = 0u32;
        // Until the link ends: the queue fills (typed QueueFull), then the write times out.
        loop {
            match connection.try_send(chunk.clone()) {
                Ok(()) => {}
                Err(wavekat_platform_client::mobile::transport::TransportError::QueueFull) => {
                    full += 1;
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                Err(_) => return full,
            }
        }
    });
    assert_eq!(
        disconnect_reason(&mut events).await,
        DisconnectReason::SlowReader
    );
    let full = tokio::time::timeout(WAIT, sender)
        .await
        .expect("the sender stops once the link ended")
        .expect("sender task");
    assert!(
        full > 0,
        "a full queue is reported to the sender, not grown"
    );
    genuine_phone_streams(&desktop, &mut events).await;
    desktop.shutdown().await;
}

#[tokio::test]
async fn a_thousand_idle_connections_leave_the_endpoint_serving_a_genuine_phone() {
    const IDLE: usize = 1000;
    let (desktop, mut events) = desktop_with(|c| c.max_connections = IDLE + 1).await;
    let url = desktop.url();
    let mut idle = Vec::with_capacity(IDLE);
    for batch in 0..(IDLE / 100) {
        let mut joins = Vec::new();
        for _ in 0..100 {
            let url = url.clone();
            joins.push(tokio::spawn(async move {
                tokio_tungstenite::connect_async(url)
                    .await
                    .map(|(ws, _)| ws)
            }));
        }
        for join in joins {
            let ws = join
                .await
                .expect("task")
                .unwrap_or_else(|e| panic!("idle connection in batch {batch}: {e}"));
            idle.push(ws);
        }
    }
    assert_eq!(desktop.connection_count(), IDLE);
    genuine_phone_streams(&desktop, &mut events).await;

    // The phone closed; one more connection past the cap is refused with its reason.
    tokio::time::timeout(WAIT, async {
        while desktop.connection_count() > IDLE {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the phone's connection ends");
    let (_extra_ok, _) = tokio_tungstenite::connect_async(url.clone())
        .await
        .expect("upgrade");
    let (mut refused, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("upgrade");
    let close = tokio::time::timeout(WAIT, refused.next())
        .await
        .expect("closed in time");
    assert!(
        matches!(close, Some(Ok(Message::Close(Some(ref f)))) if u16::from(f.code) == 4007),
        "busy close code: {close:?}"
    );
    expect_event(&mut events, |e| match e {
        DesktopEvent::Disconnected {
            reason: DisconnectReason::TooManyConnections,
            ..
        } => Some(()),
        _ => None,
    })
    .await;
    drop(idle);
    desktop.shutdown().await;
}
