//! The handshake: opens the WebSocket (offering secure mode) and pairs or resumes, in plain or
//! secure mode.

use ed25519_dalek::SigningKey;
use futures_util::{SinkExt as _, StreamExt as _};
use rand_core::{OsRng, RngCore as _};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Message;

use super::{DeviceIdentity, PhoneConfig, PhoneSecurity, Ws};
use crate::mobile::pairing::TranscriptFields;
use crate::mobile::transport::qr::PairingQr;
use crate::mobile::transport::read_ahead::ReadAhead;
use crate::mobile::transport::secure::{
    parse_resume_report, Binding, LinkSecret, RecordKind, SecureError, SessionContext, SessionKeys,
    Side, CONNECTION_NONCE_LEN,
};
use crate::mobile::transport::{
    nonce_hex, parse_nonce_hex, ws_config, TransportError, NONCE_HEADER, PREVIOUS_HEADER,
};
use crate::mobile::{
    decode_server_frame, ClientFrame, PhoneRejection, PhoneSession, PhoneStep, ServerFrame,
    PAIR_PROTO,
};

/// One established link.
pub(super) struct Link {
    pub(super) ws: Ws,
    pub(super) keys: Option<SessionKeys>,
    pub(super) phone_nonce: Option<[u8; CONNECTION_NONCE_LEN]>,
    /// The resume report received with `paired`, if any.
    pub(super) report: Option<([u8; CONNECTION_NONCE_LEN], u64)>,
    /// Application frames that arrived with the handshake's last flight.
    pub(super) early: Vec<ServerFrame>,
}
fn fresh_nonce() -> [u8; CONNECTION_NONCE_LEN] {
    let mut nonce = [0u8; CONNECTION_NONCE_LEN];
    OsRng.fill_bytes(&mut nonce);
    nonce
}

/// Opens the WebSocket, offering secure mode unless the policy says plain only. Returns the
/// socket and, when the desktop accepted secure mode, both nonces.
async fn open(
    config: &PhoneConfig,
    previous: Option<[u8; CONNECTION_NONCE_LEN]>,
) -> Result<
    (
        Ws,
        Option<([u8; CONNECTION_NONCE_LEN], [u8; CONNECTION_NONCE_LEN])>,
    ),
    TransportError,
> {
    let mut request = config
        .url
        .as_str()
        .into_client_request()
        .map_err(|e| TransportError::WebSocket(e.to_string()))?;
    let phone_nonce = fresh_nonce();
    if config.security != PhoneSecurity::PlainOnly {
        let headers = request.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&nonce_hex(&phone_nonce)) {
            headers.insert(NONCE_HEADER, v);
        }
        if let Some(previous) = previous {
            if let Ok(v) = HeaderValue::from_str(&nonce_hex(&previous)) {
                headers.insert(PREVIOUS_HEADER, v);
            }
        }
    }
    let uri = request.uri();
    if uri.scheme_str() != Some("ws") {
        return Err(TransportError::WebSocket(format!(
            "{} is not a ws:// URL (the transport has no TLS; secure mode seals frames itself)",
            uri
        )));
    }
    let host = uri.host().unwrap_or_default();
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(80);
    let stream = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| TransportError::WebSocket(e.to_string()))?;
    let _ = stream.set_nodelay(true);
    let (ws, response) = tokio_tungstenite::client_async_with_config(
        request,
        ReadAhead::new(stream),
        Some(ws_config()),
    )
    .await
    .map_err(|e| TransportError::WebSocket(e.to_string()))?;
    let desktop_nonce = response
        .headers()
        .get(NONCE_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_nonce_hex);
    let nonces = match (config.security, desktop_nonce) {
        (PhoneSecurity::PlainOnly, _) => None,
        (_, Some(desktop_nonce)) => Some((phone_nonce, desktop_nonce)),
        (PhoneSecurity::RequireSecure, None) => return Err(TransportError::SecureModeUnavailable),
        (_, None) => None,
    };
    Ok((ws, nonces))
}

async fn send_text(ws: &mut Ws, frame: &ClientFrame) -> Result<(), TransportError> {
    let text = frame.encode().map_err(TransportError::Frame)?;
    ws.send(Message::text(text))
        .await
        .map_err(|e| TransportError::WebSocket(e.to_string()))
}

/// One received handshake message: a plain frame or an opened record.
enum Received {
    Frame(ServerFrame),
    Record(RecordKind, Vec<u8>),
}

