//! The handshake: the WebSocket upgrade, then pairing or resuming, in plain or secure mode.

use std::sync::Arc;

use rand_core::OsRng;
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

use super::connection::{Conn, Flow};
use super::{
    ConnectionHandle, DesktopEvent, DesktopSecurity, DisconnectReason, PairedDeviceRecord, Shared,
};
use crate::mobile::transport::noise::{
    decode_message, encode_message, enrollment_psk, DesktopHandshake, Established, Mode,
    NoisePublicKey,
};
use crate::mobile::transport::read_ahead::ReadAhead;
use crate::mobile::transport::secure::{resume_report, RecordKind, CONNECTION_NONCE_LEN};
use crate::mobile::transport::{lock, ws_config, NOISE_HEADER, REFUSED_HEADER};
use crate::mobile::{ClientFrame, DesktopRejection, DesktopStep, ServerFrame, MOBILE_WS_PATH};

/// What the phone's upgrade request offered.
#[derive(Default)]
struct Offered {
    secure: Option<Accepted>,
    path_ok: bool,
}

/// A Noise handshake the desktop answered in the upgrade response.
struct Accepted {
    established: Established,
    phone: NoisePublicKey,
    /// The enrollment's window (message 1's payload).
    wid: Option<String>,
    /// The previous connection a resume asks about (message 1's payload).
    previous: Option<[u8; CONNECTION_NONCE_LEN]>,
}

/// The secure enrollment in progress on a connection: its window, from Noise message 1.
pub(super) struct EnrollContext {
    pub(super) wid: String,
}

impl Conn {
    /// The WebSocket upgrade, by `handshake_deadline` at most: answers Noise message 1 with
    /// message 2 (the keys then exist) and refuses a plain phone when the desktop requires
    /// secure mode.
    pub(super) async fn upgrade(
        &mut self,
        stream: TcpStream,
        handshake_deadline: tokio::time::Instant,
    ) -> Result<WebSocketStream<ReadAhead<TcpStream>>, DisconnectReason> {
        let mut offered = Offered::default();
        let shared = Arc::clone(&self.shared);
        // The upgrade callback's error type is tungstenite's HTTP response.
        #[allow(clippy::result_large_err)]
        let callback = |request: &Request, mut response: Response| {
            on_upgrade(&shared, request, &mut response, &mut offered)?;
            Ok::<Response, ErrorResponse>(response)
        };
        let upgrade = tokio::time::timeout_at(
            handshake_deadline,
            tokio_tungstenite::accept_hdr_async_with_config(
                ReadAhead::new(stream),
                callback,
                Some(ws_config()),
            ),
        )
        .await;
        let mut ws = match upgrade {
            Err(_) => return Err(DisconnectReason::HandshakeTimeout),
            Ok(Err(e)) => return Err(DisconnectReason::UpgradeFailed(e.to_string())),
            Ok(Ok(ws)) => ws,
        };
        if !offered.path_ok {
            return Err(DisconnectReason::UpgradeFailed("wrong path".into()));
        }
        if let Some(accepted) = offered.secure {
            self.keys = Some(accepted.established.keys);
            self.session_id = Some(accepted.established.session_id);
            self.phone_static = Some(accepted.phone);
            self.previous = accepted.previous;
            self.enroll = accepted.wid.map(|wid| EnrollContext { wid });
        } else if self.shared.config.security == DesktopSecurity::RequireSecure {
            let reason = DisconnectReason::SecureModeRequired;
            let out = self.secure_required();
            self.finish(&mut ws, out, &reason).await;
            return Err(reason);
        }
        Ok(ws)
    }

    /// The unsealed `rejected` frame a plain phone gets when it must use secure mode.
    fn secure_required(&self) -> Vec<Message> {
        let rejection = ServerFrame::Rejected {
            reason: "secure mode is required".into(),
        };
        rejection.encode().map(Message::text).into_iter().collect()
    }

