//! The handshake: the WebSocket upgrade, then pairing or resuming, in plain or secure mode.

use rand_core::{OsRng, RngCore as _};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

use super::connection::{Conn, Flow};
use super::{
    ConnectionHandle, DesktopEvent, DesktopSecurity, DisconnectReason, PairedDeviceRecord,
};
use crate::mobile::transport::read_ahead::ReadAhead;
use crate::mobile::transport::secure::{
    resume_report, Binding, LinkSecret, RecordKind, SecureError, SessionContext, SessionKeys, Side,
    CONNECTION_NONCE_LEN,
};
use crate::mobile::transport::{
    lock, nonce_hex, parse_nonce_hex, ws_config, NONCE_HEADER, PREVIOUS_HEADER,
};
use crate::mobile::{
    ClientFrame, DesktopRejection, DesktopStep, ServerFrame, TranscriptFields, MOBILE_WS_PATH,
};

/// What the phone's upgrade request offered.
#[derive(Default)]
struct Offered {
    secure_nonce: Option<[u8; CONNECTION_NONCE_LEN]>,
    previous: Option<[u8; CONNECTION_NONCE_LEN]>,
    path_ok: bool,
}

/// The enrollment in progress on a secure connection.
pub(super) struct EnrollContext {
    pub(super) wid: String,
    proto: u32,
    device: String,
    pair_nonce: Vec<u8>,
}

