//! The server-side `ReleaseVerifier`: header checks, freshness window, nonce replay memory and
//! its bounds, and the stable rejection codes.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use wavekat_platform_client::signing::{
    generate_master, issue_release_credential, KeyError, ReleaseCredential, ReleaseVerifier,
    SecretKeyHex, VerifyError,
};
use wavekat_platform_client::signing::{
    HEADER_BUILD_VERSION, HEADER_CERT, HEADER_PUB, HEADER_SIG, HEADER_SIG_NONCE, HEADER_SIG_TS,
    HEADER_SIG_VER,
};

const PATH: &str = "/api/voice/installs/heartbeat";
const BODY: &[u8] = br#"{"installId":"x"}"#;
const T0: u64 = 1_700_000_000;

struct Fixture {
    credential: ReleaseCredential,
    master_private: SecretKeyHex,
    master_public: String,
    clock: Arc<AtomicU64>,
    next_nonce: u8,
}

impl Fixture {
    fn new() -> Self {
        let (master_private, master_public) = generate_master().unwrap();
        let credential = issue_release_credential(master_private.expose(), "0.0.22").unwrap();
        Fixture {
            credential,
            master_private,
            master_public,
            clock: Arc::new(AtomicU64::new(T0)),
            next_nonce: 0,
        }
    }

    /// A verifier whose clock reads this fixture's clock.
    fn verifier(&self) -> ReleaseVerifier {
        let clock = Arc::clone(&self.clock);
        ReleaseVerifier::new(&self.master_public)
            .unwrap()
            .with_clock(move || clock.load(Ordering::SeqCst))
    }

    fn set_clock(&self, now: u64) {
        self.clock.store(now, Ordering::SeqCst);
    }

    /// Another release's credential, certified by this fixture's master.
    fn release(&self, version: &str) -> ReleaseCredential {
        issue_release_credential(self.master_private.expose(), version).unwrap()
    }

    /// Headers for a request signed at `timestamp` with a nonce not used before in this fixture.
    fn signed_at(&mut self, timestamp: u64) -> HeaderMap {
        let credential = self.credential.clone();
        self.signed_by(&credential, timestamp)
    }

    /// Headers for a request signed by `credential` at `timestamp` with a fresh nonce.
    fn signed_by(&mut self, credential: &ReleaseCredential, timestamp: u64) -> HeaderMap {
        self.next_nonce = self.next_nonce.wrapping_add(1);
        let signature =
            credential.sign_request_with("POST", PATH, BODY, timestamp, [self.next_nonce; 16]);
        let mut headers = HeaderMap::new();
        for (name, value) in credential.signature_headers(&signature) {
            headers.insert(
                HeaderName::from_static(name),
                HeaderValue::from_str(&value).unwrap(),
            );
        }
        headers
    }
}

fn replace(mut headers: HeaderMap, name: &'static str, value: &str) -> HeaderMap {
    headers.insert(
        HeaderName::from_static(name),
        HeaderValue::from_str(value).unwrap(),
    );
    headers
}

#[test]
fn fresh_signed_request_is_accepted() {
    let mut fixture = Fixture::new();
    let headers = fixture.signed_at(T0);
    let release = fixture
        .verifier()
        .verify("POST", PATH, &headers, BODY)
        .unwrap();
    assert_eq!(release.build_version, "0.0.22");
    assert_eq!(release.public_key_hex, fixture.credential.public_key_hex());
    assert_eq!(release.timestamp, T0);
}

#[test]
fn timestamp_300_seconds_old_is_accepted() {
    let mut fixture = Fixture::new();
    let headers = fixture.signed_at(T0 - 300);
    assert!(fixture
        .verifier()
        .verify("POST", PATH, &headers, BODY)
        .is_ok());
}

#[test]
fn timestamp_301_seconds_old_is_rejected_as_stale() {
    let mut fixture = Fixture::new();
    let headers = fixture.signed_at(T0 - 301);
    assert_eq!(
        fixture.verifier().verify("POST", PATH, &headers, BODY),
        Err(VerifyError::Stale {
            timestamp: T0 - 301,
            now: T0
        })
    );
}

#[test]
fn timestamp_30_seconds_ahead_is_accepted() {
    let mut fixture = Fixture::new();
    let headers = fixture.signed_at(T0 + 30);
    assert!(fixture
        .verifier()
        .verify("POST", PATH, &headers, BODY)
        .is_ok());
}

