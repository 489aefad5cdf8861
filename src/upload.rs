//! Streaming recording upload: the generated `PUT /api/voice/recordings/{sourceId}/bytes` with
//! constant memory, progress reporting, and retries (the client's one retry loop) that re-open the
//! body.
//!
//! ```no_run
//! # async fn run(client: wavekat_platform_client::Client) -> wavekat_platform_client::Result<()> {
//! use wavekat_platform_client::upload::RecordingBody;
//!
//! client
//!     .upload_recording_with_progress("rec-1", RecordingBody::file("call.wav"), |p| {
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

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, ReadBuf};

use crate::client::{BoxFuture, Client, ReplayBody};
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
    /// Uploads a recording's WAV bytes (sent as the spec's media type, `audio/wav`) through the
    /// generated [`Client::upload_recording_bytes`], streaming a file or reader with constant
    /// memory and re-opening it for a retry. The metadata must have been synced first (the
    /// platform answers 404 otherwise) and the length must equal its `sizeBytes` (413 otherwise).
    ///
    /// `source_id` must be 1 to 128 characters from `A-Z a-z 0-9 . _ : -` and not `.` or `..`;
    /// any other id is [`Error::InvalidInput`] before a request is made. A body that cannot be
    /// read (a missing or unreadable file, a reader shorter than its length) is
    /// [`Error::UploadBody`], naming the recording and the file.
    pub async fn upload_recording(&self, source_id: &str, body: RecordingBody) -> Result<()> {
        self.upload_recording_with_progress(source_id, body, |_| {})
            .await
    }

    /// [`Client::upload_recording`], calling `on_progress` as bytes go out (a progress bar can
    /// follow it: `total` is known from the start; a retry starts again from 0).
    pub async fn upload_recording_with_progress(
        &self,
        source_id: &str,
        body: RecordingBody,
        on_progress: impl Fn(UploadProgress) + Send + Sync + 'static,
    ) -> Result<()> {
        if let Some(problem) = recording_id_problem(source_id) {
            let shown: String = source_id.chars().take(40).collect();
            let cut = if shown.len() < source_id.len() {
                "…"
            } else {
                ""
            };
            return Err(Error::InvalidInput(format!(
                "recording sourceId {shown:?}{cut} refused before sending: {problem}; a sourceId \
                 is 1 to 128 characters from A-Z a-z 0-9 . _ : - and not . or .."
            )));
        }
        let path = match &body {
            RecordingBody::File(path) => Some(path.clone()),
            _ => None,
        };
        let unreadable = |io| Error::UploadBody {
            source_id: source_id.to_owned(),
            path: path.clone(),
            io,
        };
        let (replayable, once) = match body {
            RecordingBody::Reader { reader, len } => (None, Some((reader, len))),
            other => (Some(other), None),
        };
        let source = Arc::new(UploadSource {
            replayable,
            once: Mutex::new(once),
            progress: Arc::new(on_progress),
            failure: Arc::new(Mutex::new(None)),
        });
        let first = source.open().await.map_err(unreadable)?;
        let call = self.api.upload_recording_bytes(source_id, first);
        let result = self
            .call_unit_replaying(Some(source.clone() as Arc<dyn ReplayBody>), call)
            .await;
        if let Some(io_error) = source.failure.lock().ok().and_then(|mut slot| slot.take()) {
            return Err(unreadable(io_error));
        }
        result
    }
}

/// The body of one upload, opened again for each attempt the retry loop makes.
struct UploadSource {
    /// Bytes or a file: can be sent again.
    replayable: Option<RecordingBody>,
    /// A reader: sent by the first attempt only.
    once: Mutex<Option<(Box<dyn AsyncRead + Send + Sync + Unpin>, u64)>>,
    progress: ProgressFn,
    /// The I/O error that ended an attempt's body, for the caller to report as
    /// [`Error::UploadBody`].
    failure: Arc<Mutex<Option<io::Error>>>,
}

impl UploadSource {
    /// The body for the next attempt (`None` when a reader was already consumed).
    async fn open(&self) -> io::Result<reqwest::Body> {
        let (reader, len): (Box<dyn AsyncRead + Send + Sync + Unpin>, u64) = match &self.replayable
        {
            Some(RecordingBody::Bytes(bytes)) => {
                (Box::new(io::Cursor::new(bytes.clone())), bytes.len() as u64)
            }
            Some(RecordingBody::File(path)) => {
                let file = tokio::fs::File::open(path).await?;
                let len = file.metadata().await?.len();
                (Box::new(file), len)
            }
            _ => self
                .once
                .lock()
                .ok()
                .and_then(|mut slot| slot.take())
                .ok_or_else(|| io::Error::other("a reader body can only be sent once"))?,
        };
        (self.progress)(UploadProgress {
            sent: 0,
            total: len,
        });
        Ok(reqwest::Body::wrap(StreamingBody {
            reader,
            remaining: len,
            sent: 0,
            total: len,
            progress: self.progress.clone(),
            failure: self.failure.clone(),
            buf: vec![0; CHUNK],
        }))
    }
}

impl ReplayBody for UploadSource {
    fn again(&self) -> BoxFuture<'_, Option<reqwest::Body>> {
        Box::pin(async move {
            self.replayable.as_ref()?;
            match self.open().await {
                Ok(body) => Some(body),
                Err(err) => {
                    if let Ok(mut slot) = self.failure.lock() {
                        *slot = Some(err);
                    }
                    None
                }
            }
        })
    }

    fn failed_locally(&self) -> bool {
        self.failure.lock().map_or(true, |slot| slot.is_some())
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
    /// The I/O error that ended the stream, for the caller to report as [`Error::UploadBody`].
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
