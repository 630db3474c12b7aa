#!/usr/bin/env python3
"""Writes raw crime reports like our users': three cities, three schemas, messy values.

    python3 generate.py OUT_DIR [--rows N] [--seed S]

Layout (one folder per city, several files each, as exports land in a bucket):

    OUT_DIR/crime/chicago/2024-*.csv        ID, Case Number, Date ("MM/dd/yyyy hh:mm:ss a"),
                                            Primary Type (upper case), Arrest (true/false), ...
    OUT_DIR/crime/los_angeles/part-*.csv    DR_NO, Date Rptd, DATE OCC ("MM/dd/yyyy hh:mm:ss a",
                                            midnight), TIME OCC (hhmm), Crm Cd Desc, Status Desc
    OUT_DIR/crime/san_francisco/*.csv       Incident ID, Incident Number, Incident Datetime
                                            ("yyyy/MM/dd hh:mm:ss a"), Incident Category (mixed
                                            case, stray spaces), Resolution, Latitude, Longitude

Messiness: categories spelled differently per city and with stray spaces and case, empty
strings for unknown districts, and about 3% of reports exported twice (the same ID in
two files), as re-sent exports are. The answers a correct pipeline must give are
computed here, from the reports themselves, into OUT_DIR/expected.json.
"""

import argparse
import csv
import json
import os
import random
from collections import Counter, defaultdict
from datetime import datetime, timedelta

# The normalized categories, and how each city spells them.
CATEGORIES = {
    "theft": {"chicago": "THEFT", "los_angeles": "THEFT PLAIN - PETTY ($950 & UNDER)", "san_francisco": "Larceny Theft"},
    "assault": {"chicago": "BATTERY", "los_angeles": "BATTERY - SIMPLE ASSAULT", "san_francisco": "Assault"},
    "burglary": {"chicago": "BURGLARY", "los_angeles": "BURGLARY", "san_francisco": "Burglary"},
    "vehicle theft": {"chicago": "MOTOR VEHICLE THEFT", "los_angeles": "VEHICLE - STOLEN", "san_francisco": "Motor Vehicle Theft"},
    "vandalism": {"chicago": "CRIMINAL DAMAGE", "los_angeles": "VANDALISM - MISDEAMEANOR ($399 OR UNDER)", "san_francisco": "Malicious Mischief"},
}
CITIES = ["chicago", "los_angeles", "san_francisco"]
START = datetime(2024, 1, 1)
DAYS = 366


def ampm(ts, fmt_date):
    return ts.strftime(fmt_date + " %I:%M:%S %p")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out")
    parser.add_argument("--rows", type=int, default=6000, help="reports per city")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)

    by_month = Counter()  # (month, city, category) -> reports
    cleared = defaultdict(lambda: [0, 0])  # (city, category) -> [cleared, total]
    duplicates = 0
    for city in CITIES:
        folder = os.path.join(args.out, "crime", city)
        os.makedirs(folder, exist_ok=True)
        reports = []
        for i in range(args.rows):
            category = rng.choice(list(CATEGORIES))
            ts = START + timedelta(minutes=rng.randrange(DAYS * 24 * 60))
            is_cleared = rng.random() < {"chicago": 0.2, "los_angeles": 0.15, "san_francisco": 0.1}[city]
            reports.append((i, category, ts, is_cleared))
            by_month[(ts.strftime("%Y-%m"), city, category)] += 1
            cleared[(city, category)][0] += int(is_cleared)
            cleared[(city, category)][1] += 1
        # Re-sent exports: some reports appear again in a later file.
        resent = rng.sample(reports, len(reports) * 3 // 100)
        duplicates += len(resent)
        files = 4
        chunks = [reports[k::files] for k in range(files)]
        chunks[-1] = chunks[-1] + resent
        for k, chunk in enumerate(chunks):
            write(city, os.path.join(folder, name(city, k)), chunk, rng)

    expected = {
        "reports": args.rows * len(CITIES),
        "duplicates_in_raw": duplicates,
        "by_month": sorted([m, c, cat, n] for (m, c, cat), n in by_month.items()),
        "clearance": sorted(
            [c, cat, done, total] for (c, cat), (done, total) in cleared.items()
        ),
    }
    with open(os.path.join(args.out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
    print(f"wrote {expected['reports']} reports (+{duplicates} re-sent) for {len(CITIES)} cities under {args.out}/crime")


def name(city, k):
    return {"chicago": f"2024-{k + 1:02d}.csv", "los_angeles": f"part-{k:05d}.csv", "san_francisco": f"export_{k}.csv"}[city]


def write(city, path, rows, rng):
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        if city == "chicago":
            out.writerow(["ID", "Case Number", "Date", "Primary Type", "Description", "Arrest", "District"])
            for i, category, ts, is_cleared in rows:
                out.writerow([
                    10_000_000 + i, f"JH{100000 + i}", ampm(ts, "%m/%d/%Y"),
                    CATEGORIES[category]["chicago"], "SIMPLE", "true" if is_cleared else "false",
                    rng.choice(["001", "012", "025", ""]),
                ])
        elif city == "los_angeles":
            out.writerow(["DR_NO", "Date Rptd", "DATE OCC", "TIME OCC", "AREA NAME", "Crm Cd Desc", "Status Desc"])
            for i, category, ts, is_cleared in rows:
                midnight = ts.replace(hour=0, minute=0)
                reported = midnight + timedelta(days=rng.randrange(3))
                out.writerow([
                    240_100_000 + i, ampm(reported, "%m/%d/%Y"), ampm(midnight, "%m/%d/%Y"),
                    ts.strftime("%H%M"), rng.choice(["Central", "Hollywood", "Van Nuys", ""]),
                    CATEGORIES[category]["los_angeles"],
                    rng.choice(["Adult Arrest", "Juv Arrest"]) if is_cleared else "Invest Cont",
                ])
        else:
            out.writerow(["Incident ID", "Incident Number", "Incident Datetime", "Incident Category",
                          "Resolution", "Police District", "Latitude", "Longitude"])
            for i, category, ts, is_cleared in rows:
                spelled = CATEGORIES[category]["san_francisco"]
                spelled = rng.choice([spelled, spelled.upper(), f" {spelled} ", spelled.lower()])
                out.writerow([
                    f"SF{500000 + i}", 240_000_000 + i, ampm(ts, "%Y/%m/%d"), spelled,
                    "Cite or Arrest Adult" if is_cleared else "Open or Active",
                    rng.choice(["Mission", "Tenderloin", "Central", ""]),
                    round(37.70 + rng.random() * 0.12, 6), round(-122.51 + rng.random() * 0.15, 6),
                ])


if __name__ == "__main__":
    main()
