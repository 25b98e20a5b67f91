#!/usr/bin/env bash
# Where a benchmark's server CPU goes, by thread: runs COMMAND (e.g. a redis-benchmark run of
# REQUESTS requests) and prints, for every thread name of the given processes (summed over the
# processes, so three nodes' store loops are one row), its CPU time (user + system) per request
# and its context switches per request. MULTI_RAFT.md ("Threads") quotes such a run.
#
# Usage: scripts/thread-cpu.sh REQUESTS PID[,PID...] -- COMMAND [ARGS...]
# Example, against a running redraft:
#   scripts/thread-cpu.sh 300000 "$(pgrep -d, -x redraft)" -- \
#     redis-benchmark -p 6379 -c 50 -r 100000 -d 16 -n 300000 -t set -q
set -euo pipefail
if [ $# -lt 4 ] || [ "$3" != "--" ]; then
  sed -n '2,10p' "$0" >&2
  exit 2
fi
requests=$1
pids=$2
shift 3

snapshot() {
  python3 - "$pids" <<'PY'
import json, os, sys
out = {}
for pid in sys.argv[1].split(","):
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            stat = open(f"/proc/{pid}/task/{tid}/stat").read()
            status = open(f"/proc/{pid}/task/{tid}/status").read()
        except OSError:
            continue  # the thread ended
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        ticks = int(fields[11]) + int(fields[12])  # utime + stime
        switches = sum(int(line.split()[1]) for line in status.splitlines() if "ctxt_switches" in line)
        row = out.setdefault(name, [0, 0])
        row[0] += ticks
        row[1] += switches
print(json.dumps(out))
PY
}

before=$(snapshot)
"$@"
after=$(snapshot)
python3 - "$before" "$after" "$requests" "$(getconf CLK_TCK)" <<'PY'
import json, sys
before, after = json.loads(sys.argv[1]), json.loads(sys.argv[2])
requests, hz = int(sys.argv[3]), int(sys.argv[4])
rows = []
for name, (ticks, switches) in after.items():
    b = before.get(name, [0, 0])
    rows.append((name, (ticks - b[0]) * 1e6 / hz / requests, (switches - b[1]) / requests))
rows.sort(key=lambda r: -r[1])
print(f"{'thread':<20} {'cpu us/request':>14} {'switches/request':>17}")
for name, us, sw in rows:
    if us > 0 or sw > 0:
        print(f"{name:<20} {us:>14.1f} {sw:>17.2f}")
print(f"{'all':<20} {sum(r[1] for r in rows):>14.1f} {sum(r[2] for r in rows):>17.2f}")
PY
