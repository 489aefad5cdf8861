//! The per-connection task: the read loop, the rules of a paired session, the writer and the
//! acknowledgements.

use std::net::SocketAddr;
use std::sync::Arc;

use futures_util::{FutureExt as _, SinkExt as _, StreamExt as _};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

use super::accept::{close_frame, HandshakeSlot};
use super::handshake::EnrollContext;
use super::{AudioCutReason, ConnectionId, DesktopEvent, DisconnectReason, Shared};
use crate::mobile::frames::audio_chunk_pcm_into;
use crate::mobile::transport::noise::NoisePublicKey;
use crate::mobile::transport::read_ahead::{is_budget_exceeded, ReadAhead};
use crate::mobile::transport::secure::{
    RecordKind, SecureError, SessionKeys, CONNECTION_NONCE_LEN,
};
use crate::mobile::transport::{close_code, lock, pcm_to_samples, raised};
use crate::mobile::{
    decode_client_frame, decode_client_frame_text, ClientFrame, DesktopRejection, DesktopSession,
    ServerFrame,
};

/// How many past connections per device the desktop remembers for resume reports.
const RECENT_CONNECTIONS: usize = 8;

/// Most messages already buffered on a connection handled in one go.
const DRAIN_BATCH: usize = 32;

/// One connection's state.
pub(super) struct Conn {
    pub(super) shared: Arc<Shared>,
    pub(super) id: ConnectionId,
    pub(super) session: DesktopSession,
    /// The Noise handshake hash, when secure mode was negotiated (the connection's id in resume
    /// reports).
    pub(super) session_id: Option<[u8; CONNECTION_NONCE_LEN]>,
    /// The previous connection a secure resume asked about (from Noise message 1).
    pub(super) previous: Option<[u8; CONNECTION_NONCE_LEN]>,
    pub(super) keys: Option<SessionKeys>,
    /// The phone's Noise static public key, from message 1.
    pub(super) phone_static: Option<NoisePublicKey>,
    pub(super) enroll: Option<EnrollContext>,
    pub(super) device: Option<String>,
    handshake_frames: u32,
    processed: u64,
    /// The daemon's event stream, held for the connection's life (no lock per event).
    events: Option<mpsc::Sender<DesktopEvent>>,
    /// Application events of the messages handled in one go, delivered together after them
    /// (one wake-up of the daemon per batch rather than per frame) and before anything is
    /// written back (a secure `ack` follows its envelope's delivery).
    batch: Vec<DesktopEvent>,
    /// The last audio chunk's PCM, its buffer reused for the next.
    pcm: Vec<u8>,
    /// This connection's place in its address's count of handshakes; dropped once paired.
    handshake_slot: Option<HandshakeSlot>,
    /// The open utterance: samples delivered since its start.
    utterance: Option<u64>,
    /// Audio without a start was reported since the last start.
    orphan_reported: bool,
}

/// What handling one message asks of the loop.
pub(super) enum Flow {
    Continue,
    Send(Vec<Message>),
    SendThen(Vec<Message>, Box<DesktopEvent>),
    Close(DisconnectReason, Vec<Message>),
}

