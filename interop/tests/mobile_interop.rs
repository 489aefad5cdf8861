//! Wire interop with the deployed desktop endpoint's types (`mur-common` 2.98): every frame
//! variant, the enrollment transcript/proof/confirm, envelopes and multibase keys agree byte for
//! byte, and CONTRACT.md §8 worked examples A and B are reproduced exactly.

use ed25519_dalek::SigningKey;
use mur_common::bridge::envelope as mur_envelope;
use mur_common::identity::{self as mur_identity, AgentIdentity};
use mur_common::mobile as mur;
use rand_core::{CryptoRng, RngCore};
use serde_json::json;
use wavekat_platform_client::mobile::*;

const PHONE_SEED: [u8; 32] = [1; 32];
const DAEMON_SEED: [u8; 32] = [2; 32];
/// Multibase keys of the two seeds, from CONTRACT.md example A.
const PHONE_MULTIBASE: &str = "zAKnL4NNf3DGWZJS6cPknBuEGnVsV4A4m5tgebLHaRSZ9";
const DAEMON_MULTIBASE: &str = "z9hSR6S7WPtxmTojgo6GG3k4yDPecgJY292j7xrsUGWBu";

/// An RNG that yields the same byte forever, to pin nonces.
struct RepeatRng(u8);

impl RngCore for RepeatRng {
    fn next_u32(&mut self) -> u32 {
        u32::from_le_bytes([self.0; 4])
    }
    fn next_u64(&mut self) -> u64 {
        u64::from_le_bytes([self.0; 8])
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        dest.fill(self.0);
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        dest.fill(self.0);
        Ok(())
    }
}

impl CryptoRng for RepeatRng {}

fn envelope_pair() -> (SignedEnvelope, mur_common::bridge::SignedEnvelope) {
    let ours = SignedEnvelope {
        payload: br#"{"id":1}"#.to_vec(),
        sig: (0..64).collect(),
        key_version: 3,
        bridge_pubkey_multibase: PHONE_MULTIBASE.into(),
    };
    let theirs = mur_common::bridge::SignedEnvelope {
        payload: br#"{"id":1}"#.to_vec(),
        sig: (0..64).collect(),
        key_version: 3,
        bridge_pubkey_multibase: PHONE_MULTIBASE.into(),
    };
    (ours, theirs)
}

/// Our frame and mur-common's, built independently from the same values, put the same bytes on
/// the wire, and each side reads the other's bytes back to the same value.
fn assert_client_interop(ours: ClientFrame, theirs: mur::ClientFrame) {
    let theirs_wire = serde_json::to_string(&theirs).expect("mur-common encodes");
    let ours_wire = ours.encode().expect("we encode");
    assert_eq!(ours_wire, theirs_wire, "wire bytes differ");
    assert_eq!(
        decode_client_frame(theirs_wire.as_bytes()).expect("we decode mur-common's bytes"),
        ours
    );
    let theirs_back: mur::ClientFrame =
        serde_json::from_str(&ours_wire).expect("mur-common decodes our bytes");
    assert_eq!(
        serde_json::to_value(&theirs_back).expect("re-encode"),
        serde_json::to_value(&theirs).expect("encode"),
        "mur-common read our bytes to another value"
    );
}

fn assert_server_interop(ours: ServerFrame, theirs: mur::ServerFrame) {
    let theirs_wire = serde_json::to_string(&theirs).expect("mur-common encodes");
    let ours_wire = ours.encode().expect("we encode");
    assert_eq!(ours_wire, theirs_wire, "wire bytes differ");
    assert_eq!(
        decode_server_frame(theirs_wire.as_bytes()).expect("we decode mur-common's bytes"),
        ours
    );
    let theirs_back: mur::ServerFrame =
        serde_json::from_str(&ours_wire).expect("mur-common decodes our bytes");
    assert_eq!(
        serde_json::to_value(&theirs_back).expect("re-encode"),
        serde_json::to_value(&theirs).expect("encode"),
        "mur-common read our bytes to another value"
    );
}

#[test]
fn hello_frame_interops() {
    assert_client_interop(
        ClientFrame::Hello {
            pubkey: PHONE_MULTIBASE.into(),
            token: PairingToken::new("tok"),
            agent: "mur".into(),
        },
        mur::ClientFrame::Hello {
            pubkey: PHONE_MULTIBASE.into(),
            token: "tok".into(),
            agent: "mur".into(),
        },
    );
}

