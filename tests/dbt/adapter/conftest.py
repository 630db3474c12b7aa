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


@pytest.fixture(scope="class")
def logs_dir(request, prefix, tmp_path_factory):
    """dbt's logs in a temporary folder, not under the source tree (the package's
    fixture writes them to `<rootdir>/logs`)."""
    path = tmp_path_factory.mktemp("logs") / prefix
    os.environ["DBT_LOG_PATH"] = str(path)
    yield str(path)
    del os.environ["DBT_LOG_PATH"]
