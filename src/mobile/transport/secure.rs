//! Secure mode's records, sans IO: every message after the Noise handshake is one sealed record
//! (see the module docs of [`super`] for the design).

use std::fmt;
use std::sync::Arc;

use snow::StatelessTransportState;

/// Length of a connection's id: its Noise handshake hash (SHA-256).
pub(crate) const CONNECTION_NONCE_LEN: usize = 32;

/// Length of a record's plaintext header: kind (1) ‖ ack (8, big-endian).
const RECORD_HEADER_LEN: usize = 1 + 8;

/// Length of the AEAD tag that ends every Noise transport message.
const TAG_LEN: usize = 16;

/// Longest Noise transport message (tag included).
pub(crate) const NOISE_MESSAGE_MAX: usize = 65_535;

/// Longest plaintext of one Noise transport message.
const PIECE_MAX: usize = NOISE_MESSAGE_MAX - TAG_LEN;

/// What sealing adds to a payload of up to one Noise message: the header and one tag. (A larger
/// payload adds a tag per further 65,519 bytes; see [`sealed_len`].)
pub(crate) const RECORD_OVERHEAD: usize = RECORD_HEADER_LEN + TAG_LEN;

/// The sealed length of a `payload_len`-byte payload.
pub(crate) fn sealed_len(payload_len: usize) -> usize {
    let plain = RECORD_HEADER_LEN.saturating_add(payload_len);
    plain.saturating_add(plain.div_ceil(PIECE_MAX).saturating_mul(TAG_LEN))
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
    /// desktop processed. Payload: that connection's session id (32) ‖ count (u64 big-endian).
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

/// Why a handshake message or a sealed record was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecureError {
    /// Shorter than a header and a tag (or a piece shorter than a tag).
    #[error("secure record is {len} bytes, shorter than its header and tag")]
    Truncated {
        /// Record length.
        len: usize,
    },
    /// A tag does not verify: the record was forged, altered, replayed, reordered or sealed for
    /// another connection (each record's nonce is its position, so all of these fail alike).
    #[error("secure record tag does not verify")]
    BadMac,
    /// The record kind byte is unknown.
    #[error("secure record kind {kind} is unknown")]
    UnknownKind {
        /// The kind byte.
        kind: u8,
    },
    /// A text frame arrived where only sealed records are allowed.
    #[error("an unsealed frame arrived on a secure connection")]
    Unsealed,
    /// The Noise handshake failed at the named step.
    #[error("noise handshake: {0}")]
    Handshake(&'static str),
    /// This side has used 2^64 − 1 nonces on the connection; the next would repeat one.
    #[error("the connection's record sequence is exhausted; reconnect")]
    SequenceExhausted,
}

/// An opened record. Its buffer holds the plaintext header before the payload (cutting the
/// header off would move the whole payload); give it back with [`OpenKey::recycle`] to open the
/// next record into it.
#[derive(Debug)]
pub(crate) struct Opened {
    pub kind: RecordKind,
    pub ack: u64,
    plain: Vec<u8>,
}

impl Opened {
    /// The record's payload.
    pub(crate) fn payload(&self) -> &[u8] {
        self.plain.get(RECORD_HEADER_LEN..).unwrap_or_default()
    }

    /// The record's payload, owned.
    pub(crate) fn into_payload(mut self) -> Vec<u8> {
        self.plain.drain(..RECORD_HEADER_LEN.min(self.plain.len()));
        self.plain
    }
}

/// The two directions of one connection's Noise transport state and their counters. Split into
/// its halves ([`SessionKeys::split`]) when the reading and the writing side run apart.
#[derive(Debug)]
pub(crate) struct SessionKeys {
    send: SealKey,
    recv: OpenKey,
}

/// The sending direction: the shared transport state, the next record's sequence number and the
/// next Noise nonce.
pub(crate) struct SealKey {
    state: Arc<StatelessTransportState>,
    seq: u64,
    nonce: u64,
    /// The plaintext of the record being sealed, its allocation reused.
    scratch: Vec<u8>,
}

/// The receiving direction: the shared transport state, how many records and Noise messages it
/// opened.
pub(crate) struct OpenKey {
    state: Arc<StatelessTransportState>,
    seq: u64,
    nonce: u64,
    /// A recycled plaintext buffer (at most a Noise message long): the next record opens into
    /// it, zero-filled only where it must grow.
    spare: Vec<u8>,
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

impl SessionKeys {
    /// The keys of a finished handshake (snow picks each direction's cipher by the side).
    pub(crate) fn new(state: Arc<StatelessTransportState>) -> Self {
        SessionKeys {
            send: SealKey {
                state: Arc::clone(&state),
                seq: 0,
                nonce: 0,
                scratch: Vec::new(),
            },
            recv: OpenKey {
                state,
                seq: 0,
                nonce: 0,
                spare: Vec::new(),
            },
        }
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

    /// Keeps an opened record's buffer for the next record (see [`OpenKey::recycle`]).
    pub(crate) fn recycle(&mut self, opened: Opened) {
        self.recv.recycle(opened);
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

    /// Seals `payload` as the next record: the plaintext `kind ‖ ack (8, BE) ‖ payload` is cut
    /// into pieces of 65,519 bytes (the last shorter), each sealed as the next Noise transport
    /// message (nonce = how many this side sealed before), and the ciphertexts are concatenated.
    /// Fails only when a nonce would repeat.
    pub(crate) fn seal(
        &mut self,
        kind: RecordKind,
        ack: u64,
        payload: &[u8],
    ) -> Result<Vec<u8>, SecureError> {
        let mut plain = std::mem::take(&mut self.scratch);
        plain.clear();
        plain.push(kind.byte());
        plain.extend_from_slice(&ack.to_be_bytes());
        plain.extend_from_slice(payload);
        let result = self.seal_plain(&plain);
        self.scratch = plain;
        result
    }

    fn seal_plain(&mut self, plain: &[u8]) -> Result<Vec<u8>, SecureError> {
        let pieces = u64::try_from(plain.len().div_ceil(PIECE_MAX)).unwrap_or(u64::MAX);
        // snow refuses nonce u64::MAX; stop before reaching it.
        let last = self
            .nonce
            .checked_add(pieces)
            .filter(|n| *n < u64::MAX)
            .ok_or(SecureError::SequenceExhausted)?;
        let next_seq = self
            .seq
            .checked_add(1)
            .ok_or(SecureError::SequenceExhausted)?;
        let mut out = vec![0u8; sealed_len(plain.len() - RECORD_HEADER_LEN)];
        let mut at = 0;
        for (nonce, piece) in (self.nonce..).zip(plain.chunks(PIECE_MAX)) {
            let end = at + piece.len() + TAG_LEN;
            let slot = out.get_mut(at..end).ok_or(SecureError::BadMac)?;
            self.state
                .write_message(nonce, piece, slot)
                .map_err(|_| SecureError::BadMac)?;
            at = end;
        }
        self.nonce = last;
        self.seq = next_seq;
        Ok(out)
    }
}

impl OpenKey {
    /// How many records were opened (the `ack` this side reports).
    pub(crate) fn opened(&self) -> u64 {
        self.seq
    }

    /// Opens the next record: cuts it into 65,535-byte pieces (the last shorter), opens each as
    /// the next Noise transport message, and reads the header. A record that does not open
    /// leaves the counters where they were.
    pub(crate) fn open(&mut self, record: &[u8]) -> Result<Opened, SecureError> {
        if record.len() < RECORD_OVERHEAD {
            return Err(SecureError::Truncated { len: record.len() });
        }
        let mut plain = std::mem::take(&mut self.spare);
        if plain.len() < record.len() {
            plain.resize(record.len(), 0);
        }
        match self.open_into(record, &mut plain) {
            Ok((kind, ack)) => Ok(Opened { kind, ack, plain }),
            Err(error) => {
                self.spare = plain;
                Err(error)
            }
        }
    }

    /// Opens `record` into `plain` (at least as long as the record), leaving it the plaintext.
    fn open_into(
        &mut self,
        record: &[u8],
        plain: &mut Vec<u8>,
    ) -> Result<(RecordKind, u64), SecureError> {
        let mut nonce = self.nonce;
        let mut len = 0;
        for piece in record.chunks(NOISE_MESSAGE_MAX) {
            if piece.len() <= TAG_LEN {
                return Err(SecureError::Truncated { len: record.len() });
            }
            let slot = plain.get_mut(len..).ok_or(SecureError::BadMac)?;
            len += self
                .state
                .read_message(nonce, piece, slot)
                .map_err(|_| SecureError::BadMac)?;
            nonce = nonce.checked_add(1).ok_or(SecureError::SequenceExhausted)?;
        }
        plain.truncate(len);
        let (&kind_byte, rest) = plain.split_first().ok_or(SecureError::Truncated { len })?;
        let ack: [u8; 8] = rest
            .get(..8)
            .and_then(|a| a.try_into().ok())
            .ok_or(SecureError::Truncated { len })?;
        let kind =
            RecordKind::from_byte(kind_byte).ok_or(SecureError::UnknownKind { kind: kind_byte })?;
        self.nonce = nonce;
        self.seq = self.seq.saturating_add(1);
        Ok((kind, u64::from_be_bytes(ack)))
    }

    /// Keeps an opened record's buffer, so the next record opens into it without a new
    /// allocation or zero-filling what it already holds; one longer than a Noise message (a
    /// rare large frame) is let go, so an idle connection does not hold it.
    pub(crate) fn recycle(&mut self, opened: Opened) {
        if opened.plain.capacity() <= NOISE_MESSAGE_MAX {
            self.spare = opened.plain;
        }
    }
}

/// Encodes a resume report payload.
pub(crate) fn resume_report(previous: &[u8; CONNECTION_NONCE_LEN], count: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(CONNECTION_NONCE_LEN + 8);
    out.extend_from_slice(previous);
    out.extend_from_slice(&count.to_be_bytes());
    out
}

/// Decodes a resume report payload.
pub(crate) fn parse_resume_report(payload: &[u8]) -> Option<([u8; CONNECTION_NONCE_LEN], u64)> {
    if payload.len() != CONNECTION_NONCE_LEN + 8 {
        return None;
    }
    let (id, count) = payload.split_at(CONNECTION_NONCE_LEN);
    let id: [u8; CONNECTION_NONCE_LEN] = id.try_into().ok()?;
    let count: [u8; 8] = count.try_into().ok()?;
    Some((id, u64::from_be_bytes(count)))
}

#[cfg(test)]
#[path = "secure_tests.rs"]
mod tests;
