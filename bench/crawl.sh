#!/usr/bin/env bash
# Crawler benchmark (issue 4): builds Tarn in release mode, installs DuckDB (the peer)
# into the test venv if missing, and prints a markdown table that is also written to
# bench/results/. Not part of the test command.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tarn/target}"
venv="${TARN_TEST_VENV:-$HOME/.cache/tarn/venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -c "import duckdb" 2>/dev/null || "$venv/bin/pip" install -q duckdb==1.5.5
cargo build --release --bin tarn
"$venv/bin/python" bench/crawl.py "$CARGO_TARGET_DIR/release/tarn" "$venv/bin/python" bench/results