#[test]
fn hello_init_frame_interops() {
    assert_client_interop(
        ClientFrame::HelloInit {
            proto: 2,
            agent: "mur".into(),
            pubkey: PHONE_MULTIBASE.into(),
            wid: "w1".into(),
        },
        mur::ClientFrame::HelloInit {
            proto: 2,
            agent: "mur".into(),
            pubkey: PHONE_MULTIBASE.into(),
            wid: "w1".into(),
        },
    );
}

#[test]
fn hello_proof_frame_interops() {
    assert_client_interop(
        ClientFrame::HelloProof {
            wid: "w1".into(),
            proof: (200..232).collect(),
        },
        mur::ClientFrame::HelloProof {
            wid: "w1".into(),
            proof: (200..232).collect(),
        },
    );
}

#[test]
fn resume_frame_interops() {
    assert_client_interop(
        ClientFrame::Resume {
            pubkey: PHONE_MULTIBASE.into(),
            agent: "mur".into(),
        },
        mur::ClientFrame::Resume {
            pubkey: PHONE_MULTIBASE.into(),
            agent: "mur".into(),
        },
    );
}

#[test]
fn resume_proof_frame_interops() {
    let (ours, theirs) = envelope_pair();
    assert_client_interop(
        ClientFrame::ResumeProof { envelope: ours },
        mur::ClientFrame::ResumeProof { envelope: theirs },
    );
}

#[test]
fn envelope_frame_interops() {
    let (ours, theirs) = envelope_pair();
    assert_client_interop(
        ClientFrame::Envelope { envelope: ours },
        mur::ClientFrame::Envelope { envelope: theirs },
    );
}

#[test]
fn audio_stream_start_frame_interops() {
    assert_client_interop(
        ClientFrame::AudioStreamStart { sample_rate: 16000 },
        mur::ClientFrame::AudioStreamStart { sample_rate: 16000 },
    );
}

#[test]
fn audio_chunk_frame_interops() {
    let pcm: Vec<u8> = (0..=255).collect();
    let ours = ClientFrame::audio_chunk_from_pcm(&pcm).expect("small chunk");
    let data = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &pcm);
    assert_client_interop(ours, mur::ClientFrame::AudioChunk { data });
}

#[test]
fn audio_stream_end_frame_interops() {
    assert_client_interop(
        ClientFrame::AudioStreamEnd,
        mur::ClientFrame::AudioStreamEnd,
    );
}

#[test]
fn channel_query_with_values_interops() {
    assert_client_interop(
        ClientFrame::ChannelQuery {
            op: "events".into(),
            channel_id: Some("c1".into()),
            since_seq: Some(u64::MAX),
        },
        mur::ClientFrame::ChannelQuery {
            op: "events".into(),
            channel_id: Some("c1".into()),
            since_seq: Some(u64::MAX),
        },
    );
}

#[test]
fn channel_query_without_values_interops_with_nulls() {
    assert_client_interop(
        ClientFrame::ChannelQuery {
            op: "list".into(),
            channel_id: None,
            since_seq: None,
        },
        mur::ClientFrame::ChannelQuery {
            op: "list".into(),
            channel_id: None,
            since_seq: None,
        },
    );
}

#[test]
fn paired_frame_with_confirm_interops() {
    assert_server_interop(
        ServerFrame::Paired {
            agent: "mur".into(),
            confirm: vec![9; 32],
        },
        mur::ServerFrame::Paired {
            agent: "mur".into(),
            confirm: vec![9; 32],
        },
    );
}

#[test]
fn paired_frame_with_empty_confirm_interops() {
    assert_server_interop(
        ServerFrame::Paired {
            agent: "mur".into(),
            confirm: vec![],
        },
        mur::ServerFrame::Paired {
            agent: "mur".into(),
            confirm: vec![],
        },
    );
}

#[test]
fn pair_challenge_frame_interops() {
    assert_server_interop(
        ServerFrame::PairChallenge {
            wid: "w1".into(),
            nonce: vec![255; 32],
            did: DAEMON_MULTIBASE.into(),
        },
        mur::ServerFrame::PairChallenge {
            wid: "w1".into(),
            nonce: vec![255; 32],
            did: DAEMON_MULTIBASE.into(),
        },
    );
}