impl Conn {
    /// The WebSocket upgrade, by `handshake_deadline` at most: takes what the phone offered and
    /// refuses a plain phone when the desktop requires secure mode.
    pub(super) async fn upgrade(
        &mut self,
        stream: TcpStream,
        handshake_deadline: tokio::time::Instant,
    ) -> Result<WebSocketStream<ReadAhead<TcpStream>>, DisconnectReason> {
        let mut offered = Offered::default();
        let desktop_nonce = {
            let mut n = [0u8; CONNECTION_NONCE_LEN];
            OsRng.fill_bytes(&mut n);
            n
        };
        // The upgrade callback's error type is tungstenite's HTTP response.
        #[allow(clippy::result_large_err)]
        let callback = |request: &Request, mut response: Response| {
            on_upgrade(request, &mut response, &mut offered, &desktop_nonce)?;
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
        self.previous = offered.previous;
        if let Some(phone_nonce) = offered.secure_nonce {
            self.nonces = Some((phone_nonce, desktop_nonce));
        } else if self.shared.config.security == DesktopSecurity::RequireSecure {
            let rejection = ServerFrame::Rejected {
                reason: "secure mode is required".into(),
            };
            let mut out = Vec::new();
            if let Ok(text) = rejection.encode() {
                out.push(Message::text(text));
            }
            let reason = DisconnectReason::SecureModeRequired;
            self.finish(&mut ws, out, &reason).await;
            return Err(reason);
        }
        Ok(ws)
    }

    /// Whether a resume may finish unsealed on a connection that negotiated secure mode: only for
    /// a device that paired in plain mode (it has no link secret) and only if policy allows plain.
    pub(super) fn plain_resume_ok(&self) -> bool {
        match &self.resume {
            Some((device, _)) => {
                self.shared.config.security == DesktopSecurity::AllowPlain
                    && !lock(&self.shared.registry).links.contains_key(device)
            }
            None => false,
        }
    }

    /// Whether the next phone message must be a sealed record (after the challenge).
    pub(super) fn expects_record(&self) -> bool {
        self.enroll.is_some() || self.resume.is_some()
    }

    /// Derives the session keys for the proof record now expected.
    pub(super) fn derive_keys(&mut self) -> Result<(), Flow> {
        let Some((phone_nonce, desktop_nonce)) = self.nonces else {
            return Err(Flow::Close(DisconnectReason::WrongMessageType, Vec::new()));
        };
        let did = lock(&self.shared.endpoint).did().to_owned();
        // The secret and binding of the handshake under way; a new enrollment's secret is kept.
        let derived = if let Some(enroll) = &self.enroll {
            let endpoint = lock(&self.shared.endpoint);
            let Some(window) = endpoint.window(&enroll.wid) else {
                drop(endpoint);
                return Err(self.reject_input(
                    DisconnectReason::Rejected(DesktopRejection::UnknownWindow),
                    "no pairing window with this id",
                ));
            };
            let fields = TranscriptFields {
                proto: enroll.proto,
                agent: &self.shared.config.agent,
                wid: &enroll.wid,
                did: &did,
                phone_pubkey: &enroll.device,
                nonce: &enroll.pair_nonce,
            };
            let secret = LinkSecret::from_enrollment(window.token(), &fields);
            drop(endpoint);
            let Ok(secret) = secret else {
                return Err(self.reject_input(
                    DisconnectReason::Secure(SecureError::BadMac),
                    "enrollment transcript",
                ));
            };
            let ctx = SessionContext {
                did: &did,
                device: &enroll.device,
                phone_nonce: &phone_nonce,
                desktop_nonce: &desktop_nonce,
                binding: Binding::Enroll {
                    pair_nonce: &enroll.pair_nonce,
                },
            };
            SessionKeys::derive(&secret, Side::Desktop, &ctx).map(|keys| (keys, Some(secret)))
        } else if let Some((device, challenge)) = &self.resume {
            let secret = lock(&self.shared.registry).links.get(device).cloned();
            let Some(secret) = secret else {
                return Err(self.reject_input(
                    DisconnectReason::Secure(SecureError::BadMac),
                    "device has no secure pairing; pair again",
                ));
            };
            let ctx = SessionContext {
                did: &did,
                device,
                phone_nonce: &phone_nonce,
                desktop_nonce: &desktop_nonce,
                binding: Binding::Resume { challenge },
            };
            SessionKeys::derive(&secret, Side::Desktop, &ctx).map(|keys| (keys, None))
        } else {
            return Err(self.reject_input(
                DisconnectReason::Secure(SecureError::Unsealed),
                "sealed record before the challenge",
            ));
        };
        match derived {
            Ok((keys, enrolled_secret)) => {
                self.keys = Some(keys);
                if enrolled_secret.is_some() {
                    self.pending_secret = enrolled_secret;
                }
                Ok(())
            }
            Err(e) => Err(self.reject_input(DisconnectReason::Secure(e), "session key")),
        }
    }

    pub(super) async fn on_frame(
        &mut self,
        frame: ClientFrame,
        tx: &mut Option<mpsc::Sender<Utf8Bytes>>,
    ) -> Flow {
        let hello_init = match &frame {
            ClientFrame::HelloInit { proto, pubkey, .. } => Some((*proto, pubkey.clone())),
            _ => None,
        };
        let resume_key = match &frame {
            ClientFrame::Resume { pubkey, .. } => Some(pubkey.clone()),
            _ => None,
        };
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
            DesktopStep::Reply(reply) => {
                match (&reply, hello_init, resume_key) {
                    (ServerFrame::PairChallenge { wid, nonce, .. }, Some((proto, device)), _) => {
                        self.enroll = Some(EnrollContext {
                            wid: wid.clone(),
                            proto,
                            device,
                            pair_nonce: nonce.clone(),
                        });
                    }
                    (ServerFrame::Challenge { nonce }, _, Some(device)) => {
                        self.resume = Some((device, nonce.clone()));
                    }
                    _ => {}
                }
                match self.seal_or_text(&reply) {
                    Some(m) => Flow::Send(vec![m]),
                    None => Flow::Continue,
                }
            }
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
        let secret = self.pending_secret.take();
        let report = {
            let mut registry = lock(&self.shared.registry);
            if enrolled {
                match &secret {
                    Some(secret) => {
                        registry.links.insert(device.clone(), secret.clone());
                    }
                    None => {
                        registry.links.remove(&device);
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
        self.resume = None;
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
                    record: PairedDeviceRecord {
                        device,
                        link_secret: secret,
                    },
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
    request: &Request,
    response: &mut Response,
    offered: &mut Offered,
    desktop_nonce: &[u8; CONNECTION_NONCE_LEN],
) -> Result<(), ErrorResponse> {
    if request.uri().path() != MOBILE_WS_PATH {
        let mut error = ErrorResponse::new(Some("not found".into()));
        *error.status_mut() = StatusCode::NOT_FOUND;
        return Err(error);
    }
    offered.path_ok = true;
    let headers = request.headers();
    let nonce = headers
        .get(NONCE_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_nonce_hex);
    offered.previous = headers
        .get(PREVIOUS_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_nonce_hex);
    if let Some(nonce) = nonce {
        if let Ok(value) = HeaderValue::from_str(&nonce_hex(desktop_nonce)) {
            offered.secure_nonce = Some(nonce);
            response.headers_mut().insert(NONCE_HEADER, value);
        }
    }
    Ok(())
}
