"""What the benchmarks share: ports, a PostgreSQL 15 peer, a Tarn server, and a
sampler of a server's memory while something runs."""

import os
import shutil
import socket
import subprocess
import threading
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait(port, user, database, timeout=60):
    """A psycopg2 connection once the server at `port` accepts one."""
    import psycopg2

    deadline = time.time() + timeout
    while True:
        try:
            return psycopg2.connect(host="127.0.0.1", port=port, user=user, dbname=database)
        except psycopg2.OperationalError:
            if time.time() > deadline:
                raise
            time.sleep(0.2)


def postgres_bindir():
    versions = sorted(os.listdir("/usr/lib/postgresql"), key=lambda v: int(v.split(".")[0]))
    return os.path.join("/usr/lib/postgresql", versions[-1], "bin")


def start_postgres(root, settings=()):
    """Debian's PostgreSQL (15 here) in `root`, as the `postgres` user when run as root
    (initdb refuses root), with user `bench` and a database `tarn`. `settings` are extra
    `-c name=value` options. Returns (port, server pid getter, stop)."""
    bindir = postgres_bindir()
    data = os.path.join(root, "pg")
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    os.makedirs(data)
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(data, "postgres")
    subprocess.run(
        as_postgres + [f"{bindir}/initdb", "-D", data, "-U", "bench", "-A", "trust"],
        check=True,
        capture_output=True,
    )
    port = free_port()
    options = f"-p {port} -k {root} " + " ".join(f"-c {s}" for s in settings)
    subprocess.run(
        as_postgres
        + [f"{bindir}/pg_ctl", "-D", data, "-o", options, "-l", os.path.join(root, "pg.log"), "start"],
        check=True,
        capture_output=True,
    )

    def stop():
        subprocess.run(
            as_postgres + [f"{bindir}/pg_ctl", "-D", data, "stop", "-m", "fast"], capture_output=True
        )

    conn = wait(port, "bench", "postgres")
    conn.autocommit = True
    conn.cursor().execute("create database tarn")
    conn.close()
    with open(os.path.join(data, "postmaster.pid")) as f:
        pid = int(f.readline())
    return port, pid, stop


def start_tarn(binary, root, extra_config=""):
    """`tarn serve` (on loopback, no authentication) over a fresh warehouse in `root`.
    Returns (port, process)."""
    port = free_port()
    config = os.path.join(root, "tarn.toml")
    with open(config, "w") as f:
        f.write(
            f'[server]\nlisten = "127.0.0.1:{port}"\n'
            f'[warehouse]\nurl = "{root}/warehouse"\n{extra_config}'
        )
    log = open(os.path.join(root, "tarn.log"), "w")
    server = subprocess.Popen([binary, "serve", "--config", config], stdout=log, stderr=log)
    wait(port, "tarn", "tarn").close()
    return port, server


def children(pid):
    """`pid` and its descendants (PostgreSQL's postmaster and its backends)."""
    found = [pid]
    for p in found:
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                found.extend(int(c) for c in f.read().split())
        except OSError:
            pass
    return found


def pss_mb(pids):
    """Proportional set size of `pids`, summed: shared memory (PostgreSQL's buffers)
    counted once across processes, unlike summed RSS."""
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
                        break
        except OSError:
            pass
    return total / 1024


class MemorySampler:
    """Samples the memory of a server's process tree every `interval` seconds while a
    `with` block runs; `.peak` and `.base` (before the block) are in MB."""

    def __init__(self, pid, interval=0.05):
        self.pid, self.interval = pid, interval
        self.peak = self.base = 0.0
        self._stop = threading.Event()

    def __enter__(self):
        self.base = self.peak = pss_mb(children(self.pid))
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self):
        while not self._stop.wait(self.interval):
            self.peak = max(self.peak, pss_mb(children(self.pid)))

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, pss_mb(children(self.pid)))
