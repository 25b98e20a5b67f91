//! Black-box tests of the keyspace commands against a real `redraft` process.

#![allow(clippy::unwrap_used)] // Tests may unwrap (team rule); helpers outside #[test] too.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{cmd, err, ok};
use redis::Value;

fn int(v: Value) -> i64 {
    match v {
        Value::Int(n) => n,
        other => panic!("not an integer: {other:?}"),
    }
}

fn bulk(b: &[u8]) -> Value {
    Value::BulkString(b.to_vec())
}

fn status(s: &str) -> Value {
    Value::SimpleString(s.into())
}

fn key_set(v: Value) -> BTreeSet<Vec<u8>> {
    let Value::Array(items) = v else {
        panic!("not an array: {v:?}")
    };
    items
        .into_iter()
        .map(|i| match i {
            Value::BulkString(b) => b,
            other => panic!("{other:?}"),
        })
        .collect()
}

#[test]
fn del_exists_touch_type() {
    let srv = common::Server::start();
    let c = &mut srv.conn();
    ok(c, &[b"SET", b"s", b"v"]);
    ok(c, &[b"RPUSH", b"l", b"a"]);
    ok(c, &[b"HSET", b"h", b"f", b"v"]);
    ok(c, &[b"SADD", b"st", b"m"]);
    ok(c, &[b"ZADD", b"z", b"1", b"m"]);
    for (key, ty) in [
        (&b"s"[..], "string"),
        (b"l", "list"),
        (b"h", "hash"),
        (b"st", "set"),
        (b"z", "zset"),
        (b"none", "none"),
    ] {
        assert_eq!(ok(c, &[b"TYPE", key]), status(ty));
    }
    assert_eq!(
        ok(c, &[b"EXISTS", b"s", b"s", b"none", b"h"]),
        Value::Int(3)
    );
    assert_eq!(ok(c, &[b"TOUCH", b"s", b"none"]), Value::Int(1));
    assert_eq!(ok(c, &[b"DEL", b"s", b"l", b"none"]), Value::Int(2));
    assert_eq!(ok(c, &[b"UNLINK", b"h", b"st"]), Value::Int(2));
    assert_eq!(ok(c, &[b"DBSIZE"]), Value::Int(1));
    assert_eq!(
        err(c, &[b"DEL"]),
        "ERR wrong number of arguments for 'del' command"
    );
    assert_eq!(
        err(c, &[b"TYPE", b"a", b"b"]),
        "ERR wrong number of arguments for 'type' command"
    );
}

