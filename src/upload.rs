//! Streaming recording upload: `PUT /api/voice/recordings/{sourceId}/bytes` with constant memory,
//! progress reporting, and retries that re-open the body.
//!
//! ```no_run
//! # async fn run(client: wavekat_platform_client::Client) -> wavekat_platform_client::Result<()> {
//! use wavekat_platform_client::RecordingBody;
//!
//! client
//!     .upload_recording_bytes_with_progress("rec-1", RecordingBody::file("call.wav"), |p| {
//!         eprintln!("{} / {} bytes", p.sent, p.total);
//!     })
//!     .await?;
//! # Ok(()) }
//! ```

use std::fmt;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, ReadBuf};

use crate::client::Client;
use crate::error::{Error, Result};

/// Bytes handed to the connection per chunk (256 KiB); bounds the upload's memory.
const CHUNK: usize = 256 * 1024;

/// The WAV bytes of a recording: in memory, a file, or any reader of known length.
///
/// In-memory and file bodies can be sent again, so a failed attempt is retried; a reader is
/// consumed by its one attempt.
pub enum RecordingBody {
    /// Bytes already in memory.
    Bytes(Bytes),
    /// A file, opened (again) for each attempt and streamed.
    File(PathBuf),
    /// A reader yielding exactly `len` bytes, streamed once.
    Reader {
        /// The source.
        reader: Box<dyn AsyncRead + Send + Sync + Unpin>,
        /// How many bytes it yields (sent as `Content-Length`).
        len: u64,
    },
}

impl RecordingBody {
    /// A body from bytes in memory.
    pub fn bytes(bytes: impl Into<Bytes>) -> Self {
        RecordingBody::Bytes(bytes.into())
    }

    /// A body streamed from the file at `path`.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        RecordingBody::File(path.into())
    }

    /// A body streamed from `reader`, which must yield exactly `len` bytes.
    pub fn reader(reader: impl AsyncRead + Send + Sync + Unpin + 'static, len: u64) -> Self {
        RecordingBody::Reader {
            reader: Box::new(reader),
            len,
        }
    }
}

impl fmt::Debug for RecordingBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordingBody::Bytes(b) => write!(f, "RecordingBody::Bytes({} bytes)", b.len()),
            RecordingBody::File(p) => write!(f, "RecordingBody::File({})", p.display()),
            RecordingBody::Reader { len, .. } => write!(f, "RecordingBody::Reader({len} bytes)"),
        }
    }
}

/// How far an upload has got: `sent` of `total` bytes handed to the connection. A retry starts
/// again from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadProgress {
    /// Bytes sent so far in this attempt.
    pub sent: u64,
    /// The body's length.
    pub total: u64,
}

/// Longest recording `sourceId` the bytes route takes.
const MAX_RECORDING_ID_LEN: usize = 128;

/// Why `id` cannot name a recording in `PUT /api/voice/recordings/{id}/bytes`, or `None` when it
/// can.
///
/// The rule is the spec's (1 to 128 characters from `A-Z a-z 0-9 . _ : -`) plus one more: the
/// id must not be a dot segment (`.` or `..`). A URL parser rewrites dot segments
/// (`/recordings/../bytes` becomes `/api/voice/bytes`), so such an id would send the token and
/// the body to another route. Every character a URL parser would decode, drop or treat as a
/// separator (`%`, `/`, `\`, `?`, `#`, whitespace, controls, non-ASCII) is outside the alphabet,
/// so no other id can be rewritten.
pub(crate) fn recording_id_problem(id: &str) -> Option<&'static str> {
    if id.is_empty() {
        return Some("it is empty");
    }
    if id.len() > MAX_RECORDING_ID_LEN {
        return Some("it is longer than 128 characters");
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
    {
        return Some("it holds a character outside A-Z a-z 0-9 . _ : -");
    }
    if id == "." || id == ".." {
        return Some("it is a dot segment, which URL normalisation would remove from the path");
    }
    None
}

type ProgressFn = Arc<dyn Fn(UploadProgress) + Send + Sync>;

impl Client {
    /// Uploads a recording's WAV bytes as `audio/wav`. The metadata must have been synced first
    /// (the platform answers 404 otherwise) and the length must equal its `sizeBytes` (413
    /// otherwise). Memory use is constant whatever the size.
    ///
    /// `source_id` must be 1 to 128 characters from `A-Z a-z 0-9 . _ : -` and not `.` or `..`;
    /// any other id is [`Error::InvalidInput`] before a request is made.
    pub async fn upload_recording_bytes(&self, source_id: &str, body: RecordingBody) -> Result<()> {
        self.upload_recording_bytes_with_progress(source_id, body, |_| {})
            .await
    }

