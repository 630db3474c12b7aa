#!/usr/bin/env bash
# Short-query load on Tarn alone, for profiling (issue 7):
#
#   bench/short.sh TARN_BINARY CLIENTS SECONDS [perf]
#
# Starts the server on a fresh warehouse, loads TPC-H nation and region (CSV from
# ~/.cache/tarn/tpch/sf1, which bench/wire.sh generates), runs pgbench (extended
# protocol) with the query of bench/wire.py's step 4 and prints its throughput,
# latency and the server's CPU time per query (MODE=prepared in the environment runs pgbench's named prepared statements,
# Parse once and Bind/Execute per query, as pgjdbc and asyncpg do; KEYS=N draws the
# nation key from 0 to N instead of 0 to 24, so that values rarely repeat and a kept
# physical plan is rarely taken; TARN_TOML_EXTRA adds lines to the server's
# configuration, to compare a setting side by side). With "perf", records a call-graph profile of the server (read it with
# `perf report -i <work>/perf.data`), sampling 49 times a second (PERF_FREQ=499 for
# more samples). Needs psql and pgbench (Debian's postgresql
# packages) and, for profiles, perf (linux-perf).
set -euo pipefail
if [ $# -lt 3 ]; then
  echo "usage: $0 TARN_BINARY CLIENTS SECONDS [perf]" >&2
  exit 2
fi
bin=$1 clients=$2 seconds=$3 profile=${4:-}
data=~/.cache/tarn/tpch/sf1
for t in nation region; do
  [ -f "$data/$t.csv" ] || { echo "$data/$t.csv is missing: run bench/wire.sh first" >&2; exit 1; }
done
work=$(mktemp -d /tmp/tarn-short-XXXX)
port=$((20000 + RANDOM % 10000))
printf '[server]\nlisten = "127.0.0.1:%s"\n[warehouse]\nurl = "%s/warehouse"\n' "$port" "$work" > "$work/tarn.toml"
# TARN_TOML_EXTRA: more configuration, appended (say '[datafusion]\n"execution.x" = "y"').
[ -n "${TARN_TOML_EXTRA:-}" ] && printf '%b\n' "$TARN_TOML_EXTRA" >> "$work/tarn.toml"
"$bin" serve --config "$work/tarn.toml" > "$work/tarn.log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null || true' EXIT
psql=(psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U tarn -d tarn)
for _ in $(seq 100); do "${psql[@]}" -c 'select 1' >/dev/null 2>&1 && break; sleep 0.2; done
"${psql[@]}" <<SQL
create table nation (n_nationkey integer, n_name varchar, n_regionkey integer, n_comment varchar);
create table region (r_regionkey integer, r_name varchar, r_comment varchar);
\copy nation from '$data/nation.csv' with (format csv, header true)
\copy region from '$data/region.csv' with (format csv, header true)
SQL
cat > "$work/short.sql" <<SQL
\\set k random(0, ${KEYS:-24})
select n_name, r_name from nation join region on n_regionkey = r_regionkey where n_nationkey = :k;
SQL
if [ -n "$profile" ]; then
  perf record -F ${PERF_FREQ:-49} --call-graph dwarf,65528 -o "$work/perf.data" -p "$server" > /dev/null 2>&1 &
  recorder=$!
  sleep 1
fi
# The server's CPU time (user + system, in clock ticks) around the run, for the CPU
# each query costs: steadier than throughput on a machine whose neighbours vary.
cpu() { awk '{print $14 + $15}' "/proc/$server/stat"; }
before=$(cpu)
pgbench -n -h 127.0.0.1 -p "$port" -U tarn -c "$clients" -j 2 -T "$seconds" -M "${MODE:-extended}" \
  -f "$work/short.sql" tarn > "$work/pgbench.out" 2>&1
after=$(cpu)
grep -E 'tps|latency|failed' "$work/pgbench.out"
queries=$(awk -F': ' '/number of transactions actually processed/ {split($2, n, "/"); print n[1]}' "$work/pgbench.out")
awk -v t="$((after - before))" -v q="$queries" -v hz="$(getconf CLK_TCK)" \
  'BEGIN { if (q > 0) printf "server CPU per query = %.1f us (%d queries)\n", t / hz * 1e6 / q, q }'
if [ -n "$profile" ]; then
  kill -INT "$recorder"
  wait "$recorder" || true
  echo "profile: $work/perf.data"
fi
echo "work folder: $work"
