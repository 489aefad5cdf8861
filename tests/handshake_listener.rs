//! The loopback listener against real TCP on 127.0.0.1: the genuine callback, hostile and stray
//! requests (§6.1's table), deadlines, caps, timeout, cancellation and closing.
//!
//! The genuine callback is answered `303` to `/done` (the token-free page); the helpers follow
//! that redirect as a browser would.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;
use wavekat_platform_client::{
    signin::{
        loopback_handshake, HandshakeHandle, HandshakeOptions, HandshakeOutcome, PendingHandshake,
    },
    Error,
};

type Waiting = JoinHandle<Result<HandshakeOutcome, Error>>;

struct Listening {
    addr: SocketAddr,
    state: String,
    handle: HandshakeHandle,
    wait: Waiting,
}

async fn pending(options: HandshakeOptions) -> PendingHandshake {
    loopback_handshake("https://platform.example", options.without_source())
        .await
        .expect("bind the sign-in listener")
}

fn addr_of(pending: &PendingHandshake) -> SocketAddr {
    pending
        .callback_url()
        .strip_prefix("http://")
        .and_then(|rest| rest.strip_suffix("/callback"))
        .and_then(|authority| authority.parse().ok())
        .expect("callback URL is http://<addr>/callback")
}

/// Binds and starts `wait` in its own task.
async fn listen(options: HandshakeOptions) -> Listening {
    let pending = pending(options).await;
    Listening {
        addr: addr_of(&pending),
        state: pending.state().to_owned(),
        handle: pending.handle(),
        wait: tokio::spawn(pending.wait()),
    }
}

/// Sends `request` on a new connection and returns everything read until the server closes
/// (empty when the connection was closed or reset without an answer).
async fn exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    if stream.write_all(request).await.is_err() {
        return String::new();
    }
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer).await;
    String::from_utf8_lossy(&answer).into_owned()
}

async fn get(addr: SocketAddr, target: &str) -> String {
    let request = format!("GET {target} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/html\r\n\r\n");
    exchange(addr, request.as_bytes()).await
}

/// The platform's genuine redirect for `state`.
async fn genuine_callback(addr: SocketAddr, state: &str) -> String {
    get(
        addr,
        &format!("/callback?token=wk_genuine&state={state}&login=octocat"),
    )
    .await
}

/// Sends the genuine callback and checks that the sign-in completes with its token and login,
/// and that the browser lands on the success page at a URL without the token.
async fn assert_genuine_callback_signs_in(listening: Listening) {
    let answer = genuine_callback(listening.addr, &listening.state).await;
    assert_redirected_to_done(&answer);
    let outcome = listening.wait.await.expect("wait task").expect("signed in");
    assert_eq!(outcome.token.expose(), "wk_genuine");
    assert_eq!(outcome.login.as_deref(), Some("octocat"));
    let done = get(listening.addr, "/done").await;
    assert_eq!(status_line(&done), "HTTP/1.1 200 OK", "{done}");
    assert!(body_of(&done).contains("You're signed in."), "{done}");
}

/// The answer to the genuine callback: a `303` to `/done`, with nothing of the request in it.
fn assert_redirected_to_done(answer: &str) {
    assert_eq!(status_line(answer), "HTTP/1.1 303 See Other", "{answer}");
    assert_eq!(header(answer, "Location"), Some("/done"), "{answer}");
    assert_eq!(body_of(answer), "", "{answer}");
    assert!(!answer.contains("wk_genuine"), "{answer}");
}

fn status_line(answer: &str) -> &str {
    answer.split("\r\n").next().unwrap_or("")
}

fn body_of(answer: &str) -> &str {
    answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body)
        .unwrap_or("")
}

fn header<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    let head = answer.split_once("\r\n\r\n").map(|(head, _)| head)?;
    head.split("\r\n")
        .skip(1)
        .filter_map(|line| line.split_once(": "))
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value)
}

