//! Utterances across drops: the phone's replay buffer and each utterance's outcome.
//!
//! An utterance is `audio_stream_start`, its chunks and `audio_stream_end`. The phone keeps the
//! start and the chunks of the open utterance (the replay buffer, at most
//! [`PhoneConfig::audio_replay`](super::PhoneConfig::audio_replay) of audio) until its end has
//! been handed to a socket. When the link drops before that, the next connection first sends the
//! utterance again, whole, from its start; the copies still queued behind it are skipped, so the
//! desktop sees one contiguous utterance on that connection and reports the fragment on the
//! dropped one as cut. Replaying from the start is safe in both modes: `audio_stream_start`
//! clears the desktop's accumulator (proto 2), and a desktop cannot have completed an utterance
//! whose end it never got. An utterance longer than the buffer cannot be replayed: across a
//! drop it is cut ([`UtteranceCut::ReplayBufferExceeded`]), its remaining frames are not sent,
//! [`PhoneHandle::send_audio`](super::PhoneHandle::send_audio) fails with
//! [`TransportError::UtteranceCut`] and its receipt says so.
//!
//! Once the end is on a socket the utterance settles like an envelope: in secure mode by the
//! desktop's `ack` (or, after a resume, its report of how many records of the previous connection
//! it processed), in plain mode when the write is flushed (proto 2 has no acknowledgement).

use std::ops::Range;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use super::{DeliveryFailure, EnvelopeDelivery, Outcome};
use crate::mobile::frames::encode_audio_chunk;
use crate::mobile::transport::{samples_to_pcm, TransportError};
use crate::mobile::ClientFrame;

/// Why an utterance did not reach the desktop whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UtteranceCut {
    /// The link dropped while the utterance was open and it was longer than the replay buffer
    /// ([`PhoneConfig::audio_replay`](super::PhoneConfig::audio_replay)), so it could not be
    /// sent again.
    #[error("the link dropped and the utterance was longer than the replay buffer")]
    ReplayBufferExceeded,
    /// The link dropped after the utterance's end was sent, and the desktop reported (secure
    /// mode) that it never processed the end; or a newer utterance had started by the time the
    /// link came back.
    #[error("the link dropped before the desktop processed the utterance's end")]
    ConnectionLost,
    /// The link closed for good before the utterance was delivered.
    #[error("the link closed before the utterance was delivered")]
    LinkClosed,
}

/// How an utterance ended, from [`UtteranceReceipt::outcome`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UtteranceOutcome {
    /// Secure mode: the desktop acknowledged processing the end; it has every sample, in order,
    /// exactly once, between one `AudioStart` and one `AudioEnd`.
    Delivered,
    /// Plain mode: the whole utterance was written on one connection and flushed. Proto 2 has no
    /// acknowledgement: a drop right after the flush may still cut it at the desktop (which then
    /// reports `DesktopEvent::AudioCut`).
    Written,
    /// The desktop did not get the utterance whole, and reports (or reported) the fragment it got
    /// as cut.
    Cut(UtteranceCut),
    /// The link dropped after the end was sent and the desktop kept no record of that connection:
    /// it may have the utterance whole, or cut.
    Unknown,
}

/// The pending outcome of one utterance, from
/// [`PhoneHandle::send_audio_end`](super::PhoneHandle::send_audio_end).
#[must_use = "the receipt says whether the desktop got the utterance whole"]
#[derive(Debug)]
pub struct UtteranceReceipt {
    rx: Option<oneshot::Receiver<Outcome>>,
    cut: Arc<OnceLock<UtteranceCut>>,
}

impl UtteranceReceipt {
    /// The receipt of an end frame handed to the link, with its cut cell.
    pub(super) fn pending(
        rx: oneshot::Receiver<Outcome>,
        cut: Arc<OnceLock<UtteranceCut>>,
    ) -> Self {
        UtteranceReceipt { rx: Some(rx), cut }
    }

    /// A receipt already settled as cut (the end was not sent).
    pub(super) fn cut(reason: UtteranceCut) -> Self {
        UtteranceReceipt {
            rx: None,
            cut: Arc::new(OnceLock::from(reason)),
        }
    }

