//! The desktop's limits before a phone is authenticated, each against the flood it stops: one
//! host holding every handshake slot, refusals that pile up, a large message before pairing, and
//! `accept` spinning once the process is out of file descriptors. Other hosts are other loopback
//! addresses (127.0.0.2, 127.0.0.3, …).

mod mobile_support;

use std::net::Ipv4Addr;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use mobile_support::*;
use tokio::io::AsyncReadExt as _;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use wavekat_platform_client::mobile::transport::{
    close_code, DesktopEvent, DesktopEvents, DisconnectReason, MobileDesktop, PhoneSecurity,
    DEFAULT_MAX_PRE_AUTH_BYTES,
};
use wavekat_platform_client::mobile::{ClientFrame, MAX_AUDIO_CHUNK_BYTES};

const FLOODER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// Waits until `desktop` holds `count` connections.
async fn until_connections(desktop: &MobileDesktop, count: usize) {
    tokio::time::timeout(WAIT, async {
        while desktop.connection_count() != count {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .unwrap_or_else(|_| {
        panic!(
            "{} connections, expected {count}",
            desktop.connection_count()
        )
    });
}

/// How many `Disconnected` events with `reason` arrive until the stream is quiet for `quiet`.
async fn count_disconnects(events: &mut DesktopEvents, reason: &DisconnectReason) -> usize {
    drain(events, Duration::from_millis(300))
        .await
        .iter()
        .filter(|e| matches!(e, DesktopEvent::Disconnected { reason: r, .. } if r == reason))
        .count()
}

/// The close code of an upgrade that the desktop refuses.
async fn refusal_code(
    ws: Result<impl futures_util::Stream<Item = WsItem> + Unpin, WsError>,
) -> Option<u16> {
    let mut ws = ws.ok()?;
    match tokio::time::timeout(WAIT, ws.next()).await {
        Ok(Some(Ok(Message::Close(Some(frame))))) => Some(u16::from(frame.code)),
        _ => None,
    }
}

type WsError = tokio_tungstenite::tungstenite::Error;
type WsItem = Result<Message, WsError>;

/// `FLOODER` opens `sockets` idle TCP connections (it never even sends the upgrade) to a desktop
/// of 48 connection slots and `per_address` handshakes per address; then a phone from 127.0.0.1
/// tries to pair. Returns whether it paired, and the sockets (kept open).
async fn flood_then_pair(per_address: usize, sockets: usize) -> bool {
    let (desktop, mut events) = desktop_with(|c| {
        c.max_connections = 48;
        c.max_handshakes_per_address = per_address;
    })
    .await;
    let mut flood = Vec::with_capacity(sockets);
    for _ in 0..sockets {
        flood.push(tcp_from(FLOODER, desktop.local_addr()).await);
    }
    until_connections(&desktop, per_address.min(48)).await;
    let qr = desktop.open_pairing_window(Default::default());
    let start = wavekat_platform_client::mobile::transport::PhoneStart::Pair {
        qr,
        device_key: ed25519_dalek::SigningKey::generate(&mut rand_core::OsRng),
    };
    let config = phone_config(desktop.url(), PhoneSecurity::PreferSecure);
    let paired = wavekat_platform_client::mobile::transport::connect(config, start).await;
    let Ok((phone, _phone_events, _)) = paired else {
        desktop.shutdown().await;
        return false;
    };
    phone.send_audio_start(16_000).await.expect("queued");
    phone.send_audio(&[0.5; 160]).await.expect("queued");
    let samples = expect_event(&mut events, |e| match e {
        DesktopEvent::AudioChunk { samples, .. } => Some(samples),
        _ => None,
    })
    .await;
    assert_eq!(samples, vec![0.5; 160]);
    phone.close();
    drop(flood);
    desktop.shutdown().await;
    true
}

#[tokio::test]
async fn one_host_holding_idle_sockets_past_its_address_cap_cannot_lock_out_a_genuine_phone() {
    // With the cap, the flooder holds 16 of 48 slots and the phone pairs and streams.
    assert!(flood_then_pair(16, 80).await, "the phone pairs");
    // Without it (the cap lifted), the same flood takes all 48 slots and the phone is turned
    // away: what this test catches.
    assert!(
        !flood_then_pair(usize::MAX, 80).await,
        "with no per-address cap the flood locks the phone out"
    );
}

#[tokio::test]
async fn a_host_past_its_address_cap_is_answered_busy_and_other_hosts_are_served() {
    let (desktop, mut events) = desktop_with(|c| c.max_handshakes_per_address = 3).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(ws_from(FLOODER, &desktop).await.expect("upgrade"));
    }
    let code = refusal_code(ws_from(FLOODER, &desktop).await).await;
    assert_eq!(code, Some(close_code::BUSY), "a retryable busy close");
    assert_eq!(
        count_disconnects(&mut events, &DisconnectReason::TooManyFromAddress).await,
        1
    );
    // Another host is not affected, and a paired connection no longer counts against its host.
    let other = ws_from(Ipv4Addr::new(127, 0, 0, 3), &desktop).await;
    assert!(other.is_ok());
    genuine_phone_streams(&desktop, &mut events).await;
    drop(held);
    desktop.shutdown().await;
}

#[tokio::test]
async fn the_connection_cap_answers_the_next_connection_busy() {
    // A cap that is not the number of idle connections plus one.
    const CAP: usize = 37;
    let (desktop, mut events) = desktop_with(|c| c.max_connections = CAP).await;
    let mut held = Vec::new();
    for host in 0..CAP {
        let source = Ipv4Addr::new(127, 0, 1, 1 + host as u8);
        held.push(ws_from(source, &desktop).await.expect("upgrade"));
    }
    until_connections(&desktop, CAP).await;
    let code = refusal_code(ws_from(Ipv4Addr::new(127, 0, 2, 1), &desktop).await).await;
    assert_eq!(code, Some(close_code::BUSY));
    assert_eq!(
        count_disconnects(&mut events, &DisconnectReason::TooManyConnections).await,
        1
    );
    drop(held);
    desktop.shutdown().await;
}

/// Whether the desktop has closed `socket` (end of stream or an error), within `within`.
async fn closed_within(socket: &mut TcpStream, within: Duration) -> bool {
    let mut byte = [0u8; 1];
    matches!(
        tokio::time::timeout(within, socket.read(&mut byte)).await,
        Ok(Ok(0) | Err(_))
    )
}

#[tokio::test]
async fn a_flood_of_refused_sockets_gets_a_bounded_number_of_refusals_and_the_rest_are_closed() {
    const REFUSALS: usize = 4;
    const FLOOD: usize = 40;
    let (desktop, mut events) = desktop_with(|c| {
        c.max_connections = 2;
        c.max_refusals = REFUSALS;
    })
    .await;
    let _admitted = [
        tcp_from(FLOODER, desktop.local_addr()).await,
        tcp_from(FLOODER, desktop.local_addr()).await,
    ];
    until_connections(&desktop, 2).await;
    // Refused sockets that never send their upgrade: each answer would wait for it.
    let mut flood = Vec::with_capacity(FLOOD);
    for _ in 0..FLOOD {
        flood.push(tcp_from(FLOODER, desktop.local_addr()).await);
    }
    let mut closed = 0;
    let mut waiting = Vec::new();
    for mut socket in flood {
        if closed_within(&mut socket, Duration::from_millis(200)).await {
            closed += 1;
        } else {
            waiting.push(socket);
        }
    }
    assert_eq!(
        waiting.len(),
        REFUSALS,
        "only {REFUSALS} refusals are answered at once; {closed} sockets were closed at once"
    );
    // Every refusal is still reported, as the connection cap.
    assert_eq!(
        count_disconnects(&mut events, &DisconnectReason::TooManyConnections).await,
        FLOOD - REFUSALS
    );
    // A waiting refusal is answered within its short deadline, however long the handshake one.
    for mut socket in waiting {
        assert!(closed_within(&mut socket, Duration::from_secs(4)).await);
    }
    desktop.shutdown().await;
}

#[tokio::test]
async fn a_handshake_message_over_the_pre_auth_cap_is_refused_before_pairing_but_not_after() {
    let (desktop, mut events) = desktop_with(|_| {}).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(desktop.url())
        .await
        .expect("upgrade");
    // Four times the cap: well under the 1 MiB message cap, so only the pre-auth cap refuses it.
    let hello = ClientFrame::HelloInit {
        proto: 2,
        agent: "A".repeat(4 * DEFAULT_MAX_PRE_AUTH_BYTES),
        pubkey: "z".into(),
        wid: "w".into(),
    };
    let _ = ws
        .send(Message::text(hello.encode().expect("encodes")))
        .await;
    let reason = expect_event(&mut events, |e| match e {
        DesktopEvent::Disconnected { reason, .. } => Some(reason),
        _ => None,
    })
    .await;
    assert_eq!(reason, DisconnectReason::FrameTooLarge);

    // After pairing the full cap applies: a maximal audio chunk (about 342 KiB of JSON) arrives.
    let mut paired = raw_plain_pair(&desktop).await;
    let start = ClientFrame::AudioStreamStart {
        sample_rate: 16_000,
    };
    paired
        .send(Message::text(start.encode().expect("encodes")))
        .await
        .expect("sent");
    let chunk = ClientFrame::audio_chunk_from_pcm(&vec![0u8; MAX_AUDIO_CHUNK_BYTES])
        .expect("a chunk at the limit");
    paired
        .send(Message::text(chunk.encode().expect("encodes")))
        .await
        .expect("sent");
    let samples = expect_event(&mut events, |e| match e {
        DesktopEvent::AudioChunk { samples, .. } => Some(samples),
        _ => None,
    })
    .await;
    assert_eq!(samples.len(), MAX_AUDIO_CHUNK_BYTES / 4);
    desktop.shutdown().await;
}

/// Set in the child process of
/// [`accept_out_of_file_descriptors_backs_off_instead_of_spinning`].
const FD_CHILD: &str = "WAVEKAT_TEST_FD_EXHAUSTED_CHILD";

/// This process's CPU time (user and system), from `stat`, an open `/proc/self/stat` (read again
/// from its start: procfs renders it afresh).
#[cfg(target_os = "linux")]
fn cpu_time(stat: &std::fs::File) -> Duration {
    use std::os::unix::fs::FileExt as _;
    let mut buf = [0u8; 1024];
    let len = stat.read_at(&mut buf, 0).expect("/proc/self/stat");
    let stat = std::str::from_utf8(&buf[..len]).expect("text");
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = &stat[stat.rfind(')').expect("a command name") + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name and state.
    let ticks: u64 =
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime");
    // USER_HZ is 100 on every Linux the tests run on.
    Duration::from_millis(ticks * 10)
}

/// Run as a child with a low descriptor limit: fills every descriptor, lets a phone's TCP
/// connection wait in the backlog (so `accept` fails with EMFILE as long as the process has
/// none), measures the CPU the endpoint burns meanwhile, then frees the descriptors and checks
/// that the waiting connection is served.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "current_thread")]
async fn accept_out_of_file_descriptors_backs_off_instead_of_spinning() {
    if std::env::var_os(FD_CHILD).is_none() {
        // The parent: run this same test in a child whose descriptor limit is low (`ulimit` of
        // the shell, so no new dependency), so filling them is quick.
        let exe = std::env::current_exe().expect("the test binary");
        let output = std::process::Command::new("sh")
            .arg("-c")
            .arg(r#"ulimit -n 128 && exec "$0" --exact "$1" --nocapture --test-threads=1"#)
            .arg(exe)
            .arg("accept_out_of_file_descriptors_backs_off_instead_of_spinning")
            .env(FD_CHILD, "1")
            .output()
            .expect("the child runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success() && stdout.contains("1 passed"),
            "child failed:\n{stdout}\n{stderr}"
        );
        return;
    }
    let (desktop, mut events) = desktop_with(|_| {}).await;
    // The phone's socket exists before the descriptors run out; it connects after, so the
    // endpoint's `accept` has no descriptor for it.
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    let stat = std::fs::File::open("/proc/self/stat").expect("/proc/self/stat");
    let mut filler = Vec::new();
    while let Ok(file) = std::fs::File::open("/dev/null") {
        filler.push(file);
    }
    assert!(!filler.is_empty());
    let waiting = socket
        .connect(desktop.local_addr())
        .await
        .expect("connects");
    let before = cpu_time(&stat);
    let wall = std::time::Instant::now();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let burnt = cpu_time(&stat).saturating_sub(before);
    let elapsed = wall.elapsed();
    // A spinning accept loop burns the whole interval (this is a single-threaded runtime).
    assert!(
        burnt < elapsed / 5,
        "the endpoint burnt {burnt:?} of CPU in {elapsed:?} while out of descriptors"
    );
    drop(filler);
    // Descriptors are back: the connection that waited is accepted and served.
    let (mut ws, _) = tokio_tungstenite::client_async(desktop.url(), waiting)
        .await
        .expect("the waiting connection is upgraded once descriptors are free");
    ws.close(None).await.expect("closes");
    let reason = expect_event(&mut events, |e| match e {
        DesktopEvent::Disconnected { reason, .. } => Some(reason),
        _ => None,
    })
    .await;
    assert_eq!(reason, DisconnectReason::PeerClosed);
    genuine_phone_streams(&desktop, &mut events).await;
    desktop.shutdown().await;
}

#[tokio::test]
async fn a_genuine_secure_pairing_and_resume_fit_in_a_quarter_of_the_pre_auth_budget() {
    // Headroom for the handshake to grow: a genuine phone sends under a quarter of the default
    // budget before it is paired, enrolling and resuming alike. (Measured: an enrollment sends
    // under 400 bytes after the upgrade, a resume 600 to 800.)
    let budget = DEFAULT_MAX_PRE_AUTH_BYTES / 4;
    let (desktop, mut events) = desktop_with(|c| c.max_pre_auth_bytes = budget).await;
    let (phone, _phone_events, identity) =
        pair(&desktop, desktop.url(), PhoneSecurity::RequireSecure).await;
    phone.close();
    let config = phone_config(desktop.url(), PhoneSecurity::RequireSecure);
    let start = wavekat_platform_client::mobile::transport::PhoneStart::Resume(identity);
    let (phone, _phone_events, _) =
        wavekat_platform_client::mobile::transport::connect(config, start)
            .await
            .expect("the phone resumes within the budget");
    let connection = expect_event(&mut events, |e| match e {
        DesktopEvent::Resumed { connection } => Some(connection),
        _ => None,
    })
    .await;
    assert!(connection.is_secure());
    phone.close();
    desktop.shutdown().await;
}
