//! Attacks on secure mode's Noise handshake and its glue (issue 20), each named for what it
//! tries; every one runs on 127.0.0.1.

mod mobile_support;

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ed25519_dalek::SigningKey;
use rand_core::OsRng;
use sha2::{Digest as _, Sha256};
use wavekat_platform_client::mobile::transport::{
    connect, DeliveryFailure, DesktopConfig, DesktopEvent, DesktopSecurity, DisconnectReason,
    MobileDesktop, NoiseSecretKey, PhoneEvent, PhoneSecurity, PhoneStart, TransportError,
    NOISE_ENROLL, NOISE_HEADER, NOISE_RESUME,
};
use wavekat_platform_client::mobile::PairingWindowConfig;

use mobile_support::*;

/// The prologue as the module docs define it.
fn prologue(mode: &str, did: &str) -> Vec<u8> {
    let mut out = b"wavekat-mobile-noise/1".to_vec();
    for field in [NOISE_HEADER, mode, AGENT, did] {
        out.extend_from_slice(&(field.len() as u16).to_be_bytes());
        out.extend_from_slice(field.as_bytes());
    }
    out
}

fn resolver() -> Box<snow::resolvers::FallbackResolver> {
    Box::new(snow::resolvers::FallbackResolver::new(
        Box::new(snow::resolvers::RingResolver),
        Box::new(snow::resolvers::DefaultResolver),
    ))
}

/// The end of the upgrade request or response at the start of `bytes` and its header
/// `NOISE_HEADER`'s handshake message (after `prefix`).
fn upgrade_message(bytes: &[u8], prefix: &str) -> (usize, Vec<u8>) {
    let head_end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("the upgrade head")
        + 4;
    let head = String::from_utf8_lossy(&bytes[..head_end]).to_string();
    let message = head
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            let value = value.trim().strip_prefix(prefix)?;
            name.eq_ignore_ascii_case(NOISE_HEADER).then_some(value)
        })
        .map(|b64| URL_SAFE_NO_PAD.decode(b64).expect("base64url"))
        .expect("a handshake message in the head");
    (head_end, message)
}

/// The binary messages (records) after the upgrade head.
fn recorded_records(bytes: &[u8], head_end: usize) -> Vec<Vec<u8>> {
    frame_payloads(&bytes[head_end..])
        .into_iter()
        .filter(|(opcode, _)| *opcode == 2)
        .map(|(_, payload)| payload)
        .collect()
}

/// Asserts that `transport` opens none of `records` (one Noise message each, nonces from 0).
fn opens_none(transport: &snow::StatelessTransportState, records: &[Vec<u8>], attempt: &str) {
    let mut out = vec![0u8; 70_000];
    for (nonce, record) in records.iter().enumerate() {
        assert!(
            transport
                .read_message(nonce as u64, record, &mut out)
                .is_err(),
            "recorded record {nonce} opened with only long-term secrets ({attempt})"
        );
    }
}

