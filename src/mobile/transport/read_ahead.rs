//! Bursty reads for many mostly idle sockets.
//!
//! tungstenite reads at most its `read_buffer_size` per call, and that buffer is allocated (and
//! touched) for every connection. A small one keeps 1,000 idle phones cheap but costs a `recv`
//! per 4 KiB of a streamed audio frame; a large one does the opposite. [`ReadAhead`] gives both:
//! it passes small reads straight through, and once a read comes back full (the peer sends more
//! than we ask for) it reads [`BURST_BUFFER`] bytes per `recv` into a buffer of its own. It keeps
//! that buffer while the peer keeps streaming, and frees it at the first read after [`KEEP`]
//! without a large one (a phone's next ping, at the latest), so an idle connection holds none.
//!
//! It also enforces a byte budget while one is set ([`ReadAhead::limit_reads`]): the desktop
//! sets one from the upgrade until the phone is paired, so an unauthenticated peer can make it
//! read no more than that, whatever the WebSocket message cap.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The size of one `recv` while the peer streams.
pub(crate) const BURST_BUFFER: usize = 64 * 1024;

/// A `recv` of at least this much counts as streaming.
const LARGE_READ: usize = BURST_BUFFER / 8;

/// How long the buffer is kept after the last large read.
const KEEP: Duration = Duration::from_secs(1);

/// A socket whose reads grow to [`BURST_BUFFER`] while the peer streams, and shrink back to the
/// caller's own reads (and no buffer) after it stops. Writes pass through.
#[derive(Debug)]
pub(crate) struct ReadAhead<S> {
    inner: S,
    /// Read ahead of the caller: `buf[start..end]` is unread. Empty (no allocation) when idle.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Until when reads go through `buf`: [`KEEP`] after the last large read.
    streaming_until: Option<Instant>,
    keep: Duration,
    /// Bytes the caller may still read while a budget is set; reading past it is an error.
    budget: Option<usize>,
}

/// The error a read past the [`ReadAhead::limit_reads`] budget fails with (inside an
/// [`io::Error`] of kind `InvalidData`).
#[derive(Debug, thiserror::Error)]
#[error("the peer sent more than its byte budget before it was authenticated")]
pub(crate) struct ReadBudgetExceeded;

/// Whether `error` is a read past the [`ReadAhead::limit_reads`] budget.
pub(crate) fn is_budget_exceeded(error: &io::Error) -> bool {
    error
        .get_ref()
        .is_some_and(|inner| inner.is::<ReadBudgetExceeded>())
}

impl<S> ReadAhead<S> {
    pub(crate) fn new(inner: S) -> Self {
        Self::with_keep(inner, KEEP)
    }

    fn with_keep(inner: S, keep: Duration) -> Self {
        ReadAhead {
            inner,
            buf: Vec::new(),
            start: 0,
            end: 0,
            streaming_until: None,
            keep,
            budget: None,
        }
    }

    /// From now on, reading more than `bytes` in total fails ([`is_budget_exceeded`]), until
    /// [`ReadAhead::lift_limit`].
    pub(crate) fn limit_reads(&mut self, bytes: usize) {
        self.budget = Some(bytes);
    }

    /// Removes the [`ReadAhead::limit_reads`] budget.
    pub(crate) fn lift_limit(&mut self) {
        self.budget = None;
    }

    /// Copies buffered bytes to `dst`.
    fn copy_out(&mut self, dst: &mut ReadBuf<'_>) {
        let n = dst.remaining().min(self.end.saturating_sub(self.start));
        if let Some(bytes) = self.buf.get(self.start..self.start + n) {
            dst.put_slice(bytes);
        }
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ReadAhead<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        dst: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let Some(left) = self.budget else {
            return self.poll_read_ahead(cx, dst);
        };
        let before = dst.filled().len();
        let result = self.as_mut().poll_read_ahead(cx, dst);
        if let Poll::Ready(Ok(())) = result {
            let read = dst.filled().len().saturating_sub(before);
            match left.checked_sub(read) {
                Some(left) => self.budget = Some(left),
                None => {
                    let error = io::Error::new(io::ErrorKind::InvalidData, ReadBudgetExceeded);
                    return Poll::Ready(Err(error));
                }
            }
        }
        result
    }
}

