#!/usr/bin/env bash
# Builds and starts a single-node RedRaft: data in ./data, Redis protocol on 127.0.0.1:6379.
# Extra arguments go to redraft (see `redraft --help`), e.g. scripts/run.sh --requirepass secret
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
# RocksDB's C++ is built once per machine and linked from a cache (see scripts/rocksdb-lib.sh).
ROCKSDB_LIB_DIR=$(scripts/rocksdb-lib.sh)
export ROCKSDB_LIB_DIR ROCKSDB_STATIC=1
cargo build --release -p node --bin redraft
target_dir=${CARGO_TARGET_DIR:-target}
exec "$target_dir/release/redraft" --data-dir ./data --bind 127.0.0.1 --redis-port 6379 "$@"
