//! A logged-in connection that runs commands and prints their replies.

use std::io::Write;
use std::time::Duration;

use anyhow::Result;
use bytes::Bytes;
use resp::Frame;

use crate::conn::Connection;
use crate::format::format_reply;

/// How `pilot` talks to the server: address, credentials, protocol version.
pub struct Options {
    /// `host:port`.
    pub addr: String,
    /// Password sent with `AUTH` after connecting.
    pub pass: Option<String>,
    /// Whether to switch to RESP3 with `HELLO 3` after connecting.
    pub resp3: bool,
    /// The longest wait for a connection to open.
    pub connect_timeout: Duration,
}

/// A connection set up per [`Options`], reopened after it breaks.
pub struct Session {
    options: Options,
    conn: Option<Connection>,
}

impl Session {
    /// Connects, authenticates and switches protocol as `options` ask.
    pub fn open(options: Options) -> Result<Self> {
        let mut session = Self {
            options,
            conn: None,
        };
        session.connect()?;
        Ok(session)
    }

    /// The server address.
    pub fn addr(&self) -> &str {
        &self.options.addr
    }

    fn connect(&mut self) -> Result<&mut Connection> {
        if self.conn.is_none() {
            let mut conn = Connection::open(&self.options.addr, self.options.connect_timeout)?;
            if let Some(pass) = &self.options.pass {
                if let Frame::Error(e) = conn.call(&["AUTH", pass.as_str()])? {
                    eprintln!("AUTH failed: {}", String::from_utf8_lossy(&e));
                }
            }
            if self.options.resp3 {
                if let Frame::Error(e) = conn.call(&["HELLO", "3"])? {
                    eprintln!("HELLO 3 failed: {}", String::from_utf8_lossy(&e));
                }
            }
            self.conn = Some(conn);
        }
        match self.conn.as_mut() {
            Some(conn) => Ok(conn),
            None => anyhow::bail!("not connected"),
        }
    }

    /// Runs one command and prints its reply (after any RESP3 push messages that arrive
    /// first); for `SUBSCRIBE`-like commands keeps printing messages until the connection
    /// closes.
    pub fn command(&mut self, args: &[Bytes]) -> Result<()> {
        let streaming = args.first().is_some_and(|name| {
            let name = name.to_ascii_lowercase();
            matches!(
                name.as_slice(),
                b"subscribe" | b"psubscribe" | b"ssubscribe" | b"monitor"
            )
        });
        let conn = self.connect()?;
        let reply = conn.send(args).and_then(|()| conn.read_reply());
        let mut reply = match reply {
            Ok(reply) => reply,
            Err(e) => {
                self.conn = None;
                return Err(e);
            }
        };
        loop {
            let mut out = std::io::stdout().lock();
            out.write_all(&format_reply(&reply))?;
            out.flush()?;
            // An out-of-band push (RESP3) is printed, then the command's own reply follows.
            if !streaming && !matches!(reply, Frame::Push(_)) {
                return Ok(());
            }
            reply = match self.conn.as_mut() {
                Some(conn) => conn.read_reply()?,
                None => return Ok(()),
            };
        }
    }
}
