//! Secure mode, sans IO: the link secret, the per-connection session keys, and the sealed record
//! that carries every frame after the handshake (see the module docs of [`super`] for the design).

use std::fmt;

use hmac::{Hmac, Mac};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use sha2::Sha256;
use zeroize::Zeroize;

use crate::mobile::pairing::{ct_eq, pair_transcript, PairRole, PairingToken, TranscriptFields};
use crate::mobile::PairingError;

/// Length of each side's per-connection nonce, in bytes.
pub const CONNECTION_NONCE_LEN: usize = 32;

/// Length of a link secret and of each session key, in bytes.
const KEY_LEN: usize = 32;

/// Length of a sealed record's header: kind (1) ‖ seq (8) ‖ ack (8).
const RECORD_HEADER_LEN: usize = 1 + 8 + 8;

/// Length of the AES-256-GCM tag that ends every sealed record.
const TAG_LEN: usize = 16;

/// What sealing adds to a payload: the header and the tag.
pub(crate) const RECORD_OVERHEAD: usize = RECORD_HEADER_LEN + TAG_LEN;

/// Domain tag of every key derivation in secure mode.
const DOMAIN: &[u8] = b"wavekat-mobile-sec1";

/// The secret a phone and a desktop share after a secure enrollment; every later secure resume
/// derives its session keys from it.
///
/// Derived as HMAC-SHA256(pairing token, `wavekat-mobile-sec1/link` ‖ the proto-2 phone→daemon
/// transcript), so only the two ends that ran the enrollment with the QR token know it. Persist it
/// with the device identity (phone) and the paired device (desktop). `Debug` is redacted, there is
/// no `Display`, equality is constant-time and the bytes are zeroized on drop.
#[derive(Clone)]
pub struct LinkSecret([u8; KEY_LEN]);

impl LinkSecret {
    /// Wraps stored secret bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        LinkSecret(bytes)
    }

    /// The secret bytes, for persisting and nothing else.
    pub fn expose_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// The link secret of an enrollment whose transcript has `fields`, keyed by `token`.
    pub(crate) fn from_enrollment(
        token: &PairingToken,
        fields: &TranscriptFields<'_>,
    ) -> Result<Self, PairingError> {
        let transcript = pair_transcript(PairRole::PhoneToDaemon, fields)?;
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(token.expose_secret().as_bytes())
            .map_err(|_| PairingError::HmacKey)?;
        mac.update(DOMAIN);
        mac.update(b"/link");
        mac.update(&transcript);
        Ok(LinkSecret(mac.finalize().into_bytes().into()))
    }
}

impl fmt::Debug for LinkSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkSecret(***redacted)")
    }
}

impl PartialEq for LinkSecret {
    fn eq(&self, other: &Self) -> bool {
        ct_eq(&self.0, &other.0)
    }
}

impl Eq for LinkSecret {}

impl Drop for LinkSecret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// Which handshake a session key is bound to, with the value that makes it unique.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Binding<'a> {
    /// A proto-2 enrollment: the `pair_challenge` nonce.
    Enroll {
        /// The 32-byte `pair_challenge.nonce`.
        pair_nonce: &'a [u8],
    },
    /// A resume: the desktop's `challenge.nonce` string.
    Resume {
        /// The challenge string.
        challenge: &'a str,
    },
}

/// Everything a session key is bound to, besides the secret.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SessionContext<'a> {
    /// The desktop identity key (`did`), multibase, as the phone pinned it.
    pub did: &'a str,
    /// The device key, multibase.
    pub device: &'a str,
    /// The phone's per-connection nonce.
    pub phone_nonce: &'a [u8; CONNECTION_NONCE_LEN],
    /// The desktop's per-connection nonce.
    pub desktop_nonce: &'a [u8; CONNECTION_NONCE_LEN],
    /// The handshake the session completes.
    pub binding: Binding<'a>,
}

/// Which end of the link a [`SessionKeys`] belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Phone,
    Desktop,
}

/// What a sealed record carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecordKind {
    /// One JSON frame (a [`ClientFrame`](crate::mobile::ClientFrame) or
    /// [`ServerFrame`](crate::mobile::ServerFrame)), byte-identical to its plain form.
    Frame,
    /// No payload: only the header's `ack`.
    Ack,
    /// Desktop → phone after a resume: how many records of the phone's previous connection the
    /// desktop processed. Payload: that connection's phone nonce (32) ‖ count (u64 big-endian).
    ResumeReport,
}

