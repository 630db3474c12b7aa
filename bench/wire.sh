#!/usr/bin/env bash
# Streaming, ingest and concurrency benchmark (issue 7): Tarn beside PostgreSQL 15 over
# the wire. Builds Tarn in release mode, installs the tools into
# ~/.cache/tarn/bench-venv (bench/requirements.txt), generates TPC-H lineitem as CSV
# with tpchgen-cli, and runs bench/wire.py, which prints a markdown table (also
# written to bench/results/). Needs Debian's PostgreSQL (psql, pgbench, the server),
# which the test command installs.
#
#   bench/wire.sh                          # SF1, 100 clients for 20 s
#   bench/wire.sh --sf 10 --clients 200    # larger
#
# Not part of the test command.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tarn/target}"
. bench/venv.sh
cargo build --release --bin tarn
"$venv/bin/python" bench/wire.py "$CARGO_TARGET_DIR/release/tarn" bench/results "$@"
