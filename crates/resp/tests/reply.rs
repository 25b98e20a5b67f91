//! Reply frames: golden decode and encode vectors for both protocol versions, and limits.
#![allow(clippy::unwrap_used)] // helpers of tests, where unwrap is the team rule

use bytes::{Bytes, BytesMut};
use resp::{Encoder, Error, Frame, FrameDecoder, Limits, ProtocolVersion};

use ProtocolVersion::{Resp2, Resp3};

fn b(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

fn decode(input: &[u8]) -> Result<Option<Frame>, Error> {
    decode_with(input, Limits::default())
}

fn decode_with(input: &[u8], limits: Limits) -> Result<Option<Frame>, Error> {
    let mut buf = BytesMut::from(input);
    let frame = FrameDecoder::new(limits).decode(&mut buf)?;
    if frame.is_some() {
        assert!(buf.is_empty(), "trailing bytes after {input:?}");
    }
    Ok(frame)
}

fn enc(frame: &Frame, v: ProtocolVersion) -> String {
    String::from_utf8(frame.to_bytes(v).to_vec()).unwrap()
}

fn vectors() -> Vec<(&'static str, Frame)> {
    vec![
        ("+OK\r\n", Frame::simple("OK")),
        (
            "-ERR unknown command\r\n",
            Frame::error("ERR unknown command"),
        ),
        (":-42\r\n", Frame::Integer(-42)),
        ("$3\r\nbar\r\n", Frame::bulk("bar")),
        ("$0\r\n\r\n", Frame::bulk("")),
        ("$-1\r\n", Frame::Null),
        ("*-1\r\n", Frame::NullArray),
        ("*0\r\n", Frame::Array(vec![])),
        (
            "*2\r\n$1\r\na\r\n*1\r\n:1\r\n",
            Frame::Array(vec![
                Frame::bulk("a"),
                Frame::Array(vec![Frame::Integer(1)]),
            ]),
        ),
        ("_\r\n", Frame::Null),
        ("#t\r\n", Frame::Boolean(true)),
        ("#f\r\n", Frame::Boolean(false)),
        (",3.5\r\n", Frame::Double(3.5)),
        (",inf\r\n", Frame::Double(f64::INFINITY)),
        (",-inf\r\n", Frame::Double(f64::NEG_INFINITY)),
        (
            "(3492890328409238509324850943850943825024385\r\n",
            Frame::BigNumber(b("3492890328409238509324850943850943825024385")),
        ),
        (
            "!21\r\nSYNTAX invalid syntax\r\n",
            Frame::error("SYNTAX invalid syntax"),
        ),
        (
            "=15\r\ntxt:Some string\r\n",
            Frame::Verbatim {
                format: *b"txt",
                data: b("Some string"),
            },
        ),
        (
            "%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n",
            Frame::Map(vec![
                (Frame::simple("first"), Frame::Integer(1)),
                (Frame::simple("second"), Frame::Integer(2)),
            ]),
        ),
        (
            "~2\r\n+a\r\n+b\r\n",
            Frame::Set(vec![Frame::simple("a"), Frame::simple("b")]),
        ),
        (
            ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
            Frame::Push(vec![
                Frame::bulk("message"),
                Frame::bulk("ch"),
                Frame::bulk("hi"),
            ]),
        ),
        (
            "|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.1923\r\n*1\r\n:2039123\r\n",
            Frame::Attribute {
                attrs: vec![(
                    Frame::simple("key-popularity"),
                    Frame::Map(vec![(Frame::bulk("a"), Frame::Double(0.1923))]),
                )],
                frame: Box::new(Frame::Array(vec![Frame::Integer(2039123)])),
            },
        ),
    ]
}

#[test]
fn golden_decode() {
    for (wire, frame) in vectors() {
        assert_eq!(decode(wire.as_bytes()), Ok(Some(frame)), "{wire:?}");
    }
    let nan = decode(b",nan\r\n").unwrap().unwrap();
    assert!(matches!(nan, Frame::Double(d) if d.is_nan()));
    assert_eq!(decode(b",1e+300\r\n"), Ok(Some(Frame::Double(1e300))));
    assert_eq!(decode(b",10\r\n"), Ok(Some(Frame::Double(10.0))));
}

#[test]
fn golden_encode_resp3() {
    let skip_inexact = ["$-1\r\n", "*-1\r\n", "!21\r\nSYNTAX invalid syntax\r\n"];
    for (wire, frame) in vectors() {
        if !skip_inexact.contains(&wire) {
            assert_eq!(enc(&frame, Resp3), wire);
        }
    }
    assert_eq!(enc(&Frame::Null, Resp3), "_\r\n");
    assert_eq!(enc(&Frame::NullArray, Resp3), "_\r\n");
    assert_eq!(enc(&Frame::Double(f64::NAN), Resp3), ",nan\r\n");
    assert_eq!(enc(&Frame::Double(10.0), Resp3), ",10\r\n");
    assert_eq!(enc(&Frame::Double(0.1), Resp3), ",0.1\r\n");
}

#[test]
fn golden_encode_resp2_downgrades_like_redis() {
    let cases: Vec<(Frame, &str)> = vec![
        (Frame::Null, "$-1\r\n"),
        (Frame::NullArray, "*-1\r\n"),
        (Frame::Boolean(true), ":1\r\n"),
        (Frame::Boolean(false), ":0\r\n"),
        (Frame::Double(3.5), "$3\r\n3.5\r\n"),
        (Frame::Double(f64::INFINITY), "$3\r\ninf\r\n"),
        (Frame::Double(f64::NEG_INFINITY), "$4\r\n-inf\r\n"),
        (
            Frame::BigNumber(b("12345678901234567890")),
            "$20\r\n12345678901234567890\r\n",
        ),
        (
            Frame::Verbatim {
                format: *b"txt",
                data: b("hi"),
            },
            "$2\r\nhi\r\n",
        ),
        (
            Frame::Map(vec![(Frame::bulk("k"), Frame::Integer(1))]),
            "*2\r\n$1\r\nk\r\n:1\r\n",
        ),
        (Frame::Set(vec![Frame::Integer(1)]), "*1\r\n:1\r\n"),
        (Frame::Push(vec![Frame::bulk("x")]), "*1\r\n$1\r\nx\r\n"),
        (
            Frame::Attribute {
                attrs: vec![(Frame::simple("a"), Frame::Integer(1))],
                frame: Box::new(Frame::simple("OK")),
            },
            "+OK\r\n",
        ),
        (
            Frame::Array(vec![Frame::Null, Frame::Boolean(true)]),
            "*2\r\n$-1\r\n:1\r\n",
        ),
    ];
    for (frame, wire) in cases {
        assert_eq!(enc(&frame, Resp2), wire, "{frame:?}");
    }
}

#[test]
fn encoder_fast_path_and_sanitising() {
    let mut out = BytesMut::new();
    let e = Encoder::new(Resp3);
    e.map_len(&mut out, 1);
    e.bulk(&mut out, b"k");
    e.double(&mut out, 1.5);
    e.error(&mut out, b"ERR bad\r\nthing");
    e.simple(&mut out, b"a\nb");
    e.integer(&mut out, i64::MIN);
    assert_eq!(
        &out[..],
        b"%1\r\n$1\r\nk\r\n,1.5\r\n-ERR bad  thing\r\n+a b\r\n:-9223372036854775808\r\n"
    );
    let mut out = BytesMut::new();
    Encoder::new(Resp2).map_len(&mut out, 3);
    assert_eq!(&out[..], b"*6\r\n");
    let mut out = BytesMut::new();
    resp::encode_request(&mut out, &["SET", "k", ""]);
    assert_eq!(&out[..], b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
}

#[test]
fn incomplete_is_none() {
    for (wire, _) in vectors() {
        for cut in 0..wire.len() {
            assert_eq!(
                decode(&wire.as_bytes()[..cut]),
                Ok(None),
                "{wire:?}[..{cut}]"
            );
        }
    }
}

#[test]
fn pipelined_replies() {
    let mut buf = BytesMut::from(&b"+OK\r\n:1\r\n$1\r\nx\r\n+PA"[..]);
    let mut dec = FrameDecoder::default();
    assert_eq!(dec.decode(&mut buf), Ok(Some(Frame::simple("OK"))));
    assert_eq!(dec.decode(&mut buf), Ok(Some(Frame::Integer(1))));
    assert_eq!(dec.decode(&mut buf), Ok(Some(Frame::bulk("x"))));
    assert_eq!(dec.decode(&mut buf), Ok(None));
    buf.extend_from_slice(b"SS\r\n");
    assert_eq!(dec.decode(&mut buf), Ok(Some(Frame::simple("PASS"))));
}

#[test]
fn malformed_frames() {
    assert_eq!(decode(b"?x\r\n"), Err(Error::InvalidFrameType(b'?')));
    assert_eq!(decode(b":12a\r\n"), Err(Error::InvalidInteger));
    assert_eq!(decode(b"+OK\rX"), Err(Error::ExpectedCrlf));
    assert_eq!(decode(b"$3\r\nfooXY"), Err(Error::ExpectedCrlf));
    assert_eq!(decode(b"$-2\r\n"), Err(Error::InvalidBulkLength));
    assert_eq!(decode(b"*-2\r\n"), Err(Error::InvalidMultibulkLength));
    assert_eq!(decode(b"#x\r\n"), Err(Error::InvalidBoolean));
    assert_eq!(decode(b",abc\r\n"), Err(Error::InvalidDouble));
    assert_eq!(decode(b"(12x\r\n"), Err(Error::InvalidBigNumber));
    assert_eq!(decode(b"=3\r\ntxt\r\n"), Err(Error::InvalidVerbatim));
    assert_eq!(decode(b"_x\r\n"), Err(Error::InvalidNull));
    assert_eq!(decode(b"$?\r\n"), Err(Error::Streamed));
    assert_eq!(decode(b"*?\r\n"), Err(Error::Streamed));
}

#[test]
fn reply_limits_before_allocating() {
    let small = Limits {
        bulk_len_max: 10,
        multibulk_len_max: 4,
        depth_max: 2,
        inline_len_max: 16,
    };
    assert_eq!(
        decode_with(b"$999999999999\r\n", small),
        Err(Error::InvalidBulkLength)
    );
    assert_eq!(decode(b"$999999999999\r\n"), Err(Error::InvalidBulkLength));
    assert_eq!(
        decode_with(b"*5\r\n", small),
        Err(Error::InvalidMultibulkLength)
    );
    assert_eq!(decode_with(b"%3\r\n", small), Ok(None));
    assert_eq!(
        decode_with(b"%5\r\n", small),
        Err(Error::InvalidMultibulkLength)
    );
    // A huge count with no elements yet allocates nothing and waits.
    assert_eq!(decode(b"*1048576\r\n"), Ok(None));
    assert_eq!(
        decode_with(b"*1\r\n*1\r\n:1\r\n", small),
        Ok(Some(Frame::Array(vec![Frame::Array(vec![
            Frame::Integer(1)
        ])])))
    );
    assert_eq!(
        decode_with(b"*1\r\n*1\r\n*1\r\n:1\r\n", small),
        Err(Error::TooDeep)
    );
    assert_eq!(
        decode_with(b"+0123456789abcdefg", small),
        Err(Error::TooBigLine)
    );
    assert_eq!(
        decode_with(b"+0123456789abcdefg\r\n", small),
        Err(Error::TooBigLine)
    );
    let deep = "*1\r\n".repeat(200);
    assert_eq!(decode(deep.as_bytes()), Err(Error::TooDeep));
}
