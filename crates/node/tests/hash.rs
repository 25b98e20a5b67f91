//! Black-box tests of the hash commands against a real `redraft` process.

mod collections;
mod common;

use collections::*;
use redis::Value;

#[test]
fn set_get_delete_and_errors() {
    let srv = common::Server::start();
    let c = &mut srv.conn();
    assert_eq!(ok(c, "HSET h a 1 b 2 a 3"), int(2));
    assert_eq!(ok(c, "HMSET h c 4"), Value::Okay);
    assert_eq!(ok(c, "HGET h a"), bulk("3"));
    assert_eq!(ok(c, "HGET h zz"), Value::Nil);
    assert_eq!(
        ok(c, "HMGET h a zz c"),
        Value::Array(vec![bulk("3"), Value::Nil, bulk("4")])
    );
    assert_eq!(ok(c, "HMGET nokey a"), Value::Array(vec![Value::Nil]));
    assert_eq!(ok(c, "HSETNX h a 9"), int(0));
    assert_eq!(ok(c, "HSETNX h n 9"), int(1));
    assert_eq!(ok(c, "HEXISTS h n"), int(1));
    assert_eq!(ok(c, "HEXISTS h zz"), int(0));
    assert_eq!(ok(c, "HLEN h"), int(4));
    assert_eq!(ok(c, "HSTRLEN h n"), int(1));
    assert_eq!(ok(c, "HSTRLEN h zz"), int(0));
    assert_eq!(ok(c, "HKEYS h"), bulks(&["a", "b", "c", "n"]));
    assert_eq!(ok(c, "HVALS h"), bulks(&["3", "2", "4", "9"]));
    assert_eq!(ok(c, "HDEL h a zz"), int(1));
    assert_eq!(ok(c, "HDEL h b c n"), int(3));
    assert_eq!(ok(c, "EXISTS h"), int(0), "an emptied hash is deleted");
    assert_eq!(
        err(c, "HSET h a"),
        "ERR wrong number of arguments for 'hset' command"
    );
    assert_eq!(
        err(c, "HSET h a 1 b"),
        "ERR wrong number of arguments for 'hset' command"
    );
    assert_eq!(
        err(c, "HMSET h a"),
        "ERR wrong number of arguments for 'hmset' command"
    );
    assert_eq!(ok(c, "SET str v"), Value::Okay);
    assert_eq!(err(c, "HSET str a 1"), WRONGTYPE);
    assert_eq!(err(c, "HGET str a"), WRONGTYPE);
    assert_eq!(err(c, "HGETALL str"), WRONGTYPE);
    assert_eq!(ok(c, "GET str"), bulk("v"));
}

#[test]
fn increments() {
    let srv = common::Server::start();
    let c = &mut srv.conn();
    assert_eq!(ok(c, "HINCRBY h i 5"), int(5));
    assert_eq!(ok(c, "HINCRBY h i -10"), int(-5));
    assert_eq!(
        err(c, "HINCRBY h i x"),
        "ERR value is not an integer or out of range"
    );
    ok(c, "HSET h big 9223372036854775807 s abc");
    assert_eq!(
        err(c, "HINCRBY h big 1"),
        "ERR increment or decrement would overflow"
    );
    assert_eq!(err(c, "HINCRBY h s 1"), "ERR hash value is not an integer");
    assert_eq!(ok(c, "HINCRBYFLOAT h f 1.5"), bulk("1.5"));
    assert_eq!(ok(c, "HINCRBYFLOAT h f 0.5"), bulk("2"));
    assert_eq!(ok(c, "HINCRBYFLOAT h x 3e3"), bulk("3000"));
    assert_eq!(
        err(c, "HINCRBYFLOAT h f inf"),
        "ERR value is NaN or Infinity"
    );
    assert_eq!(
        err(c, "HINCRBYFLOAT h f nan"),
        "ERR value is not a valid float"
    );
    assert_eq!(
        err(c, "HINCRBYFLOAT h s 1"),
        "ERR hash value is not a float"
    );
    assert_eq!(ok(c, "HGET h f"), bulk("2"));
}