async fn connection_refused(addr: SocketAddr) -> bool {
    matches!(
        TcpStream::connect(addr).await,
        Err(error) if error.kind() == std::io::ErrorKind::ConnectionRefused
    )
}

#[tokio::test]
async fn genuine_callback_signs_in_with_token_and_login() {
    assert_genuine_callback_signs_in(listen(HandshakeOptions::default()).await).await;
}

#[tokio::test]
async fn success_page_is_the_sign_in_complete_page() {
    let listening = listen(HandshakeOptions::default()).await;
    let redirect = genuine_callback(listening.addr, &listening.state).await;
    assert_redirected_to_done(&redirect);
    let answer = get(listening.addr, "/done").await;
    let body = body_of(&answer);
    assert!(
        body.contains("<title>WaveKat sign-in complete</title>"),
        "{body}"
    );
    assert!(body.contains("You're signed in."), "{body}");
    assert!(
        !answer.contains("wk_genuine"),
        "the page reflects the token"
    );
}

#[tokio::test]
async fn answers_carry_the_hardening_headers_and_an_exact_content_length() {
    let listening = listen(HandshakeOptions::default()).await;
    let redirect = genuine_callback(listening.addr, &listening.state).await;
    let done = get(listening.addr, "/done").await;
    assert_eq!(status_line(&redirect), "HTTP/1.1 303 See Other");
    assert_eq!(status_line(&done), "HTTP/1.1 200 OK");
    for answer in [&redirect, &done] {
        assert_eq!(
            header(answer, "Content-Type"),
            Some("text/html; charset=utf-8")
        );
        assert_eq!(header(answer, "Connection"), Some("close"));
        assert_eq!(header(answer, "Cache-Control"), Some("no-store"));
        assert_eq!(header(answer, "Referrer-Policy"), Some("no-referrer"));
        let length: usize = header(answer, "Content-Length")
            .and_then(|value| value.parse().ok())
            .expect("Content-Length");
        assert_eq!(length, body_of(answer).len());
    }
}

#[tokio::test]
async fn callback_without_login_signs_in_with_no_login() {
    let listening = listen(HandshakeOptions::default()).await;
    let target = format!("/callback?token=wk_only&state={}", listening.state);
    get(listening.addr, &target).await;
    let outcome = listening.wait.await.expect("wait task").expect("signed in");
    assert_eq!(outcome.token.expose(), "wk_only");
    assert_eq!(outcome.login, None);
}

#[tokio::test]
async fn outcome_debug_does_not_show_the_token() {
    let listening = listen(HandshakeOptions::default()).await;
    let target = format!("/callback?token=wk_s3cr3tvalue&state={}", listening.state);
    get(listening.addr, &target).await;
    let outcome = listening.wait.await.expect("wait task").expect("signed in");
    assert!(!format!("{outcome:?}").contains("s3cr3t"));
}

#[tokio::test]
async fn callback_sent_before_wait_starts_is_served_once_it_does() {
    let pending = pending(HandshakeOptions::default()).await;
    let mut browser = TcpStream::connect(addr_of(&pending))
        .await
        .expect("connect");
    let request = format!(
        "GET /callback?token=wk_early&state={} HTTP/1.1\r\nHost: {}\r\n\r\n",
        pending.state(),
        addr_of(&pending)
    );
    browser.write_all(request.as_bytes()).await.expect("send");
    let waiting = tokio::spawn(pending.wait());
    let mut answer = Vec::new();
    browser.read_to_end(&mut answer).await.expect("answer");
    assert!(answer.starts_with(b"HTTP/1.1 303 See Other\r\n"));
    let outcome = waiting.await.expect("wait task").expect("signed in");
    assert_eq!(outcome.token.expose(), "wk_early");
}

#[tokio::test]
async fn favicon_request_gets_404_and_the_wait_goes_on() {
    let listening = listen(HandshakeOptions::default()).await;
    let answer = get(listening.addr, "/favicon.ico").await;
    assert_eq!(status_line(&answer), "HTTP/1.1 404 not found");
    assert_eq!(body_of(&answer), "not found");
    assert_genuine_callback_signs_in(listening).await;
}