/// Everything either end keeps for the long term leaks (both static keys, the pinned desktop key
/// and the QR token) to an attacker who recorded both directions of a secure enrollment; it
/// opens no record. It answers the recorded message 1 as the desktop and replays the phone's
/// side against the recorded message 2, with a fresh ephemeral and with each leaked secret as
/// that side's ephemeral, and tries the keys each gives on every recorded record. Shown to fail
/// when the desktop's ephemeral is its static key (`fixed_ephemeral_key_for_testing_only(key)`
/// in `DesktopHandshake::read`): "recorded record 0 opened with only long-term secrets (as the
/// desktop, its ephemeral the desktop's static key)"; and when the phone's is its static key (the
/// same in `PhoneHandshake::start`): "recorded record 0 opened with only long-term secrets (as
/// the phone, its ephemeral the phone's static key)". (Before both attempts with a leaked
/// ephemeral were added the test passed under either mutation: a fresh ephemeral never
/// reproduces the recorded keys.)
#[tokio::test]
async fn a_recorded_session_stays_sealed_after_every_long_term_secret_leaks() {
    let identity = SigningKey::generate(&mut OsRng);
    let config = DesktopConfig::new(AGENT, &identity.verifying_key());
    let desktop_static = config.noise_key.clone();
    let (desktop, mut events) = MobileDesktop::bind("127.0.0.1:0", config)
        .await
        .expect("binds");
    let relay = relay(desktop.local_addr()).await;
    let qr = desktop.open_pairing_window(PairingWindowConfig::default());
    let token = qr.offer.token.clone();
    let start = PhoneStart::Pair {
        qr,
        device_key: SigningKey::generate(&mut OsRng),
    };
    let (phone, _phone_events, phone_identity) = connect(
        phone_config(ws_url(relay.addr), PhoneSecurity::PreferSecure),
        start,
    )
    .await
    .expect("pairs");
    let marker = b"the-secret-envelope-payload".to_vec();
    let receipt = phone.send_envelope(marker.clone()).await.expect("sends");
    receipt.outcome().await.expect("acknowledged");
    phone.close();
    drain(&mut events, Duration::from_millis(200)).await;

    // Everything either end keeps for the long term leaks: the desktop's static key, the
    // phone's static key and the pinned desktop key, and the QR token.
    let phone_noise = phone_identity.noise.expect("secure pairing");
    let psk: [u8; 32] = Sha256::digest(token.expose_secret().as_bytes()).into();
    let leaked: [(&str, &[u8; 32]); 3] = [
        ("the desktop's static key", desktop_static.expose_bytes()),
        ("the phone's static key", phone_noise.phone.expose_bytes()),
        ("the PSK", &psk),
    ];
    let up = relay.recorded.lock().expect("recording").clone();
    let down = relay.recorded_down.lock().expect("recording").clone();
    assert!(!up.windows(marker.len()).any(|w| w == marker.as_slice()));
    let (up_head, msg1) = upgrade_message(&up, "enroll.");
    let (down_head, msg2) = upgrade_message(&down, "");
    let up_records = recorded_records(&up, up_head);
    let down_records = recorded_records(&down, down_head);
    assert!(
        up_records.len() >= 3,
        "hello, proof and the envelope were recorded"
    );
    assert!(
        down_records.len() >= 2,
        "the challenge and paired were recorded"
    );

    // As the desktop: answer the recorded message 1 (which the leaked desktop key reads) and
    // open the phone's records with the keys that gives.
    let prologue = prologue("enroll", &desktop.did());
    let mut wid = Vec::new();
    let desktop_ephemerals = [None].into_iter().chain(leaked.map(Some));
    for ephemeral in desktop_ephemerals {
        let mut builder =
            snow::Builder::with_resolver(NOISE_ENROLL.parse().expect("params"), resolver())
                .local_private_key(desktop_static.expose_bytes())
                .and_then(|b| b.prologue(&prologue))
                .and_then(|b| b.psk(2, &psk))
                .expect("responder");
        if let Some((_, key)) = ephemeral {
            builder = builder.fixed_ephemeral_key_for_testing_only(key);
        }
        let mut responder = builder.build_responder().expect("responder");
        let mut payload = [0u8; 512];
        let wid_len = responder
            .read_message(&msg1, &mut payload)
            .expect("the leaked desktop key reads message 1");
        assert!(wid_len > 0, "and sees the window id");
        wid = payload[..wid_len].to_vec();
        let mut answer = [0u8; 512];
        responder
            .write_message(&[], &mut answer)
            .expect("message 2");
        let transport = responder
            .into_stateless_transport_mode()
            .expect("transport");
        let attempt = match ephemeral {
            Some((name, _)) => format!("as the desktop, its ephemeral {name}"),
            None => "as the desktop, a fresh ephemeral".to_owned(),
        };
        opens_none(&transport, &up_records, &attempt);
    }

    // As the phone: rebuild message 1 from the leaked phone key with each leaked secret as the
    // phone's ephemeral; where the recorded message 2 then reads, open the desktop's records.
    let desktop_public = desktop_static.public_key().expect("public key");
    for (name, key) in leaked {
        let mut initiator =
            snow::Builder::with_resolver(NOISE_ENROLL.parse().expect("params"), resolver())
                .local_private_key(phone_noise.phone.expose_bytes())
                .and_then(|b| b.remote_public_key(&desktop_public.0))
                .and_then(|b| b.prologue(&prologue))
                .and_then(|b| b.psk(2, &psk))
                .expect("initiator")
                .fixed_ephemeral_key_for_testing_only(key)
                .build_initiator()
                .expect("initiator");
        let mut rebuilt = [0u8; 512];
        initiator
            .write_message(&wid, &mut rebuilt)
            .expect("message 1");
        let mut empty = [0u8; 512];
        if initiator.read_message(&msg2, &mut empty).is_err() {
            continue;
        }
        let transport = initiator
            .into_stateless_transport_mode()
            .expect("transport");
        let attempt = format!("as the phone, its ephemeral {name}");
        opens_none(&transport, &down_records, &attempt);
    }
    desktop.shutdown().await;
}

