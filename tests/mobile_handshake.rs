//! The sans-IO pairing and resume handshakes between our phone-side and desktop-side machines:
//! success paths, replays, and one typed rejection per failure.

use ed25519_dalek::SigningKey;
use rand_core::{CryptoRng, RngCore};
use wavekat_platform_client::mobile::*;

/// Deterministic xorshift64* stream, so every run sees the same nonces and ids.
struct SeqRng(u64);

impl RngCore for SeqRng {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for SeqRng {}

const AGENT: &str = "mur";
const OPENED_AT: u64 = 1_000;

struct World {
    desktop: DesktopEndpoint,
    offer: PairingOffer,
    device_key: SigningKey,
    rng: SeqRng,
}

fn world() -> World {
    world_with(PairingWindowConfig::default())
}

fn world_with(config: PairingWindowConfig) -> World {
    let mut rng = SeqRng(0x9e37_79b9_7f4a_7c15);
    let daemon_key = SigningKey::from_bytes(&[2; 32]);
    let mut desktop = DesktopEndpoint::new(AGENT, &daemon_key.verifying_key());
    let offer = desktop.open_window(&mut rng, OPENED_AT, config);
    World {
        desktop,
        offer,
        device_key: SigningKey::from_bytes(&[1; 32]),
        rng,
    }
}

impl World {
    fn device_pubkey(&self) -> String {
        encode_pubkey_multibase(&self.device_key.verifying_key())
    }

    /// Sends `frame` to `session` at `now` and returns the reply frame.
    fn reply(&mut self, session: &mut DesktopSession, frame: ClientFrame, now: u64) -> ServerFrame {
        session
            .handle(&mut self.desktop, frame, now, &mut self.rng)
            .expect("desktop accepts the frame")
            .into_reply()
            .expect("desktop replies")
    }

    fn send(
        &mut self,
        session: &mut DesktopSession,
        frame: ClientFrame,
        now: u64,
    ) -> Result<DesktopStep, DesktopRejection> {
        session.handle(&mut self.desktop, frame, now, &mut self.rng)
    }

    /// Runs hello_init → pair_challenge and returns the phone's hello_proof.
    fn start_enrollment(
        &mut self,
        offer: PairingOffer,
        session: &mut DesktopSession,
        now: u64,
    ) -> (PhoneSession, ClientFrame) {
        let (mut phone, hello_init) = PhoneSession::enroll(offer, AGENT, self.device_key.clone());
        let challenge = self.reply(session, hello_init, now);
        let PhoneStep::Send(proof) = phone.handle(challenge).expect("phone answers") else {
            panic!("phone sent no proof");
        };
        (phone, proof)
    }

    /// A complete enrollment of the device.
    fn enroll(&mut self) {
        let mut session = DesktopSession::new();
        let (mut phone, proof) = self.start_enrollment(self.offer.clone(), &mut session, OPENED_AT);
        let paired = self.reply(&mut session, proof, OPENED_AT + 1);
        phone.handle(paired).expect("phone accepts the confirm");
    }

    fn wrong_token_proof(&mut self, session: &mut DesktopSession, now: u64) -> ClientFrame {
        let mut offer = self.offer.clone();
        offer.token = PairingToken::new("not-the-token");
        self.start_enrollment(offer, session, now).1
    }

