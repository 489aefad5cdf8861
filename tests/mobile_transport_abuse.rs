//! Bad input and load against the desktop endpoint over 127.0.0.1: each offender is refused with
//! its typed reason, and the endpoint stays responsive to a genuine phone.

mod mobile_support;

use std::time::Duration;

use futures_util::SinkExt as _;
use mobile_support::*;
use tokio_tungstenite::tungstenite::Message;
use wavekat_platform_client::mobile::transport::{
    DesktopEvent, DesktopEvents, DesktopSecurity, DisconnectReason,
};
use wavekat_platform_client::mobile::{ServerFrame, MAX_FRAME_BYTES};

async fn disconnect_reason(events: &mut DesktopEvents) -> DisconnectReason {
    expect_event(events, |e| match e {
        DesktopEvent::Disconnected { reason, .. } => Some(reason),
        _ => None,
    })
    .await
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
    // The default caps (4,096 connections, 64 in handshake per address), not a cap fitted to the
    // test: 20 hosts (127.0.0.2 to 127.0.0.21) of 50 idle connections each.
    const HOSTS: u8 = 20;
    const PER_HOST: usize = 50;
    let (desktop, mut events) = desktop_with(|_| {}).await;
    let mut idle = Vec::with_capacity(usize::from(HOSTS) * PER_HOST);
    for host in 0..HOSTS {
        let source = std::net::Ipv4Addr::new(127, 0, 0, 2 + host);
        let mut joins = Vec::new();
        for _ in 0..PER_HOST {
            let desktop = desktop.clone();
            joins.push(tokio::spawn(async move { ws_from(source, &desktop).await }));
        }
        for join in joins {
            let ws = join
                .await
                .expect("task")
                .unwrap_or_else(|e| panic!("idle connection from {source}: {e}"));
            idle.push(ws);
        }
    }
    assert_eq!(desktop.connection_count(), idle.len());
    genuine_phone_streams(&desktop, &mut events).await;
    drop(idle);
    desktop.shutdown().await;
}
