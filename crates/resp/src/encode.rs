//! Reply (and request) encoding.

use bytes::BufMut;

use crate::line::put_i64;
use crate::{format_double, Frame, ProtocolVersion};

/// Writes replies for one connection's [`ProtocolVersion`].
///
/// RESP3-only types are downgraded for RESP2 exactly as Redis does: map → flat array of
/// 2n elements, set and push → array, double → bulk string (same text), boolean → `:1`/`:0`,
/// null → `$-1` ([`Frame::Null`]) or `*-1` ([`Frame::NullArray`]), verbatim → bulk string of
/// its text, big number → bulk string, attributes dropped. Simple strings and errors have any
/// CR or LF replaced by a space (as Redis does for errors) so a reply can never break framing.
///
/// The methods write straight into the buffer; nothing is allocated besides its growth.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Encoder {
    version: ProtocolVersion,
}

impl Encoder {
    /// An encoder for `version`.
    pub fn new(version: ProtocolVersion) -> Self {
        Self { version }
    }

    /// The protocol version this encoder writes.
    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    fn resp3(&self) -> bool {
        self.version == ProtocolVersion::Resp3
    }

    /// Writes a whole frame, recursively.
    pub fn frame(&self, out: &mut impl BufMut, frame: &Frame) {
        match frame {
            Frame::Simple(s) => self.simple(out, s),
            Frame::Error(e) => self.error(out, e),
            Frame::Integer(n) => self.integer(out, *n),
            Frame::Bulk(b) => self.bulk(out, b),
            Frame::Null => self.null(out),
            Frame::NullArray => self.null_array(out),
            Frame::Boolean(b) => self.boolean(out, *b),
            Frame::Double(d) => self.double(out, *d),
            Frame::BigNumber(n) => self.big_number(out, n),
            Frame::Verbatim { format, data } => self.verbatim(out, format, data),
            Frame::Array(items) => {
                self.array_len(out, items.len());
                items.iter().for_each(|f| self.frame(out, f));
            }
            Frame::Set(items) => {
                self.set_len(out, items.len());
                items.iter().for_each(|f| self.frame(out, f));
            }
            Frame::Push(items) => {
                self.push_len(out, items.len());
                items.iter().for_each(|f| self.frame(out, f));
            }
            Frame::Map(pairs) => {
                self.map_len(out, pairs.len());
                self.pairs(out, pairs);
            }
            Frame::Attribute { attrs, frame } => {
                if self.resp3() {
                    header(out, b'|', attrs.len());
                    self.pairs(out, attrs);
                }
                self.frame(out, frame);
            }
        }
    }

    fn pairs(&self, out: &mut impl BufMut, pairs: &[(Frame, Frame)]) {
        for (k, v) in pairs {
            self.frame(out, k);
            self.frame(out, v);
        }
    }

    /// `+<s>`: a status reply such as `OK`.
    pub fn simple(&self, out: &mut impl BufMut, s: &[u8]) {
        out.put_u8(b'+');
        put_line(out, s);
    }

    /// `-<e>`: an error reply; `e` includes the code, e.g. `ERR syntax error`.
    pub fn error(&self, out: &mut impl BufMut, e: &[u8]) {
        out.put_u8(b'-');
        put_line(out, e);
    }

    /// `:<n>`.
    pub fn integer(&self, out: &mut impl BufMut, n: i64) {
        out.put_u8(b':');
        put_i64(out, n);
        out.put_slice(b"\r\n");
    }

    /// `$<len>\r\n<b>\r\n`.
    pub fn bulk(&self, out: &mut impl BufMut, b: &[u8]) {
        header(out, b'$', b.len());
        out.put_slice(b);
        out.put_slice(b"\r\n");
    }

    /// The null bulk string: `$-1` (RESP2) or `_` (RESP3).
    pub fn null(&self, out: &mut impl BufMut) {
        out.put_slice(if self.resp3() { b"_\r\n" } else { b"$-1\r\n" });
    }

