use super::*;
use crate::mobile::transport::noise::{
    DesktopHandshake, Mode, NoiseSecretKey, PhoneHandshake, PhoneNoiseKeys,
};

/// Both ends' keys after a real resume handshake.
fn pair() -> (SessionKeys, SessionKeys) {
    let desktop = NoiseSecretKey::generate();
    let keys = PhoneNoiseKeys {
        phone: NoiseSecretKey::generate(),
        desktop: desktop.public_key().expect("public key"),
    };
    let (phone, msg1) =
        PhoneHandshake::start(Mode::Resume, "mur", "zDid", &keys, None, b"").expect("msg1");
    let read = DesktopHandshake::read(Mode::Resume, "mur", "zDid", &desktop, &msg1).expect("read");
    let (msg2, desk) = read.respond(None).expect("msg2");
    let ph = phone.finish(&msg2).expect("finish");
    assert_eq!(ph.session_id, desk.session_id);
    (ph.keys, desk.keys)
}

#[test]
fn a_record_sealed_by_one_side_opens_on_the_other_in_order() {
    let (mut phone, mut desktop) = pair();
    let first = phone
        .seal(RecordKind::Frame, b"{\"type\":\"audio_stream_end\"}")
        .expect("seals");
    let second = phone.seal(RecordKind::Ack, b"").expect("seals");
    let opened = desktop.open(&first).expect("first record opens");
    assert_eq!(opened.kind, RecordKind::Frame);
    assert_eq!(opened.payload(), b"{\"type\":\"audio_stream_end\"}");
    assert_eq!(desktop.open(&second).expect("second").kind, RecordKind::Ack);
    let reply = desktop.seal(RecordKind::Ack, b"").expect("seals");
    assert_eq!(phone.open(&reply).expect("reply").ack, 2);
}

#[test]
fn a_replayed_or_reordered_record_is_refused_and_leaves_the_counters() {
    let (mut phone, mut desktop) = pair();
    let a = phone.seal(RecordKind::Frame, b"{}").expect("seals");
    let b = phone.seal(RecordKind::Frame, b"{}").expect("seals");
    assert_eq!(desktop.open(&b).err(), Some(SecureError::BadMac));
    desktop.open(&a).expect("opens in order");
    assert_eq!(desktop.open(&a).err(), Some(SecureError::BadMac));
    desktop.open(&b).expect("the next one still opens");
    assert_eq!(desktop.received(), 2);
}

#[test]
fn a_frame_larger_than_a_noise_message_is_fragmented_and_reassembled() {
    let (mut phone, mut desktop) = pair();
    let big: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
    let record = phone.seal(RecordKind::Frame, &big).expect("seals");
    assert_eq!(record.len(), sealed_len(big.len()));
    assert_eq!(record.len(), big.len() + 9 + 4 * 16);
    let opened = desktop.open(&record).expect("opens");
    assert_eq!(opened.payload(), big);
    // Every piece counts as a nonce: the next record still opens.
    let next = phone.seal(RecordKind::Ack, b"").expect("seals");
    desktop.open(&next).expect("opens");
}

#[test]
fn a_record_opened_into_a_recycled_buffer_is_exactly_its_own_payload() {
    let (mut phone, mut desktop) = pair();
    let long = vec![7u8; 9_000];
    let record = phone.seal(RecordKind::Frame, &long).expect("seals");
    let opened = desktop.open(&record).expect("opens");
    assert_eq!(opened.payload(), long);
    desktop.recycle(opened);
    // A refused record leaves the recycled buffer for the next one.
    assert_eq!(desktop.open(&[0u8; 40]).err(), Some(SecureError::BadMac));
    let short = phone.seal(RecordKind::Frame, b"{}").expect("seals");
    let opened = desktop.open(&short).expect("opens");
    assert_eq!(opened.payload(), b"{}");
    assert_eq!(opened.into_payload(), b"{}");
}

#[test]
fn a_sealed_frame_is_not_readable_and_a_flipped_byte_fails() {
    let (mut phone, mut desktop) = pair();
    let frame = b"{\"type\":\"channel_query\",\"op\":\"list\"}";
    let mut record = phone.seal(RecordKind::Frame, frame).expect("seals");
    assert_eq!(record.len(), frame.len() + RECORD_OVERHEAD);
    assert!(!record.windows(12).any(|w| w == b"channel_quer"));
    record[0] ^= 1;
    assert_eq!(desktop.open(&record).err(), Some(SecureError::BadMac));
    record[0] ^= 1;
    assert_eq!(desktop.open(&record).expect("opens").payload(), frame);
    let short = [0u8; RECORD_OVERHEAD - 1];
    assert_eq!(
        desktop.open(&short).err(),
        Some(SecureError::Truncated {
            len: RECORD_OVERHEAD - 1
        })
    );
}

#[test]
fn sealing_stops_before_a_nonce_would_repeat() {
    let (phone, _) = pair();
    let (mut seal, _) = phone.split();
    seal.nonce = u64::MAX - 1;
    assert_eq!(
        seal.seal(RecordKind::Ack, 0, b"").err(),
        Some(SecureError::SequenceExhausted)
    );
    assert_eq!(seal.next_seq(), 0);
}

#[test]
fn noise_secret_key_debug_is_redacted() {
    let key = NoiseSecretKey::from_bytes([0xab; 32]);
    assert_eq!(format!("{key:?}"), "NoiseSecretKey(***redacted)");
}

#[test]
fn resume_report_round_trips() {
    let payload = resume_report(&[5; 32], 42);
    assert_eq!(parse_resume_report(&payload), Some(([5; 32], 42)));
    assert_eq!(parse_resume_report(&payload[1..]), None);
}
