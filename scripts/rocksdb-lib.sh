#!/usr/bin/env bash
# Prints the directory of a prebuilt static RocksDB library for librocksdb-sys, building it once
# per machine when it is missing.
#
# Why: librocksdb-sys compiles RocksDB's C++ (about 12 minutes on 2 cores) inside its build
# script, and cargo reruns that build script whenever the features of its host dependencies
# differ, which they do between `cargo test -p storage`, `cargo build -p node` and a workspace
# build. Linking one cached library through ROCKSDB_LIB_DIR makes every build reuse it, debug
# and release alike.
#
# Usage: export ROCKSDB_LIB_DIR=$(scripts/rocksdb-lib.sh) ROCKSDB_STATIC=1
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
version=$(awk '/^name = "librocksdb-sys"$/ {getline; gsub(/"/, "", $3); print $3}' "$root/Cargo.lock")
[ -n "$version" ] || { echo "librocksdb-sys not found in Cargo.lock" >&2; exit 1; }
cache="${REDRAFT_CACHE_DIR:-$HOME/.cache/redraft}/rocksdb-$version"
if [ ! -f "$cache/librocksdb.a" ]; then
  target="${CARGO_TARGET_DIR:-$root/target}"
  echo "building RocksDB $version once into $cache (this takes a while)" >&2
  (cd "$root" && env -u ROCKSDB_LIB_DIR -u ROCKSDB_STATIC cargo build -p storage >&2)
  built=$(ls -t "$target"/debug/build/librocksdb-sys-*/out/librocksdb.a | head -n 1)
  mkdir -p "$cache"
  # Debug symbols make the archive 30 times larger and every test binary slow to link.
  strip --strip-debug -o "$cache/librocksdb.a.tmp" "$built"
  mv "$cache/librocksdb.a.tmp" "$cache/librocksdb.a"
fi
echo "$cache"
