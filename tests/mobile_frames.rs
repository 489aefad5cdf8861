//! Frame decoding and encoding as specifications: typed errors naming frame and field, limits
//! checked before allocation, forward-compatible unknown types; plus multibase keys, envelope
//! verification and the enrollment transcript.

use ed25519_dalek::SigningKey;
use serde_json::json;
use wavekat_platform_client::mobile::*;

fn client(wire: &str) -> Result<ClientFrame, FrameError> {
    decode_client_frame(wire.as_bytes())
}

fn server(wire: &str) -> Result<ServerFrame, FrameError> {
    decode_server_frame(wire.as_bytes())
}

fn invalid(frame: &'static str, field: &'static str) -> impl Fn(&FrameError) -> bool {
    move |e| matches!(e, FrameError::InvalidField { frame: f, field: g, .. } if *f == frame && *g == field)
}

// ── Framing ──────────────────────────────────────────────────────────────────────────────────

#[test]
fn unknown_client_frame_type_decodes_to_unknown_keeping_the_type() {
    assert_eq!(
        client(r#"{"type":"ping_v9","x":[1,{"y":2}]}"#),
        Ok(ClientFrame::Unknown {
            frame_type: "ping_v9".into()
        })
    );
}

#[test]
fn unknown_server_frame_type_decodes_to_unknown_keeping_the_type() {
    assert_eq!(
        server(r#"{"type":"relay_hint","url":"wss://x"}"#),
        Ok(ServerFrame::Unknown {
            frame_type: "relay_hint".into()
        })
    );
}

#[test]
fn unknown_keys_are_ignored() {
    assert_eq!(
        client(r#"{"type":"audio_stream_start","sample_rate":16000,"codec":"f32","v":{"a":1}}"#),
        Ok(ClientFrame::AudioStreamStart {
            sample_rate: 16_000
        })
    );
}

#[test]
fn frame_over_1_mib_is_rejected_as_too_large_before_parsing() {
    let garbage = vec![b'x'; MAX_FRAME_BYTES + 1];
    assert_eq!(
        decode_client_frame(&garbage),
        Err(FrameError::TooLarge {
            len: MAX_FRAME_BYTES + 1,
            max: MAX_FRAME_BYTES
        })
    );
}

#[test]
fn frame_of_exactly_1_mib_is_parsed() {
    let mut wire = br#"{"type":"audio_stream_end"}"#.to_vec();
    wire.resize(MAX_FRAME_BYTES, b' ');
    assert_eq!(decode_client_frame(&wire), Ok(ClientFrame::AudioStreamEnd));
}

#[test]
fn text_that_is_not_json_is_rejected_as_not_json() {
    assert!(matches!(
        client("{\"type\":"),
        Err(FrameError::NotJson { .. })
    ));
}

#[test]
fn trailing_data_after_the_object_is_rejected_as_not_json() {
    assert!(matches!(
        client(r#"{"type":"audio_stream_end"} {}"#),
        Err(FrameError::NotJson { .. })
    ));
}

#[test]
fn invalid_utf8_is_rejected_as_not_json() {
    assert!(matches!(
        decode_client_frame(b"{\"type\":\"\xff\"}"),
        Err(FrameError::NotJson { .. })
    ));
}

#[test]
fn json_array_is_rejected_as_not_an_object() {
    assert_eq!(
        client(r#"["hello_proof","w",[1]]"#),
        Err(FrameError::NotObject)
    );
}

#[test]
fn object_without_type_is_rejected_as_missing_type() {
    assert_eq!(client(r#"{"wid":"w"}"#), Err(FrameError::MissingType));
}

#[test]
fn numeric_type_is_rejected_as_type_not_string() {
    assert_eq!(server(r#"{"type":7}"#), Err(FrameError::TypeNotString));
}

#[test]
fn repeated_key_is_rejected_as_duplicate() {
    assert_eq!(
        client(r#"{"type":"hello_proof","wid":"a","wid":"b","proof":[]}"#),
        Err(FrameError::DuplicateKey { key: "wid".into() })
    );
}

#[test]
fn repeated_type_is_rejected_as_duplicate() {
    assert_eq!(
        client(r#"{"type":"resume","type":"hello","pubkey":"z","agent":"a"}"#),
        Err(FrameError::DuplicateKey { key: "type".into() })
    );
}

#[test]
fn repeated_key_inside_the_envelope_is_rejected_as_duplicate() {
    let wire = r#"{"type":"envelope","envelope":{"payload":[1],"payload":[2],"sig":[],"key_version":0,"bridge_pubkey_multibase":"z"}}"#;
    assert_eq!(
        client(wire),
        Err(FrameError::DuplicateKey {
            key: "payload".into()
        })
    );
}

// ── Fields ───────────────────────────────────────────────────────────────────────────────────

#[test]
fn missing_proof_is_named_in_the_error() {
    assert_eq!(
        client(r#"{"type":"hello_proof","wid":"w"}"#),
        Err(FrameError::MissingField {
            frame: "hello_proof",
            field: "proof"
        })
    );
}

#[test]
fn proof_sent_as_a_string_is_an_invalid_field() {
    let e = client(r#"{"type":"hello_proof","wid":"w","proof":"abc"}"#).unwrap_err();
    assert!(invalid("hello_proof", "proof")(&e), "{e:?}");
}

#[test]
fn proof_byte_above_255_is_an_invalid_field() {
    let e = client(r#"{"type":"hello_proof","wid":"w","proof":[1,256]}"#).unwrap_err();
    assert!(invalid("hello_proof", "proof")(&e), "{e:?}");
}

#[test]
fn negative_proto_is_an_invalid_field() {
    let e = client(r#"{"type":"hello_init","proto":-2,"agent":"a","pubkey":"z","wid":"w"}"#)
        .unwrap_err();
    assert!(invalid("hello_init", "proto")(&e), "{e:?}");
}

#[test]
fn proto_above_u32_is_an_invalid_field() {
    let e =
        client(r#"{"type":"hello_init","proto":4294967296,"agent":"a","pubkey":"z","wid":"w"}"#)
            .unwrap_err();
    assert!(invalid("hello_init", "proto")(&e), "{e:?}");
}

#[test]
fn fractional_sample_rate_is_an_invalid_field() {
    let e = client(r#"{"type":"audio_stream_start","sample_rate":16000.0}"#).unwrap_err();
    assert!(invalid("audio_stream_start", "sample_rate")(&e), "{e:?}");
}

#[test]
fn envelope_without_sig_names_the_nested_field() {
    let wire = r#"{"type":"resume_proof","envelope":{"payload":[1],"key_version":0,"bridge_pubkey_multibase":"z"}}"#;
    assert_eq!(
        client(wire),
        Err(FrameError::MissingField {
            frame: "resume_proof",
            field: "envelope.sig"
        })
    );
}

#[test]
fn envelope_that_is_not_an_object_is_an_invalid_field() {
    let e = client(r#"{"type":"envelope","envelope":"signed"}"#).unwrap_err();
    assert!(invalid("envelope", "envelope")(&e), "{e:?}");
}

#[test]
fn envelope_key_version_above_u32_is_an_invalid_field() {
    let wire = r#"{"type":"envelope","envelope":{"payload":[],"sig":[],"key_version":4294967296,"bridge_pubkey_multibase":"z"}}"#;
    let e = client(wire).unwrap_err();
    assert!(invalid("envelope", "envelope.key_version")(&e), "{e:?}");
}

#[test]
fn channel_query_with_absent_optionals_reads_them_as_none() {
    assert_eq!(
        client(r#"{"type":"channel_query","op":"list"}"#),
        Ok(ClientFrame::ChannelQuery {
            op: "list".into(),
            channel_id: None,
            since_seq: None
        })
    );
}

#[test]
fn channel_query_with_null_optionals_reads_them_as_none() {
    assert_eq!(
        client(r#"{"type":"channel_query","op":"list","channel_id":null,"since_seq":null}"#),
        Ok(ClientFrame::ChannelQuery {
            op: "list".into(),
            channel_id: None,
            since_seq: None
        })
    );
}

#[test]
fn channel_query_sends_absent_optionals_as_null() {
    let frame = ClientFrame::ChannelQuery {
        op: "list".into(),
        channel_id: None,
        since_seq: None,
    };
    assert_eq!(
        frame.encode(),
        Ok(r#"{"type":"channel_query","op":"list","channel_id":null,"since_seq":null}"#.into())
    );
}

#[test]
fn since_seq_sent_as_a_string_is_an_invalid_field() {
    let e = client(r#"{"type":"channel_query","op":"events","since_seq":"3"}"#).unwrap_err();
    assert!(invalid("channel_query", "since_seq")(&e), "{e:?}");
}

#[test]
fn paired_sends_an_empty_confirm_as_an_empty_array() {
    let frame = ServerFrame::Paired {
        agent: "mur".into(),
        confirm: vec![],
    };
    assert_eq!(
        frame.encode(),
        Ok(r#"{"type":"paired","agent":"mur","confirm":[]}"#.into())
    );
}

#[test]
fn paired_with_a_null_confirm_is_an_invalid_field() {
    let e = server(r#"{"type":"paired","agent":"mur","confirm":null}"#).unwrap_err();
    assert!(invalid("paired", "confirm")(&e), "{e:?}");
}

#[test]
fn pair_challenge_nonce_sent_as_a_string_is_an_invalid_field() {
    let e = server(r#"{"type":"pair_challenge","wid":"w","nonce":"abc","did":"z"}"#).unwrap_err();
    assert!(invalid("pair_challenge", "nonce")(&e), "{e:?}");
}

#[test]
fn transcript_is_final_sent_as_a_string_is_an_invalid_field() {
    let e = server(r#"{"type":"transcript","text":"hi","is_final":"yes"}"#).unwrap_err();
    assert!(invalid("transcript", "is_final")(&e), "{e:?}");
}

#[test]
fn event_without_payload_is_a_missing_field() {
    assert_eq!(
        server(r#"{"type":"event","name":"mobile.reply"}"#),
        Err(FrameError::MissingField {
            frame: "event",
            field: "payload"
        })
    );
}

#[test]
fn event_with_a_null_payload_decodes() {
    assert_eq!(
        server(r#"{"type":"event","name":"mobile.reply","payload":null}"#),
        Ok(ServerFrame::Event {
            name: "mobile.reply".into(),
            payload: serde_json::Value::Null
        })
    );
}

#[test]
fn decode_error_of_a_legacy_hello_never_shows_its_token() {
    let e = client(r#"{"type":"hello","pubkey":"z","token":"s3cret-tok","agent":7}"#).unwrap_err();
    assert!(invalid("hello", "agent")(&e), "{e:?}");
    assert!(!format!("{e} {e:?}").contains("s3cret-tok"));
}

// ── Audio ────────────────────────────────────────────────────────────────────────────────────

fn b64(bytes: &[u8]) -> String {
    base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes)
}

#[test]
fn audio_chunk_round_trips_its_pcm() {
    let pcm: Vec<u8> = (0..4096u32).map(|i| (i * 7) as u8).collect();
    let wire = ClientFrame::audio_chunk_from_pcm(&pcm)
        .and_then(|f| f.encode())
        .expect("encode");
    let frame = client(&wire).expect("decode");
    assert_eq!(frame.audio_pcm(), Some(Ok(pcm)));
}

#[test]
fn audio_chunk_of_exactly_256_kib_is_accepted() {
    let pcm = vec![1u8; MAX_AUDIO_CHUNK_BYTES];
    let wire = format!(r#"{{"type":"audio_chunk","data":"{}"}}"#, b64(&pcm));
    assert_eq!(client(&wire).expect("decode").audio_pcm(), Some(Ok(pcm)));
}

#[test]
fn audio_chunk_over_256_kib_is_rejected_at_decode() {
    let pcm = vec![1u8; MAX_AUDIO_CHUNK_BYTES + 1];
    let wire = format!(r#"{{"type":"audio_chunk","data":"{}"}}"#, b64(&pcm));
    assert_eq!(
        client(&wire),
        Err(FrameError::AudioTooLarge {
            frame: "audio_chunk",
            field: "data",
            len: MAX_AUDIO_CHUNK_BYTES + 1,
            max: MAX_AUDIO_CHUNK_BYTES
        })
    );
}

#[test]
fn server_audio_chunk_over_256_kib_is_rejected_at_decode() {
    let pcm = vec![1u8; MAX_AUDIO_CHUNK_BYTES + 3];
    let wire = format!(
        r#"{{"type":"audio_chunk","base64":"{}","sample_rate":24000,"done":true}}"#,
        b64(&pcm)
    );
    assert!(matches!(
        server(&wire),
        Err(FrameError::AudioTooLarge {
            frame: "audio_chunk",
            field: "base64",
            ..
        })
    ));
}

#[test]
fn building_an_audio_chunk_over_256_kib_is_refused() {
    assert!(matches!(
        ClientFrame::audio_chunk_from_pcm(&vec![0; MAX_AUDIO_CHUNK_BYTES + 1]),
        Err(FrameError::AudioTooLarge { .. })
    ));
}

#[test]
fn invalid_base64_audio_is_a_typed_error_naming_the_field() {
    let frame = client(r#"{"type":"audio_chunk","data":"not base64!"}"#).expect("decode");
    assert_eq!(
        frame.audio_pcm(),
        Some(Err(FrameError::InvalidBase64 {
            frame: "audio_chunk",
            field: "data"
        }))
    );
}

#[test]
fn unpadded_base64_audio_is_invalid() {
    let frame = client(r#"{"type":"audio_chunk","data":"AAE"}"#).expect("decode");
    assert!(matches!(
        frame.audio_pcm(),
        Some(Err(FrameError::InvalidBase64 { .. }))
    ));
}

#[test]
fn invalid_base64_in_server_audio_names_the_base64_field() {
    let frame =
        server(r#"{"type":"audio_chunk","base64":"@@@@","sample_rate":24000,"done":false}"#)
            .expect("decode");
    assert_eq!(
        frame.audio_pcm(),
        Some(Err(FrameError::InvalidBase64 {
            frame: "audio_chunk",
            field: "base64"
        }))
    );
}

#[test]
fn audio_pcm_of_a_non_audio_frame_is_none() {
    assert_eq!(ClientFrame::AudioStreamEnd.audio_pcm(), None);
}

// ── Encoding ─────────────────────────────────────────────────────────────────────────────────

#[test]
fn unknown_frame_cannot_be_encoded() {
    assert_eq!(
        ServerFrame::Unknown {
            frame_type: "future".into()
        }
        .encode(),
        Err(FrameError::EncodeUnknown {
            frame_type: "future".into()
        })
    );
}

#[test]
fn encoding_a_frame_over_1_mib_is_refused() {
    let frame = ServerFrame::ChannelData {
        op: "list".into(),
        payload: json!(["x".repeat(MAX_FRAME_BYTES)]),
    };
    assert!(matches!(frame.encode(), Err(FrameError::TooLarge { .. })));
}

// ── Multibase keys ───────────────────────────────────────────────────────────────────────────

#[test]
fn multibase_key_round_trips() {
    let key = SigningKey::from_bytes(&[5; 32]).verifying_key();
    assert_eq!(
        decode_pubkey_multibase(&encode_pubkey_multibase(&key)),
        Ok(key)
    );
}

#[test]
fn empty_multibase_key_is_rejected() {
    assert_eq!(decode_pubkey_multibase(""), Err(KeyError::Empty));
}

#[test]
fn multibase_key_in_another_base_is_rejected() {
    assert_eq!(
        decode_pubkey_multibase("f8a88e3dd"),
        Err(KeyError::UnsupportedBase { prefix: 'f' })
    );
}

#[test]
fn multibase_key_with_a_non_base58_character_is_rejected() {
    assert_eq!(
        decode_pubkey_multibase("z0OIl"),
        Err(KeyError::InvalidBase58)
    );
}

#[test]
fn multibase_key_of_31_bytes_is_rejected() {
    let text = format!("z{}", bs58::encode([7u8; 31]).into_string());
    assert_eq!(
        decode_pubkey_multibase(&text),
        Err(KeyError::WrongLength { len: 31 })
    );
}

#[test]
fn multibase_key_longer_than_any_32_byte_encoding_is_rejected_unparsed() {
    let text = format!("z{}", "2".repeat(45));
    assert_eq!(
        decode_pubkey_multibase(&text),
        Err(KeyError::TooLong { len: 46 })
    );
}

#[test]
fn multibase_key_that_is_not_a_curve_point_is_rejected() {
    // y = 2 has no x on edwards25519.
    assert_eq!(
        decode_pubkey_multibase("z8opHzTAnfzRpPEx21XtnrVTX28YQuCpAjcn1PczScKh"),
        Err(KeyError::InvalidPoint)
    );
}

// ── Envelopes ────────────────────────────────────────────────────────────────────────────────

fn signed() -> (SignedEnvelope, SigningKey) {
    let key = SigningKey::from_bytes(&[3; 32]);
    (SignedEnvelope::sign(b"{\"id\":1}".to_vec(), &key, 4), key)
}

#[test]
fn envelope_verifies_under_the_signing_key() {
    let (envelope, key) = signed();
    assert_eq!(envelope.verify(&key.verifying_key()), Ok(()));
}

#[test]
fn envelope_with_a_flipped_key_version_does_not_verify() {
    let (mut envelope, key) = signed();
    envelope.key_version = 5;
    assert_eq!(
        envelope.verify(&key.verifying_key()),
        Err(EnvelopeError::SignatureMismatch)
    );
}

#[test]
fn envelope_with_a_tampered_payload_does_not_verify() {
    let (mut envelope, key) = signed();
    envelope.payload = b"{\"id\":2}".to_vec();
    assert_eq!(
        envelope.verify(&key.verifying_key()),
        Err(EnvelopeError::SignatureMismatch)
    );
}

#[test]
fn envelope_does_not_verify_under_its_own_claimed_key_when_another_is_expected() {
    let (envelope, _) = signed();
    let expected = SigningKey::from_bytes(&[4; 32]).verifying_key();
    assert_eq!(
        envelope.verify(&expected),
        Err(EnvelopeError::SignatureMismatch)
    );
}

#[test]
fn envelope_with_a_63_byte_signature_is_rejected_by_length() {
    let (mut envelope, key) = signed();
    envelope.sig.pop();
    assert_eq!(
        envelope.verify(&key.verifying_key()),
        Err(EnvelopeError::SignatureLength { len: 63 })
    );
}

#[test]
fn small_order_key_forgery_that_lenient_verification_accepts_is_rejected() {
    // Public key = identity point, R = identity, s = 0: satisfies the cofactorless equation for
    // every message, so only strict verification refuses it.
    let expected = decode_pubkey_multibase("z4uQeVj5tqViQh7yWWGStvkEG1Zmhx6uasJtWCJziofM")
        .expect("identity point decodes");
    let mut sig = vec![0u8; 64];
    sig[0] = 1;
    let forged = SignedEnvelope {
        payload: b"anything".to_vec(),
        sig,
        key_version: 0,
        bridge_pubkey_multibase: "z4uQeVj5tqViQh7yWWGStvkEG1Zmhx6uasJtWCJziofM".into(),
    };
    let lenient = ed25519_dalek::Verifier::verify(
        &expected,
        &forged.signing_bytes(),
        &ed25519_dalek::Signature::from_slice(&forged.sig).expect("64 bytes"),
    );
    assert!(
        lenient.is_ok(),
        "premise: lenient verification accepts the forgery"
    );
    assert_eq!(
        forged.verify(&expected),
        Err(EnvelopeError::SignatureMismatch)
    );
}

#[test]
fn envelope_verify_with_an_invalid_expected_multibase_key_names_the_key_error() {
    let (envelope, _) = signed();
    assert_eq!(
        envelope.verify_multibase("q123"),
        Err(EnvelopeError::ExpectedKey(KeyError::UnsupportedBase {
            prefix: 'q'
        }))
    );
}

// ── Transcript ───────────────────────────────────────────────────────────────────────────────

#[test]
fn transcript_layout_matches_the_contract_illustration() {
    // CONTRACT.md §8.6: proto 2, agent `mur`, wid `w`, did `d`, pubkey `p`, 4-byte zero nonce.
    let expected = concat!(
        "0b000000",
        "6d75722d706169722d7632",
        "19000000",
        "6d75722d706169722d76322f70686f6e652d3e6461656d6f6e",
        "02000000",
        "03000000",
        "6d7572",
        "01000000",
        "77",
        "01000000",
        "64",
        "01000000",
        "70",
        "04000000",
        "00000000",
    );
    let transcript = pair_transcript(
        PairRole::PhoneToDaemon,
        &TranscriptFields {
            proto: 2,
            agent: "mur",
            wid: "w",
            did: "d",
            phone_pubkey: "p",
            nonce: &[0; 4],
        },
    )
    .expect("transcript");
    assert_eq!(transcript.len(), 78);
    assert_eq!(hex::encode(transcript), expected);
}

#[test]
fn a_confirm_is_not_accepted_as_a_proof() {
    let token = PairingToken::new("t");
    let fields = TranscriptFields {
        proto: 2,
        agent: "mur",
        wid: "w",
        did: "d",
        phone_pubkey: "p",
        nonce: &[1; 32],
    };
    let confirm = pair_confirm(&token, &fields).expect("confirm");
    assert_eq!(
        verify_pair_proof(&token, &fields, &confirm),
        Err(PairingError::ProofMismatch)
    );
}

#[test]
fn a_truncated_proof_is_rejected() {
    let token = PairingToken::new("t");
    let fields = TranscriptFields {
        proto: 2,
        agent: "mur",
        wid: "w",
        did: "d",
        phone_pubkey: "p",
        nonce: &[1; 32],
    };
    let proof = pair_proof(&token, &fields).expect("proof");
    assert_eq!(
        verify_pair_proof(&token, &fields, &proof[..16]),
        Err(PairingError::ProofMismatch)
    );
}

#[test]
fn pairing_tokens_compare_by_value() {
    assert_eq!(PairingToken::new("abc"), PairingToken::new("abc"));
    assert_ne!(PairingToken::new("abc"), PairingToken::new("abd"));
}

// ── The audio_chunk fast path agrees with the general decoder ────────────────────────────────

#[test]
fn audio_chunk_with_a_repeated_data_key_is_rejected_as_duplicate() {
    assert_eq!(
        client(r#"{"type":"audio_chunk","data":"AAAA","data":"AAAA"}"#),
        Err(FrameError::DuplicateKey { key: "data".into() })
    );
}

#[test]
fn audio_chunk_with_a_repeated_type_after_data_is_rejected_as_duplicate() {
    assert_eq!(
        client(r#"{"type":"audio_chunk","data":"AAAA","type":"audio_chunk"}"#),
        Err(FrameError::DuplicateKey { key: "type".into() })
    );
}

#[test]
fn audio_chunk_decodes_the_same_in_any_key_order_with_unknown_keys_or_escapes() {
    let canonical = client(r#"{"type":"audio_chunk","data":"AAAA"}"#).expect("decode");
    for wire in [
        r#"{"data":"AAAA","type":"audio_chunk"}"#,
        r#"{"type":"audio_chunk","data":"AAAA","seq":7}"#,
        r#"{"type":"audio_chunk","data":"AA\u0041A"}"#,
        r#" { "type" : "audio_chunk" , "data" : "AAAA" } "#,
    ] {
        assert_eq!(client(wire).as_ref(), Ok(&canonical), "{wire}");
    }
}

#[test]
fn audio_chunk_with_trailing_data_is_rejected_as_not_json() {
    assert!(matches!(
        client(r#"{"type":"audio_chunk","data":"AAAA"}x"#),
        Err(FrameError::NotJson { .. })
    ));
}

#[test]
fn audio_chunk_whose_data_is_not_a_string_is_an_invalid_field() {
    let e = client(r#"{"type":"audio_chunk","data":[1,2]}"#).unwrap_err();
    assert!(invalid("audio_chunk", "data")(&e), "{e:?}");
}

#[test]
fn canonical_audio_chunk_with_a_quote_or_backslash_in_data_is_not_taken_as_base64() {
    assert!(matches!(
        client(r#"{"type":"audio_chunk","data":"AA"AA"}"#),
        Err(FrameError::NotJson { .. })
    ));
    assert_eq!(
        client(r#"{"type":"audio_chunk","data":"AA\/A"}"#),
        Ok(ClientFrame::AudioChunk {
            data: "AA/A".into()
        })
    );
}

#[test]
fn the_text_decoder_agrees_with_the_bytes_decoder() {
    let big = format!(
        r#"{{"type":"audio_chunk","data":"{}"}}"#,
        b64(&vec![3u8; 4096])
    );
    for wire in [
        big.as_str(),
        r#"{"type":"audio_chunk","data":"AAAA"}"#,
        r#"{"type":"audio_chunk","data":"AAAA","data":"AAAA"}"#,
        r#"{"data":"AAAA","type":"audio_chunk"}"#,
        r#"{"type":"audio_chunk","data":"AA\/A"}"#,
        r#"{"type":"audio_chunk","data":"AAAA"} x"#,
        r#"{"type":"audio_chunk","data":7}"#,
        r#"{"type":"audio_stream_start","sample_rate":16000}"#,
        r#"{"type":"nope"}"#,
    ] {
        assert_eq!(decode_client_frame_text(wire), client(wire), "{wire}");
    }
}
