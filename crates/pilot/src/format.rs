//! Prints replies the way `redis-cli` does on a terminal.

use std::io::Write;

use resp::{format_double, Frame};

/// Formats `frame` exactly as `redis-cli` prints a reply on a terminal (its
/// `cliFormatReplyTTY`): `OK`, `(integer) 5`, `"bar"` (quoted and escaped), `(nil)`,
/// `(error) ERR ...`, numbered and indented aggregates (`1) `, `1~ ` for sets, `1# k => v`
/// for maps), `(empty array)`, `(double) 1.5`, `(true)`. The text ends with a newline.
///
/// Where `redis-cli` 7.0 prints nothing useful, RedRaft chooses: big numbers print as
/// `(big number) <digits>`, attributes are skipped (only the frame they describe is printed),
/// and doubles print with [`format_double`] rather than the server's own text.
pub fn format_reply(frame: &Frame) -> Vec<u8> {
    let mut out = Vec::new();
    write_frame(&mut out, frame, "");
    out
}

fn write_frame(out: &mut Vec<u8>, frame: &Frame, prefix: &str) {
    match frame {
        Frame::Simple(s) => line(out, s),
        Frame::Error(e) => {
            out.extend_from_slice(b"(error) ");
            line(out, e);
        }
        Frame::Integer(n) => text(out, &format!("(integer) {n}")),
        Frame::Double(d) => text(out, &format!("(double) {}", format_double(*d))),
        Frame::Bulk(b) => {
            repr(out, b);
            out.push(b'\n');
        }
        Frame::Verbatim { data, .. } => line(out, data),
        Frame::BigNumber(n) => {
            out.extend_from_slice(b"(big number) ");
            line(out, n);
        }
        Frame::Null | Frame::NullArray => text(out, "(nil)"),
        Frame::Boolean(b) => text(out, if *b { "(true)" } else { "(false)" }),
        Frame::Array(items) => list(out, items, ')', "(empty array)", prefix),
        Frame::Push(items) => list(out, items, ')', "(empty push)", prefix),
        Frame::Set(items) => list(out, items, '~', "(empty set)", prefix),
        Frame::Map(pairs) => map(out, pairs, prefix),
        Frame::Attribute { frame, .. } => write_frame(out, frame, prefix),
    }
}

fn text(out: &mut Vec<u8>, s: &str) {
    line(out, s.as_bytes());
}

fn line(out: &mut Vec<u8>, s: &[u8]) {
    out.extend_from_slice(s);
    out.push(b'\n');
}

/// The width of the largest index, and the prefix nested entries get.
fn layout(len: usize, prefix: &str) -> (usize, String) {
    let width = len.to_string().len();
    (width, format!("{prefix}{}", " ".repeat(width + 2)))
}

fn index(out: &mut Vec<u8>, i: usize, width: usize, sep: char, prefix: &str) {
    let lead = if i == 0 { "" } else { prefix };
    let _ = write!(out, "{lead}{:>width$}{sep} ", i + 1);
}

fn list(out: &mut Vec<u8>, items: &[Frame], sep: char, empty: &str, prefix: &str) {
    if items.is_empty() {
        return text(out, empty);
    }
    let (width, nested) = layout(items.len(), prefix);
    for (i, item) in items.iter().enumerate() {
        index(out, i, width, sep, prefix);
        write_frame(out, item, &nested);
    }
}

fn map(out: &mut Vec<u8>, pairs: &[(Frame, Frame)], prefix: &str) {
    if pairs.is_empty() {
        return text(out, "(empty hash)");
    }
    let (width, nested) = layout(pairs.len(), prefix);
    for (i, (k, v)) in pairs.iter().enumerate() {
        index(out, i, width, '#', prefix);
        write_frame(out, k, &nested);
        out.pop();
        out.extend_from_slice(b" => ");
        write_frame(out, v, &nested);
    }
}

