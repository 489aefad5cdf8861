//! The accept loop and the limits that apply before a phone is authenticated: the connection cap,
//! the per-address cap on connections in handshake, the bounded refusal of connections past
//! either, and the backoff when `accept` itself fails (out of file descriptors).

use std::collections::hash_map::Entry;
use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;

use super::connection::run_connection;
use super::handshake::mark_refused;
use super::{ConnectionId, DesktopEvent, DisconnectReason, LiveConnection, Shared};
use crate::mobile::transport::{close_code, lock, raised, ws_config};

/// Longest a refusal may take to read the upgrade and send its BUSY close (or
/// [`DesktopConfig::handshake_timeout`](super::DesktopConfig::handshake_timeout), if shorter):
/// a slow refused peer holds one of the [`max_refusals`](super::DesktopConfig::max_refusals)
/// slots no longer than this.
const REFUSAL_TIMEOUT: Duration = Duration::from_secs(2);

/// First pause of the accept loop after `accept` ran out of resources.
const ACCEPT_BACKOFF_FIRST: Duration = Duration::from_millis(5);

/// Longest pause of the accept loop while `accept` keeps running out of resources.
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

pub(super) async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.subscribe();
    let mut tasks = JoinSet::new();
    let mut backoff = None;
    loop {
        tokio::select! {
            biased;
            _ = raised(&mut shutdown) => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    backoff = None;
                    admit(&shared, &mut tasks, stream, peer);
                }
                Err(error) => match classify_accept_error(&error) {
                    // The socket stays readable while the process has no descriptor to give the
                    // next connection, so retrying at once would spin: pause, longer each time.
                    AcceptError::OutOfResources => {
                        let delay = next_accept_backoff(backoff);
                        if backoff.is_none() {
                            tracing::warn!(%error, "mobile endpoint: accept is out of resources; backing off");
                        }
                        backoff = Some(delay);
                        if tokio::time::timeout(delay, raised(&mut shutdown)).await.is_ok() {
                            break;
                        }
                    }
                    AcceptError::Transient => {
                        tracing::debug!(%error, "mobile endpoint: accept failed; continuing");
                    }
                },
            },
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

/// Starts serving an accepted connection, or refuses it (past a cap) with bounded work.
fn admit(shared: &Arc<Shared>, tasks: &mut JoinSet<()>, stream: TcpStream, peer: SocketAddr) {
    let _ = stream.set_nodelay(true);
    let id = ConnectionId(shared.next_id.fetch_add(1, Ordering::Relaxed));
    let group = address_group(peer.ip());
    let (close, close_rx) = watch::channel(None);
    let (ended_tx, ended) = watch::channel(false);
    let refused = {
        let mut registry = lock(&shared.registry);
        let handshaking = registry.handshaking.get(&group).copied().unwrap_or(0);
        if registry.live.len() >= shared.config.max_connections {
            Some(DisconnectReason::TooManyConnections)
        } else if handshaking >= shared.config.max_handshakes_per_address {
            Some(DisconnectReason::TooManyFromAddress)
        } else {
            let live = LiveConnection {
                device: None,
                close,
                ended,
            };
            registry.live.insert(id, live);
            let count = registry.handshaking.entry(group).or_insert(0);
            *count = count.saturating_add(1);
            None
        }
    };
    let Some(reason) = refused else {
        let slot = HandshakeSlot {
            shared: Arc::clone(shared),
            group,
        };
        let conn = run_connection(
            Arc::clone(shared),
            stream,
            peer,
            id,
            close_rx,
            ended_tx,
            slot,
        );
        tasks.spawn(conn);
        return;
    };
    match Arc::clone(&shared.refusals).try_acquire_owned() {
        Ok(permit) => {
            tasks.spawn(refuse_busy(
                Arc::clone(shared),
                stream,
                peer,
                id,
                reason,
                permit,
            ));
        }
        Err(_) => {
            // Every refusal slot is busy: close the socket unanswered, and report it only if the
            // event queue has room (the accept loop never waits on the daemon).
            drop(stream);
            if let Some(events) = lock(&shared.events).as_ref() {
                let _ = events.try_send(DesktopEvent::Disconnected {
                    connection: id,
                    peer,
                    device: None,
                    reason,
                });
            }
        }
    }
}

/// One connection's place in its address group's count of connections in handshake; given back
/// when the connection pairs (dropped by the connection task) or ends.
pub(super) struct HandshakeSlot {
    shared: Arc<Shared>,
    group: IpAddr,
}

impl Drop for HandshakeSlot {
    fn drop(&mut self) {
        let mut registry = lock(&self.shared.registry);
        if let Entry::Occupied(mut count) = registry.handshaking.entry(self.group) {
            let left = count.get().saturating_sub(1);
            if left == 0 {
                count.remove();
            } else {
                count.insert(left);
            }
        }
    }
}

/// The group an address's handshakes count against: an IPv4 address (also when mapped into
/// IPv6) or an IPv6 `/64` (one host picks addresses within its `/64` at will).
pub(super) fn address_group(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                IpAddr::V6(Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
            }
        },
    }
}