    /// Runs resume → challenge and returns the phone session and its resume_proof.
    fn start_resume(&mut self, session: &mut DesktopSession) -> (PhoneSession, ClientFrame) {
        let (mut phone, resume) = PhoneSession::resume(AGENT, self.device_key.clone(), 0);
        let challenge = self.reply(session, resume, OPENED_AT + 10);
        let PhoneStep::Send(proof) = phone.handle(challenge).expect("phone signs") else {
            panic!("phone sent no proof");
        };
        (phone, proof)
    }
}

fn resume_proof_envelope(frame: ClientFrame) -> SignedEnvelope {
    let ClientFrame::ResumeProof { envelope } = frame else {
        panic!("not a resume_proof");
    };
    envelope
}

// ── Enrollment ───────────────────────────────────────────────────────────────────────────────

#[test]
fn full_enrollment_pairs_the_phone_and_records_its_key() {
    let mut w = world();
    let mut session = DesktopSession::new();
    let (mut phone, proof) = w.start_enrollment(w.offer.clone(), &mut session, OPENED_AT);
    let step = w
        .send(&mut session, proof, OPENED_AT + 1)
        .expect("proof accepted");
    let DesktopStep::Paired {
        reply,
        device,
        enrolled,
    } = step
    else {
        panic!("desktop did not pair");
    };
    assert!(enrolled);
    assert_eq!(device, w.device_pubkey());
    assert_eq!(
        phone.handle(reply),
        Ok(PhoneStep::Paired {
            agent: AGENT.into()
        })
    );
    assert!(session.is_paired());
    assert!(phone.is_paired());
    assert!(w.desktop.paired_devices().contains(&w.device_pubkey()));
}

#[test]
fn enrollment_marks_the_window_used() {
    let mut w = world();
    w.enroll();
    assert!(w.desktop.window(&w.offer.wid).expect("window").is_used());
}

#[test]
fn replayed_hello_proof_on_a_new_connection_is_rejected_as_bad_proof() {
    let mut w = world();
    let mut first = DesktopSession::new();
    let (_phone, captured) = w.start_enrollment(w.offer.clone(), &mut first, OPENED_AT);

    let mut second = DesktopSession::new();
    let (_, hello_init) = PhoneSession::enroll(w.offer.clone(), AGENT, w.device_key.clone());
    w.reply(&mut second, hello_init, OPENED_AT + 1);
    assert_eq!(
        w.send(&mut second, captured, OPENED_AT + 2),
        Err(DesktopRejection::BadProof)
    );
}

#[test]
fn hello_proof_after_the_window_was_used_is_rejected_as_already_used() {
    let mut w = world();
    let mut racing = DesktopSession::new();
    let (_phone, late_proof) = w.start_enrollment(w.offer.clone(), &mut racing, OPENED_AT);
    w.enroll();
    assert_eq!(
        w.send(&mut racing, late_proof, OPENED_AT + 2),
        Err(DesktopRejection::WindowAlreadyUsed)
    );
}

#[test]
fn hello_init_for_a_used_window_is_rejected_as_already_used() {
    let mut w = world();
    w.enroll();
    let (_, hello_init) = PhoneSession::enroll(w.offer.clone(), AGENT, w.device_key.clone());
    assert_eq!(
        w.send(&mut DesktopSession::new(), hello_init, OPENED_AT + 5),
        Err(DesktopRejection::WindowAlreadyUsed)
    );
}

#[test]
fn proof_with_the_wrong_token_is_rejected_as_bad_proof() {
    let mut w = world();
    let mut session = DesktopSession::new();
    let proof = w.wrong_token_proof(&mut session, OPENED_AT);
    assert_eq!(
        w.send(&mut session, proof, OPENED_AT + 1),
        Err(DesktopRejection::BadProof)
    );
}

#[test]
fn a_failed_proof_uses_up_one_attempt() {
    let mut w = world();
    let mut session = DesktopSession::new();
    let proof = w.wrong_token_proof(&mut session, OPENED_AT);
    let _ = w.send(&mut session, proof, OPENED_AT + 1);
    assert_eq!(
        w.desktop
            .window(&w.offer.wid)
            .expect("window")
            .attempts_remaining(),
        DEFAULT_MAX_PROOF_ATTEMPTS - 1
    );
}

#[test]
fn right_proof_after_five_failed_attempts_is_rejected_as_attempts_exhausted() {
    let mut w = world();
    for _ in 0..DEFAULT_MAX_PROOF_ATTEMPTS {
        let mut session = DesktopSession::new();
        let proof = w.wrong_token_proof(&mut session, OPENED_AT);
        assert_eq!(
            w.send(&mut session, proof, OPENED_AT + 1),
            Err(DesktopRejection::BadProof)
        );
    }
    let (_, hello_init) = PhoneSession::enroll(w.offer.clone(), AGENT, w.device_key.clone());
    assert_eq!(
        w.send(&mut DesktopSession::new(), hello_init, OPENED_AT + 2),
        Err(DesktopRejection::AttemptsExhausted)
    );
}

#[test]
fn proof_on_a_connection_opened_before_exhaustion_is_rejected_as_attempts_exhausted() {
    let mut w = world_with(PairingWindowConfig {
        max_attempts: 1,
        ..PairingWindowConfig::default()
    });
    let mut honest = DesktopSession::new();
    let (_phone, proof) = w.start_enrollment(w.offer.clone(), &mut honest, OPENED_AT);
    let mut attacker = DesktopSession::new();
    let bad = w.wrong_token_proof(&mut attacker, OPENED_AT);
    let _ = w.send(&mut attacker, bad, OPENED_AT + 1);
    assert_eq!(
        w.send(&mut honest, proof, OPENED_AT + 2),
        Err(DesktopRejection::AttemptsExhausted)
    );
}

#[test]
fn proof_arriving_120_seconds_after_the_window_opened_is_rejected_as_expired() {
    let mut w = world();
    let mut session = DesktopSession::new();
    let (_phone, proof) = w.start_enrollment(w.offer.clone(), &mut session, OPENED_AT + 100);
    assert_eq!(
        w.send(
            &mut session,
            proof,
            OPENED_AT + DEFAULT_WINDOW_LIFETIME_SECS
        ),
        Err(DesktopRejection::WindowExpired)
    );
}

#[test]
fn proof_arriving_119_seconds_after_the_window_opened_is_accepted() {
    let mut w = world();
    let mut session = DesktopSession::new();
    let (_phone, proof) = w.start_enrollment(w.offer.clone(), &mut session, OPENED_AT);
    assert!(matches!(
        w.send(
            &mut session,
            proof,
            OPENED_AT + DEFAULT_WINDOW_LIFETIME_SECS - 1
        ),
        Ok(DesktopStep::Paired { .. })
    ));
}

#[test]
fn hello_init_after_expiry_is_rejected_as_expired() {
    let mut w = world();
    let (_, hello_init) = PhoneSession::enroll(w.offer.clone(), AGENT, w.device_key.clone());
    assert_eq!(
        w.send(&mut DesktopSession::new(), hello_init, OPENED_AT + 500),
        Err(DesktopRejection::WindowExpired)
    );
}

#[test]
fn window_lifetime_above_300_seconds_is_cut_to_300() {
    let w = world_with(PairingWindowConfig {
        lifetime_secs: 3_600,
        ..PairingWindowConfig::default()
    });
    assert_eq!(
        w.desktop.window(&w.offer.wid).expect("window").expires_at(),
        OPENED_AT + MAX_WINDOW_LIFETIME_SECS
    );
}

#[test]
fn default_window_lasts_120_seconds_with_5_attempts() {
    let w = world();
    let window = w.desktop.window(&w.offer.wid).expect("window");
    assert_eq!(window.expires_at(), OPENED_AT + 120);
    assert_eq!(window.attempts_remaining(), 5);
}

#[test]
fn opened_windows_get_distinct_uuid_v4_ids_and_tokens() {
    let mut rng = SeqRng(7);
    let a = PairingWindow::open(&mut rng, 0, PairingWindowConfig::default());
    let b = PairingWindow::open(&mut rng, 0, PairingWindowConfig::default());
    let offer_a = a.offer("z");
    let offer_b = b.offer("z");
    for s in [&offer_a.wid, offer_a.token.expose_secret()] {
        assert_eq!(s.len(), 36, "{s}");
        assert_eq!(s.as_bytes()[14], b'4', "version nibble in {s}");
        assert!(
            matches!(s.as_bytes()[19], b'8' | b'9' | b'a' | b'b'),
            "variant in {s}"
        );
    }
    assert_ne!(offer_a.wid, offer_b.wid);
    assert_ne!(offer_a.token, offer_b.token);
    assert_ne!(offer_a.wid, offer_a.token.expose_secret());
}

#[test]
fn hello_init_for_an_unknown_window_is_rejected() {
    let mut w = world();
    let mut offer = w.offer.clone();
    offer.wid = "no-such-window".into();
    let (_, hello_init) = PhoneSession::enroll(offer, AGENT, w.device_key.clone());
    assert_eq!(
        w.send(&mut DesktopSession::new(), hello_init, OPENED_AT),
        Err(DesktopRejection::UnknownWindow)
    );
}

#[test]
fn pruned_used_window_is_then_unknown() {
    let mut w = world();
    w.enroll();
    w.desktop.prune_windows(OPENED_AT + 2);
    let (_, hello_init) = PhoneSession::enroll(w.offer.clone(), AGENT, w.device_key.clone());
    assert_eq!(
        w.send(&mut DesktopSession::new(), hello_init, OPENED_AT + 3),
        Err(DesktopRejection::UnknownWindow)
    );
}

#[test]
fn hello_proof_naming_another_window_is_rejected_as_wid_mismatch() {
    let mut w = world();
    let mut session = DesktopSession::new();
    let (_phone, proof) = w.start_enrollment(w.offer.clone(), &mut session, OPENED_AT);
    let ClientFrame::HelloProof { proof, .. } = proof else {
        panic!("not a hello_proof");
    };
    let moved = ClientFrame::HelloProof {
        wid: "another".into(),
        proof,
    };
    assert_eq!(
        w.send(&mut session, moved, OPENED_AT + 1),
        Err(DesktopRejection::WidMismatch)
    );
}

#[test]
fn hello_init_with_proto_1_is_rejected() {
    let mut w = world();
    let frame = ClientFrame::HelloInit {
        proto: 1,
        agent: AGENT.into(),
        pubkey: w.device_pubkey(),
        wid: w.offer.wid.clone(),
    };
    assert_eq!(
        w.send(&mut DesktopSession::new(), frame, OPENED_AT),
        Err(DesktopRejection::UnsupportedProto { proto: 1 })
    );
}

#[test]
fn hello_init_for_another_agent_is_rejected() {
    let mut w = world();
    let (_, hello_init) = PhoneSession::enroll(w.offer.clone(), "other", w.device_key.clone());
    assert_eq!(
        w.send(&mut DesktopSession::new(), hello_init, OPENED_AT),
        Err(DesktopRejection::AgentMismatch {
            requested: "other".into()
        })
    );
}

#[test]
fn hello_init_with_an_invalid_device_key_is_rejected() {
    let mut w = world();
    let frame = ClientFrame::HelloInit {
        proto: 2,
        agent: AGENT.into(),
        pubkey: "zshort".into(),
        wid: w.offer.wid.clone(),
    };
    assert!(matches!(
        w.send(&mut DesktopSession::new(), frame, OPENED_AT),
        Err(DesktopRejection::InvalidDeviceKey(
            KeyError::WrongLength { .. }
        ))
    ));
}

#[test]
fn legacy_hello_is_refused() {
    let mut w = world();
    let frame = ClientFrame::Hello {
        pubkey: w.device_pubkey(),
        token: w.offer.token.clone(),
        agent: AGENT.into(),
    };
    assert_eq!(
        w.send(&mut DesktopSession::new(), frame, OPENED_AT),
        Err(DesktopRejection::LegacyHelloRefused)
    );
}

#[test]
fn hello_proof_before_hello_init_is_an_unexpected_frame() {
    let mut w = world();
    let frame = ClientFrame::HelloProof {
        wid: w.offer.wid.clone(),
        proof: vec![0; 32],
    };
    assert!(matches!(
        w.send(&mut DesktopSession::new(), frame, OPENED_AT),
        Err(DesktopRejection::UnexpectedFrame { frame_type, .. }) if frame_type == "hello_proof"
    ));
}

#[test]
fn audio_before_pairing_is_an_unexpected_frame() {
    let mut w = world();
    assert!(matches!(
        w.send(
            &mut DesktopSession::new(),
            ClientFrame::AudioStreamStart {
                sample_rate: 16_000
            },
            OPENED_AT
        ),
        Err(DesktopRejection::UnexpectedFrame { .. })
    ));
}

#[test]
fn unknown_frame_during_the_handshake_is_ignored_and_the_handshake_goes_on() {
    let mut w = world();
    let mut session = DesktopSession::new();
    let (mut phone, hello_init) =
        PhoneSession::enroll(w.offer.clone(), AGENT, w.device_key.clone());
    let challenge = w.reply(&mut session, hello_init, OPENED_AT);
    assert_eq!(
        w.send(
            &mut session,
            ClientFrame::Unknown {
                frame_type: "ping".into()
            },
            OPENED_AT
        ),
        Ok(DesktopStep::Ignored {
            frame_type: "ping".into()
        })
    );
    let PhoneStep::Send(proof) = phone.handle(challenge).expect("phone answers") else {
        panic!("no proof");
    };
    assert!(matches!(
        w.send(&mut session, proof, OPENED_AT + 1),
        Ok(DesktopStep::Paired { .. })
    ));
}

#[test]
fn desktop_session_refuses_every_frame_after_a_rejection() {
    let mut w = world();
    let mut session = DesktopSession::new();
    let proof = w.wrong_token_proof(&mut session, OPENED_AT);
    let _ = w.send(&mut session, proof, OPENED_AT + 1);
    let (_, hello_init) = PhoneSession::enroll(w.offer.clone(), AGENT, w.device_key.clone());
    assert_eq!(
        w.send(&mut session, hello_init, OPENED_AT + 2),
        Err(DesktopRejection::SessionClosed)
    );
}

#[test]
fn rejection_becomes_a_rejected_frame_with_its_reason() {
    assert_eq!(
        DesktopRejection::WindowExpired.to_frame(),
        ServerFrame::Rejected {
            reason: "the pairing window has expired".into()
        }
    );
}

// ── Phone-side checks of the daemon ─────────────────────────────────────────────────────────

fn challenge_for(offer: &PairingOffer) -> (ServerFrame, [u8; 32]) {
    let nonce = [0x42; 32];
    (
        ServerFrame::PairChallenge {
            wid: offer.wid.clone(),
            nonce: nonce.to_vec(),
            did: offer.did.clone(),
        },
        nonce,
    )
}

#[test]
fn phone_rejects_a_challenge_from_another_daemon_key_as_did_mismatch() {
    let w = world();
    let (mut phone, _) = PhoneSession::enroll(w.offer.clone(), AGENT, w.device_key.clone());
    let rogue = encode_pubkey_multibase(&SigningKey::from_bytes(&[9; 32]).verifying_key());
    let (ServerFrame::PairChallenge { wid, nonce, .. }, _) = challenge_for(&w.offer) else {
        unreachable!()
    };
    assert_eq!(
        phone.handle(ServerFrame::PairChallenge {
            wid,
            nonce,
            did: rogue
        }),
        Err(PhoneRejection::DidMismatch)
    );
}

#[test]
fn phone_rejects_a_challenge_for_another_window() {
    let w = world();
    let (mut phone, _) = PhoneSession::enroll(w.offer.clone(), AGENT, w.device_key.clone());
    assert_eq!(
        phone.handle(ServerFrame::PairChallenge {
            wid: "other".into(),
            nonce: vec![0; 32],
            did: w.offer.did.clone()
        }),
        Err(PhoneRejection::WidMismatch)
    );
}

#[test]
fn phone_rejects_a_challenge_nonce_that_is_not_32_bytes() {
    let w = world();
    let (mut phone, _) = PhoneSession::enroll(w.offer.clone(), AGENT, w.device_key.clone());
    assert_eq!(
        phone.handle(ServerFrame::PairChallenge {
            wid: w.offer.wid.clone(),
            nonce: vec![0; 16],
            did: w.offer.did.clone()
        }),
        Err(PhoneRejection::BadNonceLength { len: 16 })
    );
}

#[test]
fn phone_rejects_a_confirm_from_a_daemon_without_the_token() {
    let w = world();
    let (mut phone, _) = PhoneSession::enroll(w.offer.clone(), AGENT, w.device_key.clone());
    let (challenge, nonce) = challenge_for(&w.offer);
    phone.handle(challenge).expect("phone answers");
    let forged = pair_confirm(
        &PairingToken::new("guessed"),
        &TranscriptFields {
            proto: 2,
            agent: AGENT,
            wid: &w.offer.wid,
            did: &w.offer.did,
            phone_pubkey: &w.device_pubkey(),
            nonce: &nonce,
        },
    )
    .expect("confirm");
    assert_eq!(
        phone.handle(ServerFrame::Paired {
            agent: AGENT.into(),
            confirm: forged.to_vec()
        }),
        Err(PhoneRejection::BadConfirm)
    );
}

#[test]
fn phone_rejects_an_empty_confirm_after_enrollment() {
    let w = world();
    let (mut phone, _) = PhoneSession::enroll(w.offer.clone(), AGENT, w.device_key.clone());
    phone
        .handle(challenge_for(&w.offer).0)
        .expect("phone answers");
    assert_eq!(
        phone.handle(ServerFrame::Paired {
            agent: AGENT.into(),
            confirm: vec![]
        }),
        Err(PhoneRejection::BadConfirm)
    );
}

#[test]
fn replayed_confirm_on_a_new_connection_is_rejected_as_bad_confirm() {
    let mut w = world();
    let mut session = DesktopSession::new();
    let (_phone, proof) = w.start_enrollment(w.offer.clone(), &mut session, OPENED_AT);
    let captured = w.reply(&mut session, proof, OPENED_AT + 1);

    let (mut phone, _) = PhoneSession::enroll(w.offer.clone(), AGENT, w.device_key.clone());
    phone
        .handle(challenge_for(&w.offer).0)
        .expect("phone answers");
    assert_eq!(phone.handle(captured), Err(PhoneRejection::BadConfirm));
}

#[test]
fn phone_reports_a_rejection_from_the_desktop() {
    let w = world();
    let (mut phone, _) = PhoneSession::enroll(w.offer.clone(), AGENT, w.device_key.clone());
    assert_eq!(
        phone.handle(ServerFrame::Rejected {
            reason: "nope".into()
        }),
        Err(PhoneRejection::RejectedByDesktop {
            reason: "nope".into()
        })
    );
}

#[test]
fn phone_treats_a_resume_challenge_during_enrollment_as_unexpected() {
    let w = world();
    let (mut phone, _) = PhoneSession::enroll(w.offer.clone(), AGENT, w.device_key.clone());
    assert!(matches!(
        phone.handle(ServerFrame::Challenge {
            nonce: "0f8fad5b-d9cb-469f-a165-70867728950e".into()
        }),
        Err(PhoneRejection::UnexpectedFrame { frame_type, .. }) if frame_type == "challenge"
    ));
}

#[test]
fn phone_session_refuses_every_frame_after_a_rejection() {
    let w = world();
    let (mut phone, _) = PhoneSession::enroll(w.offer.clone(), AGENT, w.device_key.clone());
    let _ = phone.handle(ServerFrame::Rejected {
        reason: "nope".into(),
    });
    assert_eq!(
        phone.handle(challenge_for(&w.offer).0),
        Err(PhoneRejection::SessionClosed)
    );
}

// ── Resume ───────────────────────────────────────────────────────────────────────────────────

#[test]
fn resume_of_a_paired_device_succeeds_with_an_empty_confirm() {
    let mut w = world();
    w.enroll();
    let mut session = DesktopSession::new();
    let (mut phone, proof) = w.start_resume(&mut session);
    let step = w
        .send(&mut session, proof, OPENED_AT + 11)
        .expect("resumed");
    let DesktopStep::Paired {
        reply, enrolled, ..
    } = step
    else {
        panic!("desktop did not pair");
    };
    assert!(!enrolled);
    assert_eq!(
        reply,
        ServerFrame::Paired {
            agent: AGENT.into(),
            confirm: vec![]
        }
    );
    assert_eq!(
        phone.handle(reply),
        Ok(PhoneStep::Paired {
            agent: AGENT.into()
        })
    );
}

#[test]
fn each_resume_connection_gets_a_fresh_uuid_challenge() {
    let mut w = world();
    w.enroll();
    let mut nonces = Vec::new();
    for _ in 0..2 {
        let (_, resume) = PhoneSession::resume(AGENT, w.device_key.clone(), 0);
        let ServerFrame::Challenge { nonce } =
            w.reply(&mut DesktopSession::new(), resume, OPENED_AT)
        else {
            panic!("no challenge");
        };
        assert_eq!(nonce.len(), 36);
        nonces.push(nonce);
    }
    assert_ne!(nonces[0], nonces[1]);
}

#[test]
fn replayed_resume_proof_on_a_new_connection_is_rejected_as_nonce_mismatch() {
    let mut w = world();
    w.enroll();
    let mut first = DesktopSession::new();
    let (_phone, captured) = w.start_resume(&mut first);
    w.send(&mut first, captured.clone(), OPENED_AT + 11)
        .expect("first resume");

    let mut second = DesktopSession::new();
    let (_, resume) = PhoneSession::resume(AGENT, w.device_key.clone(), 0);
    w.reply(&mut second, resume, OPENED_AT + 20);
    assert_eq!(
        w.send(&mut second, captured, OPENED_AT + 21),
        Err(DesktopRejection::ResumeNonceMismatch)
    );
}

#[test]
fn resume_of_an_unpaired_device_is_rejected_as_unknown_device() {
    let mut w = world();
    let (_, resume) = PhoneSession::resume(AGENT, w.device_key.clone(), 0);
    assert_eq!(
        w.send(&mut DesktopSession::new(), resume, OPENED_AT),
        Err(DesktopRejection::UnknownDevice)
    );
}

#[test]
fn resume_proof_signed_by_another_key_is_rejected_as_bad_signature() {
    let mut w = world();
    w.enroll();
    let mut session = DesktopSession::new();
    let (_phone, proof) = w.start_resume(&mut session);
    let genuine = resume_proof_envelope(proof);
    let mut forged = SignedEnvelope::sign(
        genuine.payload.clone(),
        &SigningKey::from_bytes(&[9; 32]),
        0,
    );
    forged.bridge_pubkey_multibase = genuine.bridge_pubkey_multibase;
    assert_eq!(
        w.send(
            &mut session,
            ClientFrame::ResumeProof { envelope: forged },
            OPENED_AT + 11
        ),
        Err(DesktopRejection::BadResumeSignature(
            EnvelopeError::SignatureMismatch
        ))
    );
}

#[test]
fn resume_proof_naming_another_key_is_rejected_as_key_mismatch() {
    let mut w = world();
    w.enroll();
    let mut session = DesktopSession::new();
    let (_phone, proof) = w.start_resume(&mut session);
    let other = SignedEnvelope::sign(
        resume_proof_envelope(proof).payload,
        &SigningKey::from_bytes(&[9; 32]),
        0,
    );
    assert_eq!(
        w.send(
            &mut session,
            ClientFrame::ResumeProof { envelope: other },
            OPENED_AT + 11
        ),
        Err(DesktopRejection::ResumeKeyMismatch)
    );
}

#[test]
fn resume_of_a_device_unpaired_mid_handshake_is_rejected_as_unknown_device() {
    let mut w = world();
    w.enroll();
    let mut session = DesktopSession::new();
    let (_phone, proof) = w.start_resume(&mut session);
    let pubkey = w.device_pubkey();
    w.desktop.paired_devices_mut().remove(&pubkey);
    assert_eq!(
        w.send(&mut session, proof, OPENED_AT + 11),
        Err(DesktopRejection::UnknownDevice)
    );
}

#[test]
fn phone_refuses_to_sign_a_resume_challenge_that_is_not_a_uuid() {
    let (mut phone, _) = PhoneSession::resume(AGENT, SigningKey::from_bytes(&[1; 32]), 0);
    assert_eq!(
        phone.handle(ServerFrame::Challenge {
            nonce: r#"{"jsonrpc":"2.0","method":"channel/hitl_respond"}"#.into()
        }),
        Err(PhoneRejection::MalformedChallenge)
    );
}

#[test]
fn phone_rejects_a_resume_paired_frame_carrying_a_confirm() {
    let (mut phone, _) = PhoneSession::resume(AGENT, SigningKey::from_bytes(&[1; 32]), 0);
    phone
        .handle(ServerFrame::Challenge {
            nonce: "0f8fad5b-d9cb-469f-a165-70867728950e".into(),
        })
        .expect("phone signs");
    assert_eq!(
        phone.handle(ServerFrame::Paired {
            agent: AGENT.into(),
            confirm: vec![1; 32]
        }),
        Err(PhoneRejection::UnexpectedConfirm)
    );
}

// ── Paired connections ───────────────────────────────────────────────────────────────────────

fn paired_session(w: &mut World) -> DesktopSession {
    w.enroll();
    let mut session = DesktopSession::new();
    let (_phone, proof) = w.start_resume(&mut session);
    w.send(&mut session, proof, OPENED_AT + 11)
        .expect("resumed");
    session
}

#[test]
fn paired_connection_hands_audio_frames_to_the_caller() {
    let mut w = world();
    let mut session = paired_session(&mut w);
    let chunk = ClientFrame::audio_chunk_from_pcm(&[0; 64]).expect("chunk");
    assert_eq!(
        w.send(&mut session, chunk.clone(), OPENED_AT + 12),
        Ok(DesktopStep::Application(chunk))
    );
}

#[test]
fn paired_connection_hands_a_device_signed_envelope_to_the_caller() {
    let mut w = world();
    let mut session = paired_session(&mut w);
    let frame = ClientFrame::Envelope {
        envelope: SignedEnvelope::sign(br#"{"id":1}"#.to_vec(), &w.device_key, 0),
    };
    assert_eq!(
        w.send(&mut session, frame.clone(), OPENED_AT + 12),
        Ok(DesktopStep::Application(frame))
    );
}

#[test]
fn paired_connection_rejects_an_envelope_signed_by_another_key() {
    let mut w = world();
    let mut session = paired_session(&mut w);
    let frame = ClientFrame::Envelope {
        envelope: SignedEnvelope::sign(
            br#"{"id":1}"#.to_vec(),
            &SigningKey::from_bytes(&[9; 32]),
            0,
        ),
    };
    assert_eq!(
        w.send(&mut session, frame, OPENED_AT + 12),
        Err(DesktopRejection::BadEnvelopeSignature(
            EnvelopeError::SignatureMismatch
        ))
    );
}

#[test]
fn paired_connection_rejects_a_second_handshake() {
    let mut w = world();
    let mut session = paired_session(&mut w);
    let (_, resume) = PhoneSession::resume(AGENT, w.device_key.clone(), 0);
    assert!(matches!(
        w.send(&mut session, resume, OPENED_AT + 12),
        Err(DesktopRejection::UnexpectedFrame {
            state: "paired",
            ..
        })
    ));
}

// ── Secrets ──────────────────────────────────────────────────────────────────────────────────

#[test]
fn pairing_token_debug_is_redacted() {
    let token = PairingToken::new("6f1c2f7a-secret");
    assert_eq!(format!("{token:?}"), "PairingToken(***redacted)");
}

#[test]
fn debug_of_endpoint_offer_and_legacy_hello_never_shows_the_token() {
    let w = world();
    let secret = w.offer.token.expose_secret().to_owned();
    let hello = ClientFrame::Hello {
        pubkey: "z".into(),
        token: w.offer.token.clone(),
        agent: AGENT.into(),
    };
    for shown in [
        format!("{:?}", w.desktop),
        format!("{:?}", w.offer),
        format!("{hello:?}"),
    ] {
        assert!(!shown.contains(&secret), "token leaked: {shown}");
    }
}

#[test]
fn hello_init_and_hello_proof_never_carry_the_token() {
    let mut w = world();
    let secret = w.offer.token.expose_secret().to_owned();
    let mut session = DesktopSession::new();
    let (_, hello_init) = PhoneSession::enroll(w.offer.clone(), AGENT, w.device_key.clone());
    let (_, proof) = w.start_enrollment(w.offer.clone(), &mut session, OPENED_AT);
    for frame in [hello_init, proof] {
        assert!(!frame.encode().expect("encode").contains(&secret));
    }
}
