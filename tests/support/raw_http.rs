//! Raw HTTP servers on 127.0.0.1 that record what they get and answer with canned responses (or
//! never answer), for tests of what the client puts on the wire.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// What the server received.
#[derive(Debug)]
pub struct Captured {
    pub head: String,
    pub body: Vec<u8>,
}

impl Captured {
    pub fn header(&self, name: &str) -> Option<String> {
        self.head.lines().skip(1).find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }
    pub fn request_line(&self) -> &str {
        self.head.lines().next().unwrap_or("")
    }
}

pub enum Reply {
    /// Write these bytes, then close.
    Raw(String),
    /// Accept and read the request, then never answer (until the test ends).
    Hang,
}

/// Starts the server; returns its base URL and a receiver for the captured request.
pub async fn serve_once(reply: Reply) -> (String, oneshot::Receiver<Captured>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut data = Vec::new();
        let mut buf = [0u8; 8192];
        let head_end = loop {
            let n = socket.read(&mut buf).await.unwrap();
            if n == 0 {
                return;
            }
            data.extend_from_slice(&buf[..n]);
            if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
        };
        let head = String::from_utf8_lossy(&data[..head_end]).into_owned();
        let len: usize = head
            .lines()
            .find_map(|l| {
                let (n, v) = l.split_once(':')?;
                n.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        while data.len() < head_end + len {
            let n = socket.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            data.extend_from_slice(&buf[..n]);
        }
        let body = data[head_end..].to_vec();
        let _ = tx.send(Captured { head, body });
        match reply {
            Reply::Raw(response) => {
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            }
            Reply::Hang => {
                tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
            }
        }
    });
    (url, rx)
}

pub fn http_response(status: &str, content_type: &str, body: &str) -> Reply {
    Reply::Raw(format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    ))
}

/// Answers every request on 127.0.0.1 with what `answer` returns for it, given its head and how
/// many requests came before it; one request per connection (`Connection: close`). Returns the
/// base URL and the heads received so far (bodies are not read).
pub async fn serve_forever<F>(answer: F) -> (String, Arc<Mutex<Vec<Captured>>>)
where
    F: Fn(&Captured, usize) -> String + Send + Sync + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        loop {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let (log, answer) = (log.clone(), answer.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 65536];
                let mut head = Vec::new();
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let captured = Captured {
                    head: String::from_utf8_lossy(&head).into_owned(),
                    body: Vec::new(),
                };
                let response = {
                    let mut log = log.lock().unwrap();
                    let response = answer(&captured, log.len());
                    log.push(captured);
                    response
                };
                let _ = socket.write_all(response.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (url, seen)
}

/// Answers every request with `status` (and `Connection: close`), counting the requests.
pub async fn serve_status_forever(
    status: &'static str,
    extra_headers: &'static str,
) -> (String, Arc<AtomicUsize>) {
    let count = Arc::new(AtomicUsize::new(0));
    let counted = count.clone();
    let (url, _) = serve_forever(move |_, _| {
        counted.fetch_add(1, Ordering::SeqCst);
        let body = r#"{"error":"unavailable"}"#;
        format!(
            "HTTP/1.1 {status}\r\n{extra_headers}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    })
    .await;
    (url, count)
}
