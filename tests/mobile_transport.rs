//! The phone ↔ desktop transport over real WebSockets on 127.0.0.1: pairing, streaming, resume,
//! unpairing, secure-mode negotiation, and the two LAN attacks on plain proto 2 (an injected frame
//! after pairing; a relayed resume) succeeding in plain mode and refused in secure mode.

mod mobile_support;

use std::time::Duration;

use ed25519_dalek::SigningKey;
use futures_util::{SinkExt as _, StreamExt as _};
use mobile_support::*;
use rand_core::OsRng;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;
use wavekat_platform_client::mobile::transport::{
    connect, DeliveryFailure, DesktopEvent, DesktopEvents, DesktopSecurity, DisconnectReason,
    EnvelopeDelivery, MobileDesktop, PhoneEvent, PhoneEvents, PhoneHandle, PhoneSecurity,
    PhoneStart, SecureError, TransportError, UtteranceOutcome, NOISE_HEADER,
};
use wavekat_platform_client::mobile::{
    decode_server_frame, encode_pubkey_multibase, ClientFrame, DesktopRejection,
    PairingWindowConfig, ServerFrame, MAX_ECHOED_BYTES,
};

const INJECTED_QUERY: &str =
    r#"{"type":"channel_query","op":"events","channel_id":"attacker","since_seq":0}"#;

/// A desktop (plain allowed) with one phone paired through a relay, the `Paired` event seen.
async fn paired_through_relay(
    security: PhoneSecurity,
) -> (
    MobileDesktop,
    DesktopEvents,
    Relay,
    PhoneHandle,
    PhoneEvents,
) {
    let (desktop, mut events) = desktop(DesktopSecurity::AllowPlain).await;
    let relay = relay(desktop.local_addr()).await;
    let (phone, phone_events, _identity) = pair(&desktop, ws_url(relay.addr), security).await;
    expect_event(&mut events, |e| {
        matches!(e, DesktopEvent::Paired { .. }).then_some(())
    })
    .await;
    (desktop, events, relay, phone, phone_events)
}

fn is_injected(event: &DesktopEvent) -> bool {
    matches!(event, DesktopEvent::ChannelQuery { channel_id: Some(c), .. } if c == "attacker")
}