pub(super) async fn run_connection(
    shared: Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    id: ConnectionId,
    close_rx: watch::Receiver<Option<DisconnectReason>>,
    ended: watch::Sender<bool>,
    handshake_slot: HandshakeSlot,
) {
    let mut conn = Conn {
        shared: Arc::clone(&shared),
        id,
        session: DesktopSession::new(),
        session_id: None,
        previous: None,
        keys: None,
        phone_static: None,
        enroll: None,
        device: None,
        handshake_frames: 0,
        processed: 0,
        events: lock(&shared.events).clone(),
        batch: Vec::new(),
        pcm: Vec::new(),
        handshake_slot: Some(handshake_slot),
        utterance: None,
        orphan_reported: false,
    };
    let reason = conn.serve(stream, close_rx).await;
    conn.handshake_slot = None;
    if conn.utterance.is_some() {
        conn.cut_utterance(AudioCutReason::ConnectionEnded(reason.clone()));
        conn.deliver().await;
    }
    let device = conn.device.clone();
    {
        let mut registry = lock(&shared.registry);
        registry.live.remove(&id);
        if let (Some(device), Some(session_id)) = (&device, conn.session_id) {
            let recent = registry.recent.entry(device.clone()).or_default();
            recent.push_back((session_id, conn.processed));
            while recent.len() > RECENT_CONNECTIONS {
                recent.pop_front();
            }
        }
    }
    ended.send_replace(true);
    conn.emit(DesktopEvent::Disconnected {
        connection: id,
        peer,
        device,
        reason,
    })
    .await;
}
impl Conn {
    async fn serve(
        &mut self,
        stream: TcpStream,
        mut close_rx: watch::Receiver<Option<DisconnectReason>>,
    ) -> DisconnectReason {
        let config = self.shared.config.clone();
        let handshake_deadline = tokio::time::Instant::now() + config.handshake_timeout;
        let mut ws = match self.upgrade(stream, handshake_deadline).await {
            Ok(ws) => ws,
            Err(reason) => return reason,
        };
        // Until paired, the peer may send only this much (the 1 MiB message cap applies after).
        ws.get_mut().limit_reads(config.max_pre_auth_bytes);

        let (tx, mut rx) = mpsc::channel::<Utf8Bytes>(config.send_queue.max(1));
        let mut tx = Some(tx);
        let mut shutdown = self.shared.shutdown.subscribe();
        let mut last_seen = tokio::time::Instant::now();
        let mut handles_gone = false;
        // One timer for the handshake and idle deadlines, re-armed only when it fires early (a
        // timer per message would cost two timer-wheel updates per frame).
        let timer = tokio::time::sleep_until(handshake_deadline);
        tokio::pin!(timer);
        let mut armed_for_idle = false;
        loop {
            let paired = self.device.is_some();
            if paired && !armed_for_idle {
                // Paired: from now on the idle deadline applies, whichever is sooner.
                armed_for_idle = true;
                // Authenticated: the pre-auth limits no longer apply. (`paired` is already
                // written, but nothing the phone sent after reading it has been read yet.)
                self.handshake_slot = None;
                ws.get_mut().lift_limit();
                timer.as_mut().reset(last_seen + config.idle_timeout);
            }
            let flow = tokio::select! {
                biased;
                _ = close_rx.changed() => {
                    let reason = close_rx.borrow().clone().unwrap_or(DisconnectReason::Shutdown);
                    // A secure phone believes "unpaired" only sealed; a plain one gets the close
                    // code alone, as from mur-common.
                    let out = match (&reason, self.keys.is_some()) {
                        (DisconnectReason::Unpaired, true) => self
                            .seal_or_text(&DesktopRejection::UnknownDevice.to_frame())
                            .into_iter()
                            .collect(),
                        _ => Vec::new(),
                    };
                    Flow::Close(reason, out)
                }
                _ = raised(&mut shutdown) => Flow::Close(DisconnectReason::Shutdown, Vec::new()),
                _ = &mut timer => {
                    let deadline = if paired {
                        last_seen + config.idle_timeout
                    } else {
                        handshake_deadline
                    };
                    if deadline <= tokio::time::Instant::now() {
                        Flow::Close(
                            if paired { DisconnectReason::IdleTimeout } else { DisconnectReason::HandshakeTimeout },
                            Vec::new(),
                        )
                    } else {
                        timer.as_mut().reset(deadline);
                        Flow::Continue
                    }
                }
                message = ws.next() => {
                    let mut flow = self.on_read(message, &mut tx).await;
                    // Handle what is already buffered before re-arming every branch; bounded, so
                    // a flood cannot keep close and shutdown waiting.
                    let mut drained = 0;
                    while matches!(flow, Flow::Continue) && drained < DRAIN_BATCH {
                        let Some(message) = ws.next().now_or_never() else { break };
                        flow = self.on_read(message, &mut tx).await;
                        drained += 1;
                    }
                    self.deliver().await;
                    last_seen = tokio::time::Instant::now();
                    flow
                }
                frame = rx.recv(), if paired && !handles_gone => match frame {
                    Some(text) => self.outgoing(text),
                    None => {
                        // Every ConnectionHandle was dropped: nothing more to send, but the phone
                        // may still talk. Stop polling the closed queue (it is always ready).
                        handles_gone = true;
                        Flow::Continue
                    }
                },
            };
            match flow {
                Flow::Continue => {}
                Flow::Send(messages) => {
                    if let Err(reason) = self.write_all(&mut ws, messages).await {
                        return reason;
                    }
                }
                Flow::SendThen(messages, event) => {
                    if let Err(reason) = self.write_all(&mut ws, messages).await {
                        return reason;
                    }
                    self.emit(*event).await;
                }
                Flow::Close(reason, messages) => {
                    self.finish(&mut ws, messages, &reason).await;
                    return reason;
                }
            }
        }
    }