/// A desktop that knows everything but the genuine desktop's Noise static private key (the QR,
/// the identity key, every paired-device record) serves where the phone resumes: the phone's
/// message 1 is sealed to the key it pinned from the QR, so the impostor cannot read it and the
/// phone only drops, retryably. Shown to fail when the phone does not pin the desktop's key but
/// takes the one the desktop presents (`NOISE_RESUME` = `Noise_IX_25519_AESGCM_SHA256`, whose
/// message 2 carries the responder's static key and replaces the pinned one): "the phone does
/// not resume with the impostor: (PhoneHandle { … })", the phone resumed with the impostor.
#[tokio::test]
async fn an_impostor_desktop_that_knows_the_qr_token_cannot_get_a_paired_phone_to_resume() {
    let identity = SigningKey::generate(&mut OsRng);
    let (desktop, _events) = MobileDesktop::bind(
        "127.0.0.1:0",
        DesktopConfig::new(AGENT, &identity.verifying_key()),
    )
    .await
    .expect("binds");
    let (phone, _phone_events, phone_identity) =
        pair(&desktop, desktop.url(), PhoneSecurity::PreferSecure).await;
    phone.close();
    // The impostor knows the QR (token, window, did, even the desktop's identity key and every
    // paired-device record) but not the desktop's Noise static private key.
    let devices = desktop.devices();
    desktop.shutdown().await;
    let impostor_config = DesktopConfig::new(AGENT, &identity.verifying_key());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let (impostor, mut impostor_events) =
        MobileDesktop::serve(listener, impostor_config, devices).expect("serves");
    let error = connect(
        phone_config(impostor.url(), PhoneSecurity::PreferSecure),
        PhoneStart::Resume(phone_identity),
    )
    .await
    .expect_err("the phone does not resume with the impostor");
    assert!(error.is_retryable(), "{error:?}");
    let seen = drain(&mut impostor_events, Duration::from_millis(300)).await;
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, DesktopEvent::Resumed { .. })),
        "{seen:?}"
    );
    impostor.shutdown().await;
}

#[tokio::test]
async fn a_busy_desktop_is_read_as_busy_never_as_plain_by_a_securely_paired_phone() {
    let (desktop, mut events) = desktop_with(|c| {
        c.max_connections = 1;
        // The slot holder never upgrades; shutdown waits for its handshake deadline.
        c.handshake_timeout = Duration::from_secs(2);
    })
    .await;
    let (phone, _phone_events, identity) =
        pair(&desktop, desktop.url(), PhoneSecurity::PreferSecure).await;
    phone.close();
    // The pairing connection's slot is free once the desktop reports it ended.
    expect_event(&mut events, |e| {
        matches!(e, DesktopEvent::Disconnected { .. }).then_some(())
    })
    .await;
    // The desktop accepts in arrival order, so the holder takes the slot before the phone asks.
    let _holder = tokio::net::TcpStream::connect(desktop.local_addr())
        .await
        .expect("takes the only slot");
    let error = connect(
        phone_config(desktop.url(), PhoneSecurity::PreferSecure),
        PhoneStart::Resume(identity),
    )
    .await
    .expect_err("busy");
    assert!(
        matches!(&error, TransportError::Refused(what) if what == "busy"),
        "{error:?}"
    );
    assert!(error.is_retryable());
    desktop.shutdown().await;
}

#[tokio::test]
async fn a_device_known_as_secure_cannot_resume_plain_under_the_default_policy() {
    let (desktop, mut events) = desktop(DesktopSecurity::AllowPlain).await;
    let (phone, _phone_events, mut identity) =
        pair(&desktop, desktop.url(), PhoneSecurity::PreferSecure).await;
    phone.close();
    drain(&mut events, Duration::from_millis(200)).await;
    // Whoever holds the device key (a second desktop it paired with sees its proofs) tries plain.
    identity.noise = None;
    let error = connect(
        phone_config(desktop.url(), PhoneSecurity::PlainOnly),
        PhoneStart::Resume(identity),
    )
    .await
    .expect_err("refused");
    assert!(
        matches!(error, TransportError::SecureModeRequired),
        "{error:?}"
    );
    let seen = drain(&mut events, Duration::from_millis(300)).await;
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, DesktopEvent::Resumed { .. })),
        "{seen:?}"
    );
    assert!(seen.iter().any(|e| matches!(
        e,
        DesktopEvent::Disconnected {
            reason: DisconnectReason::SecureModeRequired,
            ..
        }
    )));
    desktop.shutdown().await;
}