#[test]
fn rejected_frame_interops() {
    assert_server_interop(
        ServerFrame::Rejected {
            reason: "no \"window\"\n".into(),
        },
        mur::ServerFrame::Rejected {
            reason: "no \"window\"\n".into(),
        },
    );
}

#[test]
fn challenge_frame_interops() {
    let nonce = "0f8fad5b-d9cb-469f-a165-70867728950e";
    assert_server_interop(
        ServerFrame::Challenge {
            nonce: nonce.into(),
        },
        mur::ServerFrame::Challenge {
            nonce: nonce.into(),
        },
    );
}

#[test]
fn event_frame_interops() {
    let payload = json!({"text": "hi", "n": [1, 2.5, null, true], "nested": {"k": "v"}});
    assert_server_interop(
        ServerFrame::Event {
            name: "mobile.reply".into(),
            payload: payload.clone(),
        },
        mur::ServerFrame::Event {
            name: "mobile.reply".into(),
            payload,
        },
    );
}

#[test]
fn transcript_frame_interops() {
    assert_server_interop(
        ServerFrame::Transcript {
            text: "héllo ✓".into(),
            is_final: true,
        },
        mur::ServerFrame::Transcript {
            text: "héllo ✓".into(),
            is_final: true,
        },
    );
}

#[test]
fn server_audio_chunk_frame_interops() {
    let pcm = vec![0x3f_u8; 1000];
    let base64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &pcm);
    assert_server_interop(
        ServerFrame::audio_chunk_from_pcm(&pcm, 24000, false).expect("small chunk"),
        mur::ServerFrame::AudioChunk {
            base64,
            sample_rate: 24000,
            done: false,
        },
    );
}

#[test]
fn channel_data_frame_interops() {
    let payload = json!([{"id": "c1", "seq": 4}]);
    assert_server_interop(
        ServerFrame::ChannelData {
            op: "list".into(),
            payload: payload.clone(),
        },
        mur::ServerFrame::ChannelData {
            op: "list".into(),
            payload,
        },
    );
}

#[test]
fn envelope_payload_and_sig_sent_as_strings_decode_alike() {
    let wire = r#"{"type":"envelope","envelope":{"payload":"{\"a\":1}","sig":"xyz","key_version":0,"bridge_pubkey_multibase":"z1"}}"#;
    let ours = decode_client_frame(wire.as_bytes()).expect("we accept string bytes");
    let theirs: mur::ClientFrame = serde_json::from_str(wire).expect("mur-common accepts them");
    let mur::ClientFrame::Envelope { envelope: theirs } = theirs else {
        panic!("mur-common decoded another variant");
    };
    let ClientFrame::Envelope { envelope: ours } = ours else {
        panic!("we decoded another variant");
    };
    assert_eq!(ours.payload, theirs.payload);
    assert_eq!(ours.sig, theirs.sig);
}

#[test]
fn paired_without_confirm_decodes_as_empty_on_both_sides() {
    let wire = br#"{"type":"paired","agent":"mur"}"#;
    let theirs: mur::ServerFrame = serde_json::from_slice(wire).expect("mur-common decodes");
    let mur::ServerFrame::Paired { confirm, .. } = theirs else {
        panic!("mur-common decoded another variant");
    };
    assert!(confirm.is_empty());
    assert_eq!(
        decode_server_frame(wire).expect("we decode"),
        ServerFrame::Paired {
            agent: "mur".into(),
            confirm: vec![]
        }
    );
}

fn transcript_fields() -> TranscriptFields<'static> {
    TranscriptFields {
        proto: 2,
        agent: "mur",
        wid: "0b1f3c9e-0000-4000-8000-000000000001",
        did: DAEMON_MULTIBASE,
        phone_pubkey: PHONE_MULTIBASE,
        nonce: &[0xa5; 32],
    }
}

fn mur_transcript(role: &[u8], f: &TranscriptFields<'_>) -> Vec<u8> {
    mur::pair_transcript(
        role,
        f.proto,
        f.agent,
        f.wid,
        f.did,
        f.phone_pubkey,
        f.nonce,
    )
}

