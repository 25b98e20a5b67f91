#!/usr/bin/env bash
# Benchmarks a 3-node local RedRaft cluster against Debian's redis-server configured for the
# same durability (appendonly yes, appendfsync always), in one run, with redis-benchmark:
#
# 1. SET and GET, 50 clients, 100000 random keys, 16-byte values, pipeline 1 and 16, through one
#    node in forward mode (the node forwards to each shard's leader) and with
#    `redis-benchmark --cluster` in redirect mode (the client goes to each slot's leader),
#    next to redis-server; ratios are against redis-server in the same run.
# 2. The same SET/GET at pipeline 1 with 1, 16 and 256 shards, without forwarding (redirect mode
#    with --cluster; with 1 shard, straight to its leader), so shard counts are compared, not
#    the cost of forwarding.
# 3. The idle CPU of a 3-node cluster holding 1000 shards, per node, over BENCH_IDLE_SECS.
#
# Environment: BENCH_N1 (requests at -P 1, default 300000), BENCH_N16 (at -P 16, default
# 500000), BENCH_SHARDS (shard counts of part 2, default "1 16 256"), BENCH_IDLE_SECS (20),
# BENCH_PARTS (which parts to run, default "1 2 3"), BENCH_WARM (SETs each cluster and
# redis-server take, unmeasured, before their runs; default 200000; see scripts/bench.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh bench
# RocksDB's C++ is built once per machine and linked from a cache (see scripts/rocksdb-lib.sh).
ROCKSDB_LIB_DIR=$(scripts/rocksdb-lib.sh)
export ROCKSDB_LIB_DIR ROCKSDB_STATIC=1
cargo build --release -q -p node --bin redraft
target_dir=${CARGO_TARGET_DIR:-target}
redraft="$target_dir/release/redraft"
# A run of 100000 requests at -P 1 lasts about a second, in which redis-benchmark's own start
# and stop showed as 20% swings between identical runs; 300000 keeps them small.
n1=${BENCH_N1:-300000}
n16=${BENCH_N16:-500000}
shard_counts=${BENCH_SHARDS:-"1 16 256"}
idle_secs=${BENCH_IDLE_SECS:-20}
parts=${BENCH_PARTS:-"1 2 3"}
warm=${BENCH_WARM:-200000}

