#!/usr/bin/env python3
"""Compares the marts with the answers generate.py computed from the raw reports.

    python3 check.py EXPECTED_JSON PORT

Reads the marts with psql (-At), so it needs no Python driver. Exits 1 on a mismatch.
"""

import json
import subprocess
import sys


def rows(port, sql):
    out = subprocess.run(
        ["psql", "-X", "-At", "-F", "|", "-h", "127.0.0.1", "-p", str(port), "-U", "tarn", "tarn", "-c", sql],
        check=True, capture_output=True, text=True,
    ).stdout
    return [line.split("|") for line in out.splitlines() if line]


def main():
    expected = json.load(open(sys.argv[1]))
    port = sys.argv[2]
    problems = []

    by_month = sorted(
        [m, c, cat, int(n)]
        for m, c, cat, n in rows(
            port,
            "select to_char(month, 'YYYY-MM'), city, category, reports from analytics.crimes_by_month",
        )
    )
    if by_month != expected["by_month"]:
        problems.append(f"crimes_by_month: {len(by_month)} rows differ from the expected {len(expected['by_month'])}")

    clearance = sorted(
        [c, cat, int(done), int(total)]
        for c, cat, done, total in rows(
            port, "select city, category, cleared, reports from analytics.clearance_rates"
        )
    )
    if clearance != expected["clearance"]:
        problems.append(f"clearance_rates: {clearance} != {expected['clearance']}")

    [[total, distinct]] = rows(port, "select count(*), count(distinct crime_key) from analytics.stg_crimes")
    if int(total) != expected["reports"] or int(distinct) != expected["reports"]:
        problems.append(
            f"stg_crimes: {total} rows, {distinct} keys; expected {expected['reports']} "
            f"(the raw files hold {expected['duplicates_in_raw']} re-sent duplicates)"
        )

    if problems:
        print("\n".join(problems))
        sys.exit(1)
    print(
        f"ok: {expected['reports']} reports after removing {expected['duplicates_in_raw']} duplicates; "
        f"{len(by_month)} month/city/category counts and {len(clearance)} clearance rates match"
    )


if __name__ == "__main__":
    main()
