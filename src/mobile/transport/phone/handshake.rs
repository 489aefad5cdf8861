//! The handshake: opens the WebSocket (Noise message 1 in the request, message 2 in the
//! response) and pairs or resumes, in plain or secure mode.

use ed25519_dalek::SigningKey;
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::http::{HeaderMap, HeaderValue};
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::{DeviceIdentity, PhoneConfig, PhoneSecurity, Ws};
use crate::mobile::transport::noise::{
    decode_message, encode_message, enrollment_psk, Established, Mode, NoiseSecretKey,
    PhoneHandshake, PhoneNoiseKeys,
};
use crate::mobile::transport::qr::PairingQr;
use crate::mobile::transport::read_ahead::ReadAhead;
use crate::mobile::transport::secure::{
    parse_resume_report, RecordKind, SecureError, SessionKeys, CONNECTION_NONCE_LEN,
};
use crate::mobile::transport::{ws_config, TransportError, NOISE_HEADER, REFUSED_HEADER};
use crate::mobile::{
    decode_server_frame, ClientFrame, PhoneRejection, PhoneSession, PhoneStep, ServerFrame,
};

/// One established link.
pub(super) struct Link {
    pub(super) ws: Ws,
    pub(super) keys: Option<SessionKeys>,
    /// The Noise handshake hash in secure mode: the connection's id in the resume report.
    pub(super) session_id: Option<[u8; CONNECTION_NONCE_LEN]>,
    /// The resume report received with `paired`, if any.
    pub(super) report: Option<([u8; CONNECTION_NONCE_LEN], u64)>,
    /// Application frames that arrived with the handshake's last flight.
    pub(super) early: Vec<ServerFrame>,
}

/// The Noise handshake a connection offers.
struct Offer<'a> {
    mode: Mode,
    did: &'a str,
    keys: &'a PhoneNoiseKeys,
    psk: Option<&'a [u8; 32]>,
    payload: &'a [u8],
}

/// The [`REFUSED_HEADER`] of a response, if any.
fn refused(headers: &HeaderMap) -> Option<TransportError> {
    headers.get(REFUSED_HEADER).map(|v| {
        TransportError::Refused(
            v.to_str()
                .unwrap_or("unreadable")
                .chars()
                .take(32)
                .collect(),
        )
    })
}

