//! A blocking connection to a RedRaft (or Redis) server.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use bytes::BytesMut;
use resp::{encode_request, Frame, FrameDecoder, Limits};

/// Bytes read from the socket at a time.
const READ_CHUNK: usize = 16 * 1024;

/// One client connection: sends commands as RESP multibulks and decodes replies.
pub struct Connection {
    stream: TcpStream,
    buf: BytesMut,
    decoder: FrameDecoder,
}

impl Connection {
    /// Connects to `addr` (`host:port`), trying each resolved address within `timeout`.
    pub fn open(addr: &str, timeout: Duration) -> Result<Self> {
        let addrs = addr
            .to_socket_addrs()
            .with_context(|| format!("Could not resolve {addr}"))?;
        let mut last = anyhow!("Could not connect to {addr}: no address");
        for sa in addrs {
            match TcpStream::connect_timeout(&sa, timeout) {
                Ok(stream) => {
                    stream.set_nodelay(true)?;
                    return Ok(Self {
                        stream,
                        buf: BytesMut::with_capacity(READ_CHUNK),
                        decoder: FrameDecoder::new(Limits::default()),
                    });
                }
                Err(e) => last = anyhow!("Could not connect to {addr}: {e}"),
            }
        }
        Err(last)
    }

    /// Sends one command.
    pub fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<()> {
        let mut out = BytesMut::new();
        encode_request(&mut out, args);
        self.stream.write_all(&out)?;
        Ok(())
    }

    /// Waits for the next reply (blocking: `BLPOP 0` may legitimately wait forever).
    pub fn read_reply(&mut self) -> Result<Frame> {
        loop {
            if let Some(frame) = self.decoder.decode(&mut self.buf)? {
                return Ok(frame);
            }
            let start = self.buf.len();
            self.buf.resize(start + READ_CHUNK, 0);
            let n = self.stream.read(&mut self.buf[start..]);
            self.buf.truncate(start + *n.as_ref().unwrap_or(&0));
            if n? == 0 {
                bail!("Server closed the connection");
            }
        }
    }

    /// Sends one command and waits for its reply.
    pub fn call<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Result<Frame> {
        self.send(args)?;
        self.read_reply()
    }
}