#[tokio::test]
async fn secure_phone_pairs_streams_audio_and_resumes_after_a_dropped_connection() {
    let (desktop, mut events) = desktop(DesktopSecurity::RequireSecure).await;
    let relay = relay(desktop.local_addr()).await;
    let (phone, mut phone_events, identity) =
        pair(&desktop, ws_url(relay.addr), PhoneSecurity::PreferSecure).await;
    assert!(
        identity.noise.is_some(),
        "a secure pairing yields a link secret"
    );
    let connection = expect_event(&mut events, |e| match e {
        DesktopEvent::Paired { connection, record } => Some((connection, record)),
        _ => None,
    })
    .await;
    assert!(connection.0.is_secure());
    assert_eq!(
        connection.1.device.pubkey,
        encode_pubkey_multibase(&identity.device_key.verifying_key())
    );

    let samples: Vec<f32> = (0..1600).map(|i| (i as f32 / 1600.0) - 0.5).collect();
    phone.send_audio_start(16_000).await.expect("queued");
    phone.send_audio(&samples).await.expect("queued");
    let receipt = phone.send_audio_end().await.expect("queued");
    let rate = expect_event(&mut events, |e| match e {
        DesktopEvent::AudioStart { sample_rate, .. } => Some(sample_rate),
        _ => None,
    })
    .await;
    assert_eq!(rate, 16_000);
    let received = expect_event(&mut events, |e| match e {
        DesktopEvent::AudioChunk { samples, .. } => Some(samples),
        _ => None,
    })
    .await;
    assert_eq!(received, samples);
    expect_event(&mut events, |e| {
        matches!(e, DesktopEvent::AudioEnd { .. }).then_some(())
    })
    .await;
    assert_eq!(
        receipt.outcome().await,
        UtteranceOutcome::Delivered,
        "the desktop acknowledged the utterance's end"
    );

    // The desktop answers through the connection handle.
    connection
        .0
        .send(ServerFrame::Transcript {
            text: "hello".into(),
            is_final: true,
        })
        .await
        .expect("queued to the phone");
    let transcript = expect_event(&mut phone_events, |e| match e {
        PhoneEvent::Frame(ServerFrame::Transcript { text, .. }) => Some(text),
        _ => None,
    })
    .await;
    assert_eq!(transcript, "hello");

    // Drop the TCP connection under both ends: the phone reconnects and resumes by key.
    let _ = relay.cut.send(());
    let resumed_secure = expect_event(&mut phone_events, |e| match e {
        PhoneEvent::Resumed { secure } => Some(secure),
        _ => None,
    })
    .await;
    assert!(resumed_secure, "the link resumes in secure mode");
    expect_event(&mut events, |e| {
        matches!(e, DesktopEvent::Resumed { .. }).then_some(())
    })
    .await;

    let receipt = phone
        .send_envelope(br#"{"id":1,"jsonrpc":"2.0","method":"message/send"}"#.to_vec())
        .await
        .expect("queued");
    let envelope = expect_event(&mut events, |e| match e {
        DesktopEvent::Envelope { envelope, .. } => Some(envelope),
        _ => None,
    })
    .await;
    envelope
        .verify(&identity.device_key.verifying_key())
        .expect("the desktop hands over an envelope that verifies under the device key");
    assert_eq!(receipt.outcome().await, Ok(EnvelopeDelivery::Acknowledged));
    desktop.shutdown().await;
}

#[tokio::test]
async fn a_deployed_proto2_phone_pairs_with_plain_text_frames() {
    let (desktop, mut events) = desktop(DesktopSecurity::AllowPlain).await;
    let qr = desktop.open_pairing_window(PairingWindowConfig::default());
    let (mut ws, response) = tokio_tungstenite::connect_async(desktop.url())
        .await
        .expect("upgrade");
    assert!(
        response.headers().get(NOISE_HEADER).is_none(),
        "a phone that does not offer secure mode gets none"
    );
    assert_eq!(raw_plain_enroll(&mut ws, qr.offer).await, "mur");
    let record = expect_event(&mut events, |e| match e {
        DesktopEvent::Paired { record, connection } => Some((record, connection.is_secure())),
        _ => None,
    })
    .await;
    assert!(!record.1, "a proto-2 phone's link is plain");
    assert!(record.0.noise_key.is_none());
    desktop.shutdown().await;
}

#[tokio::test]
async fn plain_mode_accepts_a_frame_injected_after_pairing() {
    let (desktop, mut events, relay, _phone, _phone_events) =
        paired_through_relay(PhoneSecurity::PlainOnly).await;
    relay
        .inject
        .send(client_frame(1, INJECTED_QUERY.as_bytes()))
        .expect("relay running");
    expect_event(&mut events, |e| is_injected(&e).then_some(())).await;
    desktop.shutdown().await;
}

#[tokio::test]
async fn secure_mode_refuses_a_frame_injected_after_pairing() {
    let (desktop, mut events, relay, _phone, _phone_events) =
        paired_through_relay(PhoneSecurity::RequireSecure).await;
    // A forged record: right layout (kind, the next sequence number, ack, the frame, a tag), but a
    // tag the attacker cannot compute.
    let mut forged = vec![0u8];
    forged.extend_from_slice(&1u64.to_be_bytes());
    forged.extend_from_slice(&0u64.to_be_bytes());
    forged.extend_from_slice(INJECTED_QUERY.as_bytes());
    forged.extend_from_slice(&[0u8; 16]);
    relay
        .inject
        .send(client_frame(2, &forged))
        .expect("relay running");
    let (reason, others) = tokio::time::timeout(WAIT, async {
        let mut others = Vec::new();
        while let Some(event) = events.recv().await {
            match event {
                DesktopEvent::Disconnected { reason, .. } => return (reason, others),
                other => others.push(other),
            }
        }
        panic!("event stream ended")
    })
    .await
    .expect("the desktop ends the connection in time");
    assert_eq!(reason, DisconnectReason::Secure(SecureError::BadMac));
    assert!(
        !others.iter().any(is_injected),
        "the injected query never reaches the daemon"
    );
    desktop.shutdown().await;
}

#[tokio::test]
async fn secure_mode_refuses_an_unsealed_frame_injected_after_pairing() {
    let (desktop, mut events, relay, _phone, _phone_events) =
        paired_through_relay(PhoneSecurity::RequireSecure).await;
    relay
        .inject
        .send(client_frame(1, INJECTED_QUERY.as_bytes()))
        .expect("relay running");
    let reason = expect_event(&mut events, |e| match e {
        e if is_injected(&e) => panic!("the injected query reached the daemon"),
        DesktopEvent::Disconnected { reason, .. } => Some(reason),
        _ => None,
    })
    .await;
    assert_eq!(reason, DisconnectReason::Secure(SecureError::Unsealed));
    desktop.shutdown().await;
}

/// A man in the middle the phone reaches instead of the desktop: it opens its own connection to
/// the desktop, relays the resume handshake, then sends a frame of its own on the resumed link.
/// Returns once the attacker's desktop connection has ended or the injected frame is sent.
#[allow(clippy::result_large_err)] // tungstenite's upgrade callback returns an HTTP response
async fn relaying_attacker(listener: TcpListener, desktop_url: String, secure: bool) {
    let Ok((stream, _)) = listener.accept().await else {
        return;
    };
    // The phone's Noise message 1, replayed to the desktop; the phone gets a message 2 of the
    // attacker's own (it cannot make a valid one without the desktop's static private key).
    let msg1 = std::sync::Arc::new(std::sync::Mutex::new(None));
    let seen = std::sync::Arc::clone(&msg1);
    let callback =
        move |request: &tokio_tungstenite::tungstenite::handshake::server::Request,
              mut response: tokio_tungstenite::tungstenite::handshake::server::Response| {
            if let Some(value) = request.headers().get(NOISE_HEADER) {
                *seen.lock().expect("lock") = Some(value.clone());
                response.headers_mut().insert(
                    NOISE_HEADER,
                    HeaderValue::from_static(
                        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
                    ),
                );
            }
            Ok(response)
        };
    let Ok(mut phone) = tokio_tungstenite::accept_hdr_async(stream, callback).await else {
        return;
    };
    let mut request = desktop_url.into_client_request().expect("url");
    let replayed = msg1.lock().expect("lock").clone();
    if let (true, Some(value)) = (secure, replayed) {
        request.headers_mut().insert(NOISE_HEADER, value);
    }
    let Ok((mut desktop, _)) = tokio_tungstenite::connect_async(request).await else {
        return;
    };
    // resume →, ← challenge, proof →, ← paired
    for _ in 0..2 {
        let Some(Ok(from_phone)) = phone.next().await else {
            return;
        };
        if desktop.send(from_phone).await.is_err() {
            return;
        }
        let Some(Ok(from_desktop)) = desktop.next().await else {
            return;
        };
        let paired = matches!(&from_desktop, Message::Text(t) if t.contains("\"paired\""));
        if phone.send(from_desktop).await.is_err() {
            return;
        }
        if paired {
            let _ = desktop.send(Message::text(INJECTED_QUERY)).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
            return;
        }
    }
}

async fn relayed_resume(security: PhoneSecurity) -> Vec<DesktopEvent> {
    let (desktop, mut events) = desktop(DesktopSecurity::AllowPlain).await;
    let (phone, _phone_events, identity) = pair(&desktop, desktop.url(), security).await;
    phone.close();
    drain(&mut events, Duration::from_millis(300)).await;

    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("attacker binds");
    let attacker_url = ws_url(listener.local_addr().expect("address"));
    let attacker = tokio::spawn(relaying_attacker(
        listener,
        desktop.url(),
        security != PhoneSecurity::PlainOnly,
    ));
    let mut config = phone_config(attacker_url, security);
    config.connect_timeout = Duration::from_secs(2);
    let victim = tokio::spawn(connect(config, PhoneStart::Resume(identity)));
    let _ = tokio::time::timeout(WAIT, attacker).await;
    let seen = drain(&mut events, Duration::from_millis(500)).await;
    victim.abort();
    desktop.shutdown().await;
    seen
}

#[tokio::test]
async fn plain_mode_lets_a_relay_resume_as_the_phone_and_inject_frames() {
    let seen = relayed_resume(PhoneSecurity::PlainOnly).await;
    assert!(
        seen.iter()
            .any(|e| matches!(e, DesktopEvent::Resumed { .. })),
        "the attacker's own connection resumed as the phone: {seen:?}"
    );
    assert!(
        seen.iter().any(is_injected),
        "and its frame was accepted: {seen:?}"
    );
}

#[tokio::test]
async fn secure_mode_refuses_a_relayed_resume() {
    let seen = relayed_resume(PhoneSecurity::RequireSecure).await;
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, DesktopEvent::Resumed { .. })),
        "no resume on the attacker's connection: {seen:?}"
    );
    assert!(!seen.iter().any(is_injected));
}