impl<S: AsyncRead + Unpin> ReadAhead<S> {
    fn poll_read_ahead(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        dst: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.start < this.end {
            this.copy_out(dst);
            return Poll::Ready(Ok(()));
        }
        let now = Instant::now();
        if this.streaming_until.is_none_or(|until| now >= until) {
            // Not streaming (or no longer): no buffer, the caller's own read.
            this.streaming_until = None;
            this.buf = Vec::new();
            let asked = dst.remaining();
            let before = dst.filled().len();
            let result = Pin::new(&mut this.inner).poll_read(cx, dst);
            if let Poll::Ready(Ok(())) = result {
                if asked > 0 && dst.filled().len() - before == asked {
                    this.streaming_until = Some(now + this.keep);
                }
            }
            return result;
        }
        if this.buf.len() != BURST_BUFFER {
            this.buf = vec![0; BURST_BUFFER];
        }
        let mut ahead = ReadBuf::new(&mut this.buf);
        match Pin::new(&mut this.inner).poll_read(cx, &mut ahead) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Ready(Ok(())) => {
                let n = ahead.filled().len();
                if n == 0 {
                    // End of stream: leave no buffer behind.
                    this.streaming_until = None;
                    this.buf = Vec::new();
                    return Poll::Ready(Ok(()));
                }
                if n >= LARGE_READ {
                    this.streaming_until = Some(now + this.keep);
                }
                this.end = n;
                this.copy_out(dst);
                Poll::Ready(Ok(()))
            }
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for ReadAhead<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    async fn read_exactly(reader: &mut ReadAhead<tokio::io::DuplexStream>, len: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut chunk = [0u8; 4096];
        while out.len() < len {
            let n = reader.read(&mut chunk).await.expect("read");
            assert!(n > 0, "stream ended early");
            out.extend_from_slice(&chunk[..n]);
        }
        out
    }

    #[tokio::test]
    async fn a_burst_is_read_whole_and_in_order_then_the_buffer_is_freed_at_the_end() {
        let (mut peer, socket) = tokio::io::duplex(4 * BURST_BUFFER);
        let mut reader = ReadAhead::new(socket);
        let sent: Vec<u8> = (0..3 * BURST_BUFFER + 17)
            .map(|i| (i % 251) as u8)
            .collect();
        peer.write_all(&sent).await.expect("written");
        drop(peer);
        let mut received = Vec::new();
        let mut chunk = [0u8; 4096];
        let mut grew = false;
        loop {
            let n = reader.read(&mut chunk).await.expect("read");
            if n == 0 {
                break;
            }
            grew |= reader.buf.len() == BURST_BUFFER;
            received.extend_from_slice(&chunk[..n]);
        }
        assert_eq!(received, sent);
        assert!(grew, "a full read switches to burst reads");
        assert!(reader.buf.is_empty(), "no buffer is kept after the end");
    }

    #[tokio::test]
    async fn a_read_past_the_budget_fails_and_a_lifted_budget_reads_on() {
        let (mut peer, socket) = tokio::io::duplex(4 * BURST_BUFFER);
        let mut reader = ReadAhead::new(socket);
        reader.limit_reads(10);
        peer.write_all(b"0123456789").await.expect("written");
        assert_eq!(read_exactly(&mut reader, 10).await, b"0123456789");
        peer.write_all(b"x").await.expect("written");
        let mut chunk = [0u8; 16];
        let error = reader.read(&mut chunk).await.expect_err("past the budget");
        assert!(is_budget_exceeded(&error), "{error}");
        reader.lift_limit();
        peer.write_all(&[7u8; 2 * BURST_BUFFER])
            .await
            .expect("written");
        let read = read_exactly(&mut reader, 2 * BURST_BUFFER).await;
        assert!(read.iter().all(|b| *b == 7));
    }

    #[tokio::test]
    async fn small_reads_of_a_quiet_peer_never_allocate_a_burst_buffer() {
        let (mut peer, socket) = tokio::io::duplex(1024);
        let mut reader = ReadAhead::new(socket);
        let mut chunk = [0u8; 4096];
        for message in [&b"hello"[..], b"ping", b"{\"type\":\"audio_stream_end\"}"] {
            peer.write_all(message).await.expect("written");
            let n = reader.read(&mut chunk).await.expect("read");
            assert_eq!(&chunk[..n], message);
            assert!(reader.buf.is_empty());
        }
    }

    #[tokio::test]
    async fn a_steady_stream_keeps_its_buffer_and_a_quiet_peer_later_frees_it() {
        let (mut peer, socket) = tokio::io::duplex(4 * BURST_BUFFER);
        let keep = Duration::from_millis(20);
        let mut reader = ReadAhead::with_keep(socket, keep);
        // Frames arriving one at a time, each larger than one read: the buffer, once there,
        // stays between them (no allocation per frame).
        for round in 0..4u8 {
            let frame = vec![round; 3 * LARGE_READ];
            peer.write_all(&frame).await.expect("written");
            assert_eq!(read_exactly(&mut reader, frame.len()).await, frame);
            // Waiting for the next frame (nothing to read yet) keeps the buffer.
            let mut chunk = [0u8; 4096];
            let waiting =
                tokio::time::timeout(Duration::from_millis(1), reader.read(&mut chunk)).await;
            assert!(waiting.is_err(), "nothing to read yet");
            assert_eq!(reader.buf.len(), BURST_BUFFER, "round {round}");
        }
        // Quiet for longer than `keep`: the next (small) read frees the buffer.
        tokio::time::sleep(keep * 2).await;
        peer.write_all(b"ping").await.expect("written");
        assert_eq!(read_exactly(&mut reader, 4).await, b"ping");
        assert!(reader.buf.is_empty());
    }
}