work=$(mktemp -d -t redraft-cluster-bench-XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_ready() { # port
  for _ in $(seq 1 300); do
    if [ "$(timeout 5 redis-cli -p "$1" ping 2>/dev/null)" = PONG ]; then return 0; fi
    sleep 0.1
  done
  echo "server on port $1 did not start" >&2
  tail -n 20 "$work"/*.log >&2
  exit 1
}

# Starts a 3-node cluster; sets cluster_pids and redis_ports.
start_cluster() { # name shards mode
  local name=$1 shards=$2 mode=$3 spec="" i
  local internal=() ; redis_ports=() ; cluster_pids=()
  for i in 1 2 3; do
    internal+=("$(free_port)")
    redis_ports+=("$(free_port)")
    spec+="${spec:+,}node$i=127.0.0.1:${internal[$((i - 1))]}"
  done
  for i in 1 2 3; do
    mkdir -p "$work/$name/node$i"
    "$redraft" --node-id "node$i" --data-dir "$work/$name/node$i" --port "${internal[$((i - 1))]}" \
      --redis-port "${redis_ports[$((i - 1))]}" --cluster "$spec" --shards "$shards" \
      --cluster-mode "$mode" --log warn 2>"$work/$name-node$i.log" &
    cluster_pids+=("$!")
    pids+=("$!")
  done
  for i in 0 1 2; do wait_ready "${redis_ports[$i]}"; done
  # Bounded wait until every shard has a leader: a write through each node to many slots.
  local ok=""
  for _ in $(seq 1 200); do
    if [ "$(redis-cli -c -p "${redis_ports[0]}" cluster info 2>/dev/null | tr -d '\r' | grep cluster_state)" = "cluster_state:ok" ]; then
      ok=1
      break
    fi
    sleep 0.1
  done
  if [ -z "$ok" ]; then
    echo "cluster $name did not get a leader for every shard" >&2
    exit 1
  fi
  # Placement then moves leaders to their preferred replicas; measuring during those moves
  # measures redirects. Wait (bounded) until the slot map stays the same for 3 s.
  local last="" same=0 now
  for _ in $(seq 1 60); do
    now=$(redis-cli -p "${redis_ports[0]}" cluster slots 2>/dev/null | md5sum)
    if [ "$now" = "$last" ]; then same=$((same + 1)); else same=0; last=$now; fi
    if [ "$same" -ge 6 ]; then return 0; fi
    sleep 0.5
  done
  echo "cluster $name: leaders still moving after 30 s; measuring anyway" >&2
}
stop_cluster() {
  for pid in "${cluster_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${cluster_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
}

results="$work/results.csv"
echo "server,pipeline,test,rps,p50_ms,p99_ms,cpu_us" >"$results"
hz=$(getconf CLK_TCK)
cpu_ticks() { # pids...: their user + system time, summed
  local pid total=0
  for pid in "$@"; do total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat"))); done
  echo "$total"
}
bench() { # name port "pids" pipeline requests [extra redis-benchmark flags]
  local name=$1 port=$2 servers=$3 pipeline=$4 n=$5 t before after
  shift 5
  for t in set get; do # one test at a time, so the CPU is per test
    # shellcheck disable=SC2086 # $servers is a list of pids
    before=$(cpu_ticks $servers)
    redis-benchmark -h 127.0.0.1 -p "$port" -c 50 -P "$pipeline" -r 100000 -d 16 -n "$n" -t "$t" --csv "$@" \
      | tr -d '"' | awk -F, -v s="$name" -v p="$pipeline" '$1 == "SET" || $1 == "GET" { printf "%s,%s,%s,%s,%s,%s,", s, p, $1, $2, $5, $7 }' >>"$results"
    # shellcheck disable=SC2086
    after=$(cpu_ticks $servers)
    # CPU (user + system) of all the servers' processes per request, in microseconds.
    awk -v t="$((after - before))" -v hz="$hz" -v n="$n" 'BEGIN { printf "%.1f\n", t * 1e6 / hz / n }' >>"$results"
  done
}

warm_up() { # port [extra redis-benchmark flags]
  local port=$1
  shift
  if [ "$warm" -gt 0 ]; then
    redis-benchmark -h 127.0.0.1 -p "$port" -c 50 -r 100000 -d 16 -n "$warm" -t set -q "$@" >/dev/null
  fi
}

report() { # servers... (the last is the reference)
  python3 - "$results" "$@" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
names = sys.argv[2:]
ref = names[-1]
by = {(r["server"], r["pipeline"], r["test"]): r for r in rows}
print(f"{'server':<22} {'test':<4} {'-P':>3} | {'ops/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'cpu us':>6} | {'x ' + ref:>14}")
print("-" * 81)
# Only the pipelines this part measured (the reference may also hold an earlier part's rows).
pipelines = [p for p in ("1", "16") if any((n, p, t) in by for n in names[:-1] for t in ("SET", "GET"))]
for name in names:
    for p in pipelines:
        for t in ("SET", "GET"):
            a, b = by.get((name, p, t)), by.get((ref, p, t))
            if not a:
                continue
            ratio = float(a["rps"]) / float(b["rps"]) if b and float(b["rps"]) else 0.0
            print(f"{name:<22} {t:<4} {p:>3} | {float(a['rps']):>9.0f} {a['p50_ms']:>7} {a['p99_ms']:>7} {a['cpu_us']:>6} | {ratio:>14.2f}")
PY
}

rs_port=$(free_port)
mkdir -p "$work/redis"
redis-server --port "$rs_port" --bind 127.0.0.1 --dir "$work/redis" --appendonly yes --appendfsync always \
  --save '' --daemonize no --logfile "$work/redis.log" &
rs_pid=$!
pids+=("$rs_pid")
wait_ready "$rs_port"
warm_up "$rs_port"

if [[ " $parts " == *" 1 "* ]]; then
  echo "== 1. 3 nodes, 16 shards, against redis-server (appendfsync always)"
  start_cluster fwd16 16 forward
  warm_up "${redis_ports[0]}"
  for pipeline in 1 16; do
    n=$n1
    if [ "$pipeline" = 16 ]; then n=$n16; fi
    bench "3-node forward" "${redis_ports[0]}" "${cluster_pids[*]}" "$pipeline" "$n"
    bench redis "$rs_port" "$rs_pid" "$pipeline" "$n"
  done
  stop_cluster
  start_cluster red16 16 redirect
  warm_up "${redis_ports[0]}" --cluster
  for pipeline in 1 16; do
    n=$n1
    if [ "$pipeline" = 16 ]; then n=$n16; fi
    bench "3-node redirect" "${redis_ports[0]}" "${cluster_pids[*]}" "$pipeline" "$n" --cluster
  done
  stop_cluster
  report "3-node forward" "3-node redirect" redis
fi

if [[ " $parts " == *" 2 "* ]]; then
  echo
  echo "== 2. shard counts (3 nodes, -P 1, no forwarding: redirect mode with --cluster, or the leader itself for 1 shard)"
  names=()
  for shards in $shard_counts; do
    if [ "$shards" -lt 3 ]; then
      # redis-benchmark --cluster refuses a cluster with fewer masters than nodes; node1 leads
      # shard 1, so talking to it directly forwards nothing either.
      start_cluster "s$shards" "$shards" forward
      warm_up "${redis_ports[0]}"
      bench "$shards shards" "${redis_ports[0]}" "${cluster_pids[*]}" 1 "$n1"
    else
      start_cluster "s$shards" "$shards" redirect
      warm_up "${redis_ports[0]}" --cluster
      bench "$shards shards" "${redis_ports[0]}" "${cluster_pids[*]}" 1 "$n1" --cluster
    fi
    names+=("$shards shards")
    stop_cluster
  done
  bench redis "$rs_port" "$rs_pid" 1 "$n1"
  report "${names[@]}" redis
fi

if [[ " $parts " == *" 3 "* ]]; then
  echo
  echo "== 3. idle CPU of 3 nodes holding 1000 shards (after settling), over ${idle_secs}s"
  start_cluster idle 1000 forward
  # A thousand fresh groups take a while to elect, hand leaders to their preferred replicas and
  # quiesce; measuring before that measures the start. Settle (bounded: 10 to 60 s) until a
  # 2-second window costs no less than 90% of the one before it.
  sleep 10
  settle_secs=10 last_window=-1
  for _ in $(seq 1 25); do
    # shellcheck disable=SC2086
    start=$(cpu_ticks ${cluster_pids[*]})
    sleep 2
    # shellcheck disable=SC2086
    now=$(cpu_ticks ${cluster_pids[*]})
    window=$((now - start)) settle_secs=$((settle_secs + 2))
    if [ "$last_window" -ge 0 ] && [ $((window * 10)) -ge $((last_window * 9)) ]; then break; fi
    last_window=$window
  done
  echo "settled for ${settle_secs}s (last 2 s window: $((window * 100 / hz / 2))% of a core)"
  declare -A before
  for pid in "${cluster_pids[@]}"; do before[$pid]=$(cpu_ticks "$pid"); done
  sleep "$idle_secs"
  total=0
  for pid in "${cluster_pids[@]}"; do
    after=$(cpu_ticks "$pid")
    pct=$(python3 -c "print(round(100 * ($after - ${before[$pid]}) / $hz / $idle_secs, 2))")
    total=$(python3 -c "print(round($total + $pct, 2))")
    echo "node pid $pid: ${pct}% of a core"
  done
  echo "all three nodes: ${total}% of a core"
  stop_cluster
fi