impl RecordKind {
    fn byte(self) -> u8 {
        match self {
            RecordKind::Frame => 0,
            RecordKind::Ack => 1,
            RecordKind::ResumeReport => 2,
        }
    }

    fn from_byte(byte: u8) -> Option<Self> {
        match byte {
            0 => Some(RecordKind::Frame),
            1 => Some(RecordKind::Ack),
            2 => Some(RecordKind::ResumeReport),
            _ => None,
        }
    }
}

/// Why a sealed record was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecureError {
    /// Shorter than a record header and tag.
    #[error("secure record is {len} bytes, shorter than its header and tag")]
    Truncated {
        /// Record length.
        len: usize,
    },
    /// The tag does not verify: the record was forged, altered, or sealed for another
    /// connection.
    #[error("secure record tag does not verify")]
    BadMac,
    /// The sequence number is not the next one expected (a replay, a drop or a reorder).
    #[error("secure record has sequence {got}, expected {expected}")]
    BadSequence {
        /// The next sequence number expected.
        expected: u64,
        /// The sequence number received.
        got: u64,
    },
    /// The record kind byte is unknown.
    #[error("secure record kind {kind} is unknown")]
    UnknownKind {
        /// The kind byte.
        kind: u8,
    },
    /// A text frame arrived where only sealed records are allowed.
    #[error("an unsealed frame arrived on a secure connection")]
    Unsealed,
    /// The HMAC or AEAD implementation refused a session key (HMAC takes any key and AES-256
    /// any 32 bytes, so this is not expected to happen).
    #[error("the HMAC or AEAD implementation refused the session key")]
    KeyRefused,
    /// This side has sealed 2^64 − 1 records on the connection; the next would reuse a nonce.
    #[error("the connection's record sequence is exhausted; reconnect")]
    SequenceExhausted,
}

/// An opened record.
#[derive(Debug)]
pub(crate) struct Opened {
    pub kind: RecordKind,
    pub ack: u64,
    pub payload: Vec<u8>,
}

/// The two direction keys of one connection and its sequence counters. Split into its halves
/// ([`SessionKeys::split`]) when the reading and the writing side run apart.
#[derive(Debug)]
pub(crate) struct SessionKeys {
    send: SealKey,
    recv: OpenKey,
}

/// The sending direction: its AES-256-GCM key and the next sequence number.
///
/// ring's expanded key schedule is not zeroized on drop (ring offers no way to); the derived key
/// bytes it came from are. It lives only as long as the connection.
pub(crate) struct SealKey {
    key: LessSafeKey,
    seq: u64,
}

/// The receiving direction: its AES-256-GCM key and how many records it opened.
pub(crate) struct OpenKey {
    key: LessSafeKey,
    seq: u64,
}

impl fmt::Debug for SealKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealKey")
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for OpenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenKey")
            .field("seq", &self.seq)
            .finish_non_exhaustive()
    }
}

/// HMAC-SHA256 of `parts` under `key`. HMAC takes keys of any length, so this does not fail in
/// practice; if it ever did, no key is derived (never a fallback both ends would share).
fn hmac_parts(key: &[u8], parts: &[&[u8]]) -> Result<[u8; KEY_LEN], SecureError> {
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(key).map_err(|_| SecureError::KeyRefused)?;
    for part in parts {
        mac.update(part);
    }
    Ok(mac.finalize().into_bytes().into())
}

/// u32 little-endian length prefix of `bytes` (fields are far below 4 GiB; longer ones saturate,
/// which only makes the derivation fail to match).
fn lp(bytes: &[u8]) -> [u8; 4] {
    u32::try_from(bytes.len()).unwrap_or(u32::MAX).to_le_bytes()
}

