#!/usr/bin/env bash
# Runs every test of Tarn on a fresh machine: installs what the tests need (Debian's
# PostgreSQL 15 server and client: psql is a client under test, the server is the
# reference the answers are compared with; moto's S3 server from PyPI), then runs
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
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || packages+=(postgresql)
if [ "${#packages[@]}" -gt 0 ]; then
  echo "installing: ${packages[*]}"
  sudo_if_needed apt-get update -qq
  sudo_if_needed env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
fi

# Python tools the tests start: moto's S3 server.
venv="${TARN_TEST_VENV:-$HOME/.cache/tarn/venv}"
if [ ! -x "$venv/bin/moto_server" ]; then
  echo "installing moto[server] into $venv"
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check "moto[server]>=5.1,<6"
fi
export TARN_TEST_VENV="$venv"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tarn/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

cargo fmt --all -- --check
cargo test --workspace --no-fail-fast
