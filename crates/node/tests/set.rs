//! Black-box tests of the set commands against a real `redraft` process.

mod collections;
mod common;

use collections::*;
use redis::Value;

#[test]
fn membership_and_errors() {
    let srv = common::Server::start();
    let c = &mut srv.conn();
    assert_eq!(ok(c, "SADD s a b c a"), int(3));
    assert_eq!(ok(c, "SREM s zz a"), int(1));
    assert_eq!(ok(c, "SCARD s"), int(2));
    assert_eq!(ok(c, "SCARD nokey"), int(0));
    assert_eq!(ok(c, "SISMEMBER s b"), int(1));
    assert_eq!(ok(c, "SISMEMBER s zz"), int(0));
    assert_eq!(
        ok(c, "SMISMEMBER s b zz"),
        Value::Array(vec![int(1), int(0)])
    );
    assert_eq!(sorted(ok(c, "SMEMBERS s")), sorted(bulks(&["b", "c"])));
    assert_eq!(ok(c, "SMEMBERS nokey"), bulks(&[]));
    assert_eq!(ok(c, "SREM s b c"), int(2));
    assert_eq!(ok(c, "EXISTS s"), int(0), "an emptied set is deleted");
    assert_eq!(
        err(c, "SADD s"),
        "ERR wrong number of arguments for 'sadd' command"
    );
    ok(c, "SET str v");
    assert_eq!(err(c, "SADD str a"), WRONGTYPE);
    assert_eq!(err(c, "SCARD str"), WRONGTYPE);
    assert_eq!(ok(c, "GET str"), bulk("v"));
}

#[test]
fn algebra_and_stores() {
    let srv = common::Server::start();
    let c = &mut srv.conn();
    ok(c, "SADD s a b c");
    ok(c, "SADD t c d e");
    assert_eq!(sorted(ok(c, "SINTER s t")), sorted(bulks(&["c"])));
    assert_eq!(ok(c, "SINTER s nokey"), bulks(&[]));
    assert_eq!(sorted(ok(c, "SUNION s t nokey")).len(), 5);
    assert_eq!(sorted(ok(c, "SDIFF s t")), sorted(bulks(&["a", "b"])));
    assert_eq!(ok(c, "SINTERCARD 2 s t"), int(1));
    assert_eq!(ok(c, "SINTERCARD 1 s LIMIT 2"), int(2));
    assert_eq!(
        err(c, "SINTERCARD 0 s"),
        "ERR numkeys should be greater than 0"
    );
    assert_eq!(
        err(c, "SINTERCARD x s"),
        "ERR numkeys should be greater than 0"
    );
    assert_eq!(
        err(c, "SINTERCARD 3 s t"),
        "ERR Number of keys can't be greater than number of args"
    );
    for bad in ["SINTERCARD 1 s LIMIT -1", "SINTERCARD 1 s LIMIT x"] {
        assert_eq!(err(c, bad), "ERR LIMIT can't be negative");
    }
    assert_eq!(err(c, "SINTERCARD 1 s FOO 1"), "ERR syntax error");
    // Stores overwrite the destination whatever its type; the destination may be a source.
    ok(c, "SET str v");
    assert_eq!(ok(c, "SUNIONSTORE str s t"), int(5));
    assert_eq!(ok(c, "TYPE str"), Value::SimpleString("set".into()));
    assert_eq!(ok(c, "SDIFFSTORE s s t"), int(2));
    assert_eq!(sorted(ok(c, "SMEMBERS s")), sorted(bulks(&["a", "b"])));
    assert_eq!(ok(c, "SINTERSTORE str s nokey"), int(0));
    assert_eq!(
        ok(c, "EXISTS str"),
        int(0),
        "an empty result deletes the destination"
    );
    ok(c, "SET str2 v");
    assert_eq!(err(c, "SINTER s str2"), WRONGTYPE);
    assert_eq!(err(c, "SINTERSTORE d s str2"), WRONGTYPE);
    assert_eq!(ok(c, "EXISTS d"), int(0));
}