/// Opens the WebSocket, with Noise message 1 in the request when `offer` is given. Returns the
/// socket and, when the desktop answered message 2, the established keys. A refusal is read
/// before secure mode is looked for, so "busy" is never "plain".
async fn open(
    config: &PhoneConfig,
    offer: Option<Offer<'_>>,
) -> Result<(Ws, Option<Established>), TransportError> {
    let mut request = config
        .url
        .as_str()
        .into_client_request()
        .map_err(|e| TransportError::WebSocket(e.to_string()))?;
    let mut pending = None;
    if let Some(offer) = offer {
        let (handshake, msg1) = PhoneHandshake::start(
            offer.mode,
            &config.agent,
            offer.did,
            offer.keys,
            offer.psk,
            offer.payload,
        )
        .map_err(TransportError::Secure)?;
        let value = format!("{}.{}", offer.mode.word(), encode_message(&msg1));
        let value =
            HeaderValue::from_str(&value).map_err(|e| TransportError::WebSocket(e.to_string()))?;
        request.headers_mut().insert(NOISE_HEADER, value);
        pending = Some(handshake);
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
    let (ws, response) = match tokio_tungstenite::client_async_with_config(
        request,
        ReadAhead::new(stream),
        Some(ws_config()),
    )
    .await
    {
        Ok(done) => done,
        Err(WsError::Http(response)) => {
            return Err(refused(response.headers()).unwrap_or_else(|| {
                TransportError::WebSocket(format!("upgrade refused: {}", response.status()))
            }))
        }
        Err(e) => return Err(TransportError::WebSocket(e.to_string())),
    };
    if let Some(refusal) = refused(response.headers()) {
        return Err(refusal);
    }
    let Some(handshake) = pending else {
        return Ok((ws, None));
    };
    let msg2 = response
        .headers()
        .get(NOISE_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(decode_message)
        .ok_or(TransportError::SecureModeUnavailable)?;
    let established = handshake.finish(&msg2).map_err(TransportError::Secure)?;
    Ok((ws, Some(established)))
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
            Message::Text(_) if keys.is_some() => {
                // Anyone on the path can send text; on a secure link it is only a drop.
                return Err(TransportError::Secure(SecureError::Unsealed));
            }
            Message::Text(text) => {
                let frame = decode_server_frame(text.as_bytes()).map_err(TransportError::Frame)?;
                return Ok(Received::Frame(frame));
            }
            Message::Binary(bytes) => {
                let Some(keys) = keys else {
                    return Err(TransportError::Secure(SecureError::Unsealed));
                };
                let opened = keys.open(&bytes).map_err(TransportError::Secure)?;
                return Ok(Received::Record(opened.kind, opened.into_payload()));
            }
            Message::Close(frame) => {
                let code = frame.map(|f| u16::from(f.code));
                return Err(match keys {
                    Some(_) => TransportError::UnauthenticatedClose { code },
                    None => TransportError::Closed { code },
                });
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
) -> Result<(Link, Option<PhoneNoiseKeys>), TransportError> {
    let noise = match (qr.noise_key, config.security) {
        (_, PhoneSecurity::PlainOnly) => None,
        (Some(desktop), _) => Some(PhoneNoiseKeys {
            phone: NoiseSecretKey::generate(),
            desktop,
        }),
        (None, PhoneSecurity::RequireSecure) => return Err(TransportError::SecureModeUnavailable),
        (None, _) => None,
    };
    let psk = enrollment_psk(&qr.offer.token);
    let offer = noise.as_ref().map(|keys| Offer {
        mode: Mode::Enroll,
        did: &qr.offer.did,
        keys,
        psk: Some(&psk),
        payload: qr.offer.wid.as_bytes(),
    });
    let (mut ws, established) = open(config, offer).await?;
    let (mut keys, session_id) = split(established);
    let (mut session, hello) =
        PhoneSession::enroll(qr.offer.clone(), config.agent.clone(), device_key.clone());
    prove(&mut ws, keys.as_mut(), &mut session, &hello).await?;
    let link = finish_handshake(ws, session, keys, session_id).await?;
    Ok((link, noise))
}

fn split(
    established: Option<Established>,
) -> (Option<SessionKeys>, Option<[u8; CONNECTION_NONCE_LEN]>) {
    match established {
        Some(e) => (Some(e.keys), Some(e.session_id)),
        None => (None, None),
    }
}

/// The next handshake frame: plain text on a plain link, a sealed frame record on a secure one.
/// The proto-2 exchange an enrollment and a resume share: `hello`, the desktop's challenge, and
/// the session's proof for it.
async fn prove(
    ws: &mut Ws,
    mut keys: Option<&mut SessionKeys>,
    session: &mut PhoneSession,
    hello: &ClientFrame,
) -> Result<(), TransportError> {
    send_frame(ws, keys.as_deref_mut(), hello).await?;
    let challenge = receive_frame(ws, keys.as_deref_mut()).await?;
    let proof = match session.handle(challenge).map_err(rejection)? {
        PhoneStep::Send(proof) => proof,
        _ => return Err(TransportError::Rejected(PhoneRejection::SessionClosed)),
    };
    send_frame(ws, keys, &proof).await
}

async fn receive_frame(
    ws: &mut Ws,
    keys: Option<&mut SessionKeys>,
) -> Result<ServerFrame, TransportError> {
    match receive(ws, keys).await? {
        Received::Frame(frame) => Ok(frame),
        Received::Record(RecordKind::Frame, payload) => {
            decode_server_frame(&payload).map_err(TransportError::Frame)
        }
        Received::Record(..) => Err(TransportError::Secure(SecureError::UnknownKind { kind: 1 })),
    }
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

/// Waits for `paired` (sealed in secure mode).
async fn finish_handshake(
    mut ws: Ws,
    mut session: PhoneSession,
    mut keys: Option<SessionKeys>,
    session_id: Option<[u8; CONNECTION_NONCE_LEN]>,
) -> Result<Link, TransportError> {
    let paired = receive_frame(&mut ws, keys.as_mut()).await?;
    match session.handle(paired).map_err(rejection)? {
        PhoneStep::Paired { .. } => {}
        _ => return Err(TransportError::Rejected(PhoneRejection::SessionClosed)),
    }
    Ok(Link {
        ws,
        keys,
        session_id,
        report: None,
        early: Vec::new(),
    })
}

pub(super) async fn resume(
    config: &PhoneConfig,
    identity: &DeviceIdentity,
    previous: Option<[u8; CONNECTION_NONCE_LEN]>,
) -> Result<Link, TransportError> {
    if identity.noise.is_none() && config.security == PhoneSecurity::RequireSecure {
        return Err(TransportError::SecureModeUnavailable);
    }
    // A device paired securely always resumes securely, whatever the policy says.
    let payload = previous.map(|p| p.to_vec()).unwrap_or_default();
    let offer = identity.noise.as_ref().map(|keys| Offer {
        mode: Mode::Resume,
        did: &identity.did,
        keys,
        psk: None,
        payload: &payload,
    });
    let (mut ws, established) = open(config, offer).await?;
    let (mut keys, session_id) = split(established);
    let (mut session, hello) = PhoneSession::resume(
        config.agent.clone(),
        identity.device_key.clone(),
        identity.key_version,
    );
    prove(&mut ws, keys.as_mut(), &mut session, &hello).await?;
    let mut link = finish_handshake(ws, session, keys, session_id).await?;
    if link.keys.is_some() && previous.is_some() {
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