#[test]
fn a_timestamp_31_seconds_ahead_is_stale_so_future_nonces_cannot_pile_up() {
    let mut fixture = Fixture::new();
    let headers = fixture.signed_at(T0 + 31);
    assert_eq!(
        fixture.verifier().verify("POST", PATH, &headers, BODY),
        Err(VerifyError::Stale {
            timestamp: T0 + 31,
            now: T0
        })
    );
}

#[test]
fn a_timestamp_300_seconds_ahead_is_stale_by_default() {
    let mut fixture = Fixture::new();
    let headers = fixture.signed_at(T0 + 300);
    assert!(matches!(
        fixture.verifier().verify("POST", PATH, &headers, BODY),
        Err(VerifyError::Stale { .. })
    ));
}

#[test]
fn the_future_skew_is_configurable_but_never_beyond_the_window() {
    let mut fixture = Fixture::new();
    let ahead_120 = fixture.signed_at(T0 + 120);
    let wide = fixture
        .verifier()
        .with_future_skew(Duration::from_secs(120));
    assert!(wide.verify("POST", PATH, &ahead_120, BODY).is_ok());
    let ahead_61 = fixture.signed_at(T0 + 61);
    let capped = fixture
        .verifier()
        .with_window(Duration::from_secs(60))
        .with_future_skew(Duration::from_secs(120));
    assert!(matches!(
        capped.verify("POST", PATH, &ahead_61, BODY),
        Err(VerifyError::Stale { .. })
    ));
}

#[test]
fn timestamp_zero_from_a_clock_before_the_epoch_is_rejected_as_stale() {
    let mut fixture = Fixture::new();
    let headers = fixture.signed_at(0);
    assert!(matches!(
        fixture.verifier().verify("POST", PATH, &headers, BODY),
        Err(VerifyError::Stale { .. })
    ));
}

#[test]
fn narrower_window_rejects_what_the_default_accepts() {
    let mut fixture = Fixture::new();
    let headers = fixture.signed_at(T0 - 11);
    let verifier = fixture.verifier().with_window(Duration::from_secs(10));
    assert!(matches!(
        verifier.verify("POST", PATH, &headers, BODY),
        Err(VerifyError::Stale { .. })
    ));
}

#[test]
fn replayed_nonce_is_rejected() {
    let mut fixture = Fixture::new();
    let verifier = fixture.verifier();
    let headers = fixture.signed_at(T0);
    assert!(verifier.verify("POST", PATH, &headers, BODY).is_ok());
    assert_eq!(
        verifier.verify("POST", PATH, &headers, BODY),
        Err(VerifyError::Replayed)
    );
}

#[test]
fn clones_share_one_nonce_memory() {
    let mut fixture = Fixture::new();
    let verifier = fixture.verifier();
    let clone = verifier.clone();
    let headers = fixture.signed_at(T0);
    assert!(verifier.verify("POST", PATH, &headers, BODY).is_ok());
    assert_eq!(
        clone.verify("POST", PATH, &headers, BODY),
        Err(VerifyError::Replayed)
    );
}

#[test]
fn rejected_request_does_not_use_up_its_nonce() {
    let mut fixture = Fixture::new();
    let verifier = fixture.verifier();
    let headers = fixture.signed_at(T0);
    assert_eq!(
        verifier.verify("POST", PATH, &headers, b"tampered"),
        Err(VerifyError::BadSignature)
    );
    assert_eq!(verifier.remembered_nonces(), 0);
    assert!(verifier.verify("POST", PATH, &headers, BODY).is_ok());
}

#[test]
fn nonces_are_forgotten_once_their_timestamps_leave_the_window() {
    let mut fixture = Fixture::new();
    let verifier = fixture.verifier();
    for _ in 0..3 {
        let headers = fixture.signed_at(T0);
        verifier.verify("POST", PATH, &headers, BODY).unwrap();
    }
    assert_eq!(verifier.remembered_nonces(), 3);
    fixture.set_clock(T0 + 300);
    assert_eq!(
        verifier.remembered_nonces(),
        3,
        "still replayable at the edge"
    );
    fixture.set_clock(T0 + 301);
    assert_eq!(verifier.remembered_nonces(), 0);
}

#[test]
fn verifying_a_new_request_drops_expired_nonces() {
    let mut fixture = Fixture::new();
    let verifier = fixture.verifier();
    let old = fixture.signed_at(T0);
    verifier.verify("POST", PATH, &old, BODY).unwrap();
    fixture.set_clock(T0 + 1000);
    let new = fixture.signed_at(T0 + 1000);
    verifier.verify("POST", PATH, &new, BODY).unwrap();
    assert_eq!(verifier.remembered_nonces(), 1);
}

