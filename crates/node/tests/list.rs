//! Black-box tests of the list commands against a real `redraft` process.

mod collections;
mod common;

use collections::*;
use redis::Value;

#[test]
fn push_pop_range_index() {
    let srv = common::Server::start();
    let c = &mut srv.conn();
    assert_eq!(ok(c, "LPUSH l a b c"), int(3));
    assert_eq!(ok(c, "RPUSH l d e"), int(5));
    assert_eq!(ok(c, "LPUSHX nokey a"), int(0));
    assert_eq!(ok(c, "RPUSHX l f"), int(6));
    assert_eq!(
        ok(c, "LRANGE l 0 -1"),
        bulks(&["c", "b", "a", "d", "e", "f"])
    );
    assert_eq!(ok(c, "LRANGE l -2 100"), bulks(&["e", "f"]));
    assert_eq!(ok(c, "LRANGE l 4 2"), bulks(&[]));
    assert_eq!(ok(c, "LLEN l"), int(6));
    assert_eq!(ok(c, "LINDEX l -1"), bulk("f"));
    assert_eq!(ok(c, "LINDEX l 6"), Value::Nil);
    assert_eq!(ok(c, "LPOP l"), bulk("c"));
    assert_eq!(ok(c, "RPOP l 2"), bulks(&["f", "e"]));
    assert_eq!(ok(c, "LPOP l 0"), bulks(&[]));
    assert_eq!(ok(c, "LPOP nokey"), Value::Nil);
    assert_eq!(ok(c, "LPOP nokey 2"), Value::Nil, "null array in RESP2");
    // Redis gives a count one message whether it is negative or no integer at all.
    for bad in ["LPOP l -1", "RPOP l abc"] {
        assert_eq!(err(c, bad), "ERR value is out of range, must be positive");
    }
    assert_eq!(
        err(c, "LPOP l 1 2"),
        "ERR wrong number of arguments for 'lpop' command"
    );
    assert_eq!(
        err(c, "LRANGE l x 1"),
        "ERR value is not an integer or out of range"
    );
    assert_eq!(ok(c, "RPOP l 10"), bulks(&["d", "a", "b"]));
    assert_eq!(ok(c, "EXISTS l"), int(0), "an emptied list is deleted");
    ok(c, "SET str v");
    assert_eq!(err(c, "LPUSH str a"), WRONGTYPE);
    assert_eq!(err(c, "LRANGE str 0 1"), WRONGTYPE);
}

#[test]
fn set_insert_rem_trim_pos() {
    let srv = common::Server::start();
    let c = &mut srv.conn();
    ok(c, "RPUSH l a b c d e");
    assert_eq!(ok(c, "LSET l 1 B"), Value::Okay);
    assert_eq!(err(c, "LSET l 10 x"), "ERR index out of range");
    assert_eq!(err(c, "LSET nokey 0 x"), "ERR no such key");
    assert_eq!(ok(c, "LINSERT l BEFORE B x"), int(6));
    assert_eq!(ok(c, "LINSERT l AFTER d y"), int(7));
    assert_eq!(ok(c, "LINSERT l AFTER nope y"), int(-1));
    assert_eq!(ok(c, "LINSERT nokey AFTER a y"), int(0));
    assert_eq!(err(c, "LINSERT l MIDDLE a b"), "ERR syntax error");
    assert_eq!(
        ok(c, "LRANGE l 0 -1"),
        bulks(&["a", "x", "B", "c", "d", "y", "e"])
    );
    ok(c, "RPUSH l a a");
    assert_eq!(ok(c, "LREM l -1 a"), int(1));
    assert_eq!(ok(c, "LREM l 0 a"), int(2));
    assert_eq!(
        ok(c, "LRANGE l 0 -1"),
        bulks(&["x", "B", "c", "d", "y", "e"])
    );
    assert_eq!(ok(c, "LTRIM l 1 -2"), Value::Okay);
    assert_eq!(ok(c, "LRANGE l 0 -1"), bulks(&["B", "c", "d", "y"]));
    ok(c, "RPUSH l c c");
    assert_eq!(ok(c, "LPOS l c"), int(1));
    assert_eq!(ok(c, "LPOS l c RANK -1"), int(5));
    assert_eq!(
        ok(c, "LPOS l c COUNT 0"),
        Value::Array(vec![int(1), int(4), int(5)])
    );
    assert_eq!(
        ok(c, "LPOS l c COUNT 0 MAXLEN 2"),
        Value::Array(vec![int(1)])
    );
    assert_eq!(ok(c, "LPOS l zz"), Value::Nil);
    assert_eq!(
        err(c, "LPOS l c RANK 0"),
        "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"
    );
    assert_eq!(err(c, "LPOS l c COUNT -1"), "ERR COUNT can't be negative");
    assert_eq!(err(c, "LPOS l c COUNT x"), "ERR COUNT can't be negative");
    assert_eq!(err(c, "LPOS l c MAXLEN x"), "ERR MAXLEN can't be negative");
    assert_eq!(err(c, "LPOS l c BOGUS x"), "ERR syntax error");
    assert_eq!(
        err(c, "LPOS l c RANK -9223372036854775808"),
        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
    );
    assert_eq!(err(c, "LPOS l c MAXLEN -1"), "ERR MAXLEN can't be negative");
    assert_eq!(ok(c, "LTRIM l 5 1"), Value::Okay);
    assert_eq!(ok(c, "EXISTS l"), int(0));
}