    /// Ends the connection over input that anyone on the path could have injected (an unsealed
    /// message or a record that does not open on a secure connection): no sealed rejection,
    /// which the phone would believe, only the unauthenticated close the phone retries after.
    fn drop_input(&self, reason: DisconnectReason) -> Flow {
        Flow::Close(reason, Vec::new())
    }

    pub(super) fn reject_input(&mut self, reason: DisconnectReason, text: &'static str) -> Flow {
        let frame = ServerFrame::Rejected {
            reason: text.into(),
        };
        let messages = self.seal_or_text(&frame).into_iter().collect();
        Flow::Close(reason, messages)
    }

    /// The message carrying a desktop-made frame (a rejection or `paired`); `None` only if it
    /// cannot be encoded or sealed, and then the connection is ending anyway.
    pub(super) fn seal_or_text(&mut self, frame: &ServerFrame) -> Option<Message> {
        let text = frame.encode().ok()?;
        self.seal_text(text.into()).ok()
    }

    /// A frame's text as the message for this connection: sealed in secure mode.
    fn seal_text(&mut self, text: Utf8Bytes) -> Result<Message, SecureError> {
        match self.keys.as_mut() {
            Some(keys) => keys
                .seal(RecordKind::Frame, text.as_bytes())
                .map(Message::binary),
            None => Ok(Message::Text(text)),
        }
    }

    /// A frame from a [`ConnectionHandle`].
    fn outgoing(&mut self, text: Utf8Bytes) -> Flow {
        match self.seal_text(text) {
            Ok(message) => Flow::Send(vec![message]),
            Err(e) => Flow::Close(DisconnectReason::Secure(e), Vec::new()),
        }
    }

    async fn write_all(
        &mut self,
        ws: &mut WebSocketStream<ReadAhead<TcpStream>>,
        messages: Vec<Message>,
    ) -> Result<(), DisconnectReason> {
        for message in messages {
            match tokio::time::timeout(self.shared.config.write_timeout, ws.send(message)).await {
                Err(_) => return Err(DisconnectReason::SlowReader),
                Ok(Err(e)) => return Err(DisconnectReason::Io(e.to_string())),
                Ok(Ok(())) => {}
            }
        }
        Ok(())
    }

    pub(super) async fn finish(
        &mut self,
        ws: &mut WebSocketStream<ReadAhead<TcpStream>>,
        messages: Vec<Message>,
        reason: &DisconnectReason,
    ) {
        let (code, text) = match reason {
            DisconnectReason::Rejected(_) => (close_code::REJECTED, "rejected"),
            DisconnectReason::Unpaired => (close_code::UNPAIRED, "device unpaired"),
            DisconnectReason::Replaced => (close_code::REPLACED, "replaced by a newer connection"),
            DisconnectReason::SecureModeRequired => {
                (close_code::SECURE_REQUIRED, "secure mode required")
            }
            DisconnectReason::IdleTimeout => (close_code::IDLE, "idle"),
            DisconnectReason::HandshakeTimeout => (close_code::IDLE, "handshake timeout"),
            DisconnectReason::BadFrame(_)
            | DisconnectReason::FrameTooLarge
            | DisconnectReason::WrongMessageType
            | DisconnectReason::Secure(_)
            | DisconnectReason::BadAudio
            | DisconnectReason::HandshakeFlood => (close_code::BAD_INPUT, "bad input"),
            DisconnectReason::Shutdown => (1001, "shutting down"),
            DisconnectReason::SlowReader
            | DisconnectReason::Io(_)
            | DisconnectReason::PeerClosed => {
                return;
            }
            _ => (1000, "closing"),
        };
        let write = async {
            for message in messages {
                ws.send(message).await?;
            }
            ws.close(Some(close_frame(code, text))).await
        };
        let _ = tokio::time::timeout(self.shared.config.write_timeout, write).await;
    }

