//! The handles' side of the link: direct writes from the caller's task, the bounded queue the
//! link task drains, envelope receipts and the audio senders (see `audio` for the replay).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use futures_util::stream::SplitSink;
use futures_util::SinkExt as _;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};

use super::audio::{AudioState, AudioTag, Ending, UtteranceReceipt};
use super::{DeliveryFailure, EnvelopeDelivery, EnvelopeReceipt, Outcome, PhoneHandle, Ws};
use crate::mobile::transport::secure::{RecordKind, SealKey};
use crate::mobile::transport::{lock, TransportError};
use crate::mobile::{ClientFrame, SignedEnvelope, MAX_AUDIO_CHUNK_BYTES};

/// Most queued frames written before one flush.
const WRITE_BATCH: usize = 32;
/// A frame encoded by the sender, with its envelope's receipt.
pub(super) struct Outgoing {
    text: Utf8Bytes,
    pub(super) receipt: Option<oneshot::Sender<Outcome>>,
    /// The utterance an audio frame belongs to.
    audio: Option<AudioTag>,
}

/// The live connection's write half.
pub(super) struct LiveWriter {
    pub(super) sink: SplitSink<Ws, Message>,
    /// The sending key in secure mode.
    pub(super) seal: Option<SealKey>,
}

/// What the handles and the link task share.
///
/// A handle writes its frame straight to the socket, from its own task, when the link is up and
/// nothing waits ahead of it (`backlog` is 0): a stream of audio then costs no hand-off to
/// another task. Otherwise the frame goes through the bounded queue, which the link task drains
/// in order (after a reconnect, or behind a frame still waiting), so a handle's frames never
/// overtake one another.
pub(super) struct Shared {
    /// The live connection's writer; `None` while connecting, reconnecting or closed.
    pub(super) writer: tokio::sync::Mutex<Option<LiveWriter>>,
    /// Frames queued or held and not yet written. Raised before a frame enters the queue or
    /// `held`, lowered by the link task after its write.
    pub(super) backlog: AtomicUsize,
    /// Records opened on the current connection: the `ack` of every record sealed on it.
    pub(super) opened: AtomicU64,
    /// Secure envelopes written on the current connection, by sequence number, awaiting the
    /// desktop's acknowledgement.
    pub(super) pending: Mutex<VecDeque<(u64, oneshot::Sender<Outcome>)>>,
    /// Plain frames whose write failed; written first on the next connection.
    pub(super) held: Mutex<VecDeque<Outgoing>>,
    /// Why a handle's write failed; the link task ends the connection with it.
    pub(super) broken: Mutex<Option<TransportError>>,
    /// Raised with `broken`.
    pub(super) broken_signal: Notify,
    /// How long a write may wait for the socket
    /// ([`PhoneConfig::write_timeout`](super::PhoneConfig::write_timeout)).
    pub(super) write_timeout: Duration,
    /// The open utterance and its replay buffer.
    pub(super) audio: Mutex<AudioState>,
}

impl Shared {
    /// Keeps a frame whose write failed for the next connection.
    pub(super) fn hold(&self, outgoing: Outgoing) {
        self.backlog.fetch_add(1, Ordering::SeqCst);
        lock(&self.held).push_back(outgoing);
    }

    /// The oldest held frame.
    pub(super) fn take_held(&self) -> Option<Outgoing> {
        lock(&self.held).pop_front()
    }

    /// Tells the link task that the connection broke under a handle's (or a replay's) write.
    pub(super) fn break_link(&self, error: TransportError) {
        *lock(&self.broken) = Some(error);
        self.broken_signal.notify_one();
    }

    /// The error a handle's failed write left, for the link task.
    pub(super) fn take_broken(&self) -> TransportError {
        lock(&self.broken)
            .take()
            .unwrap_or(TransportError::Closed { code: None })
    }

    /// Stops handles writing to the current connection, closing it politely (bounded).
    pub(super) async fn close_writer(&self) {
        if let Some(mut live) = self.writer.lock().await.take() {
            let _ = tokio::time::timeout(self.write_timeout, live.sink.close()).await;
        }
    }
}

/// Waits for a socket operation until `deadline` at most.
async fn within(
    deadline: tokio::time::Instant,
    operation: impl std::future::Future<Output = Result<(), WsError>>,
) -> Result<(), TransportError> {
    match tokio::time::timeout_at(deadline, operation).await {
        Ok(result) => result.map_err(|e| TransportError::WebSocket(e.to_string())),
        Err(_) => Err(TransportError::Timeout("writing to the desktop")),
    }
}

