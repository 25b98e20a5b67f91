#!/usr/bin/env python3
"""Smoke test of RedRaft with the Python redis client (redis-py).

Usage: smoke.py PORT. Exits non-zero on the first failed check. Covers strings, hashes,
lists, sets, sorted sets, pipelines and expiry, the way applications use them.
"""
import sys
import time

import redis


def main(port: int) -> None:
    r = redis.Redis(host="127.0.0.1", port=port, socket_timeout=10, decode_responses=True)
    assert r.ping()
    p = "py:"  # every key of this script starts with this prefix

    # strings
    assert r.set(p + "s", "v") is True
    assert r.get(p + "s") == "v"
    assert r.incr(p + "n") == 1 and r.incrby(p + "n", 5) == 6
    r.mset({p + "a": "1", p + "b": "2"})
    assert r.mget([p + "a", p + "b", p + "missing"]) == ["1", "2", None]

    # hashes
    assert r.hset(p + "h", mapping={"f1": "a", "f2": "b"}) == 2
    assert r.hgetall(p + "h") == {"f1": "a", "f2": "b"}
    assert r.hincrby(p + "h", "cnt", 3) == 3

    # lists
    assert r.rpush(p + "l", "a", "b", "c") == 3
    assert r.lrange(p + "l", 0, -1) == ["a", "b", "c"]
    assert r.lpop(p + "l") == "a"

    # sets
    assert r.sadd(p + "set", "x", "y", "z") == 3
    assert r.smembers(p + "set") == {"x", "y", "z"}
    assert r.sismember(p + "set", "y")

    # sorted sets
    assert r.zadd(p + "z", {"a": 1, "b": 2.5}) == 2
    assert r.zrange(p + "z", 0, -1, withscores=True) == [("a", 1.0), ("b", 2.5)]
    assert r.zscore(p + "z", "b") == 2.5

    # pipelines
    pipe = r.pipeline(transaction=False)
    for i in range(100):
        pipe.set(f"{p}pipe:{i}", i)
    pipe.get(f"{p}pipe:42")
    results = pipe.execute()
    assert results[:100] == [True] * 100 and results[100] == "42"

    # expiry
    r.set(p + "ttl", "x", px=200)
    assert 0 < r.pttl(p + "ttl") <= 200
    deadline = time.time() + 5
    while r.exists(p + "ttl") and time.time() < deadline:
        time.sleep(0.05)
    assert not r.exists(p + "ttl")

    assert r.delete(p + "s", p + "h") == 2
    print("python smoke ok")


if __name__ == "__main__":
    main(int(sys.argv[1]))
