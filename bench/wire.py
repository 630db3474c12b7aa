"""Streaming, ingest and concurrency over the wire (issue 7), Tarn beside PostgreSQL 15,
run by bench/wire.sh.

  wire.py TARN_BIN RESULTS_DIR [--sf 1] [--clients 100] [--seconds 20]

On the same machine, with the same client for both servers:

1. COPY FROM STDIN: TPC-H `lineitem` (6 million rows at SF1) as CSV, sent by psql's
   `\\copy ... from` into an empty table of the same column types on each server.
2. SELECT * streaming: `psql -c 'select * from lineitem'` (libpq, simple protocol,
   unaligned output to /dev/null), every row received and formatted by psql.
3. COPY TO STDOUT: psql's `\\copy lineitem to /dev/null` (COPY lineitem TO STDOUT,
   text format).
4. Memory by result size: the same SELECT with LIMIT a sixteenth, a quarter and
   all of lineitem, the server's peak memory for each: a server that streams holds
   the same memory whatever the size of the result.
5. Concurrency: pgbench (PostgreSQL's own load client) with --clients connections
   for --seconds, each transaction one short query (a join of nation and region
   for a random key, extended protocol); throughput and latency percentiles from
   pgbench's per-transaction log.

For 1-4 it reports rows per second and the server's peak memory while the step ran
(proportional set size summed over the server's processes, sampled every 50 ms:
PostgreSQL's shared buffers count once). Prints a markdown table and writes it to
RESULTS_DIR.
"""

import argparse
import datetime
import glob
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import MemorySampler, postgres_bindir, start_postgres, start_tarn, wait  # noqa: E402

LINEITEM = """create table lineitem (
  l_orderkey bigint, l_partkey bigint, l_suppkey bigint, l_linenumber integer,
  l_quantity decimal(15,2), l_extendedprice decimal(15,2), l_discount decimal(15,2),
  l_tax decimal(15,2), l_returnflag varchar, l_linestatus varchar, l_shipdate date,
  l_commitdate date, l_receiptdate date, l_shipinstruct varchar, l_shipmode varchar,
  l_comment varchar)"""
NATION = "create table nation (n_nationkey integer, n_name varchar, n_regionkey integer, n_comment varchar)"
REGION = "create table region (r_regionkey integer, r_name varchar, r_comment varchar)"
SHORT_QUERY = """\\set k random(0, 24)
select n_name, r_name from nation join region on n_regionkey = r_regionkey where n_nationkey = :k;
"""


def generate(sf, venv_bin):
    folder = os.path.expanduser(f"~/.cache/tarn/tpch/sf{sf}")
    os.makedirs(folder, exist_ok=True)
    tables = [t for t in ("lineitem", "nation", "region") if not os.path.exists(f"{folder}/{t}.csv")]
    if tables:
        subprocess.run(
            [os.path.join(venv_bin, "tpchgen-cli"), "csv", "-s", str(sf), "-T", ",".join(tables),
             f"--output-dir={folder}"],
            check=True,
        )
    return folder