impl LiveWriter {
    /// Seals (secure mode) and feeds one frame, without flushing; waits for room in the socket
    /// until `deadline` at most. A plain envelope's receipt goes to `written`, settled after the
    /// flush; a sealed envelope waits in `pending` for the desktop's acknowledgement. A frame not
    /// handed to the socket (no room in time, or a failed write) is held for the next connection;
    /// a sealed one already handed over counts as sent (whether any byte left is unknown) and the
    /// resume report settles it. An audio frame a replay already sent, or of a cut utterance, is
    /// skipped.
    async fn feed(
        &mut self,
        shared: &Shared,
        mut outgoing: Outgoing,
        written: &mut Vec<oneshot::Sender<Outcome>>,
        deadline: tokio::time::Instant,
    ) -> Result<(), TransportError> {
        if let Some(tag) = &outgoing.audio {
            if !lock(&shared.audio).admit(tag) {
                // A skipped end's receipt: its cut cell, set by `admit`, says why.
                if let Some(receipt) = outgoing.receipt.take() {
                    let _ = receipt.send(Err(DeliveryFailure::NotDelivered));
                }
                return Ok(());
            }
        }
        if let Err(error) = self.room(deadline).await {
            shared.hold(outgoing);
            return Err(error);
        }
        let (message, seq) = match self.message(shared, &outgoing.text) {
            Ok(message) => message,
            Err(e) => {
                // Never sealed: the frame goes out first on the next connection.
                shared.hold(outgoing);
                return Err(TransportError::Secure(e));
            }
        };
        let sent = self
            .sink
            .start_send_unpin(message)
            .map_err(|e| TransportError::WebSocket(e.to_string()));
        match seq {
            None if sent.is_err() => {
                shared.hold(outgoing);
                return sent;
            }
            None => written.extend(outgoing.receipt.take()),
            Some(seq) => {
                if let Some(receipt) = outgoing.receipt.take() {
                    lock(&shared.pending).push_back((seq, receipt));
                }
            }
        }
        // Only an end changes the utterance state; a chunk takes no lock here.
        if let Some(tag) = outgoing.audio.as_ref().filter(|tag| tag.is_end()) {
            lock(&shared.audio).handed(tag);
        }
        sent
    }

    /// Waits for room in the socket until `deadline` at most.
    async fn room(&mut self, deadline: tokio::time::Instant) -> Result<(), TransportError> {
        within(
            deadline,
            std::future::poll_fn(|cx| self.sink.poll_ready_unpin(cx)),
        )
        .await
    }

    /// The message carrying `text` on this connection: the text itself in plain mode, its sealed
    /// record (and the record's sequence number) in secure mode.
    fn message(
        &mut self,
        shared: &Shared,
        text: &Utf8Bytes,
    ) -> Result<(Message, Option<u64>), crate::mobile::transport::SecureError> {
        let Some(seal) = self.seal.as_mut() else {
            return Ok((Message::Text(text.clone()), None));
        };
        let seq = seal.next_seq();
        let ack = shared.opened.load(Ordering::SeqCst);
        let record = seal.seal(RecordKind::Frame, ack, text.as_bytes())?;
        Ok((Message::binary(record), Some(seq)))
    }

    /// Sends the open utterance again from its start on a new connection (`frames`, from
    /// `AudioState::replay`), flushing every [`WRITE_BATCH`] frames. A failure leaves nothing
    /// held: the utterance is still open, so the next connection replays it again.
    pub(super) async fn replay(
        &mut self,
        shared: &Shared,
        frames: Vec<Utf8Bytes>,
    ) -> Result<(), TransportError> {
        for batch in frames.chunks(WRITE_BATCH) {
            let deadline = tokio::time::Instant::now() + shared.write_timeout;
            for text in batch {
                self.room(deadline).await?;
                let (message, _) = self.message(shared, text).map_err(TransportError::Secure)?;
                self.sink
                    .start_send_unpin(message)
                    .map_err(|e| TransportError::WebSocket(e.to_string()))?;
            }
            within(deadline, self.sink.flush()).await?;
        }
        Ok(())
    }