impl SessionKeys {
    /// Derives the keys of `side` from `secret` and everything the session is bound to:
    /// `k_dir = HMAC(secret, DOMAIN ‖ "/session" ‖ lp(kind) ‖ kind ‖ lp(did) ‖ did ‖ lp(device) ‖
    /// device ‖ phone nonce ‖ desktop nonce ‖ lp(binding) ‖ binding ‖ lp(dir) ‖ dir)`.
    pub(crate) fn derive(
        secret: &LinkSecret,
        side: Side,
        ctx: &SessionContext<'_>,
    ) -> Result<Self, SecureError> {
        let (kind, binding): (&[u8], &[u8]) = match ctx.binding {
            Binding::Enroll { pair_nonce } => (b"enroll", pair_nonce),
            Binding::Resume { challenge } => (b"resume", challenge.as_bytes()),
        };
        let key = |dir: &[u8]| {
            hmac_parts(
                &secret.0,
                &[
                    DOMAIN,
                    b"/session",
                    &lp(kind),
                    kind,
                    &lp(ctx.did.as_bytes()),
                    ctx.did.as_bytes(),
                    &lp(ctx.device.as_bytes()),
                    ctx.device.as_bytes(),
                    ctx.phone_nonce,
                    ctx.desktop_nonce,
                    &lp(binding),
                    binding,
                    &lp(dir),
                    dir,
                ],
            )
        };
        let mut to_desktop = key(b"phone->desktop")?;
        let mut to_phone = key(b"desktop->phone")?;
        let keys = match side {
            Side::Phone => (aead_key(&to_desktop), aead_key(&to_phone)),
            Side::Desktop => (aead_key(&to_phone), aead_key(&to_desktop)),
        };
        to_desktop.zeroize();
        to_phone.zeroize();
        Ok(SessionKeys {
            send: SealKey {
                key: keys.0?,
                seq: 0,
            },
            recv: OpenKey {
                key: keys.1?,
                seq: 0,
            },
        })
    }

    /// How many records this side has opened (the `ack` it reports).
    pub(crate) fn received(&self) -> u64 {
        self.recv.opened()
    }

    /// Seals `payload` as the next record, acknowledging every record opened so far (see
    /// [`SealKey::seal`]).
    pub(crate) fn seal(
        &mut self,
        kind: RecordKind,
        payload: &[u8],
    ) -> Result<Vec<u8>, SecureError> {
        self.send.seal(kind, self.recv.opened(), payload)
    }

    /// Opens the next record (see [`OpenKey::open`]).
    pub(crate) fn open(&mut self, record: &[u8]) -> Result<Opened, SecureError> {
        self.recv.open(record)
    }

    /// The sending and the receiving half, for a link whose writes and reads run apart; the
    /// writer then takes each record's `ack` from the reader.
    pub(crate) fn split(self) -> (SealKey, OpenKey) {
        (self.send, self.recv)
    }
}

impl SealKey {
    /// The sequence number the next sealed record gets.
    pub(crate) fn next_seq(&self) -> u64 {
        self.seq
    }

    /// Seals `payload` as the next record: `kind ‖ seq ‖ ack ‖ AES-256-GCM(key, nonce = 0⁴ ‖
    /// seq, aad = kind ‖ seq ‖ ack, payload)` (ciphertext then the 16-byte tag). Fails only when
    /// the sequence is exhausted (a nonce would repeat).
    pub(crate) fn seal(
        &mut self,
        kind: RecordKind,
        ack: u64,
        payload: &[u8],
    ) -> Result<Vec<u8>, SecureError> {
        let seq = self.seq;
        let next = seq.checked_add(1).ok_or(SecureError::SequenceExhausted)?;
        let mut out = Vec::with_capacity(RECORD_OVERHEAD.saturating_add(payload.len()));
        out.push(kind.byte());
        out.extend_from_slice(&seq.to_be_bytes());
        out.extend_from_slice(&ack.to_be_bytes());
        out.extend_from_slice(payload);
        let (header, body) = out.split_at_mut(RECORD_HEADER_LEN);
        let tag = self
            .key
            .seal_in_place_separate_tag(nonce(seq), Aad::from(&*header), body)
            // ring refuses only inputs beyond GCM's per-record limit (64 GiB), far above a frame.
            .map_err(|_| SecureError::BadMac)?;
        out.extend_from_slice(tag.as_ref());
        self.seq = next;
        Ok(out)
    }
}

impl OpenKey {
    /// How many records were opened (the `ack` this side reports).
    pub(crate) fn opened(&self) -> u64 {
        self.seq
    }

