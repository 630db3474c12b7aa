# Sourced by the bench scripts: the benchmark venv (bench/requirements.txt) in
# ~/.cache/tarn/bench-venv, redone when the requirements change; sets $venv.
venv="${TARN_BENCH_VENV:-$HOME/.cache/tarn/bench-venv}"
stamp="$venv/.tarn-requirements"
if [ ! -f "$stamp" ] || ! cmp -s bench/requirements.txt "$stamp"; then
  [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
  "$venv/bin/pip" install -q --disable-pip-version-check -r bench/requirements.txt
  cp bench/requirements.txt "$stamp"
fi
