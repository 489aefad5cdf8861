//! The link task: keeps one connection up (reads, queued writes, pings, the dead-peer timeout),
//! then reconnects with backoff and resumes, settling envelopes from the resume report.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt as _;
use rand_core::{OsRng, RngCore as _};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::handshake::{rejection, resume, Link};
use super::queue::{next_outgoing, LiveWriter, Outgoing, Shared};
use super::{
    Backoff, DeliveryFailure, DeviceIdentity, EnvelopeDelivery, Outcome, PhoneConfig, PhoneEvent,
};
use crate::mobile::transport::secure::{
    OpenKey, RecordKind, SecureError, SessionKeys, CONNECTION_NONCE_LEN,
};
use crate::mobile::transport::{close_code, lock, raised, TransportError};
use crate::mobile::{decode_server_frame, PhoneRejection, ServerFrame};

impl Backoff {
    fn delay(&self, attempt: u32) -> Duration {
        let base = self
            .initial
            .saturating_mul(1u32.checked_shl(attempt.min(16)).unwrap_or(u32::MAX))
            .min(self.max);
        let jitter_range = u64::try_from(base.as_micros() / 4).unwrap_or(u64::MAX);
        let jitter = if jitter_range == 0 {
            0
        } else {
            OsRng.next_u64() % jitter_range
        };
        base.saturating_add(Duration::from_micros(jitter))
    }
}

/// Envelopes written on a connection that dropped before they were acknowledged.
pub(super) struct Unsettled {
    session_id: [u8; CONNECTION_NONCE_LEN],
    pending: Vec<(u64, oneshot::Sender<Outcome>)>,
}

pub(super) struct Runner {
    pub(super) config: PhoneConfig,
    pub(super) identity: DeviceIdentity,
    pub(super) shared: Arc<Shared>,
    pub(super) queue: mpsc::Receiver<Outgoing>,
    pub(super) events: mpsc::Sender<PhoneEvent>,
    pub(super) close: watch::Receiver<bool>,
    pub(super) unsettled: Option<Unsettled>,
}

enum End {
    /// Closed by the handle (or all handles dropped).
    Local,
    /// The link failed.
    Failed(TransportError),
}

impl Runner {
    pub(super) async fn run(mut self, first: Link) {
        let mut link = first;
        let error = loop {
            self.settle(&link);
            let previous = link.session_id;
            let error = match self.serve(link).await {
                End::Local => break TransportError::LinkClosed,
                End::Failed(error) => error,
            };
            if !error.is_retryable() {
                break error;
            }
            match self.reconnect(error, previous).await {
                Ok(next) => link = next,
                Err(error) => break error,
            }
        };
        self.fail_all();
        let _ = self.events.send(PhoneEvent::Closed { error }).await;
    }

    /// Settles the previous connection's unacknowledged envelopes from the resume report.
    fn settle(&mut self, link: &Link) {
        let Some(unsettled) = self.unsettled.take() else {
            return;
        };
        let count = match link.report {
            Some((nonce, count)) if nonce == unsettled.session_id && count != u64::MAX => {
                Some(count)
            }
            _ => None,
        };
        for (seq, receipt) in unsettled.pending {
            let outcome = match count {
                Some(count) if seq < count => Ok(EnvelopeDelivery::Acknowledged),
                Some(_) => Err(DeliveryFailure::NotDelivered),
                None => Err(DeliveryFailure::Unknown),
            };
            let _ = receipt.send(outcome);
        }
    }

    fn fail_all(&mut self) {
        if let Some(unsettled) = self.unsettled.take() {
            for (_, receipt) in unsettled.pending {
                let _ = receipt.send(Err(DeliveryFailure::Unknown));
            }
        }
        self.queue.close();
        let held = std::mem::take(&mut *lock(&self.shared.held));
        for outgoing in held {
            if let Some(receipt) = outgoing.receipt {
                let _ = receipt.send(Err(DeliveryFailure::LinkClosed));
            }
        }
        while let Ok(outgoing) = self.queue.try_recv() {
            if let Some(receipt) = outgoing.receipt {
                let _ = receipt.send(Err(DeliveryFailure::LinkClosed));
            }
        }
    }

