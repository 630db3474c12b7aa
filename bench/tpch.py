"""TPC-H over the wire, side by side with DuckDB, DataFusion and Spark (issue 7), run
by bench/tpch.sh.

  tpch.py TARN_BIN RESULTS_DIR [--sf 1] [--runs 3] [--queries 1,3,6] [--peers datafusion,duckdb,spark]
          [--setting execution.parquet.pushdown_filters=true ...]

1. Generates the TPC-H tables as Parquet with tpchgen-cli (once per scale factor, in
   ~/.cache/tarn/tpch/sf<SF>).
2. Starts `tarn serve` (release build) on a fresh warehouse that may read those files,
   and loads each table into a Delta table through Tarn (CREATE EXTERNAL TABLE over
   the Parquet file, then CREATE TABLE AS).
3. Runs the 22 queries (their text from DuckDB's tpch extension) `--runs` times each,
   after one warm-up run, on: Tarn over the wire (psycopg2, every row fetched);
   DataFusion in-process (the `datafusion` package, the engine version Tarn embeds)
   over the Parquet files, which is the floor for Tarn's own overhead; DuckDB over the
   same Parquet files; Spark in local mode (PyPI's pyspark with its jars, on the
   machine's Java 17, `local[*]`, shuffle partitions twice the cores instead of 200),
   over the same Parquet files as temporary views, every row collected.
4. Checks that the answers agree (values rounded to cents, row order as returned),
   prints a markdown table of median times, ratios and geometric means, with Tarn's
   peak resident memory, and writes it to RESULTS_DIR.
"""

import argparse
import datetime
import decimal
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import start_tarn, wait  # noqa: E402

TABLES = ["region", "nation", "supplier", "customer", "part", "partsupp", "orders", "lineitem"]


def generate(sf):
    folder = os.path.expanduser(f"~/.cache/tarn/tpch/sf{sf}")
    if all(os.path.exists(os.path.join(folder, f"{t}.parquet")) for t in TABLES):
        return folder
    os.makedirs(folder, exist_ok=True)
    tool = os.path.join(os.path.dirname(sys.executable), "tpchgen-cli")
    subprocess.run([tool, "parquet", "-s", str(sf), f"--output-dir={folder}"], check=True)
    return folder


def queries():
    import duckdb
    import duckdb_extension_tpch

    root = os.path.join(os.path.dirname(duckdb_extension_tpch.__file__), "extensions")
    (version,) = os.listdir(root)
    con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    con.execute(f"LOAD '{os.path.join(root, version, 'tpch.duckdb_extension')}'")
    return dict(con.execute("select query_nr, query from tpch_queries()").fetchall())


def normalize(rows):
    def value(v):
        if isinstance(v, (float, decimal.Decimal)):
            return round(float(v), 2)
        if isinstance(v, (datetime.date, datetime.datetime)):
            return v.isoformat()[:10] if isinstance(v, datetime.date) else v.isoformat()
        if isinstance(v, str):
            return v.rstrip()
        return v

    return [tuple(value(v) for v in row) for row in rows]


def timed(run, runs):
    run()  # warm-up
    times = []
    result = None
    for _ in range(runs):
        start = time.perf_counter()
        result = run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), result


def java_version():
    out = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr
    return out.split('"')[1] if '"' in out else "?"


def start_spark(data):
    """A local Spark session with the TPC-H Parquet files as temporary views."""
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[*]")
        .appName("tarn-tpch")
        .config("spark.driver.memory", "8g")
        .config("spark.sql.shuffle.partitions", str(2 * (os.cpu_count() or 2)))
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    for t in TABLES:
        spark.read.parquet(f"{data}/{t}.parquet").createOrReplaceTempView(t)
    return spark