#[tokio::test]
async fn unpairing_a_device_ends_its_open_connection_and_its_phone_stops() {
    let (desktop, mut events) = desktop(DesktopSecurity::AllowPlain).await;
    let (phone, mut phone_events, identity) =
        pair(&desktop, desktop.url(), PhoneSecurity::PreferSecure).await;
    let device = encode_pubkey_multibase(&identity.device_key.verifying_key());
    expect_event(&mut events, |e| {
        matches!(e, DesktopEvent::Paired { .. }).then_some(())
    })
    .await;

    assert!(desktop.unpair(&device).await);
    assert_eq!(
        desktop.connection_count(),
        0,
        "unpair returns after the link ended"
    );
    let reason = expect_event(&mut events, |e| match e {
        DesktopEvent::Disconnected {
            reason, device: d, ..
        } => {
            assert_eq!(d.as_deref(), Some(device.as_str()));
            Some(reason)
        }
        _ => None,
    })
    .await;
    assert_eq!(reason, DisconnectReason::Unpaired);
    let closed = expect_event(&mut phone_events, |e| match e {
        PhoneEvent::Closed { error } => Some(error),
        _ => None,
    })
    .await;
    assert!(
        matches!(closed, TransportError::Unpaired),
        "unpaired is fatal for the phone: {closed:?}"
    );
    assert!(
        phone.send_audio_start(16_000).await.is_err(),
        "nothing more can be sent"
    );
    assert!(desktop.devices().is_empty());
    desktop.shutdown().await;
}