#[tokio::test]
async fn path_that_only_starts_with_callback_gets_404_and_the_wait_goes_on() {
    let listening = listen(HandshakeOptions::default()).await;
    let target = format!("/callbackx?token=wk_stray&state={}", listening.state);
    let answer = get(listening.addr, &target).await;
    assert_eq!(status_line(&answer), "HTTP/1.1 404 not found");
    assert_genuine_callback_signs_in(listening).await;
}

#[tokio::test]
async fn post_gets_405_and_does_not_sign_in() {
    let listening = listen(HandshakeOptions::default()).await;
    let request = format!(
        "POST /callback?token=wk_posted&state={} HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello",
        listening.state
    );
    let answer = exchange(listening.addr, request.as_bytes()).await;
    assert_eq!(status_line(&answer), "HTTP/1.1 405 method not allowed");
    assert_eq!(header(&answer, "Allow"), Some("GET"));
    assert_genuine_callback_signs_in(listening).await;
}

#[tokio::test]
async fn head_gets_405_without_a_body_and_does_not_sign_in() {
    let listening = listen(HandshakeOptions::default()).await;
    let request = format!(
        "HEAD /callback?token=wk_head&state={} HTTP/1.1\r\n\r\n",
        listening.state
    );
    let answer = exchange(listening.addr, request.as_bytes()).await;
    assert_eq!(status_line(&answer), "HTTP/1.1 405 method not allowed");
    assert_eq!(body_of(&answer), "");
    assert_genuine_callback_signs_in(listening).await;
}

#[tokio::test]
async fn malformed_request_line_gets_400_and_the_wait_goes_on() {
    let listening = listen(HandshakeOptions::default()).await;
    let answer = exchange(listening.addr, b"HELLO\r\n\r\n").await;
    assert_eq!(status_line(&answer), "HTTP/1.1 400 bad request");
    assert_genuine_callback_signs_in(listening).await;
}

#[tokio::test]
async fn a_forged_state_gets_400_and_the_wait_goes_on_to_the_genuine_callback() {
    let listening = listen(HandshakeOptions::default()).await;
    let answer = get(listening.addr, "/callback?token=wk_forged&state=forged").await;
    assert_eq!(status_line(&answer), "HTTP/1.1 400 bad state");
    assert!(body_of(&answer).contains("State mismatch"));
    assert_genuine_callback_signs_in(listening).await;
}

#[tokio::test]
async fn a_missing_state_gets_400_and_the_wait_goes_on_to_the_genuine_callback() {
    let listening = listen(HandshakeOptions::default()).await;
    let answer = get(listening.addr, "/callback?token=wk_forged").await;
    assert_eq!(status_line(&answer), "HTTP/1.1 400 bad state");
    assert_genuine_callback_signs_in(listening).await;
}

#[tokio::test]
async fn state_is_checked_before_error_so_a_forged_cancel_changes_nothing() {
    let listening = listen(HandshakeOptions::default()).await;
    let answer = get(listening.addr, "/callback?error=access_denied&state=forged").await;
    assert_eq!(status_line(&answer), "HTTP/1.1 400 bad state");
    assert_genuine_callback_signs_in(listening).await;
}

#[tokio::test]
async fn a_local_process_flooding_forged_callbacks_cannot_end_the_sign_in() {
    let listening = listen(HandshakeOptions::default()).await;
    for attempt in 0..50 {
        let target = format!("/callback?token=wk_forged&state=guess{attempt}");
        let answer = get(listening.addr, &target).await;
        assert_eq!(status_line(&answer), "HTTP/1.1 400 bad state");
    }
    assert!(
        !listening.wait.is_finished(),
        "a forged callback ended the wait"
    );
    assert_genuine_callback_signs_in(listening).await;
}

