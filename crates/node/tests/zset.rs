//! Black-box tests of the sorted-set commands against a real `redraft` process.

mod collections;
mod common;

use collections::*;
use redis::Value;

#[test]
fn zadd_options_and_errors() {
    let srv = common::Server::start();
    let c = &mut srv.conn();
    assert_eq!(ok(c, "ZADD z 1 a 2 b 3 c"), int(3));
    assert_eq!(
        err(c, "ZADD z NX XX 1 a"),
        "ERR XX and NX options at the same time are not compatible"
    );
    assert_eq!(
        err(c, "ZADD z GT LT 1 a"),
        "ERR GT, LT, and/or NX options at the same time are not compatible"
    );
    assert_eq!(
        err(c, "ZADD z NX GT 1 a"),
        "ERR GT, LT, and/or NX options at the same time are not compatible"
    );
    assert_eq!(
        err(c, "ZADD z INCR 1 a 2 b"),
        "ERR INCR option supports a single increment-element pair"
    );
    assert_eq!(err(c, "ZADD z 1 a 2"), "ERR syntax error");
    assert_eq!(err(c, "ZADD z nan a"), "ERR value is not a valid float");
    assert_eq!(ok(c, "ZADD z CH GT 5 a 0 b 7 d"), int(2));
    assert_eq!(ok(c, "ZADD z XX CH 1 q 2 c"), int(1));
    assert_eq!(ok(c, "ZADD z INCR 2.5 a"), bulk("7.5"));
    assert_eq!(ok(c, "ZADD z LT INCR 1 a"), Value::Nil);
    assert_eq!(ok(c, "ZADD y XX 1 a"), int(0));
    assert_eq!(ok(c, "EXISTS y"), int(0));
    assert_eq!(ok(c, "ZINCRBY z 1 b"), bulk("3"));
    assert_eq!(err(c, "ZINCRBY z x b"), "ERR value is not a valid float");
    ok(c, "ZADD z inf i");
    assert_eq!(
        err(c, "ZINCRBY z -inf i"),
        "ERR resulting score is not a number (NaN)"
    );
    assert_eq!(ok(c, "ZCARD z"), int(5));
    assert_eq!(ok(c, "ZSCORE z i"), bulk("inf"));
    assert_eq!(
        ok(c, "ZMSCORE z a zz"),
        Value::Array(vec![bulk("7.5"), Value::Nil])
    );
    assert_eq!(ok(c, "ZRANK z c"), int(0));
    assert_eq!(ok(c, "ZREVRANK z c"), int(4));
    assert_eq!(ok(c, "ZRANK z zz"), Value::Nil);
    assert_eq!(
        ok(c, "ZRANK z b WITHSCORE"),
        Value::Array(vec![int(1), bulk("3")])
    );
    assert_eq!(ok(c, "ZREM z a zz"), int(1));
    ok(c, "SET str v");
    assert_eq!(err(c, "ZADD str 1 a"), WRONGTYPE);
    assert_eq!(err(c, "ZSCORE str a"), WRONGTYPE);
}