#[tokio::test]
async fn an_attacker_chosen_agent_of_a_megabyte_is_cut_in_the_rejection() {
    // The pre-auth cap (8 KiB by default) would end this connection before the agent is read;
    // raised here, so the echo cut is what is tested.
    let (desktop, mut events) = desktop_with(|c| c.max_pre_auth_bytes = 2 << 20).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(desktop.url())
        .await
        .expect("upgrade");
    let hello = ClientFrame::HelloInit {
        proto: 2,
        agent: "A".repeat(1000 * 1000),
        pubkey: encode_pubkey_multibase(&SigningKey::generate(&mut OsRng).verifying_key()),
        wid: "w".into(),
    };
    ws.send(Message::text(hello.encode().expect("encodes under 1 MiB")))
        .await
        .expect("sent");
    let Some(Ok(Message::Text(text))) = ws.next().await else {
        panic!("a rejected frame");
    };
    assert!(
        text.len() < 200,
        "the rejection is {} bytes; it must not echo the agent",
        text.len()
    );
    let ServerFrame::Rejected { reason } = decode_server_frame(text.as_bytes()).expect("frame")
    else {
        panic!("expected rejected");
    };
    assert!(reason.contains(&"A".repeat(MAX_ECHOED_BYTES)));
    let reason = expect_event(&mut events, |e| match e {
        DesktopEvent::Disconnected { reason, .. } => Some(reason),
        _ => None,
    })
    .await;
    let DisconnectReason::Rejected(DesktopRejection::AgentMismatch { requested }) = reason else {
        panic!("expected an agent mismatch, got {reason:?}");
    };
    assert!(requested.len() <= MAX_ECHOED_BYTES + '…'.len_utf8());
    desktop.shutdown().await;
}