    /// Checks a handshake frame against what the Noise handshake established, before the
    /// proto-2 state machine sees it: a secure device never resumes (or re-enrolls) in plain
    /// mode whatever the policy, a secure resume must come from the phone static key the device
    /// enrolled with, and a secure enrollment must name the window its PSK came from.
    fn check_handshake_frame(&mut self, frame: &ClientFrame) -> Option<Flow> {
        let device = match frame {
            ClientFrame::Resume { pubkey, .. } | ClientFrame::HelloInit { pubkey, .. } => pubkey,
            _ => return None,
        };
        let known = lock(&self.shared.registry).statics.get(device).copied();
        let Some(phone) = self.phone_static else {
            return known.map(|_| {
                Flow::Close(DisconnectReason::SecureModeRequired, self.secure_required())
            });
        };
        match frame {
            ClientFrame::Resume { .. } if known != Some(phone) => Some(self.reject_input(
                DisconnectReason::Rejected(DesktopRejection::UnknownDevice),
                "device is not paired",
            )),
            ClientFrame::HelloInit { wid, .. }
                if self.enroll.as_ref().map(|e| e.wid.as_str()) != Some(wid.as_str()) =>
            {
                Some(self.reject_input(
                    DisconnectReason::Rejected(DesktopRejection::WidMismatch),
                    "hello_init names another window than the handshake",
                ))
            }
            _ => None,
        }
    }

    pub(super) async fn on_frame(
        &mut self,
        frame: ClientFrame,
        tx: &mut Option<mpsc::Sender<Utf8Bytes>>,
    ) -> Flow {
        if let Some(flow) = self.check_handshake_frame(&frame) {
            return flow;
        }
        // A paired session's frames (the audio stream) need no lock on the shared endpoint.
        let step = match self.session.handle_paired(frame) {
            Ok(step) => step,
            Err(frame) => {
                let now = self.shared.now();
                let mut endpoint = lock(&self.shared.endpoint);
                self.session.handle(&mut endpoint, frame, now, &mut OsRng)
            }
        };
        let step = match step {
            Ok(step) => step,
            Err(rejection) => {
                let frame = rejection.to_frame();
                let out = self.seal_or_text(&frame).into_iter().collect();
                return Flow::Close(DisconnectReason::Rejected(rejection), out);
            }
        };
        match step {
            DesktopStep::Reply(reply) => match self.seal_or_text(&reply) {
                Some(m) => Flow::Send(vec![m]),
                None => Flow::Continue,
            },
            DesktopStep::Paired {
                reply,
                device,
                enrolled,
            } => self.on_paired(reply, device, enrolled, tx).await,
            DesktopStep::Application(frame) => self.on_application(frame).await,
            DesktopStep::Ignored { .. } => Flow::Continue,
        }
    }

    async fn on_paired(
        &mut self,
        reply: ServerFrame,
        device: String,
        enrolled: bool,
        tx: &mut Option<mpsc::Sender<Utf8Bytes>>,
    ) -> Flow {
        // A newer connection of this device replaces any older one, which ends before we report.
        let olders: Vec<_> = {
            let registry = lock(&self.shared.registry);
            registry
                .live
                .iter()
                .filter(|(id, live)| **id != self.id && live.device.as_deref() == Some(&device))
                .map(|(_, live)| {
                    live.close.send_replace(Some(DisconnectReason::Replaced));
                    live.ended.clone()
                })
                .collect()
        };
        for mut ended in olders {
            let _ = ended.wait_for(|done| *done).await;
        }
        let noise_key = self.phone_static;
        let report = {
            let mut registry = lock(&self.shared.registry);
            if enrolled {
                match noise_key {
                    Some(key) => {
                        registry.statics.insert(device.clone(), key);
                    }
                    None => {
                        registry.statics.remove(&device);
                    }
                }
                registry.recent.remove(&device);
            }
            if let Some(live) = registry.live.get_mut(&self.id) {
                live.device = Some(device.clone());
            }
            match (self.keys.is_some(), enrolled, self.previous) {
                (true, false, Some(previous)) => {
                    let count = registry
                        .recent
                        .get(&device)
                        .and_then(|r| r.iter().rev().find(|(n, _)| *n == previous))
                        .map(|(_, count)| *count)
                        .unwrap_or(u64::MAX);
                    Some(resume_report(&previous, count))
                }
                _ => None,
            }
        };
        self.device = Some(device.clone());
        self.enroll = None;
        let mut out: Vec<Message> = self.seal_or_text(&reply).into_iter().collect();
        if let (Some(report), Some(keys)) = (report, self.keys.as_mut()) {
            match keys.seal(RecordKind::ResumeReport, &report) {
                Ok(record) => out.push(Message::binary(record)),
                Err(e) => return Flow::Close(DisconnectReason::Secure(e), out),
            }
        }
        let Some(sender) = tx.take() else {
            return Flow::Send(out);
        };
        let connection = ConnectionHandle {
            id: self.id,
            device: device.clone(),
            secure: self.keys.is_some(),
            tx: sender,
        };
        let event = if enrolled {
            let record = {
                let endpoint = lock(&self.shared.endpoint);
                endpoint.paired_devices().get(&device).cloned()
            };
            match record {
                Some(device) => DesktopEvent::Paired {
                    connection,
                    record: PairedDeviceRecord { device, noise_key },
                },
                None => return Flow::Close(DisconnectReason::Unpaired, out),
            }
        } else {
            DesktopEvent::Resumed { connection }
        };
        // Send `paired` before the daemon hears of the link, so its first frame follows it.
        Flow::SendThen(out, Box::new(event))
    }
}

