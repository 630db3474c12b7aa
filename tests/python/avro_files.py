"""Writes Avro object container files with fastavro (an Avro implementation other than
the one Tarn reads with), for Tarn's Avro tests.

  avro_files.py DIR    writes DIR/part-0.avro (deflate) and DIR/part-1.avro (null codec)

The rows (id, city, amount, reported, tags) are listed in tests/tests/it/external.rs's
Avro test, which states the answers it expects.
"""

import datetime
import os
import sys

import fastavro

SCHEMA = fastavro.parse_schema(
    {
        "type": "record",
        "name": "report",
        "fields": [
            {"name": "id", "type": "long"},
            {"name": "city", "type": ["null", "string"]},
            {"name": "amount", "type": "double"},
            {
                "name": "reported",
                "type": {"type": "long", "logicalType": "timestamp-micros"},
            },
            {"name": "cleared", "type": "boolean"},
        ],
    }
)


def ts(day, hour):
    return datetime.datetime(2024, 3, day, hour, 0, 0, tzinfo=datetime.timezone.utc)


PARTS = [
    (
        "deflate",
        [
            {"id": 1, "city": "Chicago", "amount": 10.5, "reported": ts(1, 9), "cleared": True},
            {"id": 2, "city": None, "amount": 2.25, "reported": ts(2, 10), "cleared": False},
        ],
    ),
    (
        "null",
        [
            {"id": 3, "city": "Seattle", "amount": 100.0, "reported": ts(3, 11), "cleared": False},
        ],
    ),
]


def main():
    folder = sys.argv[1]
    os.makedirs(folder, exist_ok=True)
    for n, (codec, rows) in enumerate(PARTS):
        with open(os.path.join(folder, f"part-{n}.avro"), "wb") as f:
            fastavro.writer(f, SCHEMA, rows, codec=codec)


if __name__ == "__main__":
    main()
