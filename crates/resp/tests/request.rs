//! Server-side request decoding: multibulk, inline, pipelining, limits and Redis's error texts.
#![allow(clippy::unwrap_used)] // helpers of tests, where unwrap is the team rule

use bytes::{Bytes, BytesMut};
use resp::{Error, Limits, RequestDecoder};

fn all(input: &[u8], limits: Limits) -> (Vec<Vec<String>>, Option<String>, usize) {
    let mut dec = RequestDecoder::new(limits);
    let mut buf = BytesMut::from(input);
    let mut out = Vec::new();
    loop {
        match dec.decode(&mut buf) {
            Ok(Some(args)) => out.push(
                args.iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect(),
            ),
            Ok(None) => return (out, None, buf.len()),
            Err(e) => return (out, Some(e.to_string()), buf.len()),
        }
    }
}

fn ok(input: &[u8]) -> Vec<Vec<String>> {
    let (reqs, err, _) = all(input, Limits::default());
    assert_eq!(err, None, "{:?}", String::from_utf8_lossy(input));
    reqs
}

fn err(input: &[u8], limits: Limits) -> String {
    let (_, err, _) = all(input, limits);
    err.expect("an error")
}

#[test]
fn multibulk_and_pipelining() {
    assert_eq!(
        ok(b"*3\r\n$3\r\nSET\r\n$3\r\nfoo\r\n$3\r\nbar\r\n*1\r\n$4\r\nPING\r\n"),
        [vec!["SET", "foo", "bar"], vec!["PING"]]
    );
    assert_eq!(ok(b"*1\r\n$0\r\n\r\n"), [vec![""]]);
}

#[test]
fn binary_safe_arguments() {
    let mut dec = RequestDecoder::default();
    let mut buf = BytesMut::from(&b"*2\r\n$3\r\nGET\r\n$4\r\na\r\n\0\r\n"[..]);
    let args = dec.decode(&mut buf).unwrap().unwrap();
    assert_eq!(
        args,
        [Bytes::from_static(b"GET"), Bytes::from_static(b"a\r\n\0")]
    );
}

#[test]
fn empty_multibulks_and_inline_lines_are_skipped() {
    assert_eq!(ok(b"*0\r\n*-1\r\n\r\n\n   \r\nPING\r\n"), [vec!["PING"]]);
}

#[test]
fn inline_commands() {
    assert_eq!(
        ok(b"SET k \"a b\\x41\"\r\nGET 'k'\nINCR  x \r\n"),
        [
            vec!["SET", "k", "a bA"],
            vec!["GET", "k"],
            vec!["INCR", "x"]
        ]
    );
    assert_eq!(
        err(b"SET \"abc\r\n", Limits::default()),
        "Protocol error: unbalanced quotes in request"
    );
}

#[test]
fn mixed_inline_and_multibulk() {
    assert_eq!(
        ok(b"PING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nPING\n"),
        [vec!["PING"], vec!["ECHO", "hi"], vec!["PING"]]
    );
}

#[test]
fn incomplete_input_is_none_and_resumes() {
    let input = b"*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n";
    let mut dec = RequestDecoder::default();
    let mut buf = BytesMut::new();
    for (i, &b) in input.iter().enumerate() {
        buf.extend_from_slice(&[b]);
        let got = dec.decode(&mut buf).unwrap();
        if i + 1 < input.len() {
            assert_eq!(got, None, "after {} bytes", i + 1);
        } else {
            assert_eq!(got.unwrap(), [&b"ECHO"[..], b"hello"]);
        }
    }
    assert!(buf.is_empty());
}

