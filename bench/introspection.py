"""Catalog introspection latency with 1,000 tables (issues 5 and 7), run by
bench/introspection.sh.

Starts `tarn serve` (release build) on a fresh local warehouse and a PostgreSQL 15
(Debian's, as the `postgres` user when run as root) side by side, creates the same
1,000 tables in a schema `bench` on both (20 columns each, among them numeric(12,2)
and timestamps), then times the catalog queries that clients send, each run on an
open connection (psycopg2, simple protocol, as psql sends them) many times:

  psql \\dt bench.*         the list query psql 15 sends
  psql \\d bench.t0500      its two lookup queries (name -> oid; columns)
  pgjdbc getTables         DatabaseMetaData.getTables(null, "bench", "%", TABLE)
  pgjdbc getColumns        DatabaseMetaData.getColumns(null, "bench", "t0500", "%")
  information_schema       columns of one table, as BI tools list them
  select 1                 a statement that names no table: what each statement
                           costs with 1,000 tables in the catalog
  count(*) of one table    a user query naming one of the 1,000 tables

Prints a markdown table (median and p95 in ms, ratio to PostgreSQL, and whether the
median is under the 50 ms the issue sets) and writes it to bench/results/.
"""

import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import psycopg2  # noqa: F401 (the client measured, through common.wait)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import free_port, start_postgres, wait  # noqa: E402

TABLES = int(os.environ.get("TARN_BENCH_TABLES", "1000"))
RUNS = 30

DT = """SELECT n.nspname as "Schema", c.relname as "Name", CASE c.relkind WHEN 'r' THEN 'table' WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence' WHEN 't' THEN 'TOAST table' WHEN 'f' THEN 'foreign table' WHEN 'p' THEN 'partitioned table' WHEN 'I' THEN 'partitioned index' END as "Type", pg_catalog.pg_get_userbyid(c.relowner) as "Owner" FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_catalog.pg_am am ON am.oid = c.relam WHERE c.relkind IN ('r','p','t','s','') AND n.nspname OPERATOR(pg_catalog.~) '^(bench)$' COLLATE pg_catalog.default ORDER BY 1,2"""

D_LOOKUP = """SELECT c.oid, n.nspname, c.relname FROM pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.relname OPERATOR(pg_catalog.~) '^(t0500)$' COLLATE pg_catalog.default AND n.nspname OPERATOR(pg_catalog.~) '^(bench)$' COLLATE pg_catalog.default ORDER BY 2, 3"""

D_COLUMNS = """SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod), (SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid, true) FROM pg_catalog.pg_attrdef d WHERE d.adrelid = a.attrelid AND d.adnum = a.attnum AND a.atthasdef), a.attnotnull, (SELECT c.collname FROM pg_catalog.pg_collation c, pg_catalog.pg_type t WHERE c.oid = a.attcollation AND t.oid = a.atttypid AND a.attcollation <> t.typcollation) AS attcollation, a.attidentity, a.attgenerated FROM pg_catalog.pg_attribute a WHERE a.attrelid = '{oid}' AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"""

GET_TABLES = """SELECT NULL AS TABLE_CAT, n.nspname AS TABLE_SCHEM, c.relname AS TABLE_NAME, CASE n.nspname ~ '^pg_' OR n.nspname = 'information_schema' WHEN true THEN CASE WHEN n.nspname = 'pg_catalog' OR n.nspname = 'information_schema' THEN CASE c.relkind WHEN 'r' THEN 'SYSTEM TABLE' WHEN 'v' THEN 'SYSTEM VIEW' WHEN 'i' THEN 'SYSTEM INDEX' ELSE NULL END WHEN n.nspname = 'pg_toast' THEN CASE c.relkind WHEN 'r' THEN 'SYSTEM TOAST TABLE' WHEN 'i' THEN 'SYSTEM TOAST INDEX' ELSE NULL END ELSE CASE c.relkind WHEN 'r' THEN 'TEMPORARY TABLE' WHEN 'p' THEN 'TEMPORARY TABLE' WHEN 'i' THEN 'TEMPORARY INDEX' WHEN 'S' THEN 'TEMPORARY SEQUENCE' WHEN 'v' THEN 'TEMPORARY VIEW' ELSE NULL END END WHEN false THEN CASE c.relkind WHEN 'r' THEN 'TABLE' WHEN 'p' THEN 'PARTITIONED TABLE' WHEN 'i' THEN 'INDEX' WHEN 'I' THEN 'PARTITIONED INDEX' WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW' WHEN 'c' THEN 'TYPE' WHEN 'f' THEN 'FOREIGN TABLE' WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE NULL END ELSE NULL END AS TABLE_TYPE, d.description AS REMARKS, '' as TYPE_CAT, '' as TYPE_SCHEM, '' as TYPE_NAME, '' AS SELF_REFERENCING_COL_NAME, '' AS REF_GENERATION FROM pg_catalog.pg_namespace n, pg_catalog.pg_class c LEFT JOIN pg_catalog.pg_description d ON (c.oid = d.objoid AND d.objsubid = 0 and d.classoid = 'pg_class'::regclass) WHERE c.relnamespace = n.oid AND n.nspname LIKE 'bench' AND c.relname LIKE '%' AND (false OR ( c.relkind = 'r' AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema' ) ) ORDER BY TABLE_TYPE,TABLE_SCHEM,TABLE_NAME"""