    /// The audio stream's fast path: on a paired session an `audio_chunk` is an application frame
    /// (see `DesktopSession`), so one in its canonical form goes from the frame text to samples
    /// with no `ClientFrame` and a PCM buffer reused across frames. `None` for any other frame,
    /// or before pairing.
    fn audio_fast(&mut self, frame: &[u8]) -> Option<Flow> {
        if !self.session.is_paired() {
            return None;
        }
        let mut pcm = std::mem::take(&mut self.pcm);
        let flow = match audio_chunk_pcm_into(frame, &mut pcm)? {
            Ok(()) => self.on_pcm(&pcm),
            Err(e) => self.reject_input(DisconnectReason::BadFrame(e), "bad audio chunk"),
        };
        self.pcm = pcm;
        Some(flow)
    }

    /// An audio chunk's PCM as samples for the daemon.
    fn on_pcm(&mut self, pcm: &[u8]) -> Flow {
        let Some(samples) = pcm_to_samples(pcm) else {
            return self.reject_input(
                DisconnectReason::BadAudio,
                "audio chunk is not whole f32 samples",
            );
        };
        let Some(delivered) = self.utterance.as_mut() else {
            self.orphan_audio();
            return Flow::Continue;
        };
        *delivered = delivered.saturating_add(u64::try_from(samples.len()).unwrap_or(u64::MAX));
        self.batch.push(DesktopEvent::AudioChunk {
            connection: self.id,
            samples,
        });
        Flow::Continue
    }

    /// Ends the open utterance as cut (the caller knows one is open).
    fn cut_utterance(&mut self, reason: AudioCutReason) {
        let samples = self.utterance.take().unwrap_or(0);
        self.batch.push(DesktopEvent::AudioCut {
            connection: self.id,
            device: self.device.clone().unwrap_or_default(),
            reason,
            samples,
        });
    }

    /// Audio or an end with no utterance open: dropped, and reported once until the next start.
    fn orphan_audio(&mut self) {
        if !self.orphan_reported {
            self.orphan_reported = true;
            self.batch.push(DesktopEvent::AudioCut {
                connection: self.id,
                device: self.device.clone().unwrap_or_default(),
                reason: AudioCutReason::NotStarted,
                samples: 0,
            });
        }
    }

    /// Hands the batched application events to the daemon, in order.
    async fn deliver(&mut self) {
        let mut batch = std::mem::take(&mut self.batch);
        for event in batch.drain(..) {
            self.emit(event).await;
        }
        // Keep the allocation for the next batch.
        self.batch = batch;
    }

    /// Hands one event to the daemon (through the sender the connection holds: no lock).
    async fn emit(&self, event: DesktopEvent) {
        if let Some(events) = &self.events {
            let _ = events.send(event).await;
        }
    }

    /// One read from the socket: a message, an error or the end.
    async fn on_read(
        &mut self,
        message: Option<Result<Message, WsError>>,
        tx: &mut Option<mpsc::Sender<Utf8Bytes>>,
    ) -> Flow {
        match message {
            None => Flow::Close(DisconnectReason::PeerClosed, Vec::new()),
            Some(Err(WsError::Capacity(_))) => self.reject_input(
                DisconnectReason::FrameTooLarge,
                "frame exceeds the size limit",
            ),
            Some(Err(WsError::Io(e))) if is_budget_exceeded(&e) => self.reject_input(
                DisconnectReason::FrameTooLarge,
                "too much sent before pairing",
            ),
            Some(Err(e)) => Flow::Close(DisconnectReason::Io(e.to_string()), Vec::new()),
            Some(Ok(message)) => self.on_message(message, tx).await,
        }
    }