    /// The null array: `*-1` (RESP2) or `_` (RESP3).
    pub fn null_array(&self, out: &mut impl BufMut) {
        out.put_slice(if self.resp3() { b"_\r\n" } else { b"*-1\r\n" });
    }

    /// `#t`/`#f` (RESP3) or `:1`/`:0` (RESP2).
    pub fn boolean(&self, out: &mut impl BufMut, b: bool) {
        let s: &[u8] = match (self.resp3(), b) {
            (true, true) => b"#t\r\n",
            (true, false) => b"#f\r\n",
            (false, true) => b":1\r\n",
            (false, false) => b":0\r\n",
        };
        out.put_slice(s);
    }

    /// `,<d>` (RESP3) or a bulk string (RESP2), with the text of [`format_double`].
    pub fn double(&self, out: &mut impl BufMut, d: f64) {
        let text = format_double(d);
        if self.resp3() {
            out.put_u8(b',');
            out.put_slice(text.as_bytes());
            out.put_slice(b"\r\n");
        } else {
            self.bulk(out, text.as_bytes());
        }
    }

    /// `(<digits>` (RESP3) or a bulk string (RESP2).
    pub fn big_number(&self, out: &mut impl BufMut, digits: &[u8]) {
        if self.resp3() {
            out.put_u8(b'(');
            put_line(out, digits);
        } else {
            self.bulk(out, digits);
        }
    }

    /// `=<len>\r\n<format>:<data>\r\n` (RESP3) or a bulk string of `data` (RESP2).
    pub fn verbatim(&self, out: &mut impl BufMut, format: &[u8; 3], data: &[u8]) {
        if self.resp3() {
            header(out, b'=', data.len() + 4);
            out.put_slice(format);
            out.put_u8(b':');
            out.put_slice(data);
            out.put_slice(b"\r\n");
        } else {
            self.bulk(out, data);
        }
    }

    /// The header of an array of `n` elements: `*<n>`.
    pub fn array_len(&self, out: &mut impl BufMut, n: usize) {
        header(out, b'*', n);
    }

    /// The header of a map of `n` pairs: `%<n>` (RESP3) or `*<2n>` (RESP2). Write the keys
    /// and values alternately after it.
    pub fn map_len(&self, out: &mut impl BufMut, n: usize) {
        if self.resp3() {
            header(out, b'%', n);
        } else {
            header(out, b'*', n.saturating_mul(2));
        }
    }

    /// The header of a set of `n` elements: `~<n>` (RESP3) or `*<n>` (RESP2).
    pub fn set_len(&self, out: &mut impl BufMut, n: usize) {
        header(out, if self.resp3() { b'~' } else { b'*' }, n);
    }

    /// The header of a push message of `n` elements: `><n>` (RESP3) or `*<n>` (RESP2).
    pub fn push_len(&self, out: &mut impl BufMut, n: usize) {
        header(out, if self.resp3() { b'>' } else { b'*' }, n);
    }
}

/// Encodes a request as a multibulk of bulk strings, as clients send commands.
pub fn encode_request<A: AsRef<[u8]>>(out: &mut impl BufMut, args: &[A]) {
    header(out, b'*', args.len());
    for arg in args {
        let arg = arg.as_ref();
        header(out, b'$', arg.len());
        out.put_slice(arg);
        out.put_slice(b"\r\n");
    }
}

fn header(out: &mut impl BufMut, kind: u8, n: usize) {
    out.put_u8(kind);
    put_i64(out, i64::try_from(n).unwrap_or(i64::MAX));
    out.put_slice(b"\r\n");
}

/// Writes `s` with CR/LF replaced by spaces, then CRLF.
fn put_line(out: &mut impl BufMut, s: &[u8]) {
    if s.iter().any(|&b| b == b'\r' || b == b'\n') {
        for &b in s {
            out.put_u8(if b == b'\r' || b == b'\n' { b' ' } else { b });
        }
    } else {
        out.put_slice(s);
    }
    out.put_slice(b"\r\n");
}
