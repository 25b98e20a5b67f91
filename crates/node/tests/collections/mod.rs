//! Helpers shared by the collection black-box tests (hash, list, set, sorted set).
#![allow(clippy::unwrap_used)] // Test helpers fail the test on any error.
#![allow(dead_code)]

use redis::{RedisResult, Value};

use crate::common;

pub fn raw(con: &mut redis::Connection, args: &[&[u8]]) -> RedisResult<Value> {
    let mut c = redis::cmd(std::str::from_utf8(args[0]).unwrap());
    for a in &args[1..] {
        c.arg(*a);
    }
    c.query(con)
}

/// Runs a space-separated command and returns its reply, panicking on an error reply.
pub fn ok(con: &mut redis::Connection, line: &str) -> Value {
    let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
    raw(con, &args).unwrap_or_else(|e| panic!("{line}: {e}"))
}

/// Runs a space-separated command that must fail; returns the full error text.
pub fn err(con: &mut redis::Connection, line: &str) -> String {
    let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
    let e = raw(con, &args).expect_err(line);
    format!("{} {}", e.code().unwrap_or(""), e.detail().unwrap_or(""))
        .trim()
        .to_string()
}

pub fn bulk(s: &str) -> Value {
    Value::BulkString(s.as_bytes().to_vec())
}

pub fn bulks(items: &[&str]) -> Value {
    Value::Array(items.iter().map(|s| bulk(s)).collect())
}

pub fn int(n: i64) -> Value {
    Value::Int(n)
}

/// A RESP3 connection to `srv`.
pub fn resp3(srv: &common::Server) -> redis::Connection {
    let url = format!("redis://127.0.0.1:{}/?protocol=resp3", srv.redis_port);
    redis::Client::open(url).unwrap().get_connection().unwrap()
}

/// The items of an array or set reply, sorted (for replies whose order is unspecified).
pub fn sorted(v: Value) -> Vec<Value> {
    let mut items = match v {
        Value::Array(items) | Value::Set(items) => items,
        other => panic!("not an array: {other:?}"),
    };
    items.sort_by_key(|v| format!("{v:?}"));
    items
}

pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