#[tokio::test]
async fn a_desktop_requiring_secure_mode_refuses_a_plain_phone_with_its_reason() {
    let (desktop, mut events) = desktop(DesktopSecurity::RequireSecure).await;
    let qr = desktop.open_pairing_window(PairingWindowConfig::default());
    let start = PhoneStart::Pair {
        qr,
        device_key: SigningKey::generate(&mut OsRng),
    };
    let error = connect(phone_config(desktop.url(), PhoneSecurity::PlainOnly), start)
        .await
        .expect_err("refused");
    assert!(
        matches!(error, TransportError::SecureModeRequired),
        "{error:?}"
    );
    assert!(!error.is_retryable());
    let reason = expect_event(&mut events, |e| match e {
        DesktopEvent::Disconnected { reason, .. } => Some(reason),
        _ => None,
    })
    .await;
    assert_eq!(reason, DisconnectReason::SecureModeRequired);
    assert_eq!(desktop.open_window_count(), 1, "the window is still open");
    desktop.shutdown().await;
}

#[tokio::test]
async fn a_device_paired_in_plain_mode_resumes_in_plain_mode_with_a_secure_capable_desktop() {
    let (desktop, mut events) = desktop(DesktopSecurity::AllowPlain).await;
    let (phone, _phone_events, identity) =
        pair(&desktop, desktop.url(), PhoneSecurity::PlainOnly).await;
    assert!(identity.noise.is_none());
    phone.close();
    expect_event(&mut events, |e| {
        matches!(e, DesktopEvent::Disconnected { .. }).then_some(())
    })
    .await;
    let (_phone, _events, _) = connect(
        phone_config(desktop.url(), PhoneSecurity::PreferSecure),
        PhoneStart::Resume(identity),
    )
    .await
    .expect("resumes");
    let secure = expect_event(&mut events, |e| match e {
        DesktopEvent::Resumed { connection } => Some(connection.is_secure()),
        _ => None,
    })
    .await;
    assert!(!secure);
    desktop.shutdown().await;
}

#[tokio::test]
async fn a_securely_paired_phone_refuses_a_desktop_answering_in_plain_mode() {
    let (desktop, _events) = desktop(DesktopSecurity::AllowPlain).await;
    let (phone, _phone_events, identity) =
        pair(&desktop, desktop.url(), PhoneSecurity::RequireSecure).await;
    phone.close();
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let url = ws_url(listener.local_addr().expect("address"));
    tokio::spawn(async move {
        // A plain proto-2 desktop (deployed, or a downgrading relay): no nonce header.
        if let Ok((stream, _)) = listener.accept().await {
            let _ws = tokio_tungstenite::accept_async(stream).await;
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    });
    let error = connect(
        phone_config(url, PhoneSecurity::PreferSecure),
        PhoneStart::Resume(identity),
    )
    .await
    .expect_err("refused");
    assert!(
        matches!(error, TransportError::SecureModeUnavailable),
        "{error:?}"
    );
    desktop.shutdown().await;
}

#[tokio::test]
async fn a_connection_whose_handles_were_all_dropped_goes_idle_and_still_hears_its_phone() {
    let (desktop, mut events) = desktop(DesktopSecurity::AllowPlain).await;
    let (phone, _phone_events, _identity) =
        pair(&desktop, desktop.url(), PhoneSecurity::PreferSecure).await;
    let connection = expect_event(&mut events, |e| match e {
        DesktopEvent::Paired { connection, .. } => Some(connection),
        _ => None,
    })
    .await;
    // The daemon keeps no handle to this connection.
    drop(connection);

    // Everything here runs on this test's one runtime thread. Once idle it parks; a connection
    // that polled its closed send queue without end would keep it busy, and it never would.
    let metrics = tokio::runtime::Handle::current().metrics();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let parked = metrics.worker_park_count(0);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        metrics.worker_park_count(0) > parked,
        "the runtime never went idle: a connection without handles is spinning"
    );

    // The connection still serves the phone.
    phone
        .send_channel_query("list", None, None)
        .await
        .expect("the phone sends");
    expect_event(&mut events, |e| {
        matches!(e, DesktopEvent::ChannelQuery { .. }).then_some(())
    })
    .await;
    desktop.shutdown().await;
}