def psql(port, user, *args):
    return [os.path.join(postgres_bindir(), "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
            "-h", "127.0.0.1", "-p", str(port), "-U", user, "-d", "tarn", *args]


def result_sizes(rows):
    """Row counts for the memory-by-size step: a sixteenth, a quarter and all."""
    return [rows // 16, rows // 4, rows]


def timed_step(pid, command):
    """Runs `command`, returning (seconds, peak MB, MB before) of the server `pid`."""
    with MemorySampler(pid) as memory:
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        seconds = time.perf_counter() - start
    return seconds, memory.peak, memory.base


def pgbench(port, user, clients, seconds, work):
    script = os.path.join(work, "short.sql")
    with open(script, "w") as f:
        f.write(SHORT_QUERY)
    logs = os.path.join(work, f"pgbench-{port}")
    os.makedirs(logs)
    out = subprocess.run(
        [os.path.join(postgres_bindir(), "pgbench"), "-n", "-h", "127.0.0.1", "-p", str(port),
         "-U", user, "-c", str(clients), "-j", "2", "-T", str(seconds), "-M", "extended",
         "-f", script, "-l", "--log-prefix", os.path.join(logs, "log"), "tarn"],
        check=True, capture_output=True, text=True,
    ).stdout
    latencies = []
    for path in glob.glob(os.path.join(logs, "log*")):
        with open(path) as f:
            # client_id transaction_no time script_no time_epoch time_us; time in us
            # (a failed transaction has a word in place of its time)
            latencies.extend(
                int(line.split()[2]) / 1000 for line in f if line.split()[2:3] and line.split()[2].isdigit()
            )
    latencies.sort()
    # "number of failed transactions: 0 (0.000%)"
    failed = [line.split(":", 1)[1].strip() for line in out.splitlines() if "failed transactions" in line]

    def pct(p):
        return latencies[min(len(latencies) - 1, int(len(latencies) * p))] if latencies else float("nan")

    return {
        "tps": len(latencies) / seconds,
        "p50": pct(0.50),
        "p99": pct(0.99),
        "max": latencies[-1] if latencies else float("nan"),
        "failed": failed[0].strip() if failed else "",
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("tarn")
    parser.add_argument("results")
    parser.add_argument("--sf", default="1")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=int, default=20)
    args = parser.parse_args()

    data = generate(args.sf, os.path.dirname(sys.executable))
    csv = os.path.join(data, "lineitem.csv")
    with open(csv) as f:
        rows = sum(1 for _ in f) - 1
    csv_mb = os.path.getsize(csv) / 2**20

    work = tempfile.mkdtemp(prefix="tarn-wire-")
    os.chmod(work, 0o755)  # PostgreSQL runs as the postgres user and must reach its folder
    os.makedirs(os.path.join(work, "tarn"))
    stop_pg = None
    server = None
    results = {}
    try:
        tarn_port, server = start_tarn(args.tarn, os.path.join(work, "tarn"))
        pg_port, pg_pid, stop_pg = start_postgres(
            os.path.join(work, "pgroot"), [f"max_connections={args.clients + 20}"]
        )
        peers = [("Tarn", tarn_port, "tarn", server.pid), ("PostgreSQL", pg_port, "bench", pg_pid)]
        for name, port, user, pid in peers:
            conn = wait(port, user, "tarn")
            conn.autocommit = True
            cur = conn.cursor()
            for ddl in (LINEITEM, NATION, REGION):
                cur.execute(ddl)
            for t in ("nation", "region"):
                with open(os.path.join(data, f"{t}.csv")) as f:
                    cur.copy_expert(f"copy {t} from stdin with (format csv, header true)", f)
            conn.close()
            r = results[name] = {}
            print(f"{name}: COPY FROM", file=sys.stderr)
            r["copy_in"] = timed_step(
                pid, psql(port, user, "-c", f"\\copy lineitem from '{csv}' with (format csv, header true)")
            )
            check = wait(port, user, "tarn")
            cur = check.cursor()
            cur.execute("select count(*) from lineitem")
            loaded = cur.fetchone()[0]
            check.close()
            if loaded != rows:
                raise SystemExit(f"{name} loaded {loaded} rows of {rows}")
            print(f"{name}: SELECT *", file=sys.stderr)
            r["select"] = timed_step(
                pid, psql(port, user, "-A", "-t", "-o", "/dev/null", "-c", "select * from lineitem")
            )
            print(f"{name}: COPY TO", file=sys.stderr)
            r["copy_out"] = timed_step(pid, psql(port, user, "-c", "\\copy lineitem to '/dev/null'"))
            print(f"{name}: memory by result size", file=sys.stderr)
            r["sizes"] = [
                (n, timed_step(
                    pid, psql(port, user, "-A", "-t", "-o", "/dev/null", "-c", f"select * from lineitem limit {n}")
                ))
                for n in result_sizes(rows)
            ]
            print(f"{name}: pgbench", file=sys.stderr)
            r["bench"] = pgbench(port, user, args.clients, args.seconds, work)
    finally:
        if server:
            server.terminate()
            server.wait()
        if stop_pg:
            stop_pg()
        shutil.rmtree(work, ignore_errors=True)

    t, p = results["Tarn"], results["PostgreSQL"]
    out = [
        f"# Over the wire, SF{args.sf}: Tarn beside PostgreSQL 15",
        "",
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, {platform.platform()}, "
        f"{os.cpu_count()} cores. Tarn: {os.path.basename(os.path.dirname(args.tarn))} build, local "
        f"warehouse. PostgreSQL: Debian's, default settings (max_connections {args.clients + 20}). "
        f"lineitem: {rows:,} rows, {csv_mb:.0f} MB of CSV. Clients: psql (libpq) for steps 1-3, pgbench for 4. "
        "Memory: the server's proportional set size, peak while the step ran (before it in brackets). "
        "Ratios above 1 mean Tarn does better.",
        "",
        "| step | Tarn rows/s | PostgreSQL rows/s | Tarn / PostgreSQL | Tarn s | PostgreSQL s | Tarn peak MB | PostgreSQL peak MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for key, label in [
        ("copy_in", "COPY lineitem FROM STDIN (CSV)"),
        ("select", "SELECT * FROM lineitem"),
        ("copy_out", "COPY lineitem TO STDOUT"),
    ]:
        (ts, tpeak, tbase), (ps, ppeak, pbase) = t[key], p[key]
        out.append(
            f"| {label} | {rows / ts:,.0f} | {rows / ps:,.0f} | {ps / ts:.2f} | {ts:.1f} | {ps:.1f} | "
            f"{tpeak:.0f} ({tbase:.0f}) | {ppeak:.0f} ({pbase:.0f}) |"
        )
    out += [
        "",
        "Server memory while streaming results of growing size (`select * from lineitem limit N`, psql): "
        "peak MB during the step (before it in brackets), and the growth of the peak from the smallest result "
        "to the whole table.",
        "",
        "| rows | Tarn peak MB | PostgreSQL peak MB |",
        "|---:|---:|---:|",
    ]
    for (n, (_, tpeak, tbase)), (_, (_, ppeak, pbase)) in zip(t["sizes"], p["sizes"]):
        out.append(f"| {n:,} | {tpeak:.0f} ({tbase:.0f}) | {ppeak:.0f} ({pbase:.0f}) |")
    (n0, (_, t0, _)), (n1, (_, t1, _)) = t["sizes"][0], t["sizes"][-1]
    (_, (_, p0, _)), (_, (_, p1, _)) = p["sizes"][0], p["sizes"][-1]
    out.append(
        f"| growth for {n1 / n0:.0f}x the rows | {t1 / t0:.2f}x | {p1 / p0:.2f}x |"
    )
    tb, pb = t["bench"], p["bench"]
    out += [
        "",
        f"{args.clients} concurrent connections for {args.seconds} s, each transaction one short query "
        "(nation join region by key, extended protocol), pgbench -j 2:",
        "",
        "| server | transactions/s | p50 ms | p99 ms | max ms | failures |",
        "|---|---:|---:|---:|---:|---|",
        f"| Tarn | {tb['tps']:,.0f} | {tb['p50']:.1f} | {tb['p99']:.1f} | {tb['max']:.1f} | {tb['failed'] or '-'} |",
        f"| PostgreSQL | {pb['tps']:,.0f} | {pb['p50']:.1f} | {pb['p99']:.1f} | {pb['max']:.1f} | {pb['failed'] or '-'} |",
        f"| Tarn / PostgreSQL | {tb['tps'] / pb['tps']:.2f} | {tb['p50'] / pb['p50']:.2f} | "
        f"{tb['p99'] / pb['p99']:.2f} | | |",
        "",
    ]
    text = "\n".join(out)
    print(text)
    os.makedirs(args.results, exist_ok=True)
    path = os.path.join(args.results, f"wire-sf{args.sf}-{datetime.datetime.now():%Y%m%d-%H%M%S}.md")
    with open(path, "w") as f:
        f.write(text)
    print(f"written to {path}")


if __name__ == "__main__":
    main()