    async fn on_message(
        &mut self,
        message: Message,
        tx: &mut Option<mpsc::Sender<Utf8Bytes>>,
    ) -> Flow {
        if self.device.is_none() {
            self.handshake_frames = self.handshake_frames.saturating_add(1);
            if self.handshake_frames > self.shared.config.max_handshake_frames {
                return self.reject_input(
                    DisconnectReason::HandshakeFlood,
                    "too many frames before pairing",
                );
            }
        }
        let frame = match message {
            Message::Text(text) => {
                if self.keys.is_some() {
                    return self.drop_input(DisconnectReason::Secure(SecureError::Unsealed));
                }
                if let Some(flow) = self.audio_fast(text.as_bytes()) {
                    return flow;
                }
                match decode_client_frame_text(text.as_str()) {
                    Ok(frame) => frame,
                    Err(e) => {
                        let rejection = ServerFrame::Rejected {
                            reason: e.to_string(),
                        };
                        let out = self.seal_or_text(&rejection).into_iter().collect();
                        return Flow::Close(DisconnectReason::BadFrame(e), out);
                    }
                }
            }
            Message::Binary(bytes) => {
                let Some(keys) = self.keys.as_mut() else {
                    return self.reject_input(
                        DisconnectReason::WrongMessageType,
                        "binary message on a plain connection",
                    );
                };
                let opened = match keys.open(&bytes) {
                    Ok(opened) => opened,
                    Err(e) => return self.drop_input(DisconnectReason::Secure(e)),
                };
                self.processed = keys.received();
                let decoded = match opened.kind {
                    RecordKind::Frame => match self.audio_fast(opened.payload()) {
                        Some(flow) => Err(flow),
                        None => decode_client_frame(opened.payload()).map_err(|e| {
                            self.reject_input(
                                DisconnectReason::BadFrame(e),
                                "frame does not decode",
                            )
                        }),
                    },
                    RecordKind::Ack => Err(Flow::Continue),
                    RecordKind::ResumeReport => Err(self.reject_input(
                        DisconnectReason::Secure(SecureError::UnknownKind { kind: 2 }),
                        "unexpected record kind",
                    )),
                };
                // The next record opens into this one's buffer.
                if let Some(keys) = self.keys.as_mut() {
                    keys.recycle(opened);
                }
                match decoded {
                    Ok(frame) => frame,
                    Err(flow) => return flow,
                }
            }
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => return Flow::Continue,
            Message::Close(_) => return Flow::Close(DisconnectReason::PeerClosed, Vec::new()),
        };
        self.on_frame(frame, tx).await
    }

    pub(super) async fn on_application(&mut self, frame: ClientFrame) -> Flow {
        let id = self.id;
        let device = self.device.clone().unwrap_or_default();
        let mut ack = false;
        let event = match frame {
            ClientFrame::Envelope { envelope } => {
                ack = true;
                DesktopEvent::Envelope {
                    connection: id,
                    device,
                    envelope,
                }
            }
            ClientFrame::AudioStreamStart { sample_rate } => {
                if self.utterance.is_some() {
                    self.cut_utterance(AudioCutReason::Restarted);
                }
                self.utterance = Some(0);
                self.orphan_reported = false;
                DesktopEvent::AudioStart {
                    connection: id,
                    sample_rate,
                }
            }
            frame @ ClientFrame::AudioChunk { .. } => match frame.audio_pcm() {
                Some(Ok(pcm)) => return self.on_pcm(&pcm),
                Some(Err(e)) => {
                    return self.reject_input(DisconnectReason::BadFrame(e), "bad audio chunk")
                }
                None => return Flow::Continue,
            },
            ClientFrame::AudioStreamEnd => {
                if self.utterance.take().is_none() {
                    self.orphan_audio();
                    return Flow::Continue;
                }
                // Secure mode acknowledges the end, as an envelope: the phone's receipt then
                // knows the desktop has the whole utterance.
                ack = true;
                DesktopEvent::AudioEnd { connection: id }
            }
            ClientFrame::ChannelQuery {
                op,
                channel_id,
                since_seq,
            } => DesktopEvent::ChannelQuery {
                connection: id,
                op,
                channel_id,
                since_seq,
            },
            _ => return Flow::Continue,
        };
        self.batch.push(event);
        match (ack, self.keys.as_mut()) {
            (true, Some(keys)) => match keys.seal(RecordKind::Ack, &[]) {
                Ok(record) => Flow::Send(vec![Message::binary(record)]),
                Err(e) => Flow::Close(DisconnectReason::Secure(e), Vec::new()),
            },
            _ => Flow::Continue,
        }
    }
}
