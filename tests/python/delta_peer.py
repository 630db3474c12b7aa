"""Other Delta engines, for Tarn's interop tests: the `deltalake` package (delta-rs)
and DuckDB's Delta extension (delta-kernel-rs). Prints JSON on stdout.

  delta_peer.py duckdb-count DIR...      {"DIR": rows or {"error": "..."}}
  delta_peer.py read ENGINE DIR          sorted rows, each a list of strings
  delta_peer.py write DIR KIND           writes a table with deltalake (KIND below)
"""

import json
import os
import sys


def duckdb_connection():
    import duckdb
    import duckdb_extension_delta

    folder = os.path.join(os.path.dirname(duckdb_extension_delta.__file__), "extensions")
    (version,) = os.listdir(folder)
    path = os.path.join(folder, version, "delta.duckdb_extension")
    con = duckdb.connect(config={"allow_unsigned_extensions": "true"})
    con.execute(f"LOAD '{path}'")
    return con


def text(value):
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, float):
        return repr(value)
    return str(value)


def rows_of(records):
    return sorted([text(v) for v in r] for r in records)


def read(engine, table):
    if engine == "duckdb":
        con = duckdb_connection()
        cur = con.execute(f"SELECT * FROM delta_scan('{table}')")
        names = [d[0] for d in cur.description]
        records = cur.fetchall()
    else:
        from deltalake import DeltaTable

        data = DeltaTable(table).to_pyarrow_table()
        names = data.column_names
        records = list(zip(*[data.column(n).to_pylist() for n in names])) if names else []
    # Columns in name order, so engines that order partition columns differently agree.
    order = sorted(range(len(names)), key=lambda i: names[i])
    return {
        "columns": [names[i] for i in order],
        "rows": rows_of([[r[i] for i in order] for r in records]),
    }


def write(table, kind):
    import pyarrow as pa
    from deltalake import DeltaTable, write_deltalake

    first = pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "city": pa.array(["Chicago", "Denver", "Chicago"]),
            "amount": pa.array([1.5, None, 3.25]),
        }
    )
    second = pa.table(
        {
            "id": pa.array([4, 5], pa.int64()),
            "city": pa.array(["Boston", "Denver"]),
            "amount": pa.array([4.0, 5.5]),
        }
    )
    if kind == "partitioned":
        write_deltalake(table, first, partition_by=["city"])
        write_deltalake(table, second, partition_by=["city"], mode="append")
    elif kind == "checkpoint":
        write_deltalake(table, first)
        for i in range(12):
            write_deltalake(
                table,
                pa.table(
                    {
                        "id": pa.array([100 + i], pa.int64()),
                        "city": pa.array(["Austin"]),
                        "amount": pa.array([float(i)]),
                    }
                ),
                mode="append",
            )
        DeltaTable(table).create_checkpoint()
        DeltaTable(table).delete("id >= 105")
        write_deltalake(table, second, mode="append")
    elif kind == "column-mapping":
        write_deltalake(
            table,
            first,
            configuration={"delta.columnMapping.mode": "name"},
        )
        write_deltalake(table, second, mode="append")
    else:
        raise SystemExit(f"unknown kind {kind}")
    print(json.dumps({"version": DeltaTable(table).version()}))


def main():
    command, *args = sys.argv[1:]
    if command == "duckdb-count":
        out = {}
        for table in args:
            try:
                con = duckdb_connection()
                out[table] = con.execute(
                    f"SELECT count(*) FROM delta_scan('{table}')"
                ).fetchone()[0]
            except Exception as e:  # reported, compared by the caller
                out[table] = {"error": str(e).splitlines()[0]}
        print(json.dumps(out))
    elif command == "read":
        print(json.dumps(read(*args)))
    elif command == "write":
        write(*args)
    else:
        raise SystemExit(f"unknown command {command}")


if __name__ == "__main__":
    main()
    # deltalake's and pyarrow's native threads may still be winding down when the
    # interpreter exits, which aborts the process now and then ("terminate called
    # without an active exception", delta-rs issue 2184) after the work is done.
    # The answer is printed: leave without running native destructors.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
