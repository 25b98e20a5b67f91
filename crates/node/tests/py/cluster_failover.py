#!/usr/bin/env python3
"""redis-py's cluster client (RedisCluster) keeps writing while a RedRaft node dies.

Usage: cluster_failover.py PORT SECONDS. Writes unique keys through the cluster for SECONDS,
printing "writing" once 200 writes were acknowledged (the test then kills a node with -9).
Errors while the dead node's shards elect new leaders are counted, not fatal. At the end:
every acknowledged write must read back with its value, and writes must have been
acknowledged again in the last third of the run (the cluster kept working). Prints
"python failover ok ..." on success; exits non-zero otherwise.
"""
import sys
import time

from redis.cluster import ClusterNode, RedisCluster

READY_AFTER_WRITES = 200
READ_BACK_SECONDS = 20
# Only the first errors are printed, so a long failover cannot fill the test's stderr pipe.
ERRORS_SHOWN_MAX = 20


def main(port: int, seconds: float) -> None:
    rc = RedisCluster(
        startup_nodes=[ClusterNode("127.0.0.1", port)],
        socket_timeout=10,
        decode_responses=True,
    )
    start = time.monotonic()
    acked = {}
    late = 0
    errors = 0
    i = 0
    while time.monotonic() - start < seconds:
        key, value = f"py:failover:{i}", str(i)
        i += 1
        try:
            assert rc.set(key, value) is True, key
        except Exception as e:  # connection errors, CLUSTERDOWN, TRYAGAIN: count and go on
            errors += 1
            if errors <= ERRORS_SHOWN_MAX:
                print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
            continue
        acked[key] = value
        if len(acked) == READY_AFTER_WRITES:
            print("writing", flush=True)
        if time.monotonic() - start > seconds * 2 / 3:
            late += 1
    assert late > 0, f"no write acknowledged in the last third of the run ({errors} errors)"
    deadline = time.monotonic() + READ_BACK_SECONDS
    for key, value in acked.items():
        while True:
            try:
                got = rc.get(key)
                break
            except Exception:
                assert time.monotonic() < deadline, f"cannot read {key} back"
                time.sleep(0.05)
        assert got == value, f"{key}: acknowledged {value!r}, read {got!r}"
    print(f"python failover ok acked={len(acked)} late={late} errors={errors}")


if __name__ == "__main__":
    main(int(sys.argv[1]), float(sys.argv[2]))
