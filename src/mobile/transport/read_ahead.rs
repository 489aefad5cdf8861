//! Bursty reads for many mostly idle sockets.
//!
//! tungstenite reads at most its `read_buffer_size` per call, and that buffer is allocated (and
//! touched) for every connection. A small one keeps 1,000 idle phones cheap but costs a `recv`
//! per 4 KiB of a streamed audio frame; a large one does the opposite. [`ReadAhead`] gives both:
//! it passes small reads straight through, and once a read comes back full (the peer is sending
//! faster than we ask) it switches to reading [`BURST_BUFFER`] bytes per `recv` into a buffer of
//! its own, which it frees again when the burst is over (a short read, or nothing waiting). An
//! idle connection holds no buffer.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The size of one `recv` while a burst lasts.
pub(crate) const BURST_BUFFER: usize = 64 * 1024;

/// A read that returns less than this ends a burst.
const BURST_END: usize = BURST_BUFFER / 8;

/// A socket whose reads grow to [`BURST_BUFFER`] while the peer streams, and shrink back to the
/// caller's own reads (and no buffer) when it stops. Writes pass through.
#[derive(Debug)]
pub(crate) struct ReadAhead<S> {
    inner: S,
    /// Read ahead of the caller: `buf[start..end]` is unread. Empty (no allocation) when idle.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The last read filled what was asked: more is probably waiting.
    bursting: bool,
}

impl<S> ReadAhead<S> {
    pub(crate) fn new(inner: S) -> Self {
        ReadAhead {
            inner,
            buf: Vec::new(),
            start: 0,
            end: 0,
            bursting: false,
        }
    }

    /// Copies buffered bytes to `dst`; frees the buffer once drained after a burst ended.
    fn copy_out(&mut self, dst: &mut ReadBuf<'_>) {
        let n = dst.remaining().min(self.end - self.start);
        dst.put_slice(&self.buf[self.start..self.start + n]);
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            if !self.bursting {
                self.buf = Vec::new();
            }
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for ReadAhead<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        dst: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.start < this.end {
            this.copy_out(dst);
            return Poll::Ready(Ok(()));
        }
        if !this.bursting {
            let asked = dst.remaining();
            let before = dst.filled().len();
            let result = Pin::new(&mut this.inner).poll_read(cx, dst);
            if let Poll::Ready(Ok(())) = result {
                this.bursting = asked > 0 && dst.filled().len() - before == asked;
            }
            return result;
        }
        if this.buf.len() != BURST_BUFFER {
            this.buf = vec![0; BURST_BUFFER];
        }
        let mut ahead = ReadBuf::new(&mut this.buf);
        match Pin::new(&mut this.inner).poll_read(cx, &mut ahead) {
            Poll::Pending => {
                // Nothing waiting: the burst is over, and an idle connection keeps no buffer.
                this.bursting = false;
                this.buf = Vec::new();
                Poll::Pending
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Ready(Ok(())) => {
                let n = ahead.filled().len();
                this.start = 0;
                this.end = n;
                this.bursting = n >= BURST_END;
                if n == 0 {
                    // End of stream: nothing to copy; leave no buffer behind.
                    this.buf = Vec::new();
                    return Poll::Ready(Ok(()));
                }
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

    #[tokio::test]
    async fn a_burst_is_read_whole_and_in_order_then_the_buffer_is_freed() {
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
    async fn a_burst_that_stops_dead_frees_its_buffer_while_waiting() {
        let (mut peer, socket) = tokio::io::duplex(4 * BURST_BUFFER);
        let mut reader = ReadAhead::new(socket);
        let burst = vec![3u8; BURST_BUFFER];
        peer.write_all(&burst).await.expect("written");
        let mut chunk = vec![0u8; 4096];
        let mut got = 0;
        while got < burst.len() {
            got += reader.read(&mut chunk).await.expect("read");
        }
        // The peer sends nothing more: the next read waits, holding no buffer.
        let waiting = tokio::time::timeout(
            std::time::Duration::from_millis(20),
            reader.read(&mut chunk),
        )
        .await;
        assert!(waiting.is_err(), "nothing to read");
        assert!(reader.buf.is_empty());
        peer.write_all(b"later").await.expect("written");
        let n = reader.read(&mut chunk).await.expect("read");
        assert_eq!(&chunk[..n], b"later");
    }

    #[tokio::test]
    async fn after_a_burst_a_quiet_peer_leaves_no_buffer_behind() {
        let (mut peer, socket) = tokio::io::duplex(4 * BURST_BUFFER);
        let mut reader = ReadAhead::new(socket);
        let burst = vec![7u8; 2 * BURST_BUFFER];
        peer.write_all(&burst).await.expect("written");
        let mut chunk = vec![0u8; 4096];
        let mut got = 0;
        while got < burst.len() {
            got += reader.read(&mut chunk).await.expect("read");
        }
        // A short message ends the burst; once it is drained the buffer goes.
        peer.write_all(b"quiet").await.expect("written");
        let mut tail = Vec::new();
        while tail.len() < 5 {
            let n = reader.read(&mut chunk).await.expect("read");
            tail.extend_from_slice(&chunk[..n]);
        }
        assert_eq!(tail, b"quiet");
        assert!(reader.buf.is_empty());
        assert!(!reader.bursting);
    }
}
