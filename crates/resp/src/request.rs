//! Server-side, incremental decoding of client requests (multibulk and inline).

use bytes::{Buf, Bytes, BytesMut};

use crate::line::{find, parse_i64};
use crate::{split_args, Error, Limits, Result};

/// Decodes client requests from a connection's read buffer, one command at a time.
///
/// A request is a multibulk (`*<n>\r\n$<len>\r\n<arg>\r\n...`) or, when the first byte is not
/// `*`, an inline command line split by [`split_args`]; empty inline lines and empty
/// multibulks (`*0`, `*-1`) are skipped as Redis does. The decoder mirrors Redis 7's
/// `processMultibulkBuffer`/`processInlineBuffer`, including its error texts.
///
/// It is stateful: feed it the *same* buffer on every call, appending what the socket gives.
/// Completed arguments are split off the buffer as soon as they are whole (zero-copy
/// [`Bytes`]), a pending bulk only waits for its length in bytes, and a pending line is never
/// searched twice, so a 512 MiB argument arriving in small pieces costs linear time. After an
/// error the connection must be closed; the decoder state is then meaningless.
///
/// Limits are deterministic whatever the read sizes are: a line whose bytes before its
/// terminator exceed [`Limits::inline_len_max`] is an error, whether it arrived in one read
/// or in many (Redis only checks while the line is incomplete).
#[derive(Debug, Clone, Default)]
pub struct RequestDecoder {
    limits: Limits,
    /// How far the current, incomplete line has been searched for its terminator.
    scanned: usize,
    /// The multibulk being read, if its count line has been consumed.
    multibulk: Option<Multibulk>,
}

#[derive(Debug, Clone)]
struct Multibulk {
    remaining: usize,
    args: Vec<Bytes>,
    /// The length of the bulk whose header has been consumed but whose data is incomplete.
    bulk_len: Option<usize>,
}

impl RequestDecoder {
    /// A decoder enforcing `limits`.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            scanned: 0,
            multibulk: None,
        }
    }

    /// The limits this decoder enforces.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// How many more bytes (data plus CRLF) the bulk argument in progress needs, counted from
    /// the start of `buf`'s unread data; `None` when no bulk is in progress. A connection may
    /// `reserve` this much before reading a large argument.
    pub fn pending_bulk_len(&self, buffered: usize) -> Option<usize> {
        let len = self.multibulk.as_ref()?.bulk_len?;
        Some(len.saturating_add(2).saturating_sub(buffered))
    }

    /// Decodes the next request from `buf`, consuming its bytes.
    ///
    /// Returns `Ok(None)` when `buf` holds no complete request yet (call again after reading
    /// more), and one request's arguments otherwise; call again to get the next pipelined one.
    ///
    /// # Errors
    /// A protocol error, whose `Display` text is Redis's; reply `-ERR <text>` and close.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>> {
        loop {
            let mb = match self.multibulk.take() {
                Some(mb) => mb,
                None => {
                    let Some(&first) = buf.first() else {
                        return Ok(None);
                    };
                    if first != b'*' {
                        match self.inline(buf)? {
                            Some(args) if args.is_empty() => continue,
                            other => return Ok(other),
                        }
                    }
                    match self.multibulk_count(buf)? {
                        None => return Ok(None),
                        Some(0) => continue,
                        Some(n) => Multibulk {
                            remaining: n,
                            args: Vec::with_capacity(n.min(1024)),
                            bulk_len: None,
                        },
                    }
                }
            };
            return self.bulks(buf, mb);
        }
    }

    /// Reads an inline command line; `Some(vec![])` for an empty line.
    fn inline(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>> {
        let Some(nl) = find(buf, self.scanned, b'\n') else {
            if buf.len() > self.limits.inline_len_max {
                return Err(Error::TooBigInlineRequest);
            }
            self.scanned = buf.len();
            return Ok(None);
        };
        self.scanned = 0;
        if nl > self.limits.inline_len_max {
            return Err(Error::TooBigInlineRequest);
        }
        let line = buf.split_to(nl + 1);
        let end = if nl > 0 && line[nl - 1] == b'\r' {
            nl - 1
        } else {
            nl
        };
        split_args(&line[..end]).map(Some)
    }

    /// Finds the end of a `*`/`$` count line: `Some(index of its '\r')` once the byte after the
    /// `'\r'` is buffered too (Redis does not check that this byte is `'\n'`).
    fn count_line(&mut self, buf: &BytesMut, too_big: Error) -> Result<Option<usize>> {
        let Some(cr) = find(buf, self.scanned, b'\r') else {
            if buf.len() > self.limits.inline_len_max {
                return Err(too_big);
            }
            self.scanned = buf.len();
            return Ok(None);
        };
        if cr > self.limits.inline_len_max {
            return Err(too_big);
        }
        if cr + 1 >= buf.len() {
            self.scanned = cr;
            return Ok(None);
        }
        self.scanned = 0;
        Ok(Some(cr))
    }

    /// Reads the `*<n>` line; `Some(0)` for an empty or negative count (skipped).
    fn multibulk_count(&mut self, buf: &mut BytesMut) -> Result<Option<usize>> {
        let Some(cr) = self.count_line(buf, Error::TooBigMultibulkCount)? else {
            return Ok(None);
        };
        let n = parse_i64(&buf[1..cr]).ok_or(Error::InvalidMultibulkLength)?;
        let n = usize::try_from(n).unwrap_or(0);
        if n > self.limits.multibulk_len_max {
            return Err(Error::InvalidMultibulkLength);
        }
        buf.advance(cr + 2);
        Ok(Some(n))
    }

    /// Reads the `$<len>` line of the next argument.
    fn bulk_len(&mut self, buf: &mut BytesMut) -> Result<Option<usize>> {
        let Some(cr) = self.count_line(buf, Error::TooBigBulkCount)? else {
            return Ok(None);
        };
        if buf[0] != b'$' {
            return Err(Error::ExpectedBulk(buf[0]));
        }
        let len = parse_i64(&buf[1..cr])
            .and_then(|l| usize::try_from(l).ok())
            .filter(|&l| l <= self.limits.bulk_len_max)
            .ok_or(Error::InvalidBulkLength)?;
        buf.advance(cr + 2);
        Ok(Some(len))
    }

    /// Reads the arguments of the multibulk in progress.
    fn bulks(&mut self, buf: &mut BytesMut, mut mb: Multibulk) -> Result<Option<Vec<Bytes>>> {
        while mb.remaining > 0 {
            let len = match mb.bulk_len {
                Some(len) => len,
                None => match self.bulk_len(buf)? {
                    Some(len) => len,
                    None => {
                        self.multibulk = Some(mb);
                        return Ok(None);
                    }
                },
            };
            // As in Redis, the two bytes after the data are skipped unchecked.
            if buf.len() < len.saturating_add(2) {
                mb.bulk_len = Some(len);
                self.multibulk = Some(mb);
                return Ok(None);
            }
            mb.args.push(buf.split_to(len).freeze());
            buf.advance(2);
            mb.bulk_len = None;
            mb.remaining -= 1;
        }
        Ok(Some(mb.args))
    }
}