#[test]
fn moves_and_mpop() {
    let srv = common::Server::start();
    let c = &mut srv.conn();
    ok(c, "RPUSH l 1 2 3");
    assert_eq!(ok(c, "LMOVE l l RIGHT LEFT"), bulk("3"));
    assert_eq!(ok(c, "LRANGE l 0 -1"), bulks(&["3", "1", "2"]));
    assert_eq!(ok(c, "LMOVE l m LEFT RIGHT"), bulk("3"));
    assert_eq!(ok(c, "RPOPLPUSH l m"), bulk("2"));
    assert_eq!(ok(c, "LRANGE m 0 -1"), bulks(&["2", "3"]));
    assert_eq!(ok(c, "RPOPLPUSH nokey m"), Value::Nil);
    assert_eq!(err(c, "LMOVE l m UP LEFT"), "ERR syntax error");
    ok(c, "SET str v");
    assert_eq!(err(c, "LMOVE l str LEFT LEFT"), WRONGTYPE);
    assert_eq!(
        ok(c, "LRANGE l 0 -1"),
        bulks(&["1"]),
        "a failed move changes nothing"
    );
    let reply = ok(c, "LMPOP 3 nokey m l RIGHT COUNT 10");
    assert_eq!(reply, Value::Array(vec![bulk("m"), bulks(&["3", "2"])]));
    assert_eq!(ok(c, "LMPOP 1 nokey LEFT"), Value::Nil);
    assert_eq!(
        err(c, "LMPOP 0 l LEFT"),
        "ERR numkeys should be greater than 0"
    );
    assert_eq!(
        err(c, "LMPOP 1 l LEFT COUNT 0"),
        "ERR count should be greater than 0"
    );
    assert_eq!(err(c, "LMPOP 2 l LEFT"), "ERR syntax error");
    assert_eq!(err(c, "LMPOP 1 l LEFT COUNT 1 COUNT 2"), "ERR syntax error");
}

#[test]
fn binary_elements_and_resp3_null_array() {
    let srv = common::Server::start();
    let c = &mut resp3(&srv);
    let element: &[u8] = b"\x00\xff\r\ne";
    assert_eq!(raw(c, &[b"RPUSH", b"\xffk", element, b""]).unwrap(), int(2));
    let all = raw(c, &[b"LRANGE", b"\xffk", b"0", b"-1"]).unwrap();
    assert_eq!(
        all,
        Value::Array(vec![
            Value::BulkString(element.to_vec()),
            Value::BulkString(vec![])
        ])
    );
    assert_eq!(raw(c, &[b"LPOS", b"\xffk", b""]).unwrap(), int(1));
    assert_eq!(ok(c, "LPOP nokey 1"), Value::Nil);
}