#[test]
fn randfield_and_scan() {
    let srv = common::Server::start();
    let c = &mut srv.conn();
    assert_eq!(ok(c, "HRANDFIELD nokey"), Value::Nil);
    assert_eq!(ok(c, "HRANDFIELD nokey 3"), bulks(&[]));
    ok(c, "HSET h a 1 b 2 c 3");
    assert_eq!(ok(c, "HRANDFIELD h 0"), bulks(&[]));
    assert_eq!(
        sorted(ok(c, "HRANDFIELD h 100")),
        sorted(bulks(&["a", "b", "c"]))
    );
    let Value::Array(with) = ok(c, "HRANDFIELD h 2 WITHVALUES") else {
        panic!()
    };
    assert_eq!(with.len(), 4, "RESP2: flat field-value list");
    let Value::Array(rep) = ok(c, "HRANDFIELD h -7") else {
        panic!()
    };
    assert_eq!(rep.len(), 7, "negative counts repeat");
    assert!(matches!(ok(c, "HRANDFIELD h"), Value::BulkString(_)));
    assert_eq!(
        err(c, "HRANDFIELD h -9223372036854775808"),
        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
    );
    assert_eq!(err(c, "HRANDFIELD h 1 WITHVALUE"), "ERR syntax error");
    assert_eq!(err(c, "HSCAN h x"), "ERR invalid cursor");
    assert_eq!(err(c, "HSCAN h 0 COUNT 0"), "ERR syntax error");
    assert_eq!(err(c, "HSCAN h 0 MATCH"), "ERR syntax error");
    // A full iteration returns every field; the cursor ends at 0.
    let fields: Vec<String> = (0..200).map(|i| format!("field:{i:05}")).collect();
    for f in &fields {
        ok(c, &format!("HSET big {f} v"));
    }
    let (mut cursor, mut seen, mut calls) = ("0".to_string(), Vec::new(), 0);
    loop {
        let Value::Array(reply) = ok(c, &format!("HSCAN big {cursor} COUNT 15")) else {
            panic!()
        };
        let [Value::BulkString(next), Value::Array(items)] = &reply[..] else {
            panic!()
        };
        seen.extend(items.chunks(2).map(|p| p[0].clone()));
        cursor = String::from_utf8(next.clone()).unwrap();
        calls += 1;
        assert!(calls < 1000);
        if cursor == "0" {
            break;
        }
    }
    let mut seen: Vec<Value> = sorted(Value::Array(seen));
    seen.dedup();
    assert_eq!(
        seen,
        sorted(Value::Array(fields.iter().map(|f| bulk(f)).collect()))
    );
    let Value::Array(reply) = ok(c, "HSCAN h 0 MATCH a*") else {
        panic!()
    };
    assert_eq!(reply[1], bulks(&["a", "1"]));
}

#[test]
fn resp3_shapes_and_binary_fields() {
    let srv = common::Server::start();
    let c = &mut resp3(&srv);
    ok(c, "HSET h a 1 b 2");
    assert_eq!(
        ok(c, "HGETALL h"),
        Value::Map(vec![(bulk("a"), bulk("1")), (bulk("b"), bulk("2"))])
    );
    assert_eq!(ok(c, "HGETALL nokey"), Value::Map(vec![]));
    let Value::Array(pairs) = ok(c, "HRANDFIELD h 2 WITHVALUES") else {
        panic!()
    };
    assert!(
        pairs
            .iter()
            .all(|p| matches!(p, Value::Array(kv) if kv.len() == 2)),
        "{pairs:?}"
    );
    let field: &[u8] = b"\x00\xff\r\n f";
    let value: &[u8] = b"\x00v\xff";
    assert_eq!(raw(c, &[b"HSET", b"\x00k", field, value]).unwrap(), int(1));
    assert_eq!(
        raw(c, &[b"HGET", b"\x00k", field]).unwrap(),
        Value::BulkString(value.to_vec())
    );
    assert_eq!(raw(c, &[b"HSTRLEN", b"\x00k", field]).unwrap(), int(3));
}