#[tokio::test]
async fn a_dns_rebinding_page_cannot_complete_or_cancel_the_sign_in() {
    let listening = listen(HandshakeOptions::default()).await;
    let port = listening.addr.port();
    for host in [
        format!("attacker.example:{port}"),
        format!("localhost:{port}"),
        "127.0.0.1".to_owned(),
    ] {
        for query in [
            format!("token=wk_rebound&state={}", listening.state),
            format!("error=access_denied&state={}", listening.state),
        ] {
            let request = format!("GET /callback?{query} HTTP/1.1\r\nHost: {host}\r\n\r\n");
            let answer = exchange(listening.addr, request.as_bytes()).await;
            assert_eq!(status_line(&answer), "HTTP/1.1 400 bad host", "{host}");
        }
    }
    assert_genuine_callback_signs_in(listening).await;
}

#[tokio::test]
async fn a_callback_without_a_host_header_cannot_sign_in() {
    let listening = listen(HandshakeOptions::default()).await;
    let request = format!(
        "GET /callback?token=wk_hostless&state={} HTTP/1.0\r\n\r\n",
        listening.state
    );
    let answer = exchange(listening.addr, request.as_bytes()).await;
    assert_eq!(status_line(&answer), "HTTP/1.1 400 bad host");
    assert_genuine_callback_signs_in(listening).await;
}

#[tokio::test]
async fn missing_token_gets_400_and_the_wait_goes_on() {
    let listening = listen(HandshakeOptions::default()).await;
    let target = format!("/callback?state={}", listening.state);
    let answer = get(listening.addr, &target).await;
    assert_eq!(status_line(&answer), "HTTP/1.1 400 missing token");
    assert_eq!(body_of(&answer), "missing token");
    assert_genuine_callback_signs_in(listening).await;
}

#[tokio::test]
async fn error_reason_is_escaped_in_the_page_and_ends_the_wait_cancelled_with_the_raw_reason() {
    let listening = listen(HandshakeOptions::default()).await;
    let target = format!(
        "/callback?error=%3Cscript%3Ealert(1)%3C%2Fscript%3E&state={}",
        listening.state
    );
    let answer = get(listening.addr, &target).await;
    assert_eq!(status_line(&answer), "HTTP/1.1 200 OK");
    let body = body_of(&answer);
    assert!(body.contains("Login cancelled"), "{body}");
    assert!(
        body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{body}"
    );
    assert!(!body.contains("<script>"), "{body}");
    let ended = listening.wait.await.expect("wait task");
    match ended {
        Err(Error::HandshakeCancelled { reason }) => {
            assert_eq!(reason, "<script>alert(1)</script>")
        }
        other => panic!("expected a cancelled sign-in, got {other:?}"),
    }
}

#[tokio::test]
async fn header_block_of_100_kb_gets_431_and_the_wait_goes_on() {
    let listening = listen(HandshakeOptions::default()).await;
    let request = format!(
        "GET /callback?token=wk_big&state={} HTTP/1.1\r\nX-Padding: {}\r\n\r\n",
        listening.state,
        "a".repeat(100 * 1024)
    );
    let answer = exchange(listening.addr, request.as_bytes()).await;
    assert_eq!(
        status_line(&answer),
        "HTTP/1.1 431 request header fields too large"
    );
    assert_genuine_callback_signs_in(listening).await;
}