    /// [`Client::upload_recording_bytes`], calling `on_progress` as bytes go out (a progress bar
    /// can follow it: `total` is known from the start).
    pub async fn upload_recording_bytes_with_progress(
        &self,
        source_id: &str,
        body: RecordingBody,
        on_progress: impl Fn(UploadProgress) + Send + Sync + 'static,
    ) -> Result<()> {
        if let Some(problem) = recording_id_problem(source_id) {
            return Err(Error::InvalidInput(format!(
                "recording sourceId refused before sending: {problem}"
            )));
        }
        let progress: ProgressFn = Arc::new(on_progress);
        let path = format!(
            "/api/voice/recordings/{}/bytes",
            progenitor_client::encode_path(source_id)
        );
        let (replayable, mut once) = match body {
            RecordingBody::Reader { reader, len } => (None, Some((reader, len))),
            other => (Some(other), None),
        };
        let started = Instant::now();
        let mut attempt: u32 = 1;
        loop {
            let (reader, len): (Box<dyn AsyncRead + Send + Sync + Unpin>, u64) =
                match (&replayable, once.take()) {
                    (Some(RecordingBody::Bytes(bytes)), _) => {
                        (Box::new(io::Cursor::new(bytes.clone())), bytes.len() as u64)
                    }
                    (Some(RecordingBody::File(path)), _) => {
                        let file = tokio::fs::File::open(path).await?;
                        let len = file.metadata().await?.len();
                        (Box::new(file), len)
                    }
                    (_, Some((reader, len))) => (reader, len),
                    _ => {
                        return Err(Error::InvalidInput(
                            "a reader body can only be sent once".into(),
                        ))
                    }
                };
            let failure = Arc::new(Mutex::new(None));
            progress(UploadProgress {
                sent: 0,
                total: len,
            });
            let body = StreamingBody {
                reader,
                remaining: len,
                sent: 0,
                total: len,
                progress: progress.clone(),
                failure: failure.clone(),
                buf: vec![0; CHUNK],
            };
            let call = self
                .api
                .upload_recording_bytes(source_id, reqwest::Body::wrap(body));
            let err = match self.unit(&path, call).await {
                Ok(()) => return Ok(()),
                Err(err) => err,
            };
            if let Some(io_error) = failure.lock().ok().and_then(|mut slot| slot.take()) {
                return Err(Error::Io(io_error));
            }
            let retry_after = match &err {
                Error::Http { retry_after, .. } => *retry_after,
                _ => None,
            };
            let wait = self.retry.delay(attempt, retry_after);
            let may_retry = replayable.is_some()
                && err.is_retryable()
                && attempt < self.retry.max_attempts
                && started.elapsed() + wait <= self.retry.max_elapsed;
            if !may_retry {
                return Err(err);
            }
            tracing::debug!(error = %err, ?wait, attempt, "retrying recording upload");
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}

/// An `http_body::Body` that streams exactly `total` bytes from a reader in 256 KiB chunks,
/// reporting progress, with an exact size hint so the request carries `Content-Length`.
struct StreamingBody {
    reader: Box<dyn AsyncRead + Send + Sync + Unpin>,
    remaining: u64,
    sent: u64,
    total: u64,
    progress: ProgressFn,
    /// The I/O error that ended the stream, for the caller to report as [`Error::Io`].
    failure: Arc<Mutex<Option<io::Error>>>,
    buf: Vec<u8>,
}

impl StreamingBody {
    fn fail(
        &mut self,
        err: io::Error,
    ) -> Poll<Option<std::result::Result<Frame<Bytes>, io::Error>>> {
        let reported = io::Error::new(err.kind(), err.to_string());
        if let Ok(mut slot) = self.failure.lock() {
            *slot = Some(err);
        }
        self.remaining = 0;
        Poll::Ready(Some(Err(reported)))
    }
}

impl Body for StreamingBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<std::result::Result<Frame<Bytes>, io::Error>>> {
        let this = &mut *self;
        if this.remaining == 0 {
            return Poll::Ready(None);
        }
        let want = usize::try_from(this.remaining).map_or(CHUNK, |r| r.min(CHUNK));
        let Some(window) = this.buf.get_mut(..want) else {
            return Poll::Ready(None);
        };
        let mut read = ReadBuf::new(window);
        match Pin::new(&mut this.reader).poll_read(cx, &mut read) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(err)) => this.fail(err),
            Poll::Ready(Ok(())) if read.filled().is_empty() => this.fail(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!(
                    "the body ended after {} of its declared {} bytes",
                    this.sent, this.total
                ),
            )),
            Poll::Ready(Ok(())) => {
                let chunk = Bytes::copy_from_slice(read.filled());
                let n = chunk.len() as u64;
                this.remaining -= n;
                this.sent += n;
                (this.progress)(UploadProgress {
                    sent: this.sent,
                    total: this.total,
                });
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}