#[test]
fn redis_error_texts() {
    let d = Limits::default;
    assert_eq!(
        err(b"*x\r\n", d()),
        "Protocol error: invalid multibulk length"
    );
    assert_eq!(
        err(b"*01\r\n", d()),
        "Protocol error: invalid multibulk length"
    );
    assert_eq!(
        err(b"*1\r\n$-1\r\n", d()),
        "Protocol error: invalid bulk length"
    );
    assert_eq!(
        err(b"*1\r\n$x\r\n", d()),
        "Protocol error: invalid bulk length"
    );
    assert_eq!(
        err(b"*1\r\n:1\r\n", d()),
        "Protocol error: expected '$', got ':'"
    );
    assert_eq!(
        err(b"*2\r\n$1\r\na\r\nfoo\r\n", d()),
        "Protocol error: expected '$', got 'f'"
    );
    let long = vec![b'a'; 64 * 1024 + 1];
    assert_eq!(err(&long, d()), "Protocol error: too big inline request");
    let mut count = b"*".to_vec();
    count.extend(vec![b'1'; 64 * 1024 + 1]);
    assert_eq!(
        err(&count, d()),
        "Protocol error: too big mbulk count string"
    );
    let mut bulk = b"*1\r\n$".to_vec();
    bulk.extend(vec![b'1'; 64 * 1024 + 1]);
    assert_eq!(err(&bulk, d()), "Protocol error: too big bulk count string");
}

#[test]
fn limits_are_checked_before_allocating() {
    let small = Limits {
        bulk_len_max: 1024,
        multibulk_len_max: 16,
        ..Limits::default()
    };
    // A 1 TB bulk header is refused at once: nothing waits for (or reserves) its data.
    let (_, e, _) = all(b"*1\r\n$999999999999\r\n", small);
    assert_eq!(e.as_deref(), Some("Protocol error: invalid bulk length"));
    let (_, e, _) = all(b"*1\r\n$999999999999\r\n", Limits::default());
    assert_eq!(e.as_deref(), Some("Protocol error: invalid bulk length"));
    let (_, e, _) = all(b"*17\r\n", small);
    assert_eq!(
        e.as_deref(),
        Some("Protocol error: invalid multibulk length")
    );
    let (_, e, _) = all(b"*9223372036854775807\r\n", Limits::default());
    assert_eq!(
        e.as_deref(),
        Some("Protocol error: invalid multibulk length")
    );
    // Exactly at the limits is fine.
    let mut at = b"*1\r\n$1024\r\n".to_vec();
    at.extend(vec![b'x'; 1024]);
    at.extend(b"\r\n");
    assert_eq!(all(&at, small).0.len(), 1);
}

#[test]
fn inline_limit_does_not_depend_on_read_sizes() {
    let limits = Limits {
        inline_len_max: 8,
        ..Limits::default()
    };
    // 8 bytes before the '\n' (counting the '\r') is at the limit; 9 is over it.
    assert_eq!(all(b"PING 12\r\n", limits).0, [vec!["PING", "12"]]);
    assert_eq!(
        all(b"PING 123\r\n", limits).1.as_deref(),
        Some("Protocol error: too big inline request")
    );
    let mut dec = RequestDecoder::new(limits);
    let mut buf = BytesMut::new();
    let mut last = Ok(None);
    for &b in b"PING 123\r\n" {
        buf.extend_from_slice(&[b]);
        last = dec.decode(&mut buf);
        if last.is_err() {
            break;
        }
    }
    assert_eq!(last, Err(Error::TooBigInlineRequest));
}

#[test]
fn large_bulk_in_small_pieces_is_linear() {
    // 8 MiB arriving in 4 KiB reads: each call only compares lengths.
    let len = 8 << 20;
    let mut dec = RequestDecoder::default();
    let mut buf = BytesMut::from(format!("*2\r\n$3\r\nSET\r\n${len}\r\n").as_bytes());
    assert_eq!(dec.decode(&mut buf).unwrap(), None);
    assert_eq!(dec.pending_bulk_len(buf.len()), Some(len + 2));
    let chunk = vec![b'v'; 4096];
    let mut calls = 0;
    while buf.len() < len {
        buf.extend_from_slice(&chunk);
        assert_eq!(dec.decode(&mut buf).unwrap(), None);
        calls += 1;
    }
    buf.extend_from_slice(b"\r\n");
    let args = dec.decode(&mut buf).unwrap().unwrap();
    assert_eq!(args[1].len(), len);
    assert_eq!(calls, len / 4096);
}

#[test]
fn bytes_after_bulk_data_are_not_checked_like_redis() {
    // Redis 7 answers +PONG twice to this: the two bytes after the data are skipped unread.
    assert_eq!(
        ok(b"*1\r\n$4\r\nPINGXX*1\r\n$4\r\nPING\r\n"),
        [vec!["PING"], vec!["PING"]]
    );
}