    async fn reconnect(
        &mut self,
        mut error: TransportError,
        mut previous: Option<[u8; CONNECTION_NONCE_LEN]>,
    ) -> Result<Link, TransportError> {
        let mut attempt: u32 = 0;
        loop {
            if let Some(max) = self.config.backoff.max_attempts {
                if attempt >= max {
                    return Err(error);
                }
            }
            let retry_in = self.config.backoff.delay(attempt);
            let _ = self
                .events
                .send(PhoneEvent::Disconnected { error, retry_in })
                .await;
            let mut close = self.close.clone();
            tokio::select! {
                _ = tokio::time::sleep(retry_in) => {}
                _ = raised(&mut close) => return Err(TransportError::LinkClosed),
            }
            attempt = attempt.saturating_add(1);
            let ask = self.unsettled.as_ref().map(|u| u.session_id).or(previous);
            match tokio::time::timeout(
                self.config.connect_timeout,
                resume(&self.config, &self.identity, ask),
            )
            .await
            {
                Ok(Ok(link)) => {
                    let _ = self
                        .events
                        .send(PhoneEvent::Resumed {
                            secure: link.keys.is_some(),
                        })
                        .await;
                    return Ok(link);
                }
                Ok(Err(e)) if !e.is_retryable() => return Err(e),
                Ok(Err(e)) => error = e,
                Err(_) => error = TransportError::Timeout("resuming"),
            }
            previous = ask;
        }
    }

    /// Runs one connection until it ends: reads here, writes from the handles (directly) and
    /// from here (the queue, pings, close).
    async fn serve(&mut self, link: Link) -> End {
        let Link {
            ws,
            keys,
            session_id,
            early,
            ..
        } = link;
        for frame in early {
            let _ = self.events.send(PhoneEvent::Frame(frame)).await;
        }
        let (sink, mut stream) = ws.split();
        let (seal, mut open) = match keys.map(SessionKeys::split) {
            Some((seal, open)) => (Some(seal), Some(open)),
            None => (None, None),
        };
        let shared = Arc::clone(&self.shared);
        // The handshake may already have opened records (`paired`, the resume report).
        shared
            .opened
            .store(open.as_ref().map_or(0, OpenKey::opened), Ordering::SeqCst);
        *lock(&shared.broken) = None;
        {
            let mut writer = shared.writer.lock().await;
            let live = writer.insert(LiveWriter { sink, seal });
            // An utterance still open from the previous connection goes out again first, whole;
            // handles wait for the writer meanwhile, the queue behind it.
            let replay = lock(&shared.audio).replay();
            if let Some(frames) = replay {
                if let Err(error) = live.replay(&shared, frames).await {
                    *writer = None;
                    shared.break_link(error);
                }
            }
        }
        let mut ping = tokio::time::interval(self.config.ping_interval);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ping.tick().await;
        let mut last_seen = tokio::time::Instant::now();
        let mut close = self.close.clone();
        // One dead-peer timer, re-armed only when it fires early (not one per message).
        let dead = tokio::time::sleep_until(last_seen + self.config.dead_peer_timeout);
        tokio::pin!(dead);
        let end = loop {
            tokio::select! {
                biased;
                _ = raised(&mut close) => {
                    shared.close_writer().await;
                    break End::Local;
                }
                _ = shared.broken_signal.notified() => {
                    if let Some(error) = lock(&shared.broken).take() {
                        break End::Failed(error);
                    }
                }
                message = stream.next() => {
                    last_seen = tokio::time::Instant::now();
                    if let Err(error) = self.on_message(open.as_mut(), message).await {
                        break End::Failed(error);
                    }
                }
                outgoing = next_outgoing(&shared, &mut self.queue) => {
                    let Some(outgoing) = outgoing else {
                        shared.close_writer().await;
                        break End::Local;
                    };
                    if let Err(error) = self.write_backlog(outgoing).await {
                        break End::Failed(error);
                    }
                }
                _ = ping.tick() => {
                    let mut writer = shared.writer.lock().await;
                    let sent = match writer.as_mut() {
                        Some(live) => live.ping(shared.write_timeout).await,
                        None => Err(shared.take_broken()),
                    };
                    if let Err(error) = sent {
                        break End::Failed(error);
                    }
                }
                _ = &mut dead => {
                    let dead_at = last_seen + self.config.dead_peer_timeout;
                    if dead_at <= tokio::time::Instant::now() {
                        break End::Failed(TransportError::DeadPeer);
                    }
                    dead.as_mut().reset(dead_at);
                }
            }
        };
        // Handles write to this connection no more.
        *shared.writer.lock().await = None;
        let pending = std::mem::take(&mut *lock(&shared.pending));
        match (&end, session_id) {
            (End::Failed(_), Some(session_id)) if !pending.is_empty() => {
                self.unsettled = Some(Unsettled {
                    session_id,
                    pending: pending.into_iter().collect(),
                });
            }
            _ => {
                for (_, receipt) in pending {
                    let _ = receipt.send(Err(DeliveryFailure::Unknown));
                }
            }
        }
        end
    }