#[test]
fn smove_pop_randmember() {
    let srv = common::Server::start();
    let c = &mut srv.conn();
    ok(c, "SADD s a b c");
    assert_eq!(ok(c, "SMOVE s t a"), int(1));
    assert_eq!(ok(c, "SMOVE s t a"), int(0));
    assert_eq!(ok(c, "SMOVE s s b"), int(1));
    assert_eq!(ok(c, "SMOVE nokey t x"), int(0));
    ok(c, "SET str v");
    assert_eq!(err(c, "SMOVE s str b"), WRONGTYPE);
    assert_eq!(ok(c, "SISMEMBER s b"), int(1));
    assert_eq!(ok(c, "SPOP nokey"), Value::Nil);
    assert_eq!(ok(c, "SPOP nokey 3"), bulks(&[]));
    assert_eq!(ok(c, "SPOP s 0"), bulks(&[]));
    for bad in ["SPOP s -1", "SPOP s x"] {
        assert_eq!(err(c, bad), "ERR value is out of range, must be positive");
    }
    assert_eq!(err(c, "SPOP s 1 2"), "ERR syntax error");
    assert_eq!(ok(c, "SRANDMEMBER nokey"), Value::Nil);
    assert_eq!(ok(c, "SRANDMEMBER nokey 2"), bulks(&[]));
    assert_eq!(
        sorted(ok(c, "SRANDMEMBER s 100")),
        sorted(bulks(&["b", "c"]))
    );
    let Value::Array(rep) = ok(c, "SRANDMEMBER s -5") else {
        panic!()
    };
    assert_eq!(rep.len(), 5);
    let Value::BulkString(popped) = ok(c, "SPOP s") else {
        panic!()
    };
    assert_eq!(raw(c, &[b"SISMEMBER", b"s", &popped]).unwrap(), int(0));
    assert_eq!(
        ok(c, "SPOP s 10").clone(),
        bulks(&[if popped == b"b" { "c" } else { "b" }])
    );
    assert_eq!(ok(c, "EXISTS s"), int(0));
}

#[test]
fn scan_resp3_and_binary_members() {
    let srv = common::Server::start();
    let c = &mut resp3(&srv);
    ok(c, "SADD s a b");
    assert!(matches!(ok(c, "SMEMBERS s"), Value::Set(items) if items.len() == 2));
    assert!(matches!(ok(c, "SINTER s s"), Value::Set(_)));
    assert!(matches!(ok(c, "SPOP s 1"), Value::Set(items) if items.len() == 1));
    let member: &[u8] = b"\x00\xff\r\nm";
    assert_eq!(raw(c, &[b"SADD", b"bin", member]).unwrap(), int(1));
    assert_eq!(raw(c, &[b"SISMEMBER", b"bin", member]).unwrap(), int(1));
    let members: Vec<String> = (0..120).map(|i| format!("member-{i}")).collect();
    for m in &members {
        ok(c, &format!("SADD big {m}"));
    }
    let (mut cursor, mut seen) = ("0".to_string(), Vec::new());
    loop {
        let Value::Array(reply) = ok(c, &format!("SSCAN big {cursor} COUNT 7")) else {
            panic!()
        };
        let [Value::BulkString(next), Value::Array(items)] = &reply[..] else {
            panic!()
        };
        seen.extend(items.iter().cloned());
        cursor = String::from_utf8(next.clone()).unwrap();
        if cursor == "0" {
            break;
        }
    }
    let mut seen = sorted(Value::Array(seen));
    seen.dedup();
    assert_eq!(
        seen,
        sorted(Value::Array(members.iter().map(|m| bulk(m)).collect()))
    );
    assert_eq!(err(c, "SSCAN big abc"), "ERR invalid cursor");
}

/// A negative count may repeat members, so `--rand-count-max` bounds the reply of every
/// random-member command; positive counts are bounded by the collection and pass.
#[test]
fn negative_rand_counts_are_capped_by_rand_count_max() {
    let srv = common::Server::start_with(&["--rand-count-max", "10"]);
    let c = &mut srv.conn();
    ok(c, "SADD s a b");
    ok(c, "ZADD z 1 a 2 b");
    ok(c, "HSET h a 1 b 2");
    for cmd in ["SRANDMEMBER s", "ZRANDMEMBER z", "HRANDFIELD h"] {
        let Value::Array(rep) = ok(c, &format!("{cmd} -10")) else {
            panic!("{cmd} -10 is an array");
        };
        assert_eq!(rep.len(), 10, "{cmd} -10");
        assert_eq!(
            err(c, &format!("{cmd} -11")),
            "ERR value is out of range, value must between -10 and 9223372036854775807",
            "{cmd} -11"
        );
        let Value::Array(rep) = ok(c, &format!("{cmd} 1000")) else {
            panic!("{cmd} 1000 is an array");
        };
        assert_eq!(rep.len(), 2, "{cmd} 1000 returns the whole collection");
    }
    assert_eq!(
        err(c, "ZRANDMEMBER z -11 WITHSCORES"),
        "ERR value is out of range, value must between -10 and 9223372036854775807"
    );
}