    /// Waits for the utterance's outcome.
    pub async fn outcome(self) -> UtteranceOutcome {
        let result = match self.rx {
            Some(rx) => rx.await.unwrap_or(Err(DeliveryFailure::LinkClosed)),
            None => Err(DeliveryFailure::NotDelivered),
        };
        // Set before the end's receipt is settled, when the link skipped the end.
        if let Some(cut) = self.cut.get() {
            return UtteranceOutcome::Cut(*cut);
        }
        match result {
            Ok(EnvelopeDelivery::Acknowledged) => UtteranceOutcome::Delivered,
            Ok(EnvelopeDelivery::Written) => UtteranceOutcome::Written,
            Err(DeliveryFailure::NotDelivered) => {
                UtteranceOutcome::Cut(UtteranceCut::ConnectionLost)
            }
            Err(DeliveryFailure::Unknown) => UtteranceOutcome::Unknown,
            Err(DeliveryFailure::LinkClosed) => UtteranceOutcome::Cut(UtteranceCut::LinkClosed),
        }
    }
}

/// Which utterance an audio frame belongs to, and where in it.
pub(super) struct AudioTag {
    id: u64,
    /// 0 for the start, then the chunks, then the end.
    index: u32,
    /// The end's cut cell (only on the end).
    end: Option<Arc<OnceLock<UtteranceCut>>>,
}

impl AudioTag {
    /// Whether the tagged frame is its utterance's end (the only frame
    /// [`AudioState::handed`] acts on).
    pub(super) fn is_end(&self) -> bool {
        self.end.is_some()
    }
}

/// How [`AudioState::end`] ends an utterance.
pub(super) enum Ending {
    /// Send the end frame; its receipt reads `cut` if the link skips it.
    Send {
        tag: AudioTag,
        cut: Arc<OnceLock<UtteranceCut>>,
    },
    /// The utterance was cut: nothing to send.
    Settled(UtteranceReceipt),
}

/// The open utterance.
struct Open {
    id: u64,
    sample_rate: u32,
    /// Each chunk's PCM in [`AudioState::pcm`], for a replay; emptied once over `limit`.
    chunks: Vec<Range<usize>>,
    /// Frames submitted, the end included.
    submitted: u32,
    samples: u64,
    limit: u64,
    overflowed: bool,
    /// Frames below this index were sent again by a replay; their queued copies are skipped.
    skip_below: u32,
    cut: Option<UtteranceCut>,
    ended: bool,
}

/// The utterance state the handles and the link task share.
pub(super) struct AudioState {
    replay: Duration,
    next_id: u64,
    open: Option<Open>,
    /// Frames of utterances before this one are no longer written (a replay of a later one
    /// started on a new connection).
    live_from: u64,
    /// Whether a connection was served yet: only later ones follow a drop.
    served: bool,
    /// The open utterance's PCM, chunk after chunk. Kept as PCM, not as the frames sent, and
    /// reused from one utterance to the next: holding on to each frame's text would leave every
    /// new frame to fresh memory (and, in plain mode, make the WebSocket mask a copy of it),
    /// which cost the streaming path a third of its speed.
    pcm: Vec<u8>,
}

/// The error of a chunk or end sent with no utterance open.
const NOT_STARTED: TransportError =
    TransportError::Audio("no utterance is open: call send_audio_start first");

impl AudioState {
    /// No utterance open; a replay buffer of `replay` of audio.
    pub(super) fn new(replay: Duration) -> Self {
        AudioState {
            replay,
            next_id: 0,
            open: None,
            live_from: 0,
            served: false,
            pcm: Vec::new(),
        }
    }

    /// Opens an utterance (a previous one not yet ended is abandoned; the desktop reports it cut
    /// when it sees the new start).
    pub(super) fn start(&mut self, sample_rate: u32) -> AudioTag {
        let id = self.next_id;
        self.next_id = self.next_id.saturating_add(1);
        let limit = u128::from(sample_rate).saturating_mul(self.replay.as_millis()) / 1000;
        self.pcm.clear();
        self.open = Some(Open {
            id,
            sample_rate,
            chunks: Vec::new(),
            submitted: 1,
            samples: 0,
            limit: u64::try_from(limit).unwrap_or(u64::MAX),
            overflowed: false,
            skip_below: 0,
            cut: None,
            ended: false,
        });
        AudioTag {
            id,
            index: 0,
            end: None,
        }
    }

