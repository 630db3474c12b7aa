#!/usr/bin/env bash
# Catalog introspection benchmark (issues 5 and 7): builds Tarn in release mode and
# runs bench/introspection.py, which starts Tarn and a PostgreSQL 15 side by side with
# 1,000 tables each and prints a markdown table (also written to bench/results/).
# Needs what the test command installs (PostgreSQL 15, the test venv). Not part of it.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tarn/target}"
venv="${TARN_TEST_VENV:-$HOME/.cache/tarn/venv}"
[ -x "$venv/bin/python" ] || { echo "run scripts/test.sh once first (it makes $venv)"; exit 1; }
cargo build --release --bin tarn
"$venv/bin/python" bench/introspection.py "$CARGO_TARGET_DIR/release/tarn" bench/results