async fn receive(ws: &mut Ws, keys: Option<&mut SessionKeys>) -> Result<Received, TransportError> {
    loop {
        let message = match ws.next().await {
            None => return Err(TransportError::Closed { code: None }),
            Some(Err(e)) => return Err(TransportError::WebSocket(e.to_string())),
            Some(Ok(m)) => m,
        };
        match message {
            Message::Text(text) => {
                // A rejection may arrive unsealed even on a secure link (before keys exist).
                let frame = decode_server_frame(text.as_bytes()).map_err(TransportError::Frame)?;
                return Ok(Received::Frame(frame));
            }
            Message::Binary(bytes) => {
                let Some(keys) = keys else {
                    return Err(TransportError::Secure(SecureError::Unsealed));
                };
                let opened = keys.open(&bytes).map_err(TransportError::Secure)?;
                return Ok(Received::Record(opened.kind, opened.payload));
            }
            Message::Close(frame) => {
                return Err(TransportError::Closed {
                    code: frame.map(|f| u16::from(f.code)),
                })
            }
            _ => {}
        }
    }
}

pub(super) fn rejection(error: PhoneRejection) -> TransportError {
    match &error {
        PhoneRejection::RejectedByDesktop { reason } if reason == "device is not paired" => {
            TransportError::Unpaired
        }
        PhoneRejection::RejectedByDesktop { reason } if reason == "secure mode is required" => {
            TransportError::SecureModeRequired
        }
        _ => TransportError::Rejected(error),
    }
}

pub(super) async fn enroll(
    config: &PhoneConfig,
    qr: &PairingQr,
    device_key: &SigningKey,
) -> Result<(Link, Option<LinkSecret>), TransportError> {
    let (mut ws, nonces) = open(config, None).await?;
    if nonces.is_none() && qr.secure && config.security != PhoneSecurity::PlainOnly {
        return Err(TransportError::SecureModeUnavailable);
    }
    let (mut session, hello) =
        PhoneSession::enroll(qr.offer.clone(), config.agent.clone(), device_key.clone());
    let pubkey = session.pubkey().to_owned();
    send_text(&mut ws, &hello).await?;
    let challenge = match receive(&mut ws, None).await? {
        Received::Frame(frame) => frame,
        Received::Record(..) => return Err(TransportError::Secure(SecureError::Unsealed)),
    };
    let pair_nonce = match &challenge {
        ServerFrame::PairChallenge { nonce, .. } => nonce.clone(),
        _ => Vec::new(),
    };
    let proof = match session.handle(challenge).map_err(rejection)? {
        PhoneStep::Send(proof) => proof,
        _ => return Err(TransportError::Rejected(PhoneRejection::SessionClosed)),
    };
    let (mut keys, secret) = match nonces {
        Some((phone_nonce, desktop_nonce)) => {
            let fields = TranscriptFields {
                proto: PAIR_PROTO,
                agent: &config.agent,
                wid: &qr.offer.wid,
                did: &qr.offer.did,
                phone_pubkey: &pubkey,
                nonce: &pair_nonce,
            };
            let secret = LinkSecret::from_enrollment(&qr.offer.token, &fields)
                .map_err(|e| TransportError::Rejected(PhoneRejection::Transcript(e)))?;
            let ctx = SessionContext {
                did: &qr.offer.did,
                device: &pubkey,
                phone_nonce: &phone_nonce,
                desktop_nonce: &desktop_nonce,
                binding: Binding::Enroll {
                    pair_nonce: &pair_nonce,
                },
            };
            (
                Some(
                    SessionKeys::derive(&secret, Side::Phone, &ctx)
                        .map_err(TransportError::Secure)?,
                ),
                Some(secret),
            )
        }
        None => (None, None),
    };
    send_frame(&mut ws, keys.as_mut(), &proof).await?;
    finish_handshake(ws, session, keys, nonces.map(|(p, _)| p), secret).await
}

async fn send_frame(
    ws: &mut Ws,
    keys: Option<&mut SessionKeys>,
    frame: &ClientFrame,
) -> Result<(), TransportError> {
    match keys {
        Some(keys) => {
            let text = frame.encode().map_err(TransportError::Frame)?;
            let record = keys
                .seal(RecordKind::Frame, text.as_bytes())
                .map_err(TransportError::Secure)?;
            ws.send(Message::binary(record))
                .await
                .map_err(|e| TransportError::WebSocket(e.to_string()))
        }
        None => send_text(ws, frame).await,
    }
}