#[test]
fn full_nonce_memory_refuses_new_requests() {
    let mut fixture = Fixture::new();
    let verifier = fixture.verifier().with_nonce_capacity(2);
    for _ in 0..2 {
        let headers = fixture.signed_at(T0);
        verifier.verify("POST", PATH, &headers, BODY).unwrap();
    }
    let third = fixture.signed_at(T0);
    assert_eq!(
        verifier.verify("POST", PATH, &third, BODY),
        Err(VerifyError::NonceMemoryFull)
    );
    assert_eq!(verifier.remembered_nonces(), 2);
}

#[test]
fn full_nonce_memory_makes_room_as_nonces_expire() {
    let mut fixture = Fixture::new();
    let verifier = fixture.verifier().with_nonce_capacity(1);
    let first = fixture.signed_at(T0);
    verifier.verify("POST", PATH, &first, BODY).unwrap();
    fixture.set_clock(T0 + 301);
    let second = fixture.signed_at(T0 + 301);
    assert!(verifier.verify("POST", PATH, &second, BODY).is_ok());
}

#[test]
fn replay_is_reported_even_when_nonce_memory_is_full() {
    let mut fixture = Fixture::new();
    let verifier = fixture.verifier().with_nonce_capacity(1);
    let headers = fixture.signed_at(T0);
    verifier.verify("POST", PATH, &headers, BODY).unwrap();
    assert_eq!(
        verifier.verify("POST", PATH, &headers, BODY),
        Err(VerifyError::Replayed)
    );
}

#[test]
fn each_missing_header_is_reported_by_name() {
    let mut fixture = Fixture::new();
    let verifier = fixture.verifier();
    let complete = fixture.signed_at(T0);
    for name in [
        HEADER_SIG_VER,
        HEADER_SIG_TS,
        HEADER_SIG_NONCE,
        HEADER_BUILD_VERSION,
        HEADER_PUB,
        HEADER_CERT,
        HEADER_SIG,
    ] {
        let mut headers = complete.clone();
        headers.remove(name);
        assert_eq!(
            verifier.verify("POST", PATH, &headers, BODY),
            Err(VerifyError::MissingHeader { name })
        );
    }
}

#[test]
fn scheme_version_other_than_2_is_unsupported() {
    let mut fixture = Fixture::new();
    let headers = replace(fixture.signed_at(T0), HEADER_SIG_VER, "1");
    assert_eq!(
        fixture.verifier().verify("POST", PATH, &headers, BODY),
        Err(VerifyError::UnsupportedScheme)
    );
}

#[test]
fn repeated_header_is_malformed() {
    let mut fixture = Fixture::new();
    let mut headers = fixture.signed_at(T0);
    headers.append(
        HeaderName::from_static(HEADER_SIG_NONCE),
        HeaderValue::from_static("00000000000000000000000000000000"),
    );
    assert_eq!(
        fixture.verifier().verify("POST", PATH, &headers, BODY),
        Err(VerifyError::MalformedHeader {
            name: HEADER_SIG_NONCE
        })
    );
}

#[test]
fn timestamp_with_a_leading_zero_is_malformed() {
    let mut fixture = Fixture::new();
    let headers = replace(fixture.signed_at(T0), HEADER_SIG_TS, "01700000000");
    assert_eq!(
        fixture.verifier().verify("POST", PATH, &headers, BODY),
        Err(VerifyError::MalformedHeader {
            name: HEADER_SIG_TS
        })
    );
}

#[test]
fn negative_timestamp_is_malformed() {
    let mut fixture = Fixture::new();
    let headers = replace(fixture.signed_at(T0), HEADER_SIG_TS, "-1");
    assert_eq!(
        fixture.verifier().verify("POST", PATH, &headers, BODY),
        Err(VerifyError::MalformedHeader {
            name: HEADER_SIG_TS
        })
    );
}

#[test]
fn timestamp_beyond_u64_is_malformed() {
    let mut fixture = Fixture::new();
    let headers = replace(fixture.signed_at(T0), HEADER_SIG_TS, "18446744073709551616");
    assert_eq!(
        fixture.verifier().verify("POST", PATH, &headers, BODY),
        Err(VerifyError::MalformedHeader {
            name: HEADER_SIG_TS
        })
    );
}

