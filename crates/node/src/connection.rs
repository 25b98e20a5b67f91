//! One client connection: read what the socket has, execute every complete command in order,
//! write all their replies with one write, repeat.
//!
//! A protocol error gets `-ERR Protocol error: ...` after the replies of the commands before
//! it, then the connection closes (only this one). A client whose unprocessed input exceeds
//! `query_buffer_max_bytes` is closed, as Redis does for `client-query-buffer-limit`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::BytesMut;
use resp::{Limits, RequestDecoder};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::watch;

use crate::clients::ClientInfo;
use crate::session::Session;
use crate::state::Node;

/// Read buffer capacity kept available before each read, in bytes.
const READ_CHUNK_BYTES: usize = 16 * 1024;
/// The most reads run together from one pipeline ([`Session::handle_reads`]).
const READ_BATCH_MAX: usize = 256;
/// The most bytes reserved at once for a large bulk argument still arriving.
const BULK_RESERVE_BYTES_MAX: usize = 64 << 20;

/// Why a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Close {
    /// The client closed it or sent QUIT.
    Client,
    /// The node is shutting down.
    Shutdown,
    /// A protocol error or an exceeded limit.
    Error,
}

/// Serves one client until it leaves, breaks the protocol, or the node shuts down.
pub async fn serve(
    node: Arc<Node>,
    mut stream: TcpStream,
    info: Arc<ClientInfo>,
    mut shutdown: watch::Receiver<bool>,
) {
    let id = info.id;
    let addr = info.addr;
    if let Err(e) = stream.set_nodelay(true) {
        tracing::debug!(client = id, error = %e, "could not set TCP_NODELAY");
    }
    let limits = Limits {
        bulk_len_max: usize::try_from(node.live.proto_max_bulk_len.load(Ordering::Relaxed))
            .unwrap_or(usize::MAX),
        multibulk_len_max: node.config.multibulk_len_max,
        ..Limits::default()
    };
    let query_buffer_max_bytes =
        usize::try_from(node.config.query_buffer_max_bytes).unwrap_or(usize::MAX);
    let mut conn = Conn {
        decoder: RequestDecoder::new(limits),
        rbuf: BytesMut::with_capacity(READ_CHUNK_BYTES),
        query_buffer_max_bytes,
    };
    let mut session = Session::new(Arc::clone(&node), info);
    let close = loop {
        match conn.round(&mut session, &mut stream, &mut shutdown).await {
            Ok(None) => continue,
            Ok(Some(close)) => break close,
            Err(e) => {
                tracing::debug!(client = id, error = %e, "connection i/o failed");
                break Close::Error;
            }
        }
    };
    tracing::debug!(client = id, %addr, reason = ?close, "client disconnected");
    node.clients.unregister(id);
}

struct Conn {
    decoder: RequestDecoder,
    rbuf: BytesMut,
    query_buffer_max_bytes: usize,
}

impl Conn {
    /// Executes what is buffered, writes the replies, reads more. `Some` when the connection
    /// must close.
    async fn round(
        &mut self,
        session: &mut Session,
        stream: &mut TcpStream,
        shutdown: &mut watch::Receiver<bool>,
    ) -> std::io::Result<Option<Close>> {
        let mut close = self.execute_buffered(session).await;
        session.drain().await;
        if !session.out().is_empty() {
            stream.write_all(session.out()).await?;
            session.out().clear();
        }
        if close.is_none() && *shutdown.borrow() {
            close = Some(Close::Shutdown);
        }
        if close.is_some() {
            return Ok(close);
        }
        if self.rbuf.len() > self.query_buffer_max_bytes {
            tracing::warn!(
                client = session.info.id,
                bytes = self.rbuf.len(),
                "closing client that exceeded the query buffer limit"
            );
            return Ok(Some(Close::Error));
        }
        self.reserve();
        session
            .info
            .qbuf_bytes
            .store(self.rbuf.len(), Ordering::Relaxed);
        tokio::select! {
            read = stream.read_buf(&mut self.rbuf) => Ok((read? == 0).then_some(Close::Client)),
            _ = shutdown.changed() => Ok(Some(Close::Shutdown)),
        }
    }

    /// Runs every complete command in the read buffer. `Some` when the connection must close
    /// after the replies are written.
    /// Runs of reads that may run together ([`Session::joins_read_batch`]) are handed to
    /// [`Session::handle_reads`], at most [`READ_BATCH_MAX`] at a time.
    async fn execute_buffered(&mut self, session: &mut Session) -> Option<Close> {
        let mut reads = Vec::new();
        loop {
            match self.decoder.decode(&mut self.rbuf) {
                Ok(Some(args)) if session.joins_read_batch(&args) => {
                    reads.push(args);
                    if reads.len() == READ_BATCH_MAX {
                        session.handle_reads(std::mem::take(&mut reads)).await;
                    }
                }
                Ok(Some(args)) => {
                    session.handle_reads(std::mem::take(&mut reads)).await;
                    session.handle(args).await;
                    if session.quit {
                        return Some(Close::Client);
                    }
                }
                Ok(None) => {
                    session.handle_reads(reads).await;
                    return None;
                }
                Err(e) => {
                    session.handle_reads(reads).await;
                    tracing::debug!(client = session.info.id, error = %e, "protocol error");
                    session.reply_error(&format!("ERR {e}")).await;
                    return Some(Close::Error);
                }
            }
        }
    }

    /// Makes room for the next read, and for a large argument in one allocation.
    fn reserve(&mut self) {
        let want = self
            .decoder
            .pending_bulk_len(self.rbuf.len())
            .unwrap_or(0)
            .clamp(READ_CHUNK_BYTES, BULK_RESERVE_BYTES_MAX);
        if self.rbuf.capacity() - self.rbuf.len() < want / 4 {
            self.rbuf.reserve(want);
        }
    }
}
