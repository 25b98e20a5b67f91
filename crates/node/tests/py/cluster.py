#!/usr/bin/env python3
"""RedRaft through redis-py's cluster client (RedisCluster) in redirect mode.

Usage: cluster.py PORT. PORT is any node's Redis port; the client discovers the others with
CLUSTER SLOTS and follows -MOVED. Exits non-zero on the first failed check and prints
"python cluster ok" at the end.
"""
import sys

from redis.cluster import ClusterNode, RedisCluster

KEYS = 100


def main(port: int) -> None:
    rc = RedisCluster(
        startup_nodes=[ClusterNode("127.0.0.1", port)],
        socket_timeout=10,
        decode_responses=True,
    )
    nodes = rc.get_nodes()
    assert len(nodes) == 3, f"expected 3 nodes, got {[n.name for n in nodes]}"

    keys = [f"py:cluster:{i}" for i in range(KEYS)]
    slots = {rc.keyslot(k) for k in keys}
    assert len(slots) > KEYS // 2, f"keys fall in only {len(slots)} slots"
    for i, key in enumerate(keys):
        assert rc.set(key, str(i)) is True, key
    for i, key in enumerate(keys):
        got = rc.get(key)
        assert got == str(i), f"{key}: {got!r}"

    # The client's slot computation agrees with the server's.
    for key in keys[:10]:
        assert rc.cluster_keyslot(key) == rc.keyslot(key), key

    # Keys with one hash tag share a slot, so a multi-key command on them works.
    rc.mset({"{py:tag}a": "1", "{py:tag}b": "2"})
    assert rc.mget(["{py:tag}a", "{py:tag}b"]) == ["1", "2"]
    assert rc.delete(*keys) == KEYS
    assert rc.get(keys[0]) is None
    print("python cluster ok")


if __name__ == "__main__":
    main(int(sys.argv[1]))