#[tokio::test]
async fn a_wss_url_is_refused_with_its_reason_before_connecting() {
    let identity = wavekat_platform_client::mobile::transport::DeviceIdentity::new(
        SigningKey::generate(&mut OsRng),
        "zDesktop",
    );
    let config = phone_config(
        "wss://127.0.0.1:9/api/v1/mobile/ws".into(),
        PhoneSecurity::PreferSecure,
    );
    let error = connect(config, PhoneStart::Resume(identity))
        .await
        .expect_err("no TLS stack: wss is refused");
    assert!(
        matches!(&error, TransportError::WebSocket(reason) if reason.contains("not a ws:// URL")),
        "{error:?}"
    );
}

/// Sends blocks of numbered envelopes back to back through a relay that cuts the link partway
/// through each block. The rest of the block is sent once the phone knows the link is down, so it
/// waits in the queue; after the resume the queue drains onto the new link before the next block
/// (sent straight to the socket when nothing waits) and the next cut. Returns the ids the
/// desktop's daemon received, in arrival order, and each envelope's outcome.
async fn envelopes_across_cuts(
    security: PhoneSecurity,
) -> (
    Vec<u64>,
    Vec<(u64, Result<EnvelopeDelivery, DeliveryFailure>)>,
) {
    let (desktop, mut events) = desktop(DesktopSecurity::AllowPlain).await;
    let relay = relay(desktop.local_addr()).await;
    let (phone, mut phone_events, _identity) = pair(&desktop, ws_url(relay.addr), security).await;
    let (link_tx, mut link) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(event) = phone_events.recv().await {
            match event {
                PhoneEvent::Disconnected { .. } => {
                    let _ = link_tx.send(false);
                }
                PhoneEvent::Resumed { .. } => {
                    let _ = link_tx.send(true);
                }
                _ => {}
            }
        }
    });
    let (ids_tx, mut ids) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(event) = events.recv().await {
            if let DesktopEvent::Envelope { envelope, .. } = event {
                let id = std::str::from_utf8(&envelope.payload)
                    .ok()
                    .and_then(|p| p.parse::<u64>().ok())
                    .expect("a numbered payload");
                let _ = ids_tx.send(id);
            }
        }
    });
    let mut received = Vec::new();
    let mut receipts = Vec::new();
    for block in 0..BLOCKS {
        for j in 0..BLOCK {
            if j == CUT_AT {
                let _ = relay.cut.send(());
                let down = tokio::time::timeout(WAIT, link.recv()).await;
                assert_eq!(down.ok().flatten(), Some(false), "the phone sees the cut");
            }
            let id = block * BLOCK + j;
            let receipt = phone
                .send_envelope(id.to_string().into_bytes())
                .await
                .expect("the link stays open across cuts");
            receipts.push((id, receipt));
        }
        let up = tokio::time::timeout(WAIT, link.recv()).await;
        assert_eq!(
            up.ok().flatten(),
            Some(true),
            "the phone resumes after each cut"
        );
        // The queued tail reaches the daemon on the new link.
        let last = block * BLOCK + BLOCK - 1;
        while received.last() != Some(&last) {
            let id = tokio::time::timeout(WAIT, ids.recv())
                .await
                .ok()
                .flatten()
                .unwrap_or_else(|| panic!("{security:?}: envelope {last} never arrived"));
            received.push(id);
        }
    }
    let mut outcomes = Vec::new();
    for (id, receipt) in receipts {
        let outcome = tokio::time::timeout(WAIT, receipt.outcome())
            .await
            .expect("every envelope is settled in time");
        outcomes.push((id, outcome));
    }
    phone.close();
    desktop.shutdown().await;
    while let Some(id) = ids.recv().await {
        received.push(id);
    }
    (received, outcomes)
}

