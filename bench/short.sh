#!/usr/bin/env bash
# Short-query load on Tarn alone, for profiling (issue 7): bench/short.sh TARN_BINARY CLIENTS SECONDS [perf]
# Starts the server on a fresh warehouse, loads TPC-H nation and region (from
# ~/.cache/tarn/tpch/sf1, made by bench/wire.sh), runs pgbench (extended protocol) with
# the query of bench/wire.py step 4 and prints its throughput; with "perf", records a
# call-graph profile of the server (perf report -i <work>/perf.data). Needs psql, pgbench
# and, for profiles, perf.
set -euo pipefail
BIN=$1; C=$2; S=$3; PERF=${4:-}
W=$(mktemp -d /tmp/short-XXXX); PORT=$((20000 + RANDOM % 10000))
printf '[server]\nlisten = "127.0.0.1:%s"\n[warehouse]\nurl = "%s/warehouse"\n' $PORT $W > $W/tarn.toml
$BIN serve --config $W/tarn.toml > $W/tarn.log 2>&1 & PID=$!
for i in $(seq 50); do psql -h 127.0.0.1 -p $PORT -U tarn -d tarn -c 'select 1' >/dev/null 2>&1 && break; sleep 0.2; done
D=~/.cache/tarn/tpch/sf1
psql -X -q -h 127.0.0.1 -p $PORT -U tarn -d tarn <<SQL
create table nation (n_nationkey integer, n_name varchar, n_regionkey integer, n_comment varchar);
create table region (r_regionkey integer, r_name varchar, r_comment varchar);
\copy nation from '$D/nation.csv' with (format csv, header true)
\copy region from '$D/region.csv' with (format csv, header true)
SQL
cat > $W/short.sql <<'SQL'
\set k random(0, 24)
select n_name, r_name from nation join region on n_regionkey = r_regionkey where n_nationkey = :k;
SQL
if [ -n "$PERF" ]; then perf record -F 49 --call-graph dwarf,65528 -o $W/perf.data -p $PID > /dev/null 2>&1 & PP=$!; sleep 1; fi
pgbench -n -h 127.0.0.1 -p $PORT -U tarn -c $C -j 2 -T $S -M extended -f $W/short.sql tarn 2>&1 | grep -E 'tps|latency|failed'
if [ -n "$PERF" ]; then kill -INT $PP; wait $PP || true; echo "perf data: $W/perf.data"; fi
kill $PID; wait $PID || true
echo "work: $W"