/// Pairs a secure phone through a relay, then has `inject` write into the link; the phone must
/// only drop and resume, never close, and the desktop keep the pairing.
async fn injected_costs_a_retryable_drop(toward_phone: bool, bytes: Vec<u8>) {
    let (desktop, mut events) = desktop(DesktopSecurity::AllowPlain).await;
    let relay = relay(desktop.local_addr()).await;
    let (phone, mut phone_events, _identity) =
        pair(&desktop, ws_url(relay.addr), PhoneSecurity::PreferSecure).await;
    drain(&mut events, Duration::from_millis(100)).await;
    if toward_phone {
        relay.inject_down.send(bytes).expect("injects");
    } else {
        relay.inject.send(bytes).expect("injects");
    }
    let (dropped, retryable) = expect_event(&mut phone_events, |e| match e {
        PhoneEvent::Disconnected { error, .. } => {
            let retryable = error.is_retryable();
            Some((format!("{error:?}"), retryable))
        }
        PhoneEvent::Closed { error } => panic!("the link ended for good: {error:?}"),
        _ => None,
    })
    .await;
    assert!(retryable, "{dropped}");
    let secure = expect_event(&mut phone_events, |e| match e {
        PhoneEvent::Resumed { secure } => Some(secure),
        PhoneEvent::Closed { error } => panic!("the link ended for good: {error:?}"),
        _ => None,
    })
    .await;
    assert!(secure, "the link resumed in secure mode");
    assert_eq!(desktop.devices().len(), 1, "the pairing is kept");
    let receipt = phone.send_envelope(b"after".to_vec()).await.expect("sends");
    receipt.outcome().await.expect("the resumed link works");
    desktop.shutdown().await;
}

#[tokio::test]
async fn an_injected_unsealed_unpaired_rejection_toward_the_phone_costs_only_a_retryable_drop() {
    let frame = br#"{"type":"rejected","reason":"device is not paired"}"#;
    injected_costs_a_retryable_drop(true, server_frame(1, frame)).await;
}

#[tokio::test]
async fn an_unauthenticated_unpaired_close_code_toward_the_phone_costs_only_a_retryable_drop() {
    injected_costs_a_retryable_drop(true, server_frame(8, &4001u16.to_be_bytes())).await;
}

#[tokio::test]
async fn an_unauthenticated_bad_input_close_code_toward_the_phone_costs_only_a_retryable_drop() {
    injected_costs_a_retryable_drop(true, server_frame(8, &4006u16.to_be_bytes())).await;
}

#[tokio::test]
async fn an_injected_unsealed_rejection_toward_the_desktop_costs_only_a_retryable_drop() {
    let frame = br#"{"type":"rejected","reason":"device is not paired"}"#;
    injected_costs_a_retryable_drop(false, client_frame(1, frame)).await;
}

#[tokio::test]
async fn an_unauthenticated_close_code_toward_the_desktop_costs_only_a_retryable_drop() {
    injected_costs_a_retryable_drop(false, client_frame(8, &4001u16.to_be_bytes())).await;
}

