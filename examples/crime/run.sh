#!/usr/bin/env bash
# The crime pipeline end to end, on a local folder:
#
#   raw CSV exports ──generate.py──▶ WORK/raw/crime/<city>/*.csv
#                   ──tarn crawl───▶ tables raw.chicago, raw.los_angeles, raw.san_francisco
#                   ──dbt build────▶ analytics.stg_* (clean, normalize, dedupe),
#                                    analytics.crimes_by_month, analytics.clearance_rates,
#                                    and their tests
#                   ──psql─────────▶ dashboard.sql over the marts
#                   ──check.py─────▶ the marts against the answers generate.py computed
#
# Usage: examples/crime/run.sh [WORK_DIR]   (default: examples/crime/work)
# Environment: TARN_BIN (default: build with cargo), TARN_PORT (default 5434), DBT (a dbt
# executable; default: dbt on PATH, else a venv in ~/.cache/tarn/dbt-venv made from
# tests/dbt-requirements.txt).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
work="$(mkdir -p "${1:-$here/work}" && cd "${1:-$here/work}" && pwd)"
port="${TARN_PORT:-5434}"

tarn="${TARN_BIN:-}"
if [ -z "$tarn" ]; then
  (cd "$repo" && cargo build --bin tarn)
  target="$(cd "$repo" && cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
  tarn="$target/debug/tarn"
fi

dbt="${DBT:-}"
if [ -z "$dbt" ]; then
  if command -v dbt >/dev/null; then
    dbt="$(command -v dbt)"
  else
    venv="$HOME/.cache/tarn/dbt-venv"
    [ -x "$venv/bin/dbt" ] || { python3 -m venv "$venv" && "$venv/bin/pip" install -q -r "$repo/tests/dbt-requirements.txt"; }
    dbt="$venv/bin/dbt"
  fi
fi

echo "== generate raw exports into $work/raw"
rm -rf "$work/raw" "$work/warehouse"
python3 "$here/generate.py" "$work/raw"

cat > "$work/tarn.toml" <<TOML
[server]
listen = "127.0.0.1:$port"

[warehouse]
url = "$work/warehouse"
# SQL and the crawler may read the raw exports, and nothing else outside the warehouse.
allowed_locations = ["$work/raw"]
TOML

echo "== crawl them into schema raw"
"$tarn" crawl "$work/raw/crime" --schema raw --config "$work/tarn.toml"

echo "== serve on 127.0.0.1:$port"
"$tarn" serve --config "$work/tarn.toml" > "$work/tarn.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  if python3 -c "import socket; socket.create_connection(('127.0.0.1', $port), 0.2)" 2>/dev/null; then break; fi
  sleep 0.2
done

echo "== dbt build (seed, models, tests)"
export TARN_PORT="$port" DBT_SEND_ANONYMOUS_USAGE_STATS=false
export DBT_TARGET_PATH="$work/dbt-target" DBT_LOG_PATH="$work/dbt-logs"
"$dbt" build --project-dir "$here/dbt" --profiles-dir "$here/dbt" --no-use-colors

if command -v psql >/dev/null; then
  echo "== dashboard queries"
  psql -X -h 127.0.0.1 -p "$port" -U tarn tarn -f "$here/dashboard.sql"
fi

echo "== check the marts against the generator's answers"
python3 "$here/check.py" "$work/raw/expected.json" "$port"
