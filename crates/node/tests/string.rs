//! Black-box tests of the string commands against a real `redraft` process.

#![allow(clippy::unwrap_used)] // Tests may unwrap (team rule); helpers outside #[test] too.

mod common;

use std::time::{Duration, Instant};

use common::{err, ok};
use redis::Value;

fn bulk(b: &[u8]) -> Value {
    Value::BulkString(b.to_vec())
}

fn okay() -> Value {
    Value::Okay
}

#[test]
fn set_get_options_and_errors() {
    let srv = common::Server::start();
    let c = &mut srv.conn();
    assert_eq!(ok(c, &[b"GET", b"k"]), Value::Nil);
    assert_eq!(ok(c, &[b"SET", b"k", b"v"]), okay());
    assert_eq!(ok(c, &[b"GET", b"k"]), bulk(b"v"));
    assert_eq!(ok(c, &[b"SET", b"k", b"w", b"NX"]), Value::Nil);
    assert_eq!(ok(c, &[b"SET", b"k", b"w", b"XX", b"GET"]), bulk(b"v"));
    assert_eq!(ok(c, &[b"SET", b"nx", b"1", b"nx", b"get"]), Value::Nil);
    assert_eq!(ok(c, &[b"SET", b"k", b"v", b"EX", b"100"]), okay());
    assert_eq!(ok(c, &[b"TTL", b"k"]), Value::Int(100));
    assert_eq!(ok(c, &[b"SET", b"k", b"v2", b"KEEPTTL"]), okay());
    assert_eq!(ok(c, &[b"TTL", b"k"]), Value::Int(100));
    assert_eq!(ok(c, &[b"SET", b"k", b"v3"]), okay());
    assert_eq!(ok(c, &[b"TTL", b"k"]), Value::Int(-1));
    assert_eq!(ok(c, &[b"SET", b"k", b"v", b"PXAT", b"1"]), okay());
    assert_eq!(ok(c, &[b"EXISTS", b"k"]), Value::Int(0));
    for bad in [
        &[&b"SET"[..], b"k", b"v", b"NX", b"XX"][..],
        &[b"SET", b"k", b"v", b"EX", b"10", b"PX", b"10"],
        &[b"SET", b"k", b"v", b"EX"],
        &[b"SET", b"k", b"v", b"FOO"],
        &[b"SET", b"k", b"v", b"KEEPTTL", b"EX", b"1"],
    ] {
        assert_eq!(err(c, bad), "ERR syntax error");
    }
    assert_eq!(
        err(c, &[b"SET", b"k", b"v", b"EX", b"0"]),
        "ERR invalid expire time in 'set' command"
    );
    assert_eq!(
        err(c, &[b"SET", b"k", b"v", b"PX", b"-5"]),
        "ERR invalid expire time in 'set' command"
    );
    assert_eq!(
        err(c, &[b"SET", b"k", b"v", b"EX", b"9223372036854775807"]),
        "ERR invalid expire time in 'set' command"
    );
    assert_eq!(
        err(c, &[b"SET", b"k", b"v", b"EX", b"abc"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(c, &[b"SET", b"k"]),
        "ERR wrong number of arguments for 'set' command"
    );
    assert_eq!(
        err(c, &[b"GET"]),
        "ERR wrong number of arguments for 'get' command"
    );
    // SET over another type overwrites it; SET ... GET on it fails and writes nothing.
    ok(c, &[b"RPUSH", b"list", b"a"]);
    assert_eq!(
        err(c, &[b"SET", b"list", b"v", b"GET"]),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    assert_eq!(
        err(c, &[b"GET", b"list"]),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    assert_eq!(ok(c, &[b"SET", b"list", b"v"]), okay());
    assert_eq!(ok(c, &[b"GET", b"list"]), bulk(b"v"));
}

#[test]
fn setnx_setex_getset_getdel_getex() {
    let srv = common::Server::start();
    let c = &mut srv.conn();
    assert_eq!(ok(c, &[b"SETNX", b"a", b"1"]), Value::Int(1));
    assert_eq!(ok(c, &[b"SETNX", b"a", b"2"]), Value::Int(0));
    assert_eq!(ok(c, &[b"SETEX", b"b", b"100", b"x"]), okay());
    assert_eq!(ok(c, &[b"TTL", b"b"]), Value::Int(100));
    assert_eq!(ok(c, &[b"PSETEX", b"b", b"100000", b"y"]), okay());
    assert_eq!(ok(c, &[b"TTL", b"b"]), Value::Int(100));
    assert_eq!(
        err(c, &[b"SETEX", b"b", b"0", b"x"]),
        "ERR invalid expire time in 'setex' command"
    );
    assert_eq!(
        err(c, &[b"PSETEX", b"b", b"-1", b"x"]),
        "ERR invalid expire time in 'psetex' command"
    );
    assert_eq!(ok(c, &[b"GETSET", b"a", b"3"]), bulk(b"1"));
    assert_eq!(ok(c, &[b"GETSET", b"new", b"3"]), Value::Nil);
    assert_eq!(ok(c, &[b"GETEX", b"a"]), bulk(b"3"));
    assert_eq!(ok(c, &[b"GETEX", b"a", b"EX", b"50"]), bulk(b"3"));
    assert_eq!(ok(c, &[b"TTL", b"a"]), Value::Int(50));
    assert_eq!(ok(c, &[b"GETEX", b"a", b"PERSIST"]), bulk(b"3"));
    assert_eq!(ok(c, &[b"TTL", b"a"]), Value::Int(-1));
    assert_eq!(err(c, &[b"GETEX", b"a", b"NX"]), "ERR syntax error");
    assert_eq!(
        err(c, &[b"GETEX", b"a", b"PERSIST", b"EX", b"1"]),
        "ERR syntax error"
    );
    assert_eq!(
        err(c, &[b"GETEX", b"a", b"EX", b"0"]),
        "ERR invalid expire time in 'getex' command"
    );
    assert_eq!(ok(c, &[b"GETDEL", b"a"]), bulk(b"3"));
    assert_eq!(ok(c, &[b"GETDEL", b"a"]), Value::Nil);
    ok(c, &[b"SADD", b"set", b"m"]);
    assert_eq!(
        err(c, &[b"GETDEL", b"set"]),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    assert_eq!(
        err(c, &[b"GETEX", b"set"]),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
}

#[test]
fn mget_mset_msetnx() {
    let srv = common::Server::start();
    let c = &mut srv.conn();
    assert_eq!(ok(c, &[b"MSET", b"a", b"1", b"b", b"2"]), okay());
    ok(c, &[b"SADD", b"s", b"m"]);
    let got = ok(c, &[b"MGET", b"a", b"b", b"s", b"none"]);
    assert_eq!(
        got,
        Value::Array(vec![bulk(b"1"), bulk(b"2"), Value::Nil, Value::Nil])
    );
    assert_eq!(
        err(c, &[b"MSET", b"a", b"1", b"b"]),
        "ERR wrong number of arguments for 'mset' command"
    );
    assert_eq!(ok(c, &[b"MSETNX", b"a", b"9", b"c", b"3"]), Value::Int(0));
    assert_eq!(ok(c, &[b"EXISTS", b"c"]), Value::Int(0));
    assert_eq!(ok(c, &[b"MSETNX", b"c", b"3", b"d", b"4"]), Value::Int(1));
    assert_eq!(
        ok(c, &[b"MGET", b"c", b"d"]),
        Value::Array(vec![bulk(b"3"), bulk(b"4")])
    );
}

#[test]
fn counters() {
    let srv = common::Server::start();
    let c = &mut srv.conn();
    assert_eq!(ok(c, &[b"INCR", b"n"]), Value::Int(1));
    assert_eq!(ok(c, &[b"INCRBY", b"n", b"10"]), Value::Int(11));
    assert_eq!(ok(c, &[b"DECR", b"n"]), Value::Int(10));
    assert_eq!(ok(c, &[b"DECRBY", b"n", b"20"]), Value::Int(-10));
    assert_eq!(
        err(c, &[b"INCRBY", b"n", b"x"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(c, &[b"DECRBY", b"n", b"-9223372036854775808"]),
        "ERR decrement would overflow"
    );
    ok(c, &[b"SET", b"n", b"9223372036854775807"]);
    assert_eq!(
        err(c, &[b"INCR", b"n"]),
        "ERR increment or decrement would overflow"
    );
    ok(c, &[b"SET", b"s", b"abc"]);
    assert_eq!(
        err(c, &[b"INCR", b"s"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(c, &[b"INCRBYFLOAT", b"s", b"1"]),
        "ERR value is not a valid float"
    );
    assert_eq!(ok(c, &[b"INCRBYFLOAT", b"f", b"10.5"]), bulk(b"10.5"));
    assert_eq!(ok(c, &[b"INCRBYFLOAT", b"f", b"0.1"]), bulk(b"10.6"));
    assert_eq!(ok(c, &[b"INCRBYFLOAT", b"f", b"-5.6"]), bulk(b"5"));
    assert_eq!(
        err(c, &[b"INCRBYFLOAT", b"f", b"abc"]),
        "ERR value is not a valid float"
    );
    assert_eq!(
        err(c, &[b"INCRBYFLOAT", b"f", b"inf"]),
        "ERR increment would produce NaN or Infinity"
    );
    ok(c, &[b"HSET", b"h", b"f", b"1"]);
    assert_eq!(
        err(c, &[b"INCR", b"h"]),
        "WRONGTYPE Operation against a key holding the wrong kind of value"
    );
}

#[test]
fn append_strlen_ranges() {
    let srv = common::Server::start();
    let c = &mut srv.conn();
    assert_eq!(ok(c, &[b"APPEND", b"k", b"Hello"]), Value::Int(5));
    assert_eq!(ok(c, &[b"APPEND", b"k", b" World"]), Value::Int(11));
    assert_eq!(ok(c, &[b"STRLEN", b"k"]), Value::Int(11));
    assert_eq!(ok(c, &[b"STRLEN", b"none"]), Value::Int(0));
    assert_eq!(ok(c, &[b"GETRANGE", b"k", b"0", b"4"]), bulk(b"Hello"));
    assert_eq!(ok(c, &[b"GETRANGE", b"k", b"-5", b"-1"]), bulk(b"World"));
    assert_eq!(ok(c, &[b"GETRANGE", b"k", b"5", b"2"]), bulk(b""));
    assert_eq!(ok(c, &[b"GETRANGE", b"none", b"0", b"-1"]), bulk(b""));
    assert_eq!(ok(c, &[b"SETRANGE", b"k", b"6", b"Redis"]), Value::Int(11));
    assert_eq!(ok(c, &[b"GET", b"k"]), bulk(b"Hello Redis"));
    assert_eq!(ok(c, &[b"SETRANGE", b"z", b"3", b"ab"]), Value::Int(5));
    assert_eq!(ok(c, &[b"GET", b"z"]), bulk(b"\0\0\0ab"));
    assert_eq!(ok(c, &[b"SETRANGE", b"e", b"5", b""]), Value::Int(0));
    assert_eq!(ok(c, &[b"EXISTS", b"e"]), Value::Int(0));
    assert_eq!(
        err(c, &[b"SETRANGE", b"k", b"-1", b"x"]),
        "ERR offset is out of range"
    );
    assert_eq!(
        err(c, &[b"SETRANGE", b"k", b"536870911", b"xx"]),
        "ERR string exceeds maximum allowed size (proto-max-bulk-len)"
    );
    assert_eq!(
        err(c, &[b"GETRANGE", b"k", b"a", b"1"]),
        "ERR value is not an integer or out of range"
    );
}

#[test]
fn binary_safe() {
    let srv = common::Server::start();
    let c = &mut srv.conn();
    let all: Vec<u8> = (0..=255u8).collect();
    assert_eq!(ok(c, &[b"SET", b"", &all]), okay());
    assert_eq!(ok(c, &[b"GET", b""]), bulk(&all));
    assert_eq!(ok(c, &[b"SET", &all, b""]), okay());
    assert_eq!(ok(c, &[b"GET", &all]), bulk(b""));
    assert_eq!(ok(c, &[b"APPEND", &all, b"\0\r\n"]), Value::Int(3));
    assert_eq!(ok(c, &[b"STRLEN", &all]), Value::Int(3));
}

#[test]
fn expiry_is_observed_over_time() {
    let srv = common::Server::start();
    let c = &mut srv.conn();
    ok(c, &[b"SET", b"k", b"v", b"PX", b"150"]);
    ok(c, &[b"SET", b"keep", b"v"]);
    assert_eq!(ok(c, &[b"GET", b"k"]), bulk(b"v"));
    let deadline = Instant::now() + Duration::from_secs(5);
    while ok(c, &[b"GET", b"k"]) != Value::Nil {
        assert!(Instant::now() < deadline, "key did not expire");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(ok(c, &[b"EXISTS", b"k"]), Value::Int(0));
    assert_eq!(ok(c, &[b"GET", b"keep"]), bulk(b"v"));
}

/// A pipeline's GETs run together (one MultiGet per shard) unless something in the run needs
/// them one by one; either way each reply is what that GET alone would answer at its place
/// in the pipeline: after the writes before it, with WRONGTYPE and nil where due.
#[test]
fn pipelined_gets_answer_in_order_after_earlier_writes() {
    let srv = common::Server::start();
    let c = &mut srv.conn();
    assert_eq!(ok(c, &[b"HSET", b"h", b"f", b"v"]), Value::Int(1));
    let mut pipe = redis::pipe();
    pipe.cmd("SET").arg("a").arg("1");
    for key in ["a", "missing", "a", "{a}b"] {
        pipe.cmd("GET").arg(key);
    }
    pipe.cmd("SET").arg("a").arg("2");
    for key in ["a", "a", "missing", "a"] {
        pipe.cmd("GET").arg(key);
    }
    let values: Vec<Value> = pipe.query(c).unwrap();
    let one = bulk(b"1");
    let two = bulk(b"2");
    assert_eq!(
        values,
        vec![
            okay(),
            one.clone(),
            Value::Nil,
            one,
            Value::Nil,
            okay(),
            two.clone(),
            two.clone(),
            Value::Nil,
            two,
        ]
    );
    // WRONGTYPE inside a run of GETs, seen with raw replies.
    let mut raw = std::net::TcpStream::connect(("127.0.0.1", srv.redis_port)).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    std::io::Write::write_all(&mut raw, b"GET a\r\nGET h\r\nGET missing\r\nGET a\r\n").unwrap();
    let want = b"$1\r\n2\r\n-WRONGTYPE Operation against a key holding the wrong kind of value\r\n$-1\r\n$1\r\n2\r\n";
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while got.len() < want.len() && Instant::now() < deadline {
        let mut buf = [0u8; 256];
        let n = std::io::Read::read(&mut raw, &mut buf).unwrap();
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(want));
}