#[test]
fn phone_to_daemon_transcript_matches_mur_common() {
    let f = transcript_fields();
    assert_eq!(
        pair_transcript(PairRole::PhoneToDaemon, &f).expect("transcript"),
        mur_transcript(mur::PAIR_ROLE_PHONE_TO_DAEMON, &f)
    );
}

#[test]
fn daemon_to_phone_transcript_matches_mur_common() {
    let f = transcript_fields();
    assert_eq!(
        pair_transcript(PairRole::DaemonToPhone, &f).expect("transcript"),
        mur_transcript(mur::PAIR_ROLE_DAEMON_TO_PHONE, &f)
    );
}

#[test]
fn proof_matches_mur_common_and_verifies_there() {
    let token = PairingToken::new("6f1c2f7a-8f0e-4d33-9c51-4b1f3a0c2d9e");
    let f = transcript_fields();
    let ours = pair_proof(&token, &f).expect("proof");
    let theirs = mur::pair_proof(
        token.expose_secret().as_bytes(),
        &mur_transcript(mur::PAIR_ROLE_PHONE_TO_DAEMON, &f),
    );
    assert_eq!(ours, theirs);
    assert!(mur::ct_verify(&ours, &theirs));
    assert_eq!(verify_pair_proof(&token, &f, &theirs), Ok(()));
}

#[test]
fn confirm_matches_mur_common_and_verifies_here() {
    let token = PairingToken::new("6f1c2f7a-8f0e-4d33-9c51-4b1f3a0c2d9e");
    let f = transcript_fields();
    let theirs = mur::pair_proof(
        token.expose_secret().as_bytes(),
        &mur_transcript(mur::PAIR_ROLE_DAEMON_TO_PHONE, &f),
    );
    assert_eq!(pair_confirm(&token, &f).expect("confirm"), theirs);
    assert_eq!(verify_pair_confirm(&token, &f, &theirs), Ok(()));
}

#[test]
fn multibase_keys_match_mur_common_both_ways() {
    let key = SigningKey::from_bytes(&PHONE_SEED).verifying_key();
    let ours = encode_pubkey_multibase(&key);
    assert_eq!(ours, mur_identity::encode_pubkey(&key));
    assert_eq!(
        mur_identity::decode_pubkey(&ours).expect("mur-common decodes ours"),
        key.to_bytes()
    );
    assert_eq!(
        decode_pubkey_multibase(&mur_identity::encode_pubkey(&key)).expect("we decode theirs"),
        key
    );
}

#[test]
fn envelope_signed_by_mur_common_verifies_here() {
    let identity = AgentIdentity::from_secret_bytes(&PHONE_SEED);
    let theirs = mur_envelope::sign_payload(b"payload".to_vec(), &identity, 7);
    let wire = serde_json::to_string(&mur::ClientFrame::Envelope { envelope: theirs })
        .expect("mur-common encodes");
    let ClientFrame::Envelope { envelope } = decode_client_frame(wire.as_bytes()).expect("decode")
    else {
        panic!("decoded another variant");
    };
    assert_eq!(envelope.verify(&identity.verifying_key()), Ok(()));
}

#[test]
fn envelope_signed_here_verifies_in_mur_common() {
    let key = SigningKey::from_bytes(&PHONE_SEED);
    let ours = SignedEnvelope::sign(b"payload".to_vec(), &key, 7);
    let theirs: mur::ClientFrame = serde_json::from_str(
        &ClientFrame::Envelope { envelope: ours }
            .encode()
            .expect("encode"),
    )
    .expect("mur-common decodes");
    let mur::ClientFrame::Envelope { envelope } = theirs else {
        panic!("mur-common decoded another variant");
    };
    mur_envelope::verify_envelope_with_pubkey(&envelope, PHONE_MULTIBASE)
        .expect("mur-common verifies our envelope");
}

#[test]
fn envelope_signatures_are_identical_on_both_sides() {
    let identity = AgentIdentity::from_secret_bytes(&PHONE_SEED);
    let theirs = mur_envelope::sign_payload(b"same".to_vec(), &identity, 1);
    let ours = SignedEnvelope::sign(b"same".to_vec(), &SigningKey::from_bytes(&PHONE_SEED), 1);
    assert_eq!(ours.sig, theirs.sig);
    assert_eq!(ours.bridge_pubkey_multibase, theirs.bridge_pubkey_multibase);
}