/// What a failed `accept` asks of the loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AcceptError {
    /// The process or system is out of descriptors or buffers (`EMFILE`, `ENFILE`, `ENOBUFS`,
    /// `ENOMEM`): it will fail again at once, so pause.
    OutOfResources,
    /// A failure of one connection (reset before it was accepted, say): accept the next.
    Transient,
}

#[cfg(unix)]
const RESOURCE_ERRORS: &[i32] = &[libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM];
// WSAEMFILE and WSAENOBUFS.
#[cfg(windows)]
const RESOURCE_ERRORS: &[i32] = &[10024, 10055];
#[cfg(not(any(unix, windows)))]
const RESOURCE_ERRORS: &[i32] = &[];

/// Classifies a failed `accept`.
pub(super) fn classify_accept_error(error: &io::Error) -> AcceptError {
    let out_of_resources = error.kind() == io::ErrorKind::OutOfMemory
        || error
            .raw_os_error()
            .is_some_and(|code| RESOURCE_ERRORS.contains(&code));
    if out_of_resources {
        AcceptError::OutOfResources
    } else {
        AcceptError::Transient
    }
}

/// The pause after `previous` (none: the first failure): doubling from [`ACCEPT_BACKOFF_FIRST`]
/// up to [`ACCEPT_BACKOFF_MAX`].
pub(super) fn next_accept_backoff(previous: Option<Duration>) -> Duration {
    match previous {
        None => ACCEPT_BACKOFF_FIRST,
        Some(delay) => delay.saturating_mul(2).min(ACCEPT_BACKOFF_MAX),
    }
}

/// Answers a refused connection's upgrade with a BUSY close, holding one of the
/// [`max_refusals`](super::DesktopConfig::max_refusals) permits until done.
async fn refuse_busy(
    shared: Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    id: ConnectionId,
    reason: DisconnectReason,
    permit: OwnedSemaphorePermit,
) {
    let deadline = shared.config.handshake_timeout.min(REFUSAL_TIMEOUT);
    let _ = tokio::time::timeout(deadline, async {
        let mut ws = tokio_tungstenite::accept_hdr_async_with_config(
            stream,
            mark_refused("busy"),
            Some(ws_config()),
        )
        .await?;
        ws.close(Some(close_frame(close_code::BUSY, "too many connections")))
            .await
    })
    .await;
    drop(permit);
    emit(
        &shared,
        DesktopEvent::Disconnected {
            connection: id,
            peer,
            device: None,
            reason,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_out_of_descriptors_or_buffers_backs_off_and_other_accept_errors_do_not() {
        #[cfg(unix)]
        for code in [libc::EMFILE, libc::ENFILE, libc::ENOBUFS, libc::ENOMEM] {
            let error = io::Error::from_raw_os_error(code);
            assert_eq!(
                classify_accept_error(&error),
                AcceptError::OutOfResources,
                "{error}"
            );
        }
        let oom = io::Error::from(io::ErrorKind::OutOfMemory);
        assert_eq!(classify_accept_error(&oom), AcceptError::OutOfResources);
        for kind in [
            io::ErrorKind::ConnectionAborted,
            io::ErrorKind::ConnectionReset,
            io::ErrorKind::Interrupted,
            io::ErrorKind::PermissionDenied,
        ] {
            let error = io::Error::from(kind);
            assert_eq!(
                classify_accept_error(&error),
                AcceptError::Transient,
                "{kind:?}"
            );
        }
        #[cfg(unix)]
        {
            let error = io::Error::from_raw_os_error(libc::ECONNABORTED);
            assert_eq!(classify_accept_error(&error), AcceptError::Transient);
        }
    }

    #[test]
    fn the_accept_backoff_doubles_from_its_first_delay_up_to_its_cap() {
        let mut delay = None;
        let mut seen = Vec::new();
        for _ in 0..16 {
            let next = next_accept_backoff(delay);
            seen.push(next);
            delay = Some(next);
        }
        assert_eq!(seen.first(), Some(&ACCEPT_BACKOFF_FIRST));
        assert_eq!(seen.get(1), Some(&(ACCEPT_BACKOFF_FIRST * 2)));
        assert!(seen.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(seen.last(), Some(&ACCEPT_BACKOFF_MAX));
    }

    #[test]
    fn an_ipv6_host_counts_as_its_slash_64_and_a_mapped_ipv4_as_its_address() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().expect("an address");
        let b: IpAddr = "2001:db8:1:2:ffff:1:2:3".parse().expect("an address");
        let other: IpAddr = "2001:db8:1:3::1".parse().expect("an address");
        assert_eq!(address_group(a), address_group(b));
        assert_ne!(address_group(a), address_group(other));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().expect("an address");
        assert_eq!(address_group(mapped), IpAddr::V4([192, 0, 2, 7].into()));
        let v4 = IpAddr::V4([127, 0, 0, 2].into());
        assert_eq!(address_group(v4), v4);
    }
}
