"""Crawler benchmark (issue 4), run by bench/crawl.sh.

Measures, on local disk:
  1. a first crawl of 10,000 small CSV files in nested key=value partitions;
  2. a re-crawl with nothing changed (must read no file contents);
  3. a crawl of one 1 GB CSV (one sample, not a full read);
and runs DuckDB's schema inference over the same files side by side (read_csv with
hive partitioning, DESCRIBE), the closest open peer to a crawler. Prints a markdown
table and writes it to bench/results/.
"""

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time


def generate_partitions(root, regions=10, years=10, months=10, files=10):
    n = 0
    for r in range(regions):
        for y in range(2015, 2015 + years):
            for m in range(1, months + 1):
                folder = os.path.join(root, "events", f"region=r{r:02d}", f"year={y}", f"month={m:02d}")
                os.makedirs(folder, exist_ok=True)
                for f in range(files):
                    with open(os.path.join(folder, f"part-{f:03d}.csv"), "w") as out:
                        out.write("event_id,kind,amount,at\n")
                        for i in range(5):
                            out.write(f"{n * 10 + i},click,{i}.25,0{m % 9 + 1}/1{i}/{y} 0{i}:15:00 PM\n")
                    n += 1
    return n


def generate_big(root, size=1 << 30):
    folder = os.path.join(root, "big")
    os.makedirs(folder, exist_ok=True)
    line = "123456789,some text value,12345.67,2024-01-15 10:00:00,true\n"
    block = ("id,label,amount,at,flag\n" + line * ((8 << 20) // len(line))).encode()
    path = os.path.join(folder, "big.csv")
    with open(path, "wb") as out:
        written = 0
        first = True
        while written < size:
            chunk = block if first else block[block.index(b"\n") + 1 :]
            out.write(chunk)
            written += len(chunk)
            first = False
    return os.path.getsize(path)


def tarn_crawl(tarn, warehouse, location):
    start = time.perf_counter()
    out = subprocess.run(
        [tarn, "crawl", location, "--schema", "bench", "--warehouse", warehouse],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "RUST_LOG": "warn"},
    ).stdout
    elapsed = time.perf_counter() - start
    m = re.search(r"(\d+) files listed, (\d+) read, (\d+) unchanged", out)
    return elapsed, (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def duckdb_infer(python, glob):
    script = (
        "import duckdb, time, sys\n"
        "t = time.perf_counter()\n"
        f"duckdb.sql(\"DESCRIBE SELECT * FROM read_csv('{glob}', hive_partitioning = true, union_by_name = true)\").fetchall()\n"
        "print(time.perf_counter() - t)\n"
    )
    out = subprocess.run([python, "-c", script], check=True, capture_output=True, text=True).stdout
    return float(out.strip())


def main():
    tarn, python, out_dir = sys.argv[1:4]
    work = tempfile.mkdtemp(prefix="tarn-bench-crawl-")
    try:
        warehouse = os.path.join(work, "wh")
        landing = os.path.join(warehouse, "landing")
        files = generate_partitions(landing)
        first, first_counts = tarn_crawl(tarn, warehouse, os.path.join(landing, "events"))
        again, again_counts = tarn_crawl(tarn, warehouse, os.path.join(landing, "events"))
        duck = duckdb_infer(python, os.path.join(landing, "events", "**", "*.csv"))
        size = generate_big(landing)
        big, big_counts = tarn_crawl(tarn, warehouse, os.path.join(landing, "big"))
        duck_big = duckdb_infer(python, os.path.join(landing, "big", "*.csv"))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    rows = [
        ("first crawl, 10,000 CSV files in region=/year=/month= folders", first, duck, first_counts),
        ("re-crawl, nothing changed", again, None, again_counts),
        (f"one {size / (1 << 30):.1f} GiB CSV", big, duck_big, big_counts),
    ]
    machine = f"{platform.machine()}, {os.cpu_count()} cores, {platform.platform()}"
    lines = [
        f"## Crawler ({time.strftime('%Y-%m-%d %H:%M')}, {machine}, release build)",
        "",
        "| case | Tarn s | DuckDB infer s | Tarn / DuckDB | files listed / read / unchanged |",
        "|---|---:|---:|---:|---|",
    ]
    for name, t, d, counts in rows:
        ratio = f"{t / d:.2f}" if d else "n/a"
        dd = f"{d:.2f}" if d else "n/a"
        c = " / ".join(str(x) for x in counts) if counts else "?"
        lines.append(f"| {name} | {t:.2f} | {dd} | {ratio} | {c} |")
    lines.append("")
    lines.append(f"Files generated: {files}. Tarn times are whole `tarn crawl` runs (process start, catalog writes, history) measured with a wall clock; DuckDB's are `DESCRIBE` over `read_csv` with hive partitioning in-process.")
    text = "\n".join(lines) + "\n"
    print(text)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, f"crawl-{time.strftime('%Y%m%d-%H%M%S')}.md"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