/// Waits for `paired` (sealed in secure mode) and, on a secure resume, the resume report.
async fn finish_handshake(
    mut ws: Ws,
    mut session: PhoneSession,
    mut keys: Option<SessionKeys>,
    phone_nonce: Option<[u8; CONNECTION_NONCE_LEN]>,
    secret: Option<LinkSecret>,
) -> Result<(Link, Option<LinkSecret>), TransportError> {
    let paired = match receive(&mut ws, keys.as_mut()).await? {
        Received::Frame(frame) => {
            if keys.is_some() && !matches!(frame, ServerFrame::Rejected { .. }) {
                return Err(TransportError::Secure(SecureError::Unsealed));
            }
            frame
        }
        Received::Record(RecordKind::Frame, payload) => {
            decode_server_frame(&payload).map_err(TransportError::Frame)?
        }
        Received::Record(..) => {
            return Err(TransportError::Secure(SecureError::UnknownKind { kind: 1 }))
        }
    };
    match session.handle(paired).map_err(rejection)? {
        PhoneStep::Paired { .. } => {}
        _ => return Err(TransportError::Rejected(PhoneRejection::SessionClosed)),
    }
    Ok((
        Link {
            ws,
            keys,
            phone_nonce,
            report: None,
            early: Vec::new(),
        },
        secret,
    ))
}

pub(super) async fn resume(
    config: &PhoneConfig,
    identity: &DeviceIdentity,
    previous: Option<[u8; CONNECTION_NONCE_LEN]>,
) -> Result<Link, TransportError> {
    let (mut ws, nonces) = open(config, previous).await?;
    if nonces.is_none() && identity.link_secret.is_some() {
        return Err(TransportError::SecureModeUnavailable);
    }
    let (mut session, hello) = PhoneSession::resume(
        config.agent.clone(),
        identity.device_key.clone(),
        identity.key_version,
    );
    let pubkey = session.pubkey().to_owned();
    send_text(&mut ws, &hello).await?;
    let challenge = match receive(&mut ws, None).await? {
        Received::Frame(frame) => frame,
        Received::Record(..) => return Err(TransportError::Secure(SecureError::Unsealed)),
    };
    let challenge_text = match &challenge {
        ServerFrame::Challenge { nonce } => nonce.clone(),
        _ => String::new(),
    };
    let proof = match session.handle(challenge).map_err(rejection)? {
        PhoneStep::Send(proof) => proof,
        _ => return Err(TransportError::Rejected(PhoneRejection::SessionClosed)),
    };
    let mut keys = match (nonces, &identity.link_secret) {
        (Some((phone_nonce, desktop_nonce)), Some(secret)) => {
            let ctx = SessionContext {
                did: &identity.did,
                device: &pubkey,
                phone_nonce: &phone_nonce,
                desktop_nonce: &desktop_nonce,
                binding: Binding::Resume {
                    challenge: &challenge_text,
                },
            };
            Some(SessionKeys::derive(secret, Side::Phone, &ctx).map_err(TransportError::Secure)?)
        }
        // The desktop offers secure mode but this device paired in plain mode: stay plain
        // (unless the policy requires secure).
        (Some(_), None) if config.security == PhoneSecurity::RequireSecure => {
            return Err(TransportError::SecureModeUnavailable)
        }
        _ => None,
    };
    let secure = keys.is_some();
    send_frame(&mut ws, keys.as_mut(), &proof).await?;
    let (mut link, _) = finish_handshake(
        ws,
        session,
        keys.take(),
        nonces.filter(|_| secure).map(|(p, _)| p),
        None,
    )
    .await?;
    if secure && previous.is_some() {
        match receive(&mut link.ws, link.keys.as_mut()).await? {
            Received::Record(RecordKind::ResumeReport, payload) => {
                link.report = parse_resume_report(&payload);
            }
            Received::Record(RecordKind::Frame, payload) => {
                link.early
                    .push(decode_server_frame(&payload).map_err(TransportError::Frame)?);
            }
            Received::Record(RecordKind::Ack, _) => {}
            Received::Frame(_) => return Err(TransportError::Secure(SecureError::Unsealed)),
        }
    }
    Ok(link)
}