def peak_rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def geomean(values):
    values = [v for v in values if v and v > 0 and not math.isnan(v)]
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else float("nan")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("tarn")
    parser.add_argument("results")
    parser.add_argument("--sf", default="1")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--queries", default="")
    parser.add_argument("--peers", default="datafusion,duckdb,spark")
    parser.add_argument(
        "--setting",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a DataFusion setting for Tarn's [datafusion] section, e.g. "
        "execution.parquet.pushdown_filters=true (repeatable)",
    )
    args = parser.parse_args()
    peers = [p for p in args.peers.split(",") if p]

    import datafusion
    import duckdb

    data = generate(args.sf)
    texts = queries()
    chosen = [int(q) for q in args.queries.split(",") if q] or sorted(texts)

    work = tempfile.mkdtemp(prefix="tarn-tpch-")
    settings = "".join(
        f'"{k.strip()}" = "{v.strip()}"\n' for k, v in (s.split("=", 1) for s in args.setting)
    )
    port, server = start_tarn(
        args.tarn,
        work,
        f'allowed_locations = ["{data}"]\n' + (f"[datafusion]\n{settings}" if settings else ""),
    )
    try:
        conn = wait(port, "tarn", "tarn")
        conn.autocommit = True
        cur = conn.cursor()
        load_start = time.perf_counter()
        for t in TABLES:
            cur.execute(
                f"create external table raw_{t} stored as parquet location '{data}/{t}.parquet'"
            )
            cur.execute(f"create table {t} as select * from raw_{t}")
        load_s = time.perf_counter() - load_start

        ctx = datafusion.SessionContext()
        duck = duckdb.connect()
        for t in TABLES:
            ctx.register_parquet(t, f"{data}/{t}.parquet")
            duck.execute(f"create view {t} as select * from read_parquet('{data}/{t}.parquet')")
        spark = start_spark(data) if "spark" in peers else None

        def on_tarn(sql):
            def run():
                cur.execute(sql)
                return cur.fetchall()

            return run

        def on_datafusion(sql):
            return lambda: [tuple(r.values()) for r in ctx.sql(sql).to_pylist()]

        def on_duckdb(sql):
            return lambda: duck.execute(sql).fetchall()

        def on_spark(sql):
            return lambda: [tuple(r) for r in spark.sql(sql).collect()]

        runners = {"datafusion": on_datafusion, "duckdb": on_duckdb, "spark": on_spark}
        rows = []
        for q in chosen:
            sql = texts[q]
            line = {"q": q}
            answers = {}
            for name, runner in [("tarn", on_tarn)] + [(p, runners[p]) for p in peers]:
                try:
                    line[name], result = timed(runner(sql), args.runs)
                    answers[name] = normalize(result)
                except Exception as e:  # a failed query is reported, not fatal
                    line[name] = float("nan")
                    line[name + "_error"] = str(e).splitlines()[0][:80]
            agree = [
                peer for peer in peers
                if "tarn" in answers and peer in answers and answers[peer] == answers["tarn"]
            ]
            line["agree"] = ", ".join(agree) if agree else "-"
            rows.append(line)
            print(f"q{q}: {line}", file=sys.stderr)
        rss = peak_rss_mb(server.pid)
        if spark is not None:
            spark_version = spark.version
            spark.stop()
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(work, ignore_errors=True)

    def ms(v):
        return "error" if math.isnan(v) else f"{v:.1f}"

    def ratio(a, b):
        return "-" if math.isnan(a) or math.isnan(b) else f"{a / b:.2f}"

    label = {"datafusion": "DataFusion", "duckdb": "DuckDB", "spark": "Spark"}
    versions = {
        "datafusion": f"datafusion {datafusion.__version__}",
        "duckdb": f"duckdb {duckdb.__version__}",
        "spark": f"pyspark {spark_version if spark is not None else '-'} (local[*], Java "
        f"{java_version()})",
    }
    out = [
        f"# TPC-H SF{args.sf}: Tarn over the wire beside " + ", ".join(label[p] for p in peers),
        "",
        f"{datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"{platform.platform()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        + ", ".join(versions[p] for p in peers)
        + f". Median of {args.runs} runs after a warm-up; ms. Tarn: "
        f"{os.path.basename(os.path.dirname(args.tarn))} build, tables loaded "
        f"as Delta through Tarn in {load_s:.1f} s, every row fetched by psycopg2. "
        + (f"Tarn's settings: {', '.join(args.setting)}. " if args.setting else "")
        + "The peers read the same Parquet files in-process. "
        "Ratios above 1 mean Tarn is slower.",
        "",
        "| query | Tarn | "
        + " | ".join(label[p] for p in peers)
        + " | "
        + " | ".join(f"Tarn/{label[p]}" for p in peers)
        + " | answers agree with |",
        "|---" * (2 + 2 * len(peers)) + "|---|",
    ]
    for r in rows:
        errors = "; ".join(f"{k[:-6]}: {v}" for k, v in r.items() if k.endswith("_error"))
        out.append(
            f"| q{r['q']} | {ms(r['tarn'])} | "
            + " | ".join(ms(r[p]) for p in peers)
            + " | "
            + " | ".join(ratio(r["tarn"], r[p]) for p in peers)
            + f" | {r['agree']}{' (' + errors + ')' if errors else ''} |"
        )
    engines = ["tarn"] + peers
    both = [r for r in rows if not any(math.isnan(r[k]) for k in engines)]
    g = {k: geomean([r[k] for r in both]) for k in engines}
    out.append(
        f"| geomean ({len(both)} queries all ran) | {ms(g['tarn'])} | "
        + " | ".join(ms(g[p]) for p in peers)
        + " | "
        + " | ".join(ratio(g["tarn"], g[p]) for p in peers)
        + " | |"
    )
    out += ["", f"Tarn's peak resident memory (VmHWM): {rss:.0f} MB.", ""]
    text = "\n".join(out)
    print(text)
    os.makedirs(args.results, exist_ok=True)
    name = f"tpch-sf{args.sf}-{datetime.datetime.now():%Y%m%d-%H%M%S}.md"
    with open(os.path.join(args.results, name), "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
