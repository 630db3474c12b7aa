#!/usr/bin/env bash
# TPC-H benchmark (issue 7): Tarn over the wire beside DataFusion in-process and DuckDB,
# on the same data. Builds Tarn in release mode, installs the peers into
# ~/.cache/tarn/bench-venv (bench/requirements.txt), generates the data with
# tpchgen-cli, and prints a markdown table (also written to bench/results/).
#
#   bench/tpch.sh                 # SF1, 3 runs per query
#   bench/tpch.sh --sf 10         # SF10
#   bench/tpch.sh --queries 1,6   # some queries only
#
# Not part of the test command.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tarn/target}"
. bench/venv.sh
cargo build --release --bin tarn
"$venv/bin/python" bench/tpch.py "$CARGO_TARGET_DIR/release/tarn" bench/results "$@"
