"""dbt-tests-adapter against a running Tarn (TARN_PORT), as adapter authors certify.

Run by tests/tests/it/dbt.rs, which starts Tarn on a fresh warehouse."""

import os

import pytest

pytest_plugins = ["dbt.tests.fixtures.project"]


@pytest.fixture(scope="class")
def dbt_profile_target():
    return {
        "type": "postgres",
        "threads": 1,
        "host": "127.0.0.1",
        "port": int(os.environ["TARN_PORT"]),
        "user": "tarn",
        "pass": "",
        "dbname": "tarn",
    }