    /// Writes `first` and what else is queued (up to a batch) under the writer lock, and flushes
    /// once.
    async fn write_backlog(&mut self, first: Outgoing) -> Result<(), TransportError> {
        let shared = Arc::clone(&self.shared);
        let mut writer = shared.writer.lock().await;
        let Some(live) = writer.as_mut() else {
            // A handle's write broke the connection: keep the frame for the next one.
            shared.hold(first);
            shared.backlog.fetch_sub(1, Ordering::SeqCst);
            return Err(shared.take_broken());
        };
        let queue = &mut self.queue;
        let (taken, result) = live
            .write_batch(&shared, first, || {
                shared.take_held().or_else(|| queue.try_recv().ok())
            })
            .await;
        shared.backlog.fetch_sub(taken, Ordering::SeqCst);
        if result.is_err() {
            *writer = None;
        }
        result
    }

    async fn on_message(
        &mut self,
        open: Option<&mut OpenKey>,
        message: Option<Result<Message, WsError>>,
    ) -> Result<(), TransportError> {
        let message = match message {
            None => return Err(TransportError::Closed { code: None }),
            Some(Err(e)) => return Err(TransportError::WebSocket(e.to_string())),
            Some(Ok(message)) => message,
        };
        let frame = match message {
            // Anyone on the path can send text: on a secure link, even a `rejected` one is only a
            // (retryable) drop.
            Message::Text(_) if open.is_some() => {
                return Err(TransportError::Secure(SecureError::Unsealed));
            }
            Message::Text(text) => {
                decode_server_frame(text.as_bytes()).map_err(TransportError::Frame)?
            }
            Message::Binary(bytes) => {
                let Some(open) = open else {
                    return Err(TransportError::Secure(SecureError::Unsealed));
                };
                let opened = open.open(&bytes).map_err(TransportError::Secure)?;
                self.shared.opened.store(open.opened(), Ordering::SeqCst);
                {
                    let mut pending = lock(&self.shared.pending);
                    while pending.front().is_some_and(|(seq, _)| *seq < opened.ack) {
                        if let Some((_, receipt)) = pending.pop_front() {
                            let _ = receipt.send(Ok(EnvelopeDelivery::Acknowledged));
                        }
                    }
                }
                match opened.kind {
                    RecordKind::Frame => {
                        decode_server_frame(opened.payload()).map_err(TransportError::Frame)?
                    }
                    RecordKind::Ack | RecordKind::ResumeReport => return Ok(()),
                }
            }
            Message::Close(frame) => {
                let code = frame.map(|f| u16::from(f.code));
                if open.is_some() {
                    // Close frames are not authenticated: a secure link only drops and retries.
                    return Err(TransportError::UnauthenticatedClose { code });
                }
                return Err(match code {
                    Some(close_code::UNPAIRED) => TransportError::Unpaired,
                    Some(close_code::SECURE_REQUIRED) => TransportError::SecureModeRequired,
                    code => TransportError::Closed { code },
                });
            }
            _ => return Ok(()),
        };
        match frame {
            ServerFrame::Rejected { reason } => {
                Err(rejection(PhoneRejection::RejectedByDesktop { reason }))
            }
            frame => {
                let _ = self.events.send(PhoneEvent::Frame(frame)).await;
                Ok(())
            }
        }
    }
}
