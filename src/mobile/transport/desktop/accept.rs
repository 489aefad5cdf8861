//! The accept loop: the connection cap and the refusal of connections past it.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

use super::connection::run_connection;
use super::handshake::mark_refused;
use super::{ConnectionId, DesktopEvent, DisconnectReason, LiveConnection, Shared};
use crate::mobile::transport::{close_code, lock, raised, ws_config};

pub(super) async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.subscribe();
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            _ = raised(&mut shutdown) => break,
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let id = ConnectionId(shared.next_id.fetch_add(1, Ordering::Relaxed));
                let (close, close_rx) = watch::channel(None);
                let (ended_tx, ended) = watch::channel(false);
                let admitted = {
                    let mut registry = lock(&shared.registry);
                    if registry.live.len() >= shared.config.max_connections {
                        false
                    } else {
                        registry.live.insert(id, LiveConnection { device: None, close, ended });
                        true
                    }
                };
                if admitted {
                    tasks.spawn(run_connection(Arc::clone(&shared), stream, peer, id, close_rx, ended_tx));
                } else {
                    tasks.spawn(refuse_busy(Arc::clone(&shared), stream, peer, id));
                }
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    drop(listener);
    let live: Vec<_> = lock(&shared.registry)
        .live
        .values()
        .map(|l| l.close.clone())
        .collect();
    for close in live {
        close.send_replace(Some(DisconnectReason::Shutdown));
    }
    while tasks.join_next().await.is_some() {}
    lock(&shared.events).take();
}

async fn refuse_busy(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr, id: ConnectionId) {
    let upgrade = tokio::time::timeout(
        shared.config.handshake_timeout,
        tokio_tungstenite::accept_hdr_async_with_config(
            stream,
            mark_refused("busy"),
            Some(ws_config()),
        ),
    )
    .await;
    if let Ok(Ok(mut ws)) = upgrade {
        let _ = tokio::time::timeout(
            shared.config.write_timeout,
            ws.close(Some(close_frame(close_code::BUSY, "too many connections"))),
        )
        .await;
    }
    emit(
        &shared,
        DesktopEvent::Disconnected {
            connection: id,
            peer,
            device: None,
            reason: DisconnectReason::TooManyConnections,
        },
    )
    .await;
}

pub(super) fn close_frame(code: u16, reason: &'static str) -> CloseFrame {
    CloseFrame {
        code: CloseCode::from(code),
        reason: reason.into(),
    }
}

async fn emit(shared: &Shared, event: DesktopEvent) -> bool {
    let sender = lock(&shared.events).clone();
    match sender {
        Some(sender) => sender.send(event).await.is_ok(),
        None => false,
    }
}