#[tokio::test]
async fn client_sending_one_byte_a_second_is_cut_off_at_the_read_deadline() {
    let listening = listen(HandshakeOptions::default().read_timeout(Duration::from_secs(2))).await;
    let request = format!(
        "GET /callback?token=wk_dribbled&state={} HTTP/1.1\r\n\r\n",
        listening.state
    );
    let (mut reader, mut writer) = TcpStream::connect(listening.addr)
        .await
        .expect("connect")
        .into_split();
    let mut sent = 0;
    let mut answer = Vec::new();
    for byte in request.bytes() {
        if writer.write_all(&[byte]).await.is_err() {
            break;
        }
        sent += 1;
        let mut buf = [0u8; 1024];
        match tokio::time::timeout(Duration::from_secs(1), reader.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(read)) => {
                answer.extend_from_slice(&buf[..read]);
                break;
            }
            Err(_one_second) => {}
        }
    }
    assert!(sent < request.len(), "the slow client was never cut off");
    let answer = String::from_utf8_lossy(&answer);
    assert_eq!(status_line(&answer), "HTTP/1.1 408 request timeout");
    assert_genuine_callback_signs_in(listening).await;
}

#[tokio::test]
async fn two_hundred_idle_connections_do_not_hold_up_the_callback() {
    let listening = listen(HandshakeOptions::default()).await;
    let mut idle = Vec::new();
    for _ in 0..200 {
        idle.push(TcpStream::connect(listening.addr).await.expect("connect"));
    }
    assert_genuine_callback_signs_in(listening).await;
    drop(idle);
}

#[tokio::test]
async fn idle_connections_at_the_cap_cannot_crowd_out_the_genuine_callback() {
    const CAP: usize = 8;
    let listening = listen(HandshakeOptions::default().max_connections(CAP)).await;
    let mut hostile = Vec::new();
    for _ in 0..CAP {
        hostile.push(TcpStream::connect(listening.addr).await.expect("connect"));
    }
    // The idle connections hold every slot; the browser's redirect must still get through.
    let answer = genuine_callback(listening.addr, &listening.state).await;
    assert_redirected_to_done(&answer);
    let outcome = listening.wait.await.expect("wait task").expect("signed in");
    assert_eq!(outcome.token.expose(), "wk_genuine");
    // The oldest idle connection was closed to make room.
    let mut first = hostile.remove(0);
    let mut buf = [0u8; 16];
    let read = tokio::time::timeout(Duration::from_secs(5), first.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "the oldest idle connection was not closed: {read:?}"
    );
}

#[tokio::test]
async fn a_browser_midway_through_its_request_outlives_a_flood_of_idle_connections() {
    const CAP: usize = 4;
    let listening = listen(HandshakeOptions::default().max_connections(CAP)).await;
    let request = format!(
        "GET /callback?token=wk_genuine&state={}&login=octocat HTTP/1.1\r\nHost: {}\r\n\r\n",
        listening.state, listening.addr
    );
    let (first, rest) = request.split_at(20);
    let mut browser = TcpStream::connect(listening.addr).await.expect("connect");
    browser.write_all(first.as_bytes()).await.expect("send");
    // Let the listener read the first bytes, so this connection is the oldest one at the cap.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut idle = Vec::new();
    for _ in 0..(CAP * 5) {
        idle.push(TcpStream::connect(listening.addr).await.expect("connect"));
    }
    browser
        .write_all(rest.as_bytes())
        .await
        .expect("send the rest");
    let mut answer = Vec::new();
    let _ = browser.read_to_end(&mut answer).await;
    assert_redirected_to_done(&String::from_utf8_lossy(&answer));
    let outcome = listening.wait.await.expect("wait task").expect("signed in");
    assert_eq!(outcome.token.expose(), "wk_genuine");
    drop(idle);
}

#[tokio::test]
async fn hostile_connections_arriving_faster_than_the_cap_still_let_the_callback_through() {
    const CAP: usize = 4;
    let listening = listen(HandshakeOptions::default().max_connections(CAP)).await;
    let mut hostile = Vec::new();
    for _ in 0..(CAP * 10) {
        hostile.push(TcpStream::connect(listening.addr).await.expect("connect"));
    }
    assert_genuine_callback_signs_in(listening).await;
    drop(hostile);
}

#[tokio::test]
async fn wait_past_the_timeout_fails_with_handshake_timeout() {
    let listening = listen(HandshakeOptions::default().timeout(Duration::from_millis(100))).await;
    let ended = listening.wait.await.expect("wait task");
    assert!(matches!(ended, Err(Error::HandshakeTimeout)), "{ended:?}");
}

