//! Turning op outputs and errors into RESP replies, for the connection's protocol version.
//!
//! This is the one place an [`Output`] becomes bytes: maps, sets, doubles and the two nulls are
//! downgraded for RESP2 clients by [`resp::Encoder`].

use bytes::BytesMut;
use resp::Encoder;
use storage::{ExecResult, Output};

use crate::errors;

/// Appends the reply for `output` to `out`.
pub fn output(enc: &Encoder, out: &mut BytesMut, output: &Output) {
    match output {
        Output::Ok => enc.simple(out, b"OK"),
        Output::Status(s) => enc.simple(out, s.as_bytes()),
        Output::Nil => enc.null(out),
        Output::NilArray => enc.null_array(out),
        Output::Int(n) => enc.integer(out, *n),
        Output::Bulk(b) => enc.bulk(out, b),
        Output::Double(d) => enc.double(out, *d),
        Output::Array(items) => {
            enc.array_len(out, items.len());
            items.iter().for_each(|item| self::output(enc, out, item));
        }
        Output::Map(pairs) => {
            enc.map_len(out, pairs.len());
            for (k, v) in pairs {
                self::output(enc, out, k);
                self::output(enc, out, v);
            }
        }
        Output::Set(items) => {
            enc.set_len(out, items.len());
            items.iter().for_each(|item| self::output(enc, out, item));
        }
        Output::Pairs(pairs) => pairs_reply(enc, out, pairs),
    }
}

/// Pairs: a flat array in RESP2, an array of two-element arrays in RESP3.
fn pairs_reply(enc: &Encoder, out: &mut BytesMut, pairs: &[(Output, Output)]) {
    let resp3 = enc.version() == resp::ProtocolVersion::Resp3;
    enc.array_len(out, if resp3 { pairs.len() } else { pairs.len() * 2 });
    for (k, v) in pairs {
        if resp3 {
            enc.array_len(out, 2);
        }
        output(enc, out, k);
        output(enc, out, v);
    }
}

/// Appends the reply for an op result (an error becomes its Redis error text).
pub fn result(enc: &Encoder, out: &mut BytesMut, result: &ExecResult) {
    match result {
        Ok(o) => output(enc, out, o),
        Err(e) => error(enc, out, &errors::exec_error_text(e)),
    }
}

/// Appends an error reply; `text` includes its code (`ERR ...`).
pub fn error(enc: &Encoder, out: &mut BytesMut, text: &str) {
    enc.error(out, text.as_bytes());
}

#[cfg(test)]
mod tests {
    use resp::ProtocolVersion;

    use super::*;

    fn encode(version: ProtocolVersion, o: &Output) -> String {
        let mut out = BytesMut::new();
        output(&Encoder::new(version), &mut out, o);
        String::from_utf8(out.to_vec()).unwrap()
    }

    #[test]
    fn maps_sets_doubles_and_nils_follow_the_protocol_version() {
        let map = Output::Map(vec![(Output::bulk("a"), Output::Int(1))]);
        assert_eq!(
            encode(ProtocolVersion::Resp2, &map),
            "*2\r\n$1\r\na\r\n:1\r\n"
        );
        assert_eq!(
            encode(ProtocolVersion::Resp3, &map),
            "%1\r\n$1\r\na\r\n:1\r\n"
        );
        let set = Output::Set(vec![Output::bulk("x")]);
        assert_eq!(encode(ProtocolVersion::Resp2, &set), "*1\r\n$1\r\nx\r\n");
        assert_eq!(encode(ProtocolVersion::Resp3, &set), "~1\r\n$1\r\nx\r\n");
        assert_eq!(
            encode(ProtocolVersion::Resp2, &Output::Double(1.5)),
            "$3\r\n1.5\r\n"
        );
        assert_eq!(
            encode(ProtocolVersion::Resp3, &Output::Double(1.5)),
            ",1.5\r\n"
        );
        assert_eq!(encode(ProtocolVersion::Resp2, &Output::Nil), "$-1\r\n");
        assert_eq!(encode(ProtocolVersion::Resp2, &Output::NilArray), "*-1\r\n");
        assert_eq!(encode(ProtocolVersion::Resp3, &Output::NilArray), "_\r\n");
        assert_eq!(encode(ProtocolVersion::Resp2, &Output::Ok), "+OK\r\n");
        let pairs = Output::Pairs(vec![(Output::bulk("m"), Output::Double(2.0))]);
        assert_eq!(
            encode(ProtocolVersion::Resp2, &pairs),
            "*2\r\n$1\r\nm\r\n$1\r\n2\r\n"
        );
        assert_eq!(
            encode(ProtocolVersion::Resp3, &pairs),
            "*1\r\n*2\r\n$1\r\nm\r\n,2\r\n"
        );
    }
}