    /// Opens the next record: checks its tag, then that its sequence number is exactly the next
    /// one expected, and returns the decrypted payload.
    pub(crate) fn open(&mut self, record: &[u8]) -> Result<Opened, SecureError> {
        if record.len() < RECORD_OVERHEAD {
            return Err(SecureError::Truncated { len: record.len() });
        }
        let (header, sealed) = record.split_at(RECORD_HEADER_LEN);
        let kind_byte = header[0];
        let mut seq = [0u8; 8];
        seq.copy_from_slice(&header[1..9]);
        let mut ack = [0u8; 8];
        ack.copy_from_slice(&header[9..17]);
        let got = u64::from_be_bytes(seq);
        let mut payload = sealed.to_vec();
        let len = self
            .key
            .open_in_place(nonce(got), Aad::from(header), &mut payload)
            .map_err(|_| SecureError::BadMac)?
            .len();
        payload.truncate(len);
        if got != self.seq {
            return Err(SecureError::BadSequence {
                expected: self.seq,
                got,
            });
        }
        let kind =
            RecordKind::from_byte(kind_byte).ok_or(SecureError::UnknownKind { kind: kind_byte })?;
        self.seq = self.seq.saturating_add(1);
        Ok(Opened {
            kind,
            ack: u64::from_be_bytes(ack),
            payload,
        })
    }
}

/// An AES-256-GCM key from 32 derived bytes.
fn aead_key(bytes: &[u8; KEY_LEN]) -> Result<LessSafeKey, SecureError> {
    UnboundKey::new(&AES_256_GCM, bytes)
        .map(LessSafeKey::new)
        .map_err(|_| SecureError::KeyRefused)
}

/// The GCM nonce of record `seq`: four zero bytes then `seq` big-endian. Each direction has its
/// own key and `seq` never repeats under it, so no nonce repeats under a key.
fn nonce(seq: u64) -> Nonce {
    let mut bytes = [0u8; 12];
    bytes[4..].copy_from_slice(&seq.to_be_bytes());
    Nonce::assume_unique_for_key(bytes)
}

/// Encodes a resume report payload.
pub(crate) fn resume_report(prev_phone_nonce: &[u8; CONNECTION_NONCE_LEN], count: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(CONNECTION_NONCE_LEN + 8);
    out.extend_from_slice(prev_phone_nonce);
    out.extend_from_slice(&count.to_be_bytes());
    out
}