#[test]
fn expire_family() {
    let srv = common::Server::start();
    let c = &mut srv.conn();
    assert_eq!(ok(c, &[b"EXPIRE", b"k", b"100"]), Value::Int(0));
    ok(c, &[b"SET", b"k", b"v"]);
    assert_eq!(ok(c, &[b"TTL", b"k"]), Value::Int(-1));
    assert_eq!(ok(c, &[b"TTL", b"none"]), Value::Int(-2));
    assert_eq!(ok(c, &[b"PTTL", b"none"]), Value::Int(-2));
    assert_eq!(ok(c, &[b"EXPIRETIME", b"k"]), Value::Int(-1));
    assert_eq!(ok(c, &[b"EXPIRE", b"k", b"100", b"XX"]), Value::Int(0));
    assert_eq!(ok(c, &[b"EXPIRE", b"k", b"100", b"GT"]), Value::Int(0));
    assert_eq!(ok(c, &[b"EXPIRE", b"k", b"100", b"NX"]), Value::Int(1));
    assert_eq!(ok(c, &[b"EXPIRE", b"k", b"50", b"GT"]), Value::Int(0));
    assert_eq!(ok(c, &[b"EXPIRE", b"k", b"50", b"LT"]), Value::Int(1));
    assert_eq!(ok(c, &[b"TTL", b"k"]), Value::Int(50));
    assert!((49_000..=50_000).contains(&int(ok(c, &[b"PTTL", b"k"]))));
    assert_eq!(
        ok(c, &[b"PEXPIRE", b"k", b"200000", b"XX", b"GT"]),
        Value::Int(1)
    );
    assert_eq!(ok(c, &[b"TTL", b"k"]), Value::Int(200));
    assert_eq!(ok(c, &[b"EXPIREAT", b"k", b"4000000000"]), Value::Int(1));
    assert_eq!(ok(c, &[b"EXPIRETIME", b"k"]), Value::Int(4_000_000_000));
    assert_eq!(
        ok(c, &[b"PEXPIRETIME", b"k"]),
        Value::Int(4_000_000_000_000)
    );
    assert_eq!(
        ok(c, &[b"PEXPIREAT", b"k", b"4000000000123"]),
        Value::Int(1)
    );
    assert_eq!(
        ok(c, &[b"PEXPIRETIME", b"k"]),
        Value::Int(4_000_000_000_123)
    );
    assert_eq!(ok(c, &[b"PERSIST", b"k"]), Value::Int(1));
    assert_eq!(ok(c, &[b"PERSIST", b"k"]), Value::Int(0));
    assert_eq!(ok(c, &[b"TTL", b"k"]), Value::Int(-1));
    assert_eq!(
        err(c, &[b"EXPIRE", b"k", b"10", b"NX", b"XX"]),
        "ERR NX and XX, GT or LT options at the same time are not compatible"
    );
    assert_eq!(
        err(c, &[b"EXPIRE", b"k", b"10", b"GT", b"LT"]),
        "ERR GT and LT options at the same time are not compatible"
    );
    assert_eq!(
        err(c, &[b"EXPIRE", b"k", b"10", b"FOO"]),
        "ERR Unsupported option FOO"
    );
    assert_eq!(
        err(c, &[b"EXPIRE", b"k", b"abc"]),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(
        err(c, &[b"EXPIRE", b"k", b"9223372036854775807"]),
        "ERR invalid expire time in 'expire' command"
    );
    assert_eq!(
        err(c, &[b"PEXPIRE", b"k", b"9223372036854775807"]),
        "ERR invalid expire time in 'pexpire' command"
    );
    // A time in the past deletes the key.
    assert_eq!(ok(c, &[b"EXPIRE", b"k", b"-1"]), Value::Int(1));
    assert_eq!(ok(c, &[b"EXISTS", b"k"]), Value::Int(0));
    ok(c, &[b"HSET", b"h", b"f", b"v"]);
    assert_eq!(ok(c, &[b"PEXPIREAT", b"h", b"1"]), Value::Int(1));
    assert_eq!(ok(c, &[b"TYPE", b"h"]), status("none"));
}

#[test]
fn expiry_is_observed_over_time() {
    let srv = common::Server::start();
    let c = &mut srv.conn();
    ok(c, &[b"HSET", b"h", b"f", b"v"]);
    ok(c, &[b"SET", b"s", b"v"]);
    ok(c, &[b"SET", b"keep", b"v"]);
    ok(c, &[b"PEXPIRE", b"h", b"150"]);
    ok(c, &[b"PEXPIRE", b"s", b"150"]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while int(ok(c, &[b"EXISTS", b"h", b"s"])) != 0 {
        assert!(Instant::now() < deadline, "keys did not expire");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(ok(c, &[b"DBSIZE"]), Value::Int(1));
    assert_eq!(
        key_set(ok(c, &[b"KEYS", b"*"])),
        [b"keep".to_vec()].into_iter().collect()
    );
    assert_eq!(ok(c, &[b"TTL", b"h"]), Value::Int(-2));
}

#[test]
fn rename_renamenx_copy() {
    let srv = common::Server::start();
    let c = &mut srv.conn();
    assert_eq!(err(c, &[b"RENAME", b"none", b"x"]), "ERR no such key");
    assert_eq!(err(c, &[b"RENAMENX", b"none", b"x"]), "ERR no such key");
    ok(c, &[b"RPUSH", b"l", b"a", b"b", b"c"]);
    ok(c, &[b"EXPIRE", b"l", b"100"]);
    assert_eq!(ok(c, &[b"RENAME", b"l", b"l"]), Value::Okay);
    assert_eq!(ok(c, &[b"RENAME", b"l", b"l2"]), Value::Okay);
    assert_eq!(
        ok(c, &[b"LRANGE", b"l2", b"0", b"-1"]),
        Value::Array(vec![bulk(b"a"), bulk(b"b"), bulk(b"c")])
    );
    assert_eq!(ok(c, &[b"TTL", b"l2"]), Value::Int(100));
    assert_eq!(ok(c, &[b"EXISTS", b"l"]), Value::Int(0));
    ok(c, &[b"SET", b"s", b"v"]);
    assert_eq!(ok(c, &[b"RENAMENX", b"s", b"l2"]), Value::Int(0));
    assert_eq!(ok(c, &[b"RENAMENX", b"s", b"s2"]), Value::Int(1));
    assert_eq!(ok(c, &[b"GET", b"s2"]), bulk(b"v"));
    assert_eq!(ok(c, &[b"COPY", b"l2", b"l3"]), Value::Int(1));
    assert_eq!(ok(c, &[b"COPY", b"s2", b"l3"]), Value::Int(0));
    assert_eq!(ok(c, &[b"COPY", b"s2", b"l3", b"REPLACE"]), Value::Int(1));
    assert_eq!(ok(c, &[b"GET", b"l3"]), bulk(b"v"));
    assert_eq!(ok(c, &[b"COPY", b"s2", b"l4", b"DB", b"0"]), Value::Int(1));
    assert_eq!(ok(c, &[b"COPY", b"none", b"l5"]), Value::Int(0));
    assert_eq!(
        err(c, &[b"COPY", b"s2", b"x", b"DB", b"1"]),
        "ERR DB index is out of range"
    );
    assert_eq!(
        err(c, &[b"COPY", b"s2", b"s2"]),
        "ERR source and destination objects are the same"
    );
    assert_eq!(err(c, &[b"COPY", b"s2", b"x", b"FOO"]), "ERR syntax error");
}

#[test]
fn keys_scan_randomkey_dbsize_flush() {
    let srv = common::Server::start();
    let c = &mut srv.conn();
    assert_eq!(ok(c, &[b"RANDOMKEY"]), Value::Nil);
    let mut all = BTreeSet::new();
    for i in 0..500 {
        let key = format!("key:{i}").into_bytes();
        ok(c, &[b"SET", &key, b"v"]);
        all.insert(key);
    }
    ok(c, &[b"HSET", b"hash:1", b"f", b"v"]);
    assert_eq!(ok(c, &[b"DBSIZE"]), Value::Int(501));
    assert_eq!(key_set(ok(c, &[b"KEYS", b"key:*"])), all);
    assert_eq!(
        key_set(ok(c, &[b"KEYS", b"hash:?"])),
        [b"hash:1".to_vec()].into_iter().collect()
    );
    let Value::BulkString(random) = ok(c, &[b"RANDOMKEY"]) else {
        panic!()
    };
    assert!(all.contains(&random) || random == b"hash:1");
    // A full SCAN returns every key.
    let mut cursor = b"0".to_vec();
    let mut seen = BTreeSet::new();
    for _ in 0..10_000 {
        let Value::Array(parts) = ok(c, &[b"SCAN", &cursor, b"COUNT", b"50", b"MATCH", b"key:*"])
        else {
            panic!()
        };
        let Value::BulkString(next) = &parts[0] else {
            panic!()
        };
        seen.extend(key_set(parts[1].clone()));
        cursor = next.clone();
        if cursor == b"0" {
            break;
        }
    }
    assert_eq!(cursor, b"0");
    assert_eq!(seen, all);
    let Value::Array(parts) = ok(c, &[b"SCAN", b"0", b"TYPE", b"hash", b"COUNT", b"1000"]) else {
        panic!()
    };
    let hashes = key_set(parts[1].clone());
    assert!(hashes.iter().all(|k| k == b"hash:1"));
    assert_eq!(err(c, &[b"SCAN", b"abc"]), "ERR invalid cursor");
    assert_eq!(
        err(c, &[b"SCAN", b"18446744073709551616"]),
        "ERR invalid cursor"
    );
    assert_eq!(err(c, &[b"SCAN", b" 1"]), "ERR invalid cursor");
    assert!(cmd(c, &[b"SCAN", b"-1"]).is_ok());
    assert_eq!(err(c, &[b"SCAN", b"0", b"COUNT", b"0"]), "ERR syntax error");
    assert_eq!(err(c, &[b"SCAN", b"0", b"COUNT"]), "ERR syntax error");
    assert_eq!(err(c, &[b"FLUSHDB", b"FOO"]), "ERR syntax error");
    assert_eq!(ok(c, &[b"FLUSHDB", b"ASYNC"]), Value::Okay);
    assert_eq!(ok(c, &[b"DBSIZE"]), Value::Int(0));
    ok(c, &[b"SET", b"a", b"1"]);
    assert_eq!(ok(c, &[b"FLUSHALL", b"SYNC"]), Value::Okay);
    assert_eq!(ok(c, &[b"DBSIZE"]), Value::Int(0));
    assert_eq!(ok(c, &[b"KEYS", b"*"]), Value::Array(vec![]));
}

#[test]
fn binary_safe_keys() {
    let srv = common::Server::start();
    let c = &mut srv.conn();
    let all: Vec<u8> = (0..=255u8).collect();
    ok(c, &[b"SET", b"", b"empty"]);
    ok(c, &[b"SET", &all, b"bytes"]);
    assert_eq!(ok(c, &[b"EXISTS", b"", &all]), Value::Int(2));
    assert_eq!(
        key_set(ok(c, &[b"KEYS", b"*"])),
        [Vec::new(), all.clone()].into_iter().collect()
    );
    assert_eq!(ok(c, &[b"RENAME", &all, b"\x00"]), Value::Okay);
    assert_eq!(ok(c, &[b"GET", b"\x00"]), bulk(b"bytes"));
    assert_eq!(ok(c, &[b"DEL", b"", b"\x00"]), Value::Int(2));
}