/// `sdscatrepr`: a double-quoted string with C escapes and `\xHH` for unprintable bytes.
fn repr(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        match b {
            b'\\' | b'"' => out.extend_from_slice(&[b'\\', b]),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(b),
            _ => {
                let _ = write!(out, "\\x{b:02x}");
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn f(frame: &Frame) -> String {
        String::from_utf8(format_reply(frame)).unwrap()
    }

    fn int(n: i64) -> Frame {
        Frame::Integer(n)
    }

    // Every expected text below is what redis-cli 7.0 --no-raw printed for the same reply.

    #[test]
    fn scalars() {
        assert_eq!(f(&Frame::simple("OK")), "OK\n");
        assert_eq!(f(&Frame::bulk("bar")), "\"bar\"\n");
        assert_eq!(f(&Frame::Null), "(nil)\n");
        assert_eq!(f(&Frame::NullArray), "(nil)\n");
        assert_eq!(f(&int(1)), "(integer) 1\n");
        assert_eq!(
            f(&Frame::error(
                "ERR unknown command 'bogus', with args beginning with: "
            )),
            "(error) ERR unknown command 'bogus', with args beginning with: \n"
        );
        assert_eq!(f(&Frame::Double(1.5)), "(double) 1.5\n");
        // Redis 7.2 formatting (7.0 servers send 0.10000000000000001).
        assert_eq!(f(&Frame::Double(0.1)), "(double) 0.1\n");
        assert_eq!(f(&Frame::Boolean(true)), "(true)\n");
        assert_eq!(f(&Frame::Boolean(false)), "(false)\n");
        let verbatim = Frame::Verbatim {
            format: *b"txt",
            data: Bytes::from_static(b"This is a verbatim\nstring"),
        };
        assert_eq!(f(&verbatim), "This is a verbatim\nstring\n");
        assert_eq!(
            f(&Frame::BigNumber(Bytes::from_static(b"123"))),
            "(big number) 123\n"
        );
    }

    #[test]
    fn bulk_escaping() {
        let b = Frame::bulk(b"a\"b\\c\x01\n\t\xff");
        assert_eq!(f(&b), "\"a\\\"b\\\\c\\x01\\n\\t\\xff\"\n");
        assert_eq!(
            f(&Frame::bulk(b"\r\x07\x08 ~\x7f")),
            "\"\\r\\a\\b ~\\x7f\"\n"
        );
    }

    #[test]
    fn arrays() {
        let a = Frame::Array(vec![Frame::bulk("a"), Frame::bulk("b"), Frame::bulk("c d")]);
        assert_eq!(f(&a), "1) \"a\"\n2) \"b\"\n3) \"c d\"\n");
        assert_eq!(f(&Frame::Array(vec![])), "(empty array)\n");
        // EVAL "return {1,{2,{3,'x'}},'y',{}}" 0
        let nested = Frame::Array(vec![
            int(1),
            Frame::Array(vec![int(2), Frame::Array(vec![int(3), Frame::bulk("x")])]),
            Frame::bulk("y"),
            Frame::Array(vec![]),
        ]);
        assert_eq!(
            f(&nested),
            "1) (integer) 1\n2) 1) (integer) 2\n   2) 1) (integer) 3\n      2) \"x\"\n3) \"y\"\n4) (empty array)\n"
        );
    }

    #[test]
    fn wide_indexes_are_right_aligned() {
        // EVAL "return {1,2,3,4,5,6,7,8,9,10,{1,2}}" 0
        let mut items: Vec<Frame> = (1..=10).map(int).collect();
        items.push(Frame::Array(vec![int(1), int(2)]));
        let want = " 1) (integer) 1\n 2) (integer) 2\n 3) (integer) 3\n 4) (integer) 4\n 5) (integer) 5\n 6) (integer) 6\n 7) (integer) 7\n 8) (integer) 8\n 9) (integer) 9\n10) (integer) 10\n11) 1) (integer) 1\n    2) (integer) 2\n";
        assert_eq!(f(&Frame::Array(items)), want);
    }

    #[test]
    fn resp3_aggregates() {
        let map = Frame::Map(vec![
            (Frame::bulk("f1"), Frame::bulk("v1")),
            (Frame::bulk("f2"), Frame::bulk("v2")),
        ]);
        assert_eq!(f(&map), "1# \"f1\" => \"v1\"\n2# \"f2\" => \"v2\"\n");
        let set = Frame::Set(vec![int(0), int(1), int(2)]);
        assert_eq!(f(&set), "1~ (integer) 0\n2~ (integer) 1\n3~ (integer) 2\n");
        let bools = Frame::Map(vec![
            (int(0), Frame::Boolean(false)),
            (int(1), Frame::Boolean(true)),
        ]);
        assert_eq!(
            f(&bools),
            "1# (integer) 0 => (false)\n2# (integer) 1 => (true)\n"
        );
        assert_eq!(f(&Frame::Set(vec![])), "(empty set)\n");
        assert_eq!(f(&Frame::Map(vec![])), "(empty hash)\n");
        let hello = Frame::Map(vec![(Frame::bulk("modules"), Frame::Array(vec![]))]);
        assert_eq!(f(&hello), "1# \"modules\" => (empty array)\n");
        let nested = Frame::Map(vec![(Frame::bulk("k"), Frame::Array(vec![int(1), int(2)]))]);
        assert_eq!(
            f(&nested),
            "1# \"k\" => 1) (integer) 1\n   2) (integer) 2\n"
        );
        let push = Frame::Push(vec![Frame::bulk("message"), Frame::bulk("ch")]);
        assert_eq!(f(&push), "1) \"message\"\n2) \"ch\"\n");
        let attr = Frame::Attribute {
            attrs: vec![(Frame::simple("ttl"), int(1))],
            frame: Box::new(Frame::simple("OK")),
        };
        assert_eq!(f(&attr), "OK\n");
    }
}