// The error type is tungstenite's HTTP response, fixed by its upgrade callback.
#[allow(clippy::result_large_err)]
fn on_upgrade(
    shared: &Shared,
    request: &Request,
    response: &mut Response,
    offered: &mut Offered,
) -> Result<(), ErrorResponse> {
    if request.uri().path() != MOBILE_WS_PATH {
        let mut error = ErrorResponse::new(Some("not found".into()));
        *error.status_mut() = StatusCode::NOT_FOUND;
        return Err(error);
    }
    offered.path_ok = true;
    let Some(value) = request.headers().get(NOISE_HEADER) else {
        return Ok(());
    };
    let answered = value
        .to_str()
        .ok()
        .and_then(|text| answer_noise(shared, text));
    let Some((msg2, accepted)) = answered else {
        return Err(refusal(StatusCode::BAD_REQUEST, "handshake"));
    };
    let value = HeaderValue::from_str(&encode_message(&msg2))
        .map_err(|_| refusal(StatusCode::BAD_REQUEST, "handshake"))?;
    response.headers_mut().insert(NOISE_HEADER, value);
    offered.secure = Some(accepted);
    Ok(())
}

/// Reads Noise message 1 (`enroll.…` or `resume.…`) and writes message 2; `None` if the message
/// does not verify or names no open window. An enrollment spends one of its window's attempts
/// here: each message 1 is one guess of the token, answered by message 2.
fn answer_noise(shared: &Shared, text: &str) -> Option<(Vec<u8>, Accepted)> {
    let (word, encoded) = text.split_once('.')?;
    let mode = [Mode::Enroll, Mode::Resume]
        .into_iter()
        .find(|m| m.word() == word)?;
    let msg1 = decode_message(encoded)?;
    let did = lock(&shared.endpoint).did().to_owned();
    let config = &shared.config;
    let read = DesktopHandshake::read(mode, &config.agent, &did, &config.noise_key, &msg1).ok()?;
    let phone = read.phone;
    match mode {
        Mode::Enroll => {
            let wid = String::from_utf8(read.payload.clone()).ok()?;
            let psk = {
                let now = shared.now();
                let mut endpoint = lock(&shared.endpoint);
                endpoint.spend_attempt(&wid, now).ok()?;
                enrollment_psk(endpoint.window(&wid)?.token())
            };
            let (msg2, established) = read.respond(Some(&psk)).ok()?;
            Some((
                msg2,
                Accepted {
                    established,
                    phone,
                    wid: Some(wid),
                    previous: None,
                },
            ))
        }
        Mode::Resume => {
            let previous = match read.payload.len() {
                0 => None,
                _ => Some(<[u8; CONNECTION_NONCE_LEN]>::try_from(read.payload.as_slice()).ok()?),
            };
            let (msg2, established) = read.respond(None).ok()?;
            Some((
                msg2,
                Accepted {
                    established,
                    phone,
                    wid: None,
                    previous,
                },
            ))
        }
    }
}

/// An HTTP refusal the phone reads as "retry later" ([`REFUSED_HEADER`]).
fn refusal(status: StatusCode, what: &'static str) -> ErrorResponse {
    let mut error = ErrorResponse::new(Some(what.into()));
    *error.status_mut() = status;
    error
        .headers_mut()
        .insert(REFUSED_HEADER, HeaderValue::from_static(what));
    error
}

/// The upgrade callback of a connection refused before it is served (`what`: `busy`, or
/// another reason a refusal names): the upgrade completes (so the close code can follow) and
/// names `what` in the [`REFUSED_HEADER`], which a secure phone reads before it looks for secure
/// mode, so a refusal is never read as "plain".
// The error type is tungstenite's HTTP response, fixed by its upgrade callback.
#[allow(clippy::result_large_err)]
pub(super) fn mark_refused(
    what: &'static str,
) -> impl FnOnce(&Request, Response) -> Result<Response, ErrorResponse> {
    move |_, mut response| {
        response
            .headers_mut()
            .insert(REFUSED_HEADER, HeaderValue::from_static(what));
        Ok(response)
    }
}