    /// Adds a chunk of samples to the open utterance (kept for a replay while it fits); returns
    /// its tag and its encoded frame.
    pub(super) fn chunk(
        &mut self,
        samples: &[f32],
    ) -> Result<(AudioTag, Utf8Bytes), TransportError> {
        let AudioState { open, pcm, .. } = self;
        let open = match open.as_mut() {
            Some(open) if !open.ended => open,
            _ => return Err(NOT_STARTED),
        };
        if let Some(cut) = open.cut {
            return Err(TransportError::UtteranceCut(cut));
        }
        let total = open
            .samples
            .saturating_add(u64::try_from(samples.len()).unwrap_or(u64::MAX));
        if !open.overflowed && total > open.limit {
            open.overflowed = true;
            open.chunks = Vec::new();
            pcm.clear();
        }
        let text = if open.overflowed {
            encode_audio_chunk(&samples_to_pcm(samples))
        } else {
            let from = pcm.len();
            append_pcm(pcm, samples);
            let text = encode_audio_chunk(&pcm[from..]);
            match text {
                Ok(_) => open.chunks.push(from..pcm.len()),
                Err(_) => pcm.truncate(from),
            }
            text
        }
        .map_err(TransportError::Frame)?;
        open.samples = total;
        let index = open.submitted;
        open.submitted = open.submitted.saturating_add(1);
        let tag = AudioTag {
            id: open.id,
            index,
            end: None,
        };
        Ok((tag, text.into()))
    }

    /// Ends the open utterance: the end frame to send, or the receipt already settled when the
    /// utterance was cut.
    pub(super) fn end(&mut self) -> Result<Ending, TransportError> {
        let open = match self.open.as_mut() {
            Some(open) if !open.ended => open,
            _ => return Err(NOT_STARTED),
        };
        if let Some(cut) = open.cut {
            self.open = None;
            return Ok(Ending::Settled(UtteranceReceipt::cut(cut)));
        }
        open.ended = true;
        let cell = Arc::new(OnceLock::new());
        let tag = AudioTag {
            id: open.id,
            index: open.submitted,
            end: Some(Arc::clone(&cell)),
        };
        open.submitted = open.submitted.saturating_add(1);
        Ok(Ending::Send { tag, cut: cell })
    }

    /// Whether the frame tagged `tag` is still to be written: not if a replay already sent it or
    /// its utterance was cut (a skipped end's cell then says why).
    pub(super) fn admit(&self, tag: &AudioTag) -> bool {
        let cut = if tag.id < self.live_from {
            Some(UtteranceCut::ConnectionLost)
        } else {
            match &self.open {
                Some(open) if open.id == tag.id => match open.cut {
                    Some(cut) => Some(cut),
                    None if tag.index < open.skip_below => return false,
                    None => None,
                },
                _ => None,
            }
        };
        match cut {
            Some(cut) => {
                if let Some(cell) = &tag.end {
                    let _ = cell.set(cut);
                }
                false
            }
            None => true,
        }
    }

    /// The frame tagged `tag` was handed to a socket: an utterance whose end is out settles like
    /// an envelope from now on.
    pub(super) fn handed(&mut self, tag: &AudioTag) {
        if tag.end.is_some() && self.open.as_ref().is_some_and(|open| open.id == tag.id) {
            self.open = None;
        }
    }

    /// On a new connection: the open utterance's frames to send again first, from its start (its
    /// queued copies are skipped from now on); `None` on the first connection (nothing dropped
    /// yet: what was queued before it goes out as it is), if nothing is open, or if the utterance
    /// was longer than the buffer, which cuts it.
    pub(super) fn replay(&mut self) -> Option<Vec<Utf8Bytes>> {
        if !std::mem::replace(&mut self.served, true) {
            return None;
        }
        let open = self.open.as_mut()?;
        self.live_from = open.id;
        if open.cut.is_some() {
            return None;
        }
        if open.overflowed {
            open.cut = Some(UtteranceCut::ReplayBufferExceeded);
            return None;
        }
        let start = ClientFrame::AudioStreamStart {
            sample_rate: open.sample_rate,
        }
        .encode();
        let frames: Result<Vec<Utf8Bytes>, _> = std::iter::once(start)
            .chain(
                open.chunks
                    .iter()
                    .map(|range| encode_audio_chunk(self.pcm.get(range.clone()).unwrap_or(&[]))),
            )
            .map(|text| text.map(Utf8Bytes::from))
            .collect();
        let Ok(frames) = frames else {
            // Cannot happen (each was encoded once already); never replay an utterance in part.
            open.cut = Some(UtteranceCut::ConnectionLost);
            return None;
        };
        open.skip_below = u32::try_from(frames.len()).unwrap_or(u32::MAX);
        Some(frames)
    }
}

/// Appends `samples` to `pcm` as f32 little-endian, as `samples_to_pcm` does, in one pass: the
/// iterator's exact length reserves once and each sample's bytes are written straight into the
/// new space (zero-filling it first, as `resize` does, cost a tenth of the chunk's encoding).
fn append_pcm(pcm: &mut Vec<u8>, samples: &[f32]) {
    pcm.extend(samples.iter().flat_map(|sample| sample.to_le_bytes()));
}