#[test]
fn ranges() {
    let srv = common::Server::start();
    let c = &mut srv.conn();
    ok(c, "ZADD z 1 a 2 b 3 c 4 d 5 e");
    assert_eq!(
        ok(c, "ZRANGE z 0 1 WITHSCORES"),
        bulks(&["a", "1", "b", "2"])
    );
    assert_eq!(ok(c, "ZRANGE z 0 1 REV"), bulks(&["e", "d"]));
    assert_eq!(ok(c, "ZRANGE z (1 3 BYSCORE"), bulks(&["b", "c"]));
    assert_eq!(
        ok(c, "ZRANGE z 5 (1 BYSCORE REV LIMIT 1 2"),
        bulks(&["d", "c"])
    );
    assert_eq!(ok(c, "ZRANGE z -inf +inf BYSCORE LIMIT -1 2"), bulks(&[]));
    assert_eq!(ok(c, "ZRANGE z [b (d BYLEX"), bulks(&["b", "c"]));
    assert_eq!(
        err(c, "ZRANGE z 0 1 LIMIT 0 1"),
        "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
    );
    assert_eq!(
        err(c, "ZRANGE z - + BYLEX WITHSCORES"),
        "ERR syntax error, WITHSCORES not supported in combination with BYLEX"
    );
    assert_eq!(err(c, "ZRANGE z 0 1 BYSCORE BYLEX"), "ERR syntax error");
    assert_eq!(
        err(c, "ZRANGE z 1 x BYSCORE"),
        "ERR min or max is not a float"
    );
    assert_eq!(
        err(c, "ZRANGE z a + BYLEX"),
        "ERR min or max not valid string range item"
    );
    assert_eq!(
        ok(c, "ZRANGEBYSCORE z -inf +inf WITHSCORES LIMIT 0 1"),
        bulks(&["a", "1"])
    );
    assert_eq!(ok(c, "ZREVRANGEBYSCORE z +inf 4"), bulks(&["e", "d"]));
    assert_eq!(ok(c, "ZRANGEBYLEX z - [b"), bulks(&["a", "b"]));
    assert_eq!(ok(c, "ZREVRANGEBYLEX z + - LIMIT 0 2"), bulks(&["e", "d"]));
    assert_eq!(ok(c, "ZREVRANGE z 0 0 WITHSCORES"), bulks(&["e", "5"]));
    assert_eq!(ok(c, "ZCOUNT z (1 3"), int(2));
    assert_eq!(ok(c, "ZLEXCOUNT z [b +"), int(4));
    assert_eq!(err(c, "ZCOUNT z (nan 1"), "ERR min or max is not a float");
    // Redis reads range bounds with a bare strtod: `(` is (0, and 1e400 is +inf.
    assert_eq!(ok(c, "ZCOUNT z ( 1e400"), int(5));
    assert_eq!(err(c, "ZCOUNT z 1x 2"), "ERR min or max is not a float");
    assert_eq!(ok(c, "ZRANGESTORE d z 3 +inf BYSCORE"), int(3));
    assert_eq!(ok(c, "ZRANGE d 0 -1"), bulks(&["c", "d", "e"]));
    assert_eq!(ok(c, "ZRANGESTORE d z 10 20 BYSCORE"), int(0));
    assert_eq!(ok(c, "EXISTS d"), int(0));
    assert_eq!(ok(c, "ZREMRANGEBYRANK z 0 0"), int(1));
    assert_eq!(ok(c, "ZREMRANGEBYSCORE z (4 +inf"), int(1));
    assert_eq!(ok(c, "ZREMRANGEBYLEX z [c [d"), int(2));
    assert_eq!(ok(c, "ZRANGE z 0 -1"), bulks(&["b"]));
}

#[test]
fn pops_and_algebra() {
    let srv = common::Server::start();
    let c = &mut srv.conn();
    ok(c, "ZADD z 1 a 2 b 3 c 4 d");
    assert_eq!(ok(c, "ZPOPMIN z"), bulks(&["a", "1"]));
    assert_eq!(ok(c, "ZPOPMAX z 2"), bulks(&["d", "4", "c", "3"]));
    assert_eq!(ok(c, "ZPOPMIN nokey"), bulks(&[]));
    for bad in ["ZPOPMIN z -1", "ZPOPMAX z x"] {
        assert_eq!(err(c, bad), "ERR value is out of range, must be positive");
    }
    let mpop = ok(c, "ZMPOP 2 nokey z MIN COUNT 5");
    assert_eq!(
        mpop,
        Value::Array(vec![bulk("z"), Value::Array(vec![bulks(&["b", "2"])])])
    );
    assert_eq!(ok(c, "EXISTS z"), int(0));
    assert_eq!(ok(c, "ZMPOP 1 z MIN"), Value::Nil);
    assert_eq!(
        err(c, "ZMPOP 0 z MIN"),
        "ERR numkeys should be greater than 0"
    );
    ok(c, "ZADD z1 1 a 2 b 3 c");
    ok(c, "ZADD z2 10 b 20 c 30 d");
    ok(c, "SADD st c x");
    assert_eq!(
        ok(
            c,
            "ZUNION 3 z1 z2 st WEIGHTS 1 2 3 AGGREGATE MAX WITHSCORES"
        ),
        bulks(&["a", "1", "x", "3", "b", "20", "c", "40", "d", "60"])
    );
    assert_eq!(
        ok(c, "ZINTER 2 z1 z2 WITHSCORES"),
        bulks(&["b", "12", "c", "23"])
    );
    assert_eq!(ok(c, "ZDIFF 2 z1 st"), bulks(&["a", "b"]));
    assert_eq!(
        err(c, "ZUNION 0 z1"),
        "ERR at least 1 input key is needed for 'zunion' command"
    );
    assert_eq!(
        err(c, "ZUNIONSTORE d 0 z1"),
        "ERR at least 1 input key is needed for 'zunionstore' command"
    );
    assert_eq!(
        err(c, "ZUNION 1 z1 WEIGHTS x"),
        "ERR weight value is not a float"
    );
    assert_eq!(err(c, "ZDIFF 1 z1 WEIGHTS 1"), "ERR syntax error");
    assert_eq!(err(c, "ZUNIONSTORE d 1 z1 WITHSCORES"), "ERR syntax error");
    ok(c, "SET str v");
    assert_eq!(ok(c, "ZINTERSTORE str 2 z1 z2 WEIGHTS 1 0.5"), int(2));
    assert_eq!(
        ok(c, "ZRANGE str 0 -1 WITHSCORES"),
        bulks(&["b", "7", "c", "13"])
    );
    assert_eq!(ok(c, "ZDIFFSTORE z1 2 z1 z2"), int(1));
    assert_eq!(ok(c, "ZRANGE z1 0 -1"), bulks(&["a"]));
    assert_eq!(ok(c, "ZINTERCARD 2 z2 st LIMIT 5"), int(1));
    assert_eq!(
        err(c, "ZINTERCARD 0 z2"),
        "ERR at least 1 input key is needed for 'zintercard' command"
    );
    assert_eq!(
        err(c, "ZINTERCARD 1 z2 LIMIT x"),
        "ERR LIMIT can't be negative"
    );
}