GET_COLUMNS = """SELECT * FROM (SELECT n.nspname,c.relname,a.attname,a.atttypid,a.attnotnull OR (t.typtype = 'd' AND t.typnotnull) AS attnotnull,a.atttypmod,a.attlen,t.typtypmod,row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum) AS attnum, nullif(a.attidentity, '') as attidentity,nullif(a.attgenerated, '') as attgenerated,pg_catalog.pg_get_expr(def.adbin, def.adrelid) AS adsrc,dsc.description,t.typbasetype,t.typtype FROM pg_catalog.pg_namespace n JOIN pg_catalog.pg_class c ON (c.relnamespace = n.oid) JOIN pg_catalog.pg_attribute a ON (a.attrelid=c.oid) JOIN pg_catalog.pg_type t ON (a.atttypid = t.oid) LEFT JOIN pg_catalog.pg_attrdef def ON (a.attrelid=def.adrelid AND a.attnum = def.adnum) LEFT JOIN pg_catalog.pg_description dsc ON (c.oid=dsc.objoid AND a.attnum = dsc.objsubid) LEFT JOIN pg_catalog.pg_class dc ON (dc.oid=dsc.classoid AND dc.relname='pg_class') LEFT JOIN pg_catalog.pg_namespace dn ON (dc.relnamespace=dn.oid AND dn.nspname='pg_catalog') WHERE c.relkind in ('r','p','v','f','m') and a.attnum > 0 AND NOT a.attisdropped AND n.nspname LIKE 'bench' AND c.relname LIKE 't0500') c WHERE true AND attname LIKE '%' ORDER BY nspname,c.relname,attnum"""

INFO_COLUMNS = """select column_name, data_type, numeric_precision, numeric_scale from information_schema.columns where table_schema = 'bench' and table_name = 't0500' order by ordinal_position"""

COLUMNS = ", ".join(
    [f"c{i} bigint" for i in range(6)]
    + [f"s{i} varchar" for i in range(6)]
    + [f"m{i} numeric(12,2)" for i in range(4)]
    + [f"ts{i} timestamp" for i in range(4)]
)


def create_tables(conn):
    cur = conn.cursor()
    cur.execute("create schema bench")
    start = time.perf_counter()
    for i in range(TABLES):
        cur.execute(f"create table bench.t{i:04d} ({COLUMNS})")
    return time.perf_counter() - start


def time_query(conn, sql):
    cur = conn.cursor()
    cur.execute(sql)
    rows = cur.fetchall()
    samples = []
    for _ in range(RUNS):
        start = time.perf_counter()
        cur.execute(sql)
        cur.fetchall()
        samples.append((time.perf_counter() - start) * 1000)
    samples.sort()
    return statistics.median(samples), samples[int(len(samples) * 0.95) - 1], len(rows)


def target(sql):
    """The queries name table t0500; with fewer tables, the middle one."""
    return sql.replace("t0500", f"t{TABLES // 2:04d}")


def oid_of(conn):
    cur = conn.cursor()
    cur.execute(target(D_LOOKUP))
    return cur.fetchone()[0]


def main():
    tarn, results = sys.argv[1], sys.argv[2]
    root = tempfile.mkdtemp(prefix="tarn-introspection-")
    os.chmod(root, 0o755)  # PostgreSQL runs as the postgres user and must reach its folder
    tarn_port = free_port()
    server = subprocess.Popen(
        [tarn, "serve", "--listen", f"127.0.0.1:{tarn_port}", "--warehouse", os.path.join(root, "wh")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    pg_port, _, stop_pg = start_postgres(os.path.join(root, "pgroot"))
    try:
        t = wait(tarn_port, "tarn", "tarn")
        t.autocommit = True
        p = wait(pg_port, "bench", "tarn")
        p.autocommit = True
        create_tarn = create_tables(t)
        create_pg = create_tables(p)
        queries = [
            ("psql \\dt bench.*", DT, DT),
            ("psql \\d bench.t0500 (lookup)", D_LOOKUP, D_LOOKUP),
            ("psql \\d bench.t0500 (columns)", D_COLUMNS.format(oid=oid_of(t)), D_COLUMNS.format(oid=oid_of(p))),
            ("pgjdbc getTables", GET_TABLES, GET_TABLES),
            ("pgjdbc getColumns", GET_COLUMNS, GET_COLUMNS),
            ("information_schema.columns", INFO_COLUMNS, INFO_COLUMNS),
            ("select 1", "select 1", "select 1"),
            ("count(*) of bench.t0500", "select count(*) from bench.t0500", "select count(*) from bench.t0500"),
        ]
        lines = [
            f"# Catalog introspection with {TABLES} tables",
            "",
            f"Machine: {platform.platform()}, {os.cpu_count()} CPUs. Tarn: {tarn}. "
            f"PostgreSQL 15 on the same machine. {RUNS} runs per query on an open connection "
            "(psycopg2, simple protocol). Times in ms.",
            "",
            "| query | rows (Tarn/PG) | Tarn median | Tarn p95 | PostgreSQL median | Tarn / PG | under 50 ms |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, tarn_sql, pg_sql in queries:
            tm, tp, tr = time_query(t, target(tarn_sql))
            pm, _, pr = time_query(p, target(pg_sql))
            lines.append(
                f"| {name} | {tr}/{pr} | {tm:.1f} | {tp:.1f} | {pm:.2f} | {tm / pm:.1f}x | {'yes' if tm < 50 else 'no'} |"
            )
        lines += [
            "",
            f"Creating the {TABLES} tables: Tarn {create_tarn:.1f} s (each a Delta table and a catalog entry), "
            f"PostgreSQL {create_pg:.1f} s.",
        ]
        text = "\n".join(lines) + "\n"
        print(text)
        os.makedirs(results, exist_ok=True)
        path = os.path.join(results, time.strftime("introspection-%Y%m%d-%H%M%S.md"))
        with open(path, "w") as out:
            out.write(text)
        print(f"written to {path}")
    finally:
        server.terminate()
        server.wait()
        stop_pg()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
