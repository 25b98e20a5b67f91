#!/usr/bin/env bash
# Installs what the tests need (when missing) and runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
cargo test --workspace "$@"
