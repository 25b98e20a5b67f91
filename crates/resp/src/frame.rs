//! The value of one RESP2/RESP3 frame.

use bytes::{BufMut, Bytes, BytesMut};

use crate::{Encoder, ProtocolVersion};

/// One decoded (or to-be-encoded) RESP frame.
///
/// Strings are binary-safe [`Bytes`]. There are two nulls because RESP2 has two: [`Frame::Null`]
/// is the null bulk string (`$-1`) and [`Frame::NullArray`] the null array (`*-1`); in RESP3
/// both are encoded as `_`, and `_` decodes as [`Frame::Null`].
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// `+OK`: a simple string (no CR or LF inside).
    Simple(Bytes),
    /// `-ERR ...`: an error, including its code (`ERR`, `WRONGTYPE`, ...). RESP3 blob errors
    /// (`!<len>`) decode to this too.
    Error(Bytes),
    /// `:<n>`: a signed 64-bit integer.
    Integer(i64),
    /// `$<len>`: a bulk string.
    Bulk(Bytes),
    /// The null bulk string (`$-1` in RESP2), or the RESP3 null (`_`).
    Null,
    /// The null array (`*-1` in RESP2; `_` in RESP3).
    NullArray,
    /// `*<n>`: an array.
    Array(Vec<Frame>),
    /// `#t` / `#f` (RESP3; `:1` / `:0` in RESP2).
    Boolean(bool),
    /// `,<double>` (RESP3; a bulk string in RESP2), formatted by [`format_double`](crate::format_double).
    Double(f64),
    /// `(<digits>` (RESP3; a bulk string in RESP2): an integer of any size, as its decimal text.
    BigNumber(Bytes),
    /// `=<len>` (RESP3; a bulk string of `data` in RESP2): text with a three-byte format such
    /// as `txt` or `mkd`.
    Verbatim {
        /// The format, e.g. `*b"txt"`.
        format: [u8; 3],
        /// The text itself, without the `fmt:` prefix.
        data: Bytes,
    },
    /// `%<n>` (RESP3; a flat array of 2n elements in RESP2): key/value pairs in order.
    Map(Vec<(Frame, Frame)>),
    /// `~<n>` (RESP3; an array in RESP2).
    Set(Vec<Frame>),
    /// `><n>` (RESP3; an array in RESP2): an out-of-band message such as a pub/sub message.
    Push(Vec<Frame>),
    /// `|<n>` (RESP3 only; dropped in RESP2): attributes attached to the frame that follows.
    Attribute {
        /// The attribute pairs.
        attrs: Vec<(Frame, Frame)>,
        /// The frame the attributes describe.
        frame: Box<Frame>,
    },
}

impl Frame {
    /// A simple string frame from static text, e.g. `Frame::simple("OK")`.
    pub fn simple(s: &'static str) -> Self {
        Self::Simple(Bytes::from_static(s.as_bytes()))
    }

    /// An error frame from text that includes its code, e.g. `Frame::error("ERR syntax error")`.
    pub fn error(s: impl Into<String>) -> Self {
        Self::Error(Bytes::from(s.into()))
    }

    /// A bulk string frame copied from any bytes.
    pub fn bulk(b: impl AsRef<[u8]>) -> Self {
        Self::Bulk(Bytes::copy_from_slice(b.as_ref()))
    }

    /// The frame encoded for `version`, as fresh bytes (convenience over [`Encoder::frame`]).
    pub fn to_bytes(&self, version: ProtocolVersion) -> Bytes {
        let mut out = BytesMut::new();
        Encoder::new(version).frame(&mut out, self);
        out.freeze()
    }

    /// The frame encoded for `version`, appended to `out`.
    pub fn encode(&self, version: ProtocolVersion, out: &mut impl BufMut) {
        Encoder::new(version).frame(out, self);
    }
}
