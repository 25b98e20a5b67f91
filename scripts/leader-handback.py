#!/usr/bin/env python3
"""Measures how soon a restarted node leads its shards again.

Starts a 3-node RedRaft cluster on free-looking loopback ports (short Raft timing: 50 ms ticks,
10-tick elections), waits until placement has spread the leaders, then ROUNDS times: kills
node2 with SIGKILL, waits until the others lead all its shards, waits a second, starts it
again, and prints how long it took from the restart until `CLUSTER SLOTS` (asked through
node1) names node2 the leader of as many slot ranges as before. Every wait is bounded; the
processes started here are killed at the end.

Usage: scripts/leader-handback.py [BINARY] [ROUNDS]
  BINARY defaults to the release build in $CARGO_TARGET_DIR (or target/); ROUNDS to 5.
Needs the Python `redis` client (scripts/deps.sh test installs it).
"""
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

import redis

TARGET = os.environ.get("CARGO_TARGET_DIR", "target")
BINARY = (sys.argv[1] if len(sys.argv) > 1 and sys.argv[1]
          else os.path.join(TARGET, "release", "redraft"))
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
NODES = [1, 2, 3]
BASE = random.randint(30000, 40000)
INTERNAL = {i: BASE + i for i in NODES}
REDIS = {i: BASE + 10 + i for i in NODES}
CLUSTER = ",".join(f"node{i}=127.0.0.1:{INTERNAL[i]}" for i in NODES)


def start(work, procs, i):
    procs[i] = subprocess.Popen(
        [BINARY, "--node-id", f"node{i}", "--data-dir", f"{work}/node{i}",
         "--port", str(INTERNAL[i]), "--redis-port", str(REDIS[i]), "--cluster", CLUSTER,
         "--raft-tick-ms", "50", "--raft-election-ticks", "10", "--log", "warn"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def masters():
    """The Redis port of each slot range's leader, as node1 sees it ([] if it cannot say)."""
    try:
        con = redis.Redis(port=REDIS[1], socket_timeout=2)
        return [r[2][1] for r in con.execute_command("CLUSTER", "SLOTS")]
    except (redis.RedisError, OSError, IndexError):
        return []


def wait(cond, limit_s):
    """Seconds until cond() held, or None after limit_s."""
    began = time.time()
    while time.time() - began < limit_s:
        if cond():
            return time.time() - began
        time.sleep(0.02)
    return None


def main():
    work = tempfile.mkdtemp(prefix="redraft-handback-")
    procs = {}
    try:
        for i in NODES:
            start(work, procs, i)
        if wait(lambda: masters().count(REDIS[2]) >= 1, 60) is None:
            sys.exit("the cluster did not come up within 60 s")
        time.sleep(3)  # placement spreads the leaders
        want = masters().count(REDIS[2])
        print(f"node2 leads {want} of {len(masters())} slot ranges", flush=True)
        for r in range(ROUNDS):
            procs[2].kill()
            procs[2].wait()
            if wait(lambda: REDIS[2] not in masters(), 30) is None:
                sys.exit("the others did not take over node2's shards within 30 s")
            time.sleep(1)
            start(work, procs, 2)
            took = wait(lambda: masters().count(REDIS[2]) == want, 60)
            if took is None:
                print(f"round {r}: node2 did not lead its shards again within 60 s", flush=True)
            else:
                print(f"round {r}: node2 leads its {want} slot ranges again {took:.2f} s "
                      f"after its restart", flush=True)
    finally:
        for p in procs.values():
            p.kill()
            p.wait()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