/// An attacker with a Noise static key of its own completes a resume handshake naming the
/// device and a previous connection of it: it gets a sealed "device is not paired", and the
/// desktop keeps its count of what it processed on that connection, so the genuine phone settles
/// an envelope lost in the network as `NotDelivered`. The loss and the phone's reconnection are
/// driven by the relay's events, not by timing: the envelope's record is read and dropped (the
/// test waits until the relay has it), and the phone's next connection is held in the relay
/// until the forger is done. Shown to fail when a secure resume is not checked against the
/// static key the device enrolled with (`known != Some(phone)` in `check_handshake_frame`):
/// the forger gets `{"type":"challenge",…}`; when that refusal also forgets the device's
/// count (`registry.recent.remove(device)`): `left: Err(Unknown)`; and when the desktop keeps
/// no count at all (no `recent.push_back` when a connection ends): `left: Err(Unknown)`.
#[tokio::test]
async fn a_forged_resume_report_request_is_refused_and_the_desktop_keeps_its_count() {
    let identity = SigningKey::generate(&mut OsRng);
    let config = DesktopConfig::new(AGENT, &identity.verifying_key());
    let desktop_public = config.noise_key.public_key().expect("public key");
    let (desktop, mut events) = MobileDesktop::bind("127.0.0.1:0", config)
        .await
        .expect("binds");
    // The phone's link runs through a relay; an envelope is lost in it when the link is cut, so
    // the desktop's count of what it processed there is what settles the envelope.
    let mut relay = relay(desktop.local_addr()).await;
    let config = phone_config(ws_url(relay.addr), PhoneSecurity::PreferSecure);
    let start = PhoneStart::Pair {
        qr: desktop.open_pairing_window(PairingWindowConfig::default()),
        device_key: SigningKey::generate(&mut OsRng),
    };
    let (phone, _phone_events, phone_identity) = connect(config, start).await.expect("pairs");
    // The desktop processes a record after the handshake, so its count is more than the
    // handshake's.
    phone.send_audio_start(16_000).await.expect("sends");
    expect_event(&mut events, |e| {
        matches!(e, DesktopEvent::AudioStart { .. }).then_some(())
    })
    .await;
    // The envelope's record is lost in the relay: the test waits until the relay has read it.
    relay.lose.store(true, std::sync::atomic::Ordering::SeqCst);
    let lost = phone.send_envelope(b"lost".to_vec()).await.expect("sends");
    let mut swallowed = Vec::new();
    while !frame_payloads(&swallowed).iter().any(|(op, _)| *op == 2) {
        let bytes = tokio::time::timeout(WAIT, relay.lost.recv())
            .await
            .expect("the relay reads the envelope")
            .expect("the relay runs");
        swallowed.extend_from_slice(&bytes);
    }
    // The phone's reconnection is held in the relay until the forger is done, so the genuine
    // resume cannot be what the desktop's events show below.
    relay.hold_new.send_replace(true);
    let _ = relay.cut.send(());
    relay.lose.store(false, std::sync::atomic::Ordering::SeqCst);
    // An attacker with a Noise key of its own asks for the device's report, naming any previous
    // connection (its id is computable from public bytes); it completes Noise as itself.
    let forged_static = NoiseSecretKey::generate();
    let prologue = prologue("resume", &desktop.did());
    let mut initiator =
        snow::Builder::with_resolver(NOISE_RESUME.parse().expect("params"), resolver())
            .local_private_key(forged_static.expose_bytes())
            .and_then(|b| b.remote_public_key(&desktop_public.0))
            .and_then(|b| b.prologue(&prologue))
            .and_then(|b| b.build_initiator())
            .expect("initiator");
    let mut msg1 = [0u8; 512];
    let len = initiator
        .write_message(&[0u8; 32], &mut msg1)
        .expect("msg1");
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
            desktop.url(),
        )
        .expect("url");
    let value = format!("resume.{}", URL_SAFE_NO_PAD.encode(&msg1[..len]));
    request
        .headers_mut()
        .insert(NOISE_HEADER, value.parse().expect("header"));
    let (mut ws, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("the desktop answers any valid message 1");
    let msg2 = URL_SAFE_NO_PAD
        .decode(response.headers()[NOISE_HEADER].as_bytes())
        .expect("message 2");
    let mut empty = [0u8; 512];
    initiator.read_message(&msg2, &mut empty).expect("reads");
    let transport = initiator.into_transport_mode().expect("transport");
    let device = phone_identity.device_key.verifying_key();
    let resume = format!(
        r#"{{"type":"resume","pubkey":"{}","agent":"{AGENT}"}}"#,
        wavekat_platform_client::mobile::encode_pubkey_multibase(&device)
    );
    let mut plain = vec![0u8];
    plain.extend_from_slice(&0u64.to_be_bytes());
    plain.extend_from_slice(resume.as_bytes());
    let mut sealed = vec![0u8; plain.len() + 16];
    let mut transport = transport;
    let n = transport.write_message(&plain, &mut sealed).expect("seals");
    use futures_util::{SinkExt as _, StreamExt as _};
    ws.send(tokio_tungstenite::tungstenite::Message::binary(
        sealed[..n].to_vec(),
    ))
    .await
    .expect("sends");
    let reply = tokio::time::timeout(WAIT, ws.next())
        .await
        .expect("answers")
        .expect("a message")
        .expect("readable");
    let mut opened = vec![0u8; 4096];
    let n = transport
        .read_message(&reply.into_data(), &mut opened)
        .expect("the rejection is sealed to the forger");
    let text = String::from_utf8_lossy(&opened[9..n]).to_string();
    assert!(text.contains("device is not paired"), "{text}");
    let seen = drain(&mut events, Duration::from_millis(300)).await;
    assert!(
        !seen
            .iter()
            .any(|e| matches!(e, DesktopEvent::Resumed { .. })),
        "{seen:?}"
    );
    // The genuine phone resumes and learns from the desktop's count that the envelope never
    // arrived (a forgotten count would settle it as `Unknown`).
    relay.hold_new.send_replace(false);
    let outcome = tokio::time::timeout(WAIT, lost.outcome())
        .await
        .expect("settles");
    assert_eq!(outcome, Err(DeliveryFailure::NotDelivered));
    phone.close();
    desktop.shutdown().await;
}