#[test]
fn short_nonce_is_malformed() {
    let mut fixture = Fixture::new();
    let headers = replace(fixture.signed_at(T0), HEADER_SIG_NONCE, "deadbeef");
    assert_eq!(
        fixture.verifier().verify("POST", PATH, &headers, BODY),
        Err(VerifyError::MalformedHeader {
            name: HEADER_SIG_NONCE
        })
    );
}

#[test]
fn build_version_with_a_space_is_malformed() {
    let mut fixture = Fixture::new();
    let headers = replace(fixture.signed_at(T0), HEADER_BUILD_VERSION, "0.0.22 beta");
    assert_eq!(
        fixture.verifier().verify("POST", PATH, &headers, BODY),
        Err(VerifyError::MalformedHeader {
            name: HEADER_BUILD_VERSION
        })
    );
}

#[test]
fn non_hex_public_key_is_malformed() {
    let mut fixture = Fixture::new();
    let headers = replace(fixture.signed_at(T0), HEADER_PUB, &"x".repeat(64));
    assert_eq!(
        fixture.verifier().verify("POST", PATH, &headers, BODY),
        Err(VerifyError::MalformedHeader { name: HEADER_PUB })
    );
}

#[test]
fn truncated_certificate_is_malformed() {
    let mut fixture = Fixture::new();
    let cert = fixture.credential.cert_hex()[..126].to_owned();
    let headers = replace(fixture.signed_at(T0), HEADER_CERT, &cert);
    assert_eq!(
        fixture.verifier().verify("POST", PATH, &headers, BODY),
        Err(VerifyError::MalformedHeader { name: HEADER_CERT })
    );
}

#[test]
fn overlong_signature_is_malformed() {
    let mut fixture = Fixture::new();
    let headers = replace(fixture.signed_at(T0), HEADER_SIG, &"0".repeat(130));
    assert_eq!(
        fixture.verifier().verify("POST", PATH, &headers, BODY),
        Err(VerifyError::MalformedHeader { name: HEADER_SIG })
    );
}

#[test]
fn credential_certified_by_another_master_is_rejected() {
    let mut fixture = Fixture::new();
    let (other_master_private, _) = generate_master().unwrap();
    fixture.credential = issue_release_credential(other_master_private.expose(), "0.0.22").unwrap();
    let headers = fixture.signed_at(T0);
    assert_eq!(
        fixture.verifier().verify("POST", PATH, &headers, BODY),
        Err(VerifyError::BadCertificate)
    );
}

#[test]
fn malformed_master_key_is_refused_by_name() {
    let result = ReleaseVerifier::new("not a key");
    assert_eq!(
        result.err(),
        Some(KeyError::InvalidLength {
            field: "master public key",
            expected: 64,
            actual: 9
        })
    );
}

#[test]
fn small_order_master_key_is_refused() {
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let result = ReleaseVerifier::new(&hex::encode(identity));
    assert_eq!(
        result.err(),
        Some(KeyError::InvalidPublicKey {
            field: "master public key"
        })
    );
}

#[test]
fn rejection_codes_are_distinct_snake_case() {
    let errors = [
        VerifyError::MissingHeader { name: HEADER_SIG },
        VerifyError::MalformedHeader { name: HEADER_SIG },
        VerifyError::UnsupportedScheme,
        VerifyError::Stale {
            timestamp: 0,
            now: 0,
        },
        VerifyError::BadCertificate,
        VerifyError::BadSignature,
        VerifyError::Replayed,
        VerifyError::NonceMemoryFull,
        VerifyError::DeniedVersion,
    ];
    let codes: Vec<&str> = errors.iter().map(VerifyError::code).collect();
    assert_eq!(
        codes,
        [
            "missing_header",
            "malformed_header",
            "unsupported_scheme",
            "stale",
            "bad_certificate",
            "bad_signature",
            "replayed",
            "nonce_memory_full",
            "denied_version"
        ]
    );
    assert_eq!(codes.iter().collect::<HashSet<_>>().len(), codes.len());
}

#[test]
fn the_same_request_verified_on_several_threads_is_accepted_once() {
    let mut fixture = Fixture::new();
    let verifier = fixture.verifier();
    let headers = fixture.signed_at(T0);
    let results: Vec<Result<_, VerifyError>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| verifier.verify("POST", PATH, &headers, BODY)))
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    assert_eq!(
        results
            .iter()
            .filter(|r| **r == Err(VerifyError::Replayed))
            .count(),
        3
    );
}