#[tokio::test]
async fn cancel_before_wait_makes_wait_fail_with_aborted() {
    let mut pending = pending(HandshakeOptions::default()).await;
    pending.cancel();
    let ended = pending.wait().await;
    assert!(matches!(ended, Err(Error::HandshakeAborted)), "{ended:?}");
}

#[tokio::test]
async fn cancel_closes_the_port_at_once() {
    let mut pending = pending(HandshakeOptions::default()).await;
    let addr = addr_of(&pending);
    pending.cancel();
    assert!(connection_refused(addr).await);
}

#[tokio::test]
async fn abort_through_the_handle_ends_a_running_wait_with_aborted() {
    let listening = listen(HandshakeOptions::default()).await;
    assert!(listening.handle.abort());
    let ended = listening.wait.await.expect("wait task");
    assert!(matches!(ended, Err(Error::HandshakeAborted)), "{ended:?}");
    assert!(connection_refused(listening.addr).await);
}

#[tokio::test]
async fn abort_after_the_outcome_changes_nothing() {
    let listening = listen(HandshakeOptions::default()).await;
    let handle = listening.handle.clone();
    assert_genuine_callback_signs_in(listening).await;
    assert!(!handle.abort());
}

#[tokio::test]
async fn dropping_the_pending_handshake_closes_the_port() {
    let pending = pending(HandshakeOptions::default()).await;
    let addr = addr_of(&pending);
    drop(pending);
    assert!(connection_refused(addr).await);
}

#[tokio::test]
async fn port_is_closed_once_the_browser_has_loaded_the_done_page() {
    let listening = listen(HandshakeOptions::default()).await;
    let addr = listening.addr;
    assert_genuine_callback_signs_in(listening).await;
    assert!(
        eventually_refused(addr).await,
        "the port stayed open after /done"
    );
}

#[tokio::test]
async fn port_is_closed_after_the_grace_when_the_browser_never_loads_the_done_page() {
    let listening =
        listen(HandshakeOptions::default().done_page_grace(Duration::from_millis(50))).await;
    let addr = listening.addr;
    let answer = genuine_callback(addr, &listening.state).await;
    assert_redirected_to_done(&answer);
    listening.wait.await.expect("wait task").expect("signed in");
    assert!(eventually_refused(addr).await, "the port stayed open");
}

#[tokio::test]
async fn port_is_closed_at_once_when_the_sign_in_is_cancelled_by_the_platform() {
    let listening = listen(HandshakeOptions::default()).await;
    let addr = listening.addr;
    let target = format!("/callback?error=access_denied&state={}", listening.state);
    get(addr, &target).await;
    let ended = listening.wait.await.expect("wait task");
    assert!(
        matches!(ended, Err(Error::HandshakeCancelled { .. })),
        "{ended:?}"
    );
    assert!(connection_refused(addr).await);
}

#[tokio::test]
async fn reloading_the_token_url_after_sign_in_hands_the_token_to_no_one() {
    let listening = listen(HandshakeOptions::default()).await;
    let addr = listening.addr;
    let state = listening.state.clone();
    let answer = genuine_callback(addr, &state).await;
    assert_redirected_to_done(&answer);
    listening.wait.await.expect("wait task").expect("signed in");
    // A reload of the token URL before the browser followed the redirect decides nothing.
    let reload = genuine_callback(addr, &state).await;
    assert_eq!(
        status_line(&reload),
        "HTTP/1.1 409 sign-in already finished"
    );
    assert!(!reload.contains("wk_genuine"));
}

/// Whether connecting to `addr` is refused within a bounded number of tries (the listener closes
/// asynchronously once its last page is served).
async fn eventually_refused(addr: SocketAddr) -> bool {
    for _ in 0..200 {
        if connection_refused(addr).await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}
