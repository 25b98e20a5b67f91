#!/usr/bin/env bash
# Installs what building and testing RedRaft needs on Debian, only when missing:
#   scripts/deps.sh build   libclang-dev (RocksDB's bindgen) and a C++ compiler
#   scripts/deps.sh test    the above, redis-tools (redis-cli, redis-benchmark), redis-server (the
#                           reference of the reply parity test), the Python redis client
#   scripts/deps.sh bench   the above (redis-server is also the baseline of scripts/bench.sh)
# Runs apt-get update only when a package is missing. Needs root or sudo for apt-get.
set -euo pipefail

what=${1:-build}
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi

missing=()
dpkg -s libclang-dev >/dev/null 2>&1 || missing+=(libclang-dev)
command -v c++ >/dev/null 2>&1 || missing+=(g++)
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
if [ "$what" = test ] || [ "$what" = bench ]; then
  command -v redis-cli >/dev/null 2>&1 || missing+=(redis-tools)
  command -v redis-benchmark >/dev/null 2>&1 || missing+=(redis-tools)
  command -v python3 >/dev/null 2>&1 || missing+=(python3)
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  $sudo apt-get update -qq
  # RUNLEVEL=1 keeps the redis-server package from starting a system service.
  $sudo env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ "$what" = test ] || [ "$what" = bench ]; then
  if ! python3 -c 'import redis' >/dev/null 2>&1; then
    echo "installing the Python redis client"
    python3 -m pip install --quiet redis 2>/dev/null \
      || python3 -m pip install --quiet --break-system-packages redis 2>/dev/null \
      || { $sudo apt-get update -qq && $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-redis; } \
      || echo "warning: no Python redis client; the Python smoke test will be skipped"
  fi
fi

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo not found; install Rust 1.88 or newer with rustup (https://rustup.rs)" >&2
  exit 1
fi