    /// Writes `first` and what `next` yields (up to [`WRITE_BATCH`] frames in all), flushes
    /// once, and settles the plain envelopes: written if the flush succeeded, unknown otherwise.
    /// Returns how many frames it took, and how the write went.
    pub(super) async fn write_batch(
        &mut self,
        shared: &Shared,
        first: Outgoing,
        mut next: impl FnMut() -> Option<Outgoing>,
    ) -> (usize, Result<(), TransportError>) {
        let deadline = tokio::time::Instant::now() + shared.write_timeout;
        let mut written = Vec::new();
        let mut result = self.feed(shared, first, &mut written, deadline).await;
        let mut taken = 1;
        while result.is_ok() && taken < WRITE_BATCH {
            let Some(outgoing) = next() else { break };
            taken += 1;
            result = self.feed(shared, outgoing, &mut written, deadline).await;
        }
        if result.is_ok() {
            result = within(deadline, self.sink.flush()).await;
        }
        let outcome = match result {
            Ok(()) => Ok(EnvelopeDelivery::Written),
            Err(_) => Err(DeliveryFailure::Unknown),
        };
        for receipt in written {
            let _ = receipt.send(outcome);
        }
        (taken, result)
    }

    /// Sends a ping, until the write timeout at most.
    pub(super) async fn ping(&mut self, write_timeout: Duration) -> Result<(), TransportError> {
        let deadline = tokio::time::Instant::now() + write_timeout;
        within(deadline, self.sink.send(Message::Ping(Default::default()))).await
    }
}
impl PhoneHandle {
    /// Signs `payload` (canonical JSON-RPC) with the device key and sends it: written at once
    /// when the link is up and nothing waits ahead of it, otherwise queued, waiting for space.
    pub async fn send_envelope(&self, payload: Vec<u8>) -> Result<EnvelopeReceipt, TransportError> {
        let (outgoing, receipt) = self.envelope(payload)?;
        self.submit(outgoing).await?;
        Ok(receipt)
    }

    /// As [`PhoneHandle::send_envelope`], but always through the queue, failing with
    /// [`TransportError::QueueFull`] at once when it is full.
    pub fn try_send_envelope(&self, payload: Vec<u8>) -> Result<EnvelopeReceipt, TransportError> {
        let (outgoing, receipt) = self.envelope(payload)?;
        let permit = self.tx.try_reserve().map_err(|e| match e {
            mpsc::error::TrySendError::Full(()) => TransportError::QueueFull,
            mpsc::error::TrySendError::Closed(()) => TransportError::LinkClosed,
        })?;
        self.shared.backlog.fetch_add(1, Ordering::SeqCst);
        permit.send(outgoing);
        Ok(receipt)
    }

    fn envelope(&self, payload: Vec<u8>) -> Result<(Outgoing, EnvelopeReceipt), TransportError> {
        let envelope = SignedEnvelope::sign(payload, &self.device_key, self.key_version);
        let text = ClientFrame::Envelope { envelope }
            .encode()
            .map_err(TransportError::Frame)?;
        let (tx, rx) = oneshot::channel();
        Ok((
            Outgoing {
                text: text.into(),
                receipt: Some(tx),
                audio: None,
            },
            EnvelopeReceipt { rx },
        ))
    }

    async fn send(&self, frame: ClientFrame) -> Result<(), TransportError> {
        self.send_text(frame.encode().map_err(TransportError::Frame)?)
            .await
    }

    /// Sends an encoded frame that has no receipt.
    async fn send_text(&self, text: String) -> Result<(), TransportError> {
        self.submit(Outgoing {
            text: text.into(),
            receipt: None,
            audio: None,
        })
        .await
    }

    /// Writes `outgoing` directly if it can, else queues it (waiting for space).
    async fn submit(&self, outgoing: Outgoing) -> Result<(), TransportError> {
        let Some(outgoing) = self.write_direct(outgoing).await else {
            return Ok(());
        };
        let permit = self
            .tx
            .reserve()
            .await
            .map_err(|_| TransportError::LinkClosed)?;
        // Raised before the frame is in the queue, so the link task never lowers it first.
        self.shared.backlog.fetch_add(1, Ordering::SeqCst);
        permit.send(outgoing);
        Ok(())
    }