#[test]
fn resp3_shapes_random_scan_binary() {
    let srv = common::Server::start();
    let c = &mut resp3(&srv);
    ok(c, "ZADD z 1 a 2.5 b");
    let pair = |m: &str, s: f64| Value::Array(vec![bulk(m), Value::Double(s)]);
    assert_eq!(
        ok(c, "ZRANGE z 0 -1 WITHSCORES"),
        Value::Array(vec![pair("a", 1.0), pair("b", 2.5)])
    );
    assert_eq!(ok(c, "ZSCORE z b"), Value::Double(2.5));
    assert_eq!(ok(c, "ZINCRBY z 1 a"), Value::Double(2.0));
    assert_eq!(
        ok(c, "ZPOPMIN z"),
        Value::Array(vec![bulk("a"), Value::Double(2.0)])
    );
    ok(c, "ZADD z 1 a");
    assert_eq!(ok(c, "ZPOPMAX z 1"), Value::Array(vec![pair("b", 2.5)]));
    let Value::Array(rand) = ok(c, "ZRANDMEMBER z -3 WITHSCORES") else {
        panic!()
    };
    assert_eq!(rand, vec![pair("a", 1.0); 3]);
    assert_eq!(ok(c, "ZRANDMEMBER nokey"), Value::Nil);
    let members: Vec<String> = (0..100).map(|i| format!("m{i}")).collect();
    for (i, m) in members.iter().enumerate() {
        ok(c, &format!("ZADD big {i} {m}"));
    }
    let (mut cursor, mut seen) = ("0".to_string(), Vec::new());
    loop {
        let Value::Array(reply) = ok(c, &format!("ZSCAN big {cursor} COUNT 9")) else {
            panic!()
        };
        let [Value::BulkString(next), Value::Array(items)] = &reply[..] else {
            panic!()
        };
        seen.extend(items.chunks(2).map(|p| p[0].clone()));
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
    let member: &[u8] = b"\x00\xff\r\nm";
    assert_eq!(raw(c, &[b"ZADD", b"bin", b"-1.5", member]).unwrap(), int(1));
    assert_eq!(
        raw(c, &[b"ZSCORE", b"bin", member]).unwrap(),
        Value::Double(-1.5)
    );
    assert_eq!(
        raw(c, &[b"ZRANGEBYLEX", b"bin", b"[\x00", b"+"]).unwrap(),
        Value::Array(vec![Value::BulkString(member.to_vec())])
    );
}

#[test]
fn collections_survive_restart() {
    let mut srv = common::Server::start();
    {
        let c = &mut srv.conn();
        ok(c, "ZADD z 1 a 2 b");
        ok(c, "HSET h f v");
        ok(c, "SADD s m");
        ok(c, "RPUSH l x y");
        ok(c, "LPUSH l w");
        ok(c, "LINSERT l BEFORE y q");
    }
    srv.restart();
    let c = &mut srv.conn();
    assert_eq!(
        ok(c, "ZRANGE z 0 -1 WITHSCORES"),
        bulks(&["a", "1", "b", "2"])
    );
    assert_eq!(ok(c, "HGET h f"), bulk("v"));
    assert_eq!(ok(c, "SISMEMBER s m"), int(1));
    assert_eq!(ok(c, "LRANGE l 0 -1"), bulks(&["w", "x", "q", "y"]));
}