/// Decodes a resume report payload.
pub(crate) fn parse_resume_report(payload: &[u8]) -> Option<([u8; CONNECTION_NONCE_LEN], u64)> {
    if payload.len() != CONNECTION_NONCE_LEN + 8 {
        return None;
    }
    let (nonce, count) = payload.split_at(CONNECTION_NONCE_LEN);
    let nonce: [u8; CONNECTION_NONCE_LEN] = nonce.try_into().ok()?;
    let count: [u8; 8] = count.try_into().ok()?;
    Some((nonce, u64::from_be_bytes(count)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx<'a>(
        phone: &'a [u8; 32],
        desktop: &'a [u8; 32],
        binding: Binding<'a>,
    ) -> SessionContext<'a> {
        SessionContext {
            did: "zDesktop",
            device: "zPhone",
            phone_nonce: phone,
            desktop_nonce: desktop,
            binding,
        }
    }

    #[test]
    fn a_record_sealed_by_one_side_opens_on_the_other_in_order() {
        let secret = LinkSecret::from_bytes([9; 32]);
        let c = ctx(&[1; 32], &[2; 32], Binding::Resume { challenge: "c" });
        let mut phone = SessionKeys::derive(&secret, Side::Phone, &c).expect("keys");
        let mut desktop = SessionKeys::derive(&secret, Side::Desktop, &c).expect("keys");
        let first = phone
            .seal(RecordKind::Frame, b"{\"type\":\"audio_stream_end\"}")
            .expect("seals");
        let second = phone.seal(RecordKind::Ack, b"").expect("seals");
        let opened = desktop.open(&first).expect("first record opens");
        assert_eq!(opened.kind, RecordKind::Frame);
        assert_eq!(opened.payload, b"{\"type\":\"audio_stream_end\"}");
        assert_eq!(desktop.open(&second).expect("second").kind, RecordKind::Ack);
        let reply = desktop.seal(RecordKind::Ack, b"").expect("seals");
        assert_eq!(phone.open(&reply).expect("reply").ack, 2);
    }

    #[test]
    fn a_replayed_record_is_refused_for_its_sequence() {
        let secret = LinkSecret::from_bytes([9; 32]);
        let c = ctx(&[1; 32], &[2; 32], Binding::Resume { challenge: "c" });
        let mut phone = SessionKeys::derive(&secret, Side::Phone, &c).expect("keys");
        let mut desktop = SessionKeys::derive(&secret, Side::Desktop, &c).expect("keys");
        let record = phone.seal(RecordKind::Frame, b"{}").expect("seals");
        desktop.open(&record).expect("opens once");
        assert_eq!(
            desktop.open(&record).err(),
            Some(SecureError::BadSequence {
                expected: 1,
                got: 0
            })
        );
    }

    #[test]
    fn a_flipped_byte_or_another_connections_nonce_fails_the_mac() {
        let secret = LinkSecret::from_bytes([9; 32]);
        let c = ctx(
            &[1; 32],
            &[2; 32],
            Binding::Enroll {
                pair_nonce: &[7; 32],
            },
        );
        let relayed = ctx(
            &[1; 32],
            &[3; 32],
            Binding::Enroll {
                pair_nonce: &[7; 32],
            },
        );
        let mut phone = SessionKeys::derive(&secret, Side::Phone, &c).expect("keys");
        let mut desktop = SessionKeys::derive(&secret, Side::Desktop, &relayed).expect("keys");
        let mut record = phone.seal(RecordKind::Frame, b"{}").expect("seals");
        assert_eq!(desktop.open(&record).err(), Some(SecureError::BadMac));
        let mut same = SessionKeys::derive(&secret, Side::Desktop, &c).expect("keys");
        let last = record.len() - 1;
        record[last] ^= 1;
        assert_eq!(same.open(&record).err(), Some(SecureError::BadMac));
    }

    #[test]
    fn a_sealed_frame_is_not_readable_on_the_wire_and_an_altered_header_fails() {
        let secret = LinkSecret::from_bytes([9; 32]);
        let c = ctx(&[1; 32], &[2; 32], Binding::Resume { challenge: "c" });
        let mut phone = SessionKeys::derive(&secret, Side::Phone, &c).expect("keys");
        let mut desktop = SessionKeys::derive(&secret, Side::Desktop, &c).expect("keys");
        let frame = b"{\"type\":\"channel_query\",\"op\":\"list\"}";
        let mut record = phone.seal(RecordKind::Frame, frame).expect("seals");
        assert_eq!(record.len(), frame.len() + RECORD_OVERHEAD);
        assert!(!record.windows(12).any(|w| w == b"channel_quer"));
        // The kind byte is authenticated: a frame relabelled as an ack does not open.
        record[0] = 1;
        assert_eq!(desktop.open(&record).err(), Some(SecureError::BadMac));
        record[0] = 0;
        let opened = desktop.open(&record).expect("the untouched record opens");
        assert_eq!(opened.payload, frame);
    }

    #[test]
    fn a_record_shorter_than_header_and_tag_is_truncated() {
        let secret = LinkSecret::from_bytes([9; 32]);
        let c = ctx(&[1; 32], &[2; 32], Binding::Resume { challenge: "c" });
        let mut desktop = SessionKeys::derive(&secret, Side::Desktop, &c).expect("keys");
        let short = [0u8; RECORD_OVERHEAD - 1];
        assert_eq!(
            desktop.open(&short).err(),
            Some(SecureError::Truncated {
                len: RECORD_OVERHEAD - 1
            })
        );
    }

    #[test]
    fn sealing_stops_before_a_sequence_number_would_repeat() {
        let secret = LinkSecret::from_bytes([9; 32]);
        let c = ctx(&[1; 32], &[2; 32], Binding::Resume { challenge: "c" });
        let mut phone = SessionKeys::derive(&secret, Side::Phone, &c).expect("keys");
        phone.send.seq = u64::MAX;
        assert_eq!(
            phone.seal(RecordKind::Ack, b"").err(),
            Some(SecureError::SequenceExhausted)
        );
        assert_eq!(phone.send.next_seq(), u64::MAX);
    }

    #[test]
    fn link_secret_debug_is_redacted() {
        let secret = LinkSecret::from_bytes([0xab; 32]);
        assert_eq!(format!("{secret:?}"), "LinkSecret(***redacted)");
    }

    #[test]
    fn resume_report_round_trips() {
        let payload = resume_report(&[5; 32], 42);
        assert_eq!(parse_resume_report(&payload), Some(([5; 32], 42)));
        assert_eq!(parse_resume_report(&payload[1..]), None);
    }
}