#[test]
fn resume_proof_signed_here_verifies_in_mur_common_under_the_resume_key() {
    let key = SigningKey::from_bytes(&PHONE_SEED);
    let (mut phone, _resume) = PhoneSession::resume("mur", key, 0);
    let nonce = "0f8fad5b-d9cb-469f-a165-70867728950e";
    let PhoneStep::Send(proof) = phone
        .handle(ServerFrame::Challenge {
            nonce: nonce.into(),
        })
        .expect("phone signs the challenge")
    else {
        panic!("phone sent nothing");
    };
    let theirs: mur::ClientFrame =
        serde_json::from_str(&proof.encode().expect("encode")).expect("mur-common decodes");
    let mur::ClientFrame::ResumeProof { envelope } = theirs else {
        panic!("mur-common decoded another variant");
    };
    assert_eq!(envelope.payload, nonce.as_bytes());
    mur_envelope::verify_envelope_with_pubkey(&envelope, PHONE_MULTIBASE)
        .expect("mur-common verifies the resume proof");
}

// ── CONTRACT.md §8.6 worked example A ────────────────────────────────────────────────────────

const EXAMPLE_A_HELLO_INIT: &str = r#"{"type":"hello_init","proto":2,"agent":"mur","pubkey":"zAKnL4NNf3DGWZJS6cPknBuEGnVsV4A4m5tgebLHaRSZ9","wid":"w1"}"#;
const EXAMPLE_A_PAIR_CHALLENGE: &str = r#"{"type":"pair_challenge","wid":"w1","nonce":[7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7],"did":"z9hSR6S7WPtxmTojgo6GG3k4yDPecgJY292j7xrsUGWBu"}"#;
const EXAMPLE_A_HELLO_PROOF: &str = r#"{"type":"hello_proof","wid":"w1","proof":[191,239,122,234,176,246,99,166,15,197,2,18,175,249,8,180,129,71,74,128,70,61,10,91,153,68,215,242,108,34,232,85]}"#;
const EXAMPLE_A_PAIRED: &str = r#"{"type":"paired","agent":"mur","confirm":[186,115,128,192,231,23,112,194,18,9,143,14,134,164,123,26,49,142,139,34,107,45,55,72,59,141,208,194,102,213,240,242]}"#;
const EXAMPLE_A_TRANSCRIPT_HEX: &str = "0b0000006d75722d706169722d7632190000006d75722d706169722d76322f70686f6e652d3e6461656d6f6e02000000030000006d75720200000077312d0000007a39685352365337575074786d546f6a676f364747336b347944506563674a593239326a3778727355475742752d0000007a414b6e4c344e4e66334447575a4a533663506b6e427545476e5673563441346d35746765624c486152535a39200000000707070707070707070707070707070707070707070707070707070707070707";
const EXAMPLE_A_PROOF_HEX: &str =
    "bfef7aeab0f663a60fc50212aff908b481474a80463d0a5b9944d7f26c22e855";
const EXAMPLE_A_CONFIRM_HEX: &str =
    "ba7380c0e71770c212098f0e86a47b1a318e8b226b2d37483b8dd0c266d5f0f2";

fn example_a_fields() -> TranscriptFields<'static> {
    TranscriptFields {
        proto: 2,
        agent: "mur",
        wid: "w1",
        did: DAEMON_MULTIBASE,
        phone_pubkey: PHONE_MULTIBASE,
        nonce: &[7; 32],
    }
}

#[test]
fn example_a_keys_have_the_contract_multibase_forms() {
    assert_eq!(
        encode_pubkey_multibase(&SigningKey::from_bytes(&PHONE_SEED).verifying_key()),
        PHONE_MULTIBASE
    );
    assert_eq!(
        encode_pubkey_multibase(&SigningKey::from_bytes(&DAEMON_SEED).verifying_key()),
        DAEMON_MULTIBASE
    );
}

#[test]
fn example_a_transcript_is_byte_exact() {
    assert_eq!(
        hex::encode(pair_transcript(PairRole::PhoneToDaemon, &example_a_fields()).expect("ok")),
        EXAMPLE_A_TRANSCRIPT_HEX
    );
}

