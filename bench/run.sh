#!/usr/bin/env bash
# Every benchmark, one after the other (issue 7): TPC-H beside DataFusion, DuckDB and
# Spark; streaming, COPY and 100 connections beside PostgreSQL 15; the crawler beside
# DuckDB's inference; catalog introspection with 1,000 tables beside PostgreSQL 15.
# Each prints its markdown table and writes it to bench/results/.
#
#   bench/run.sh            # SF1
#   bench/run.sh --sf 10    # TPC-H and the wire benchmark at SF10
#
# Needs what the test command installs (PostgreSQL 15, the test venv): run
# scripts/test.sh once first. Not part of the test command.
set -euo pipefail
cd "$(dirname "$0")"
./tpch.sh "$@"
./wire.sh "$@"
./crawl.sh
./introspection.sh