const BLOCKS: u64 = 6;
const BLOCK: u64 = 30;
const CUT_AT: u64 = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_right_after_connecting_arrives_in_order() {
    // The first sends race the link task taking over the new connection: some wait in the queue,
    // and later ones must not go straight to the socket ahead of them.
    let (desktop, mut events) = desktop(DesktopSecurity::AllowPlain).await;
    for round in 0..20u64 {
        let (phone, _phone_events, _identity) =
            pair(&desktop, desktop.url(), PhoneSecurity::PlainOnly).await;
        let sent: Vec<u64> = (round * 100..round * 100 + 50).collect();
        for &seq in &sent {
            phone
                .send_channel_query("events", Some("c".into()), Some(seq))
                .await
                .expect("sent");
        }
        let mut heard = Vec::new();
        while heard.len() < sent.len() {
            let event = tokio::time::timeout(WAIT, events.recv())
                .await
                .expect("the desktop hears the burst")
                .expect("events");
            if let DesktopEvent::ChannelQuery {
                since_seq: Some(seq),
                ..
            } = event
            {
                heard.push(seq);
            }
        }
        assert_eq!(heard, sent, "round {round}: the burst arrived out of order");
        phone.close();
    }
    desktop.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phones_frames_never_overtake_each_other_across_reconnects() {
    for security in [PhoneSecurity::PlainOnly, PhoneSecurity::RequireSecure] {
        let (received, outcomes) = envelopes_across_cuts(security).await;
        assert!(
            received.windows(2).all(|w| w[0] < w[1]),
            "{security:?}: envelopes arrived out of order or twice: {received:?}"
        );
        // Everything sent while the link was down went out after the resume.
        for block in 0..BLOCKS {
            for id in block * BLOCK + CUT_AT..(block + 1) * BLOCK {
                assert!(
                    received.binary_search(&id).is_ok(),
                    "{security:?}: envelope {id}, queued while the link was down, never arrived"
                );
            }
        }
        for (id, outcome) in outcomes {
            let arrived = received.binary_search(&id).is_ok();
            match outcome {
                // Secure: acknowledged means processed by the desktop.
                Ok(EnvelopeDelivery::Acknowledged) => assert!(arrived, "{id} acknowledged"),
                // Plain proto 2 has no acknowledgement: written may still have been cut.
                Ok(_) => {}
                Err(failure) => assert!(!arrived, "{id} reported {failure} but arrived"),
            }
        }
    }
}

#[tokio::test]
async fn a_desktop_that_stops_reading_cannot_hang_the_phones_sender() {
    let (desktop, mut events) = desktop(DesktopSecurity::AllowPlain).await;
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    let relay = relay(desktop.local_addr()).await;
    let mut config = phone_config(ws_url(relay.addr), PhoneSecurity::PreferSecure);
    config.write_timeout = Duration::from_millis(300);
    let qr = desktop.open_pairing_window(PairingWindowConfig::default());
    let start = PhoneStart::Pair {
        qr,
        device_key: SigningKey::generate(&mut OsRng),
    };
    let (phone, mut phone_events, _identity) = connect(config, start).await.expect("pairs");

    relay.stall.store(true, std::sync::atomic::Ordering::SeqCst);
    // Stream one-second chunks into the stalled link: the socket fills, and then a send may wait
    // at most the write timeout before the link counts as broken.
    let sender = tokio::spawn(async move {
        let second = vec![0.25f32; 16_000];
        let mut sent = 0u32;
        phone.send_audio_start(16_000).await.expect("queued");
        loop {
            match tokio::time::timeout(Duration::from_secs(5), phone.send_audio(&second)).await {
                Err(_) => panic!("a send hung on the stalled link after {sent} chunks"),
                // Far longer than the replay buffer: the drop cut it; the next one starts.
                Ok(Err(TransportError::UtteranceCut(_))) => {
                    phone.send_audio_start(16_000).await.expect("queued");
                }
                Ok(Err(e)) => panic!("the link closed instead of reconnecting: {e}"),
                Ok(Ok(())) => sent += 1,
            }
            if sent >= 2_000 {
                return phone;
            }
        }
    });
    let error = expect_event(&mut phone_events, |e| match e {
        PhoneEvent::Disconnected { error, .. } => Some(error),
        _ => None,
    })
    .await;
    assert!(
        matches!(error, TransportError::Timeout(_)),
        "a write that found no room in time: {error:?}"
    );
    relay
        .stall
        .store(false, std::sync::atomic::Ordering::SeqCst);
    expect_event(&mut phone_events, |e| {
        matches!(e, PhoneEvent::Resumed { .. }).then_some(())
    })
    .await;
    let phone = tokio::time::timeout(WAIT, sender)
        .await
        .expect("the sender finishes")
        .expect("no send hung");
    phone.close();
    desktop.shutdown().await;
}