#[test]
fn example_a_proof_and_confirm_are_byte_exact() {
    let token = PairingToken::new("example-token");
    let f = example_a_fields();
    assert_eq!(
        hex::encode(pair_proof(&token, &f).expect("proof")),
        EXAMPLE_A_PROOF_HEX
    );
    assert_eq!(
        hex::encode(pair_confirm(&token, &f).expect("confirm")),
        EXAMPLE_A_CONFIRM_HEX
    );
}

#[test]
fn example_a_full_enrollment_between_our_machines_is_byte_exact() {
    let mut desktop =
        DesktopEndpoint::new("mur", &SigningKey::from_bytes(&DAEMON_SEED).verifying_key());
    let offer = desktop.add_window(PairingWindow::with_credentials(
        "w1",
        PairingToken::new("example-token"),
        0,
        PairingWindowConfig::default(),
    ));
    let (mut phone, hello_init) =
        PhoneSession::enroll(offer, "mur", SigningKey::from_bytes(&PHONE_SEED));
    let mut session = DesktopSession::new();
    let mut rng = RepeatRng(7);

    assert_eq!(hello_init.encode().expect("encode"), EXAMPLE_A_HELLO_INIT);
    let challenge = session
        .handle(&mut desktop, hello_init, 1, &mut rng)
        .expect("challenge")
        .into_reply()
        .expect("a reply");
    assert_eq!(
        challenge.encode().expect("encode"),
        EXAMPLE_A_PAIR_CHALLENGE
    );
    let PhoneStep::Send(proof) = phone.handle(challenge).expect("proof") else {
        panic!("phone sent nothing");
    };
    assert_eq!(proof.encode().expect("encode"), EXAMPLE_A_HELLO_PROOF);
    let paired = session
        .handle(&mut desktop, proof, 2, &mut rng)
        .expect("paired")
        .into_reply()
        .expect("a reply");
    assert_eq!(paired.encode().expect("encode"), EXAMPLE_A_PAIRED);
    assert_eq!(
        phone.handle(paired),
        Ok(PhoneStep::Paired {
            agent: "mur".into()
        })
    );
}

#[test]
fn example_a_frames_decode_in_mur_common_with_its_proof_and_confirm() {
    let f = example_a_fields();
    let transcript_p2d = mur_transcript(mur::PAIR_ROLE_PHONE_TO_DAEMON, &f);
    let transcript_d2p = mur_transcript(mur::PAIR_ROLE_DAEMON_TO_PHONE, &f);
    let mur::ClientFrame::HelloProof { proof, .. } =
        serde_json::from_str(EXAMPLE_A_HELLO_PROOF).expect("mur-common decodes")
    else {
        panic!("mur-common decoded another variant");
    };
    assert!(mur::ct_verify(
        &proof,
        &mur::pair_proof(b"example-token", &transcript_p2d)
    ));
    let mur::ServerFrame::Paired { confirm, .. } =
        serde_json::from_str(EXAMPLE_A_PAIRED).expect("mur-common decodes")
    else {
        panic!("mur-common decoded another variant");
    };
    assert!(mur::ct_verify(
        &confirm,
        &mur::pair_proof(b"example-token", &transcript_d2p)
    ));
}

// ── CONTRACT.md §8.7 worked example B ────────────────────────────────────────────────────────

const EXAMPLE_B_PAYLOAD: &[u8] = br#"{"id":1,"jsonrpc":"2.0","method":"message/send"}"#;
const EXAMPLE_B_SIGNED_HEX: &str = concat!(
    "6d75722d6272696467652d656e76656c6f70652d7631",
    "01000000",
    "7b226964223a312c226a736f6e727063223a22322e30222c226d6574686f64223a226d6573736167652f73656e64227d"
);
const EXAMPLE_B_FRAME: &str = r#"{"type":"envelope","envelope":{"payload":[123,34,105,100,34,58,49,44,34,106,115,111,110,114,112,99,34,58,34,50,46,48,34,44,34,109,101,116,104,111,100,34,58,34,109,101,115,115,97,103,101,47,115,101,110,100,34,125],"sig":[184,4,227,139,54,86,38,246,249,33,115,245,209,186,18,143,36,0,8,169,208,4,3,223,83,189,16,43,26,62,248,108,172,102,231,248,241,51,35,166,240,122,235,105,70,134,136,117,52,176,39,197,9,136,80,150,55,170,103,29,214,53,33,13],"key_version":1,"bridge_pubkey_multibase":"zAKnL4NNf3DGWZJS6cPknBuEGnVsV4A4m5tgebLHaRSZ9"}}"#;