    /// Writes and flushes `outgoing` from the caller's task when the link is up and nothing is
    /// queued or held ahead of it; gives it back otherwise. A failed write leaves the frame held
    /// (plain) or pending (secure), exactly as a queued one, and has the link reconnect.
    async fn write_direct(&self, outgoing: Outgoing) -> Option<Outgoing> {
        let shared = &*self.shared;
        if shared.backlog.load(Ordering::SeqCst) != 0 {
            return Some(outgoing);
        }
        let mut writer = shared.writer.lock().await;
        // Checked again under the lock: the link task writes queued frames only under it.
        if shared.backlog.load(Ordering::SeqCst) != 0 {
            return Some(outgoing);
        }
        let Some(live) = writer.as_mut() else {
            return Some(outgoing);
        };
        let (_, result) = live.write_batch(shared, outgoing, || None).await;
        if let Err(error) = result {
            *writer = None;
            shared.break_link(error);
        }
        None
    }

    /// Starts an utterance at `sample_rate` Hz (abandoning one not yet ended, which the desktop
    /// then reports cut). The phone keeps the utterance, up to
    /// [`PhoneConfig::audio_replay`](super::PhoneConfig::audio_replay) of it, to send it again
    /// whole if the link drops before its end is out; stream an utterance from one task.
    pub async fn send_audio_start(&self, sample_rate: u32) -> Result<(), TransportError> {
        let text: Utf8Bytes = ClientFrame::AudioStreamStart { sample_rate }
            .encode()
            .map_err(TransportError::Frame)?
            .into();
        let tag = lock(&self.shared.audio).start(sample_rate);
        self.submit(Outgoing {
            text,
            receipt: None,
            audio: Some(tag),
        })
        .await
    }

    /// Sends mono f32 samples of the open utterance, split into chunks of at most
    /// [`MAX_AUDIO_CHUNK_BYTES`](crate::mobile::MAX_AUDIO_CHUNK_BYTES).
    ///
    /// Fails with [`TransportError::Audio`] when no utterance is open, and with
    /// [`TransportError::UtteranceCut`] once the link dropped and could not send the utterance
    /// again (it was longer than the replay buffer): stop capturing; its receipt says the same.
    pub async fn send_audio(&self, samples: &[f32]) -> Result<(), TransportError> {
        for chunk in samples.chunks(MAX_AUDIO_CHUNK_BYTES / 4) {
            let (tag, text) = lock(&self.shared.audio).chunk(chunk)?;
            self.submit(Outgoing {
                text,
                receipt: None,
                audio: Some(tag),
            })
            .await?;
        }
        Ok(())
    }

    /// Ends the open utterance; the receipt says whether the desktop got it whole
    /// ([`UtteranceReceipt::outcome`]). Nothing is sent for an utterance already cut (its receipt
    /// is settled at once); [`TransportError::Audio`] when no utterance is open.
    pub async fn send_audio_end(&self) -> Result<UtteranceReceipt, TransportError> {
        let text: Utf8Bytes = ClientFrame::AudioStreamEnd
            .encode()
            .map_err(TransportError::Frame)?
            .into();
        let (tag, cut) = match lock(&self.shared.audio).end()? {
            Ending::Send { tag, cut } => (tag, cut),
            Ending::Settled(receipt) => return Ok(receipt),
        };
        let (tx, rx) = oneshot::channel();
        self.submit(Outgoing {
            text,
            receipt: Some(tx),
            audio: Some(tag),
        })
        .await?;
        Ok(UtteranceReceipt::pending(rx, cut))
    }

    /// Sends a channel query (`list`, or `events` with a channel and an inclusive start).
    pub async fn send_channel_query(
        &self,
        op: impl Into<String>,
        channel_id: Option<String>,
        since_seq: Option<u64>,
    ) -> Result<(), TransportError> {
        self.send(ClientFrame::ChannelQuery {
            op: op.into(),
            channel_id,
            since_seq,
        })
        .await
    }

    /// Closes the link; frames queued and not yet written are dropped (their envelopes fail).
    pub fn close(&self) {
        self.close.send_replace(true);
    }
}
/// The next frame to write from the link task: a held one first, then the queue's.
pub(super) async fn next_outgoing(
    shared: &Shared,
    queue: &mut mpsc::Receiver<Outgoing>,
) -> Option<Outgoing> {
    if let Some(outgoing) = shared.take_held() {
        return Some(outgoing);
    }
    queue.recv().await
}
