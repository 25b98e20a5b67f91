#!/usr/bin/env bash
# Installs what the tests need (when missing) and runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
# RocksDB's C++ is built once per machine and linked from a cache (see scripts/rocksdb-lib.sh).
ROCKSDB_LIB_DIR=$(scripts/rocksdb-lib.sh)
export ROCKSDB_LIB_DIR ROCKSDB_STATIC=1
cargo test --workspace "$@"