#[test]
fn example_b_signed_bytes_are_byte_exact() {
    assert_eq!(
        hex::encode(envelope_signing_bytes(EXAMPLE_B_PAYLOAD, 1)),
        EXAMPLE_B_SIGNED_HEX
    );
}

#[test]
fn example_b_envelope_frame_is_byte_exact() {
    let envelope = SignedEnvelope::sign(
        EXAMPLE_B_PAYLOAD.to_vec(),
        &SigningKey::from_bytes(&PHONE_SEED),
        1,
    );
    assert_eq!(
        ClientFrame::Envelope { envelope }.encode().expect("encode"),
        EXAMPLE_B_FRAME
    );
}

#[test]
fn example_b_envelope_frame_verifies_on_both_sides() {
    let ClientFrame::Envelope { envelope } =
        decode_client_frame(EXAMPLE_B_FRAME.as_bytes()).expect("decode")
    else {
        panic!("decoded another variant");
    };
    assert_eq!(envelope.verify_multibase(PHONE_MULTIBASE), Ok(()));
    let mur::ClientFrame::Envelope { envelope } =
        serde_json::from_str(EXAMPLE_B_FRAME).expect("mur-common decodes")
    else {
        panic!("mur-common decoded another variant");
    };
    mur_envelope::verify_envelope_with_pubkey(&envelope, PHONE_MULTIBASE)
        .expect("mur-common verifies");
}

// ── Differential decoding against mur-common on mutated frames ─────────────────────────────

/// Deterministic xorshift64* stream for the mutator.
struct Mutator(u64);

impl Mutator {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    /// One to three random edits: byte flips, deletions, insertions, JSON-token splices,
    /// duplicated spans and truncation.
    fn mutate(&mut self, seed: &[u8]) -> Vec<u8> {
        const TOKENS: [&[u8]; 14] = [
            b"null",
            b"[]",
            b"{}",
            b"\"x\"",
            b"-1",
            b"256",
            b"4294967296",
            b"1.5",
            b"true",
            b"\"type\"",
            b",\"type\":\"paired\"",
            b"\"\\u00e9\"",
            b"[1,2,3]",
            b"\"AAAA\"",
        ];
        const ALPHABET: &[u8] = b"{}[]\",:0123456789aez-\\ ";
        let mut out = seed.to_vec();
        for _ in 0..1 + self.below(3) {
            let at = self.below(out.len() + 1);
            match self.below(6) {
                0 if !out.is_empty() => {
                    let i = at.min(out.len() - 1);
                    out[i] = self.next() as u8;
                }
                1 if !out.is_empty() => {
                    out.remove(at.min(out.len() - 1));
                }
                2 => out.insert(at, ALPHABET[self.below(ALPHABET.len())]),
                3 => {
                    let token = TOKENS[self.below(TOKENS.len())];
                    out.splice(at..at, token.iter().copied());
                }
                4 => {
                    let end = (at + self.below(16)).min(out.len());
                    let span = out[at..end].to_vec();
                    out.splice(end..end, span);
                }
                _ => out.truncate(at),
            }
        }
        out
    }
}

