#!/usr/bin/env bash
# Runs every test of Tarn on a fresh machine: installs what the tests need (Debian's
# PostgreSQL 15 server and client: psql is a client under test, the server is the
# reference the answers are compared with; Python and npm tools listed below), then runs
# the workspace's tests.
#
# Cargo's build directory defaults to ~/.cache/tarn/target so repeated runs (and CI
# runs in fresh clones) rebuild only what changed; set CARGO_TARGET_DIR to override.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo_if_needed() {
  if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

packages=()
command -v psql >/dev/null 2>&1 || packages+=(postgresql-client)
command -v openssl >/dev/null 2>&1 || packages+=(openssl)
command -v java >/dev/null 2>&1 || packages+=(default-jdk-headless)
[ -e /usr/share/java/postgresql.jar ] || packages+=(libpostgresql-jdbc-java)
[ -e /usr/lib/x86_64-linux-gnu/odbc/psqlodbcw.so ] || packages+=(odbc-postgresql unixodbc)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || packages+=(postgresql)
if [ "${#packages[@]}" -gt 0 ]; then
  echo "installing: ${packages[*]}"
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
fi

# install_venv VENV REQUIREMENTS: a venv with REQUIREMENTS installed, redone when
# the requirements file changes (a copy of it is kept in the venv as a stamp).
install_venv() {
  local venv="$1" requirements="$2"
  if [ ! -f "$venv/.tarn-requirements" ] || ! cmp -s "$requirements" "$venv/.tarn-requirements"; then
    echo "installing $requirements into $venv"
    [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$venv/.tarn-requirements"
  fi
}

# Python tools the tests start or compare with (tests/requirements.txt): moto's S3
# server, fake-gcs-server, the deltalake package, DuckDB and its Delta extension, the
# Python clients under test.
export TARN_TEST_VENV="${TARN_TEST_VENV:-$HOME/.cache/tarn/venv}"
install_venv "$TARN_TEST_VENV" tests/requirements.txt

# dbt-core 1.11 and dbt-postgres in a venv of their own (their pins would otherwise
# move the client libraries under test), from tests/dbt-requirements.txt.
export TARN_TEST_DBT_VENV="${TARN_TEST_DBT_VENV:-$HOME/.cache/tarn/dbt-venv}"
install_venv "$TARN_TEST_DBT_VENV" tests/dbt-requirements.txt

# Apache Superset for `superset test-db`, in a venv of its own, from the lock in
# tests/superset-requirements.txt.
export TARN_TEST_SUPERSET_VENV="${TARN_TEST_SUPERSET_VENV:-$HOME/.cache/tarn/superset-venv}"
install_venv "$TARN_TEST_SUPERSET_VENV" tests/superset-requirements.txt

# From npm: Azurite (Azure Blob Storage emulator), and node-postgres with pg-cursor
# and postgres.js (clients under test).
npm_prefix="${TARN_TEST_NPM:-$HOME/.cache/tarn/npm}"
npm_packages=(azurite@3.37.0 pg@8.23.1 pg-cursor@2.22.0 postgres@3.4.9)
npm_stamp="$npm_prefix/.tarn-packages"
if [ "$(cat "$npm_stamp" 2>/dev/null)" != "${npm_packages[*]}" ]; then
  echo "installing ${npm_packages[*]} into $npm_prefix"
  mkdir -p "$npm_prefix"
  npm install --silent --no-fund --no-audit --prefix "$npm_prefix" "${npm_packages[@]}"
  echo "${npm_packages[*]}" > "$npm_stamp"
fi
export TARN_TEST_NPM="$npm_prefix"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tarn/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

cargo fmt --all -- --check
cargo test --workspace --no-fail-fast