#[test]
fn a_flood_from_one_version_does_not_block_another() {
    let mut fixture = Fixture::new();
    let leaked = fixture.release("0.0.9-leaked");
    let honest = fixture.release("0.0.23");
    let verifier = fixture.verifier().with_nonce_capacity(8);
    for _ in 0..8 {
        let flood = fixture.signed_by(&leaked, T0 + 30);
        verifier.verify("POST", PATH, &flood, BODY).unwrap();
    }
    let more = fixture.signed_by(&leaked, T0 + 30);
    assert_eq!(
        verifier.verify("POST", PATH, &more, BODY),
        Err(VerifyError::NonceMemoryFull),
        "the leaked version's own budget is full"
    );
    for _ in 0..8 {
        let heartbeat = fixture.signed_by(&honest, T0);
        let accepted = verifier.verify("POST", PATH, &heartbeat, BODY).unwrap();
        assert_eq!(accepted.build_version, "0.0.23");
    }
    assert_eq!(verifier.remembered_nonces(), 16);
}

#[test]
fn a_denied_version_is_refused_even_with_a_valid_signature() {
    let mut fixture = Fixture::new();
    let leaked = fixture.release("0.0.9-leaked");
    let verifier = fixture.verifier();
    let before = fixture.signed_by(&leaked, T0);
    assert!(verifier.verify("POST", PATH, &before, BODY).is_ok());
    verifier.clone().deny_version("0.0.9-leaked");
    let after = fixture.signed_by(&leaked, T0);
    assert_eq!(
        verifier.verify("POST", PATH, &after, BODY),
        Err(VerifyError::DeniedVersion)
    );
    assert!(verifier.is_denied("0.0.9-leaked"));
    let honest = fixture.signed_at(T0);
    assert!(verifier.verify("POST", PATH, &honest, BODY).is_ok());
}

#[test]
fn versions_denied_at_construction_are_refused() {
    let mut fixture = Fixture::new();
    let verifier = fixture.verifier().with_denied_versions(["0.0.22"]);
    let headers = fixture.signed_at(T0);
    assert_eq!(
        verifier.verify("POST", PATH, &headers, BODY),
        Err(VerifyError::DeniedVersion)
    );
}

#[test]
fn a_forged_request_from_a_denied_version_is_refused_before_the_signatures_are_checked() {
    let mut fixture = Fixture::new();
    let verifier = fixture.verifier().with_denied_versions(["0.0.22"]);
    let forged = replace(fixture.signed_at(T0), HEADER_SIG, &"ab".repeat(64));
    let forged = replace(forged, HEADER_CERT, &"cd".repeat(64));
    assert_eq!(
        verifier.verify("POST", PATH, &forged, BODY),
        Err(VerifyError::DeniedVersion)
    );
}

#[test]
fn a_replay_with_a_forged_signature_is_refused_before_the_signatures_are_checked() {
    let mut fixture = Fixture::new();
    let verifier = fixture.verifier();
    let headers = fixture.signed_at(T0);
    verifier.verify("POST", PATH, &headers, BODY).unwrap();
    let forged = replace(headers, HEADER_SIG, &"ab".repeat(64));
    assert_eq!(
        verifier.verify("POST", PATH, &forged, BODY),
        Err(VerifyError::Replayed)
    );
}

#[test]
fn a_forged_request_for_a_key_with_a_full_budget_is_refused_before_the_signatures_are_checked() {
    let mut fixture = Fixture::new();
    let verifier = fixture.verifier().with_nonce_capacity(1);
    let first = fixture.signed_at(T0);
    verifier.verify("POST", PATH, &first, BODY).unwrap();
    let forged = replace(fixture.signed_at(T0), HEADER_SIG, &"ab".repeat(64));
    assert_eq!(
        verifier.verify("POST", PATH, &forged, BODY),
        Err(VerifyError::NonceMemoryFull)
    );
}

#[test]
fn an_uncertified_key_never_gets_a_nonce_budget() {
    let mut fixture = Fixture::new();
    let (rogue_master, _) = generate_master().unwrap();
    let rogue = issue_release_credential(rogue_master.expose(), "0.0.22").unwrap();
    let verifier = fixture.verifier();
    for _ in 0..4 {
        let headers = fixture.signed_by(&rogue, T0);
        assert_eq!(
            verifier.verify("POST", PATH, &headers, BODY),
            Err(VerifyError::BadCertificate)
        );
    }
    assert_eq!(verifier.remembered_nonces(), 0);
}
