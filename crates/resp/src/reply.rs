//! Client-side decoding of reply frames (RESP2 and RESP3).

use bytes::{Bytes, BytesMut};

use crate::line::{find, parse_i64};
use crate::{Error, Frame, Limits, Result};

/// Decodes reply frames of any RESP2/RESP3 type into [`Frame`] values.
///
/// Used by `pilot` and the tests. Each call first walks the buffer without allocating to find
/// where the next frame ends (checking every length against [`Limits`]); only a complete frame
/// is then split off the buffer and built, sharing its bytes ([`Bytes`] slices, no copies).
/// An incomplete frame is `Ok(None)`. The walk restarts from the frame's first byte on each
/// call, which costs one pass over the frame's headers: for a large bulk string arriving in
/// pieces that is a constant per call, for an aggregate of many elements it is linear in the
/// number of elements received so far.
#[derive(Debug, Clone, Default)]
pub struct FrameDecoder {
    limits: Limits,
}

impl FrameDecoder {
    /// A decoder enforcing `limits`.
    pub fn new(limits: Limits) -> Self {
        Self { limits }
    }

    /// Decodes the next frame from `buf`, consuming its bytes; `Ok(None)` if incomplete.
    ///
    /// # Errors
    /// A protocol error: malformed or over-limit input.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>> {
        let walk = Parser {
            buf,
            src: None,
            limits: &self.limits,
        };
        let Some((_, end)) = walk.frame(0, 0)? else {
            return Ok(None);
        };
        let src = buf.split_to(end).freeze();
        let build = Parser {
            buf: &src,
            src: Some(&src),
            limits: &self.limits,
        };
        Ok(build.frame(0, 0)?.map(|(frame, _)| frame))
    }
}

/// One walk over a buffer: without `src` it only validates and finds frame ends (the frames
/// it returns are placeholders); with `src` (the same bytes, frozen) it builds the frames.
struct Parser<'a> {
    buf: &'a [u8],
    src: Option<&'a Bytes>,
    limits: &'a Limits,
}

/// A frame and the index just after it, or `None` when the input is incomplete.
type Step = Option<(Frame, usize)>;