fn seed_frames() -> Vec<String> {
    let key = SigningKey::from_bytes(&PHONE_SEED);
    let envelope = SignedEnvelope::sign(b"0f8fad5b-d9cb-469f-a165-70867728950e".to_vec(), &key, 0);
    let clients = [
        ClientFrame::Hello {
            pubkey: PHONE_MULTIBASE.into(),
            token: PairingToken::new("t"),
            agent: "mur".into(),
        },
        ClientFrame::HelloInit {
            proto: 2,
            agent: "mur".into(),
            pubkey: PHONE_MULTIBASE.into(),
            wid: "w1".into(),
        },
        ClientFrame::HelloProof {
            wid: "w1".into(),
            proof: vec![1; 32],
        },
        ClientFrame::Resume {
            pubkey: PHONE_MULTIBASE.into(),
            agent: "mur".into(),
        },
        ClientFrame::ResumeProof {
            envelope: envelope.clone(),
        },
        ClientFrame::Envelope { envelope },
        ClientFrame::AudioStreamStart { sample_rate: 16000 },
        ClientFrame::AudioChunk {
            data: "AAECAw==".into(),
        },
        ClientFrame::AudioStreamEnd,
        ClientFrame::ChannelQuery {
            op: "events".into(),
            channel_id: Some("c".into()),
            since_seq: Some(1),
        },
    ];
    let servers = [
        ServerFrame::Paired {
            agent: "mur".into(),
            confirm: vec![2; 32],
        },
        ServerFrame::PairChallenge {
            wid: "w1".into(),
            nonce: vec![7; 32],
            did: DAEMON_MULTIBASE.into(),
        },
        ServerFrame::Rejected { reason: "r".into() },
        ServerFrame::Challenge { nonce: "n".into() },
        ServerFrame::Event {
            name: "mobile.reply".into(),
            payload: json!({"a": [1, "b", null]}),
        },
        ServerFrame::Transcript {
            text: "t".into(),
            is_final: false,
        },
        ServerFrame::AudioChunk {
            base64: "AAAA".into(),
            sample_rate: 24000,
            done: true,
        },
        ServerFrame::ChannelData {
            op: "list".into(),
            payload: json!([]),
        },
    ];
    clients
        .iter()
        .map(|f| f.encode().expect("encode"))
        .chain(servers.iter().map(|f| f.encode().expect("encode")))
        .collect()
}

/// Cases where we are deliberately stricter than mur-common: a repeated key anywhere (serde only
/// refuses repeats of known fields) is refused.
fn deliberately_stricter(ours: &FrameError) -> bool {
    matches!(ours, FrameError::DuplicateKey { .. })
}

#[test]
fn mutated_frames_decode_the_same_here_as_in_mur_common() {
    const CASES: usize = 50_000;
    let seeds = seed_frames();
    let mut mutator = Mutator(0x5eed_f00d_dead_beef);
    let (mut agreed_ok, mut both_refused, mut stricter, mut non_utf8) = (0usize, 0usize, 0usize, 0);
    for case in 0..CASES {
        let seed = seeds[case % seeds.len()].as_bytes();
        let input = mutator.mutate(seed);
        let ours_client = decode_client_frame(&input);
        let ours_server = decode_server_frame(&input);
        // WebSocket text frames are UTF-8; mur-common reads them with from_str.
        let Ok(text) = std::str::from_utf8(&input) else {
            non_utf8 += 1;
            continue;
        };
        match (serde_json::from_str::<mur::ClientFrame>(text), &ours_client) {
            (Ok(theirs), Ok(ours)) => {
                assert_eq!(
                    ours.encode().expect("decoded frames encode"),
                    serde_json::to_string(&theirs).expect("encode"),
                    "client frame decoded differently: {text}"
                );
                agreed_ok += 1;
            }
            (Ok(_), Err(e)) => {
                assert!(deliberately_stricter(e), "we refused {text}: {e:?}");
                stricter += 1;
            }
            (Err(_), Ok(ours)) => assert!(
                matches!(ours, ClientFrame::Unknown { .. }),
                "we accepted what mur-common refuses: {text}"
            ),
            (Err(_), Err(_)) => both_refused += 1,
        }
        match (serde_json::from_str::<mur::ServerFrame>(text), &ours_server) {
            (Ok(theirs), Ok(ours)) => {
                let theirs = serde_json::to_value(&theirs).expect("encode");
                let ours: serde_json::Value =
                    serde_json::from_str(&ours.encode().expect("decoded frames encode"))
                        .expect("our text is JSON");
                assert_eq!(ours, theirs, "server frame decoded differently: {text}");
                agreed_ok += 1;
            }
            (Ok(_), Err(e)) => {
                assert!(deliberately_stricter(e), "we refused {text}: {e:?}");
                stricter += 1;
            }
            (Err(_), Ok(ours)) => assert!(
                matches!(ours, ServerFrame::Unknown { .. }),
                "we accepted what mur-common refuses: {text}"
            ),
            (Err(_), Err(_)) => both_refused += 1,
        }
    }
    println!(
        "{CASES} mutants x 2 directions: {agreed_ok} decoded alike, {both_refused} refused by both, \
         {stricter} refused only here (repeated keys), {non_utf8} not UTF-8 (ours only)"
    );
    // The mutator must leave a fair share of frames valid, or the comparison proves little.
    assert!(agreed_ok > CASES / 20, "only {agreed_ok} mutants decoded");
}