impl Parser<'_> {
    fn slice(&self, start: usize, end: usize) -> Bytes {
        self.src.map_or_else(Bytes::new, |s| s.slice(start..end))
    }

    /// Finds the line after the type byte at `pos`: `(end of its content, start of next)`.
    fn line(&self, pos: usize) -> Result<Option<(usize, usize)>> {
        let start = pos + 1;
        let Some(cr) = find(self.buf, start, b'\r') else {
            if self.buf.len() - start > self.limits.inline_len_max {
                return Err(Error::TooBigLine);
            }
            return Ok(None);
        };
        if cr - start > self.limits.inline_len_max {
            return Err(Error::TooBigLine);
        }
        match self.buf.get(cr + 1) {
            None => Ok(None),
            Some(b'\n') => Ok(Some((cr, cr + 2))),
            Some(_) => Err(Error::ExpectedCrlf),
        }
    }

    /// Parses the frame starting at `pos`, nested inside `depth` aggregates.
    fn frame(&self, pos: usize, depth: usize) -> Result<Step> {
        let Some(&kind) = self.buf.get(pos) else {
            return Ok(None);
        };
        if !b"+-:$*_#,(!=%~>|".contains(&kind) {
            return Err(Error::InvalidFrameType(kind));
        }
        let Some((end, next)) = self.line(pos)? else {
            return Ok(None);
        };
        let body = &self.buf[pos + 1..end];
        let frame = match kind {
            b'+' => Frame::Simple(self.slice(pos + 1, end)),
            b'-' => Frame::Error(self.slice(pos + 1, end)),
            b':' => Frame::Integer(parse_i64(body).ok_or(Error::InvalidInteger)?),
            b'_' if body.is_empty() => Frame::Null,
            b'_' => return Err(Error::InvalidNull),
            b'#' => match body {
                b"t" => Frame::Boolean(true),
                b"f" => Frame::Boolean(false),
                _ => return Err(Error::InvalidBoolean),
            },
            b',' => Frame::Double(parse_double(body)?),
            b'(' if is_big_number(body) => Frame::BigNumber(self.slice(pos + 1, end)),
            b'(' => return Err(Error::InvalidBigNumber),
            b'$' | b'!' | b'=' => return self.blob(kind, body, next),
            _ => return self.aggregate(kind, body, next, depth),
        };
        Ok(Some((frame, next)))
    }

    /// A bulk string, blob error or verbatim string whose header line is `body`.
    fn blob(&self, kind: u8, body: &[u8], start: usize) -> Result<Step> {
        if body == b"?" {
            return Err(Error::Streamed);
        }
        if kind == b'$' && body == b"-1" {
            return Ok(Some((Frame::Null, start)));
        }
        let len = parse_i64(body)
            .and_then(|l| usize::try_from(l).ok())
            .filter(|&l| l <= self.limits.bulk_len_max)
            .ok_or(Error::InvalidBulkLength)?;
        let end = start.saturating_add(len);
        if self.buf.len() < end.saturating_add(2) {
            return Ok(None);
        }
        if &self.buf[end..end + 2] != b"\r\n" {
            return Err(Error::ExpectedCrlf);
        }
        let frame = match kind {
            b'$' => Frame::Bulk(self.slice(start, end)),
            b'!' => Frame::Error(self.slice(start, end)),
            _ => {
                let data = &self.buf[start..end];
                let (Some(format), Some(b':')) = (data.first_chunk::<3>(), data.get(3)) else {
                    return Err(Error::InvalidVerbatim);
                };
                Frame::Verbatim {
                    format: *format,
                    data: self.slice(start + 4, end),
                }
            }
        };
        Ok(Some((frame, end + 2)))
    }

    /// An array, set, push, map or attribute whose count line is `body`.
    fn aggregate(&self, kind: u8, body: &[u8], mut pos: usize, depth: usize) -> Result<Step> {
        if body == b"?" {
            return Err(Error::Streamed);
        }
        if kind == b'*' && body == b"-1" {
            return Ok(Some((Frame::NullArray, pos)));
        }
        let count = parse_i64(body)
            .and_then(|n| usize::try_from(n).ok())
            .filter(|&n| n <= self.limits.multibulk_len_max)
            .ok_or(Error::InvalidMultibulkLength)?;
        if depth >= self.limits.depth_max {
            return Err(Error::TooDeep);
        }
        let paired = matches!(kind, b'%' | b'|');
        let n = if paired {
            count.saturating_mul(2)
        } else {
            count
        };
        let building = self.src.is_some();
        let mut items = Vec::with_capacity(if building { n } else { 0 });
        for _ in 0..n {
            let Some((item, next)) = self.frame(pos, depth + 1)? else {
                return Ok(None);
            };
            if building {
                items.push(item);
            }
            pos = next;
        }
        let frame = match kind {
            b'*' => Frame::Array(items),
            b'~' => Frame::Set(items),
            b'>' => Frame::Push(items),
            b'%' => Frame::Map(pairs(items)),
            _ => {
                let Some((inner, next)) = self.frame(pos, depth + 1)? else {
                    return Ok(None);
                };
                pos = next;
                Frame::Attribute {
                    attrs: pairs(items),
                    frame: Box::new(inner),
                }
            }
        };
        Ok(Some((frame, pos)))
    }
}

fn pairs(items: Vec<Frame>) -> Vec<(Frame, Frame)> {
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    out
}

fn parse_double(body: &[u8]) -> Result<f64> {
    std::str::from_utf8(body)
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .ok_or(Error::InvalidDouble)
}

fn is_big_number(body: &[u8]) -> bool {
    let digits = match body {
        [b'-' | b'+', rest @ ..] => rest,
        _ => body,
    };
    !digits.is_empty() && digits.iter().all(u8::is_ascii_digit)
}
