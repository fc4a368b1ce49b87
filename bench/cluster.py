#!/usr/bin/env python3
"""Cluster benchmark (issue: signing keys in the database), release build, PostgreSQL 15.

1. Start-up cost: N = 1 and N = 3 `keymint serve` processes, each in its own empty folder
   with the same KEYMINT_ENCRYPTION_KEYS, started at the same moment on an empty database;
   time from the launch to every instance answering /readyz 200 (migrations, the race for
   the first signing key, argon2 calibration included). Median of ROUNDS fresh databases.
2. Rotation reach: with 3 instances running, `keymint signing-keys rotate --env production`
   (the CLI, another process); time from the CLI's exit to the new kid in the JWKS of
   every instance (polled every 2 ms). Median and max of ROUNDS rotations.

Usage: bench/cluster.py [ROUNDS]     (needs PostgreSQL on 127.0.0.1:5432, as in .ci/run)
       KEYMINT_BENCH_BIN=/path/to/other/keymint bench/cluster.py    (start-up only)
"""

import base64
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# KEYMINT_BENCH_BIN measures another build's start-up (e.g. one before keys moved into the
# database, whose instances each make their own keys: rotation reach is then skipped).
BIN = os.environ.get("KEYMINT_BENCH_BIN", os.path.join(ROOT, "target", "release", "keymint"))
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 5
PG = os.environ.get("KEYMINT_CI_PG_PASSWORD", "postgres")
ENV = dict(os.environ, PGPASSWORD=PG)
KEY = "ek_bench:" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def psql(sql):
    subprocess.run(
        ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc", sql],
        env=ENV, check=True, stdout=subprocess.DEVNULL,
    )


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status, r.read()
    except Exception:  # not up yet
        return None, b""


class Cluster:
    def __init__(self, n):
        self.db = f"keymint_cluster_{os.getpid()}_{secrets.token_hex(3)}"
        psql(f"CREATE DATABASE {self.db}")
        self.url = f"postgres://postgres:{PG}@127.0.0.1:5432/{self.db}"
        self.dirs = [tempfile.mkdtemp() for _ in range(n)]
        self.procs, self.bases = [], []
        self.n = n

    def vars(self):
        return dict(os.environ, DATABASE_URL=self.url, KEYMINT_ENCRYPTION_KEYS=KEY,
                    KEYMINT_LISTEN="127.0.0.1:0", RUST_LOG="warn,keymint::cli::serve=info")

    def start(self):
        """Launches every instance at once; returns seconds until all are ready."""
        started = time.perf_counter()
        for d in self.dirs:
            log = open(os.path.join(d, "log"), "w")
            self.procs.append(subprocess.Popen([BIN, "serve"], cwd=d, env=self.vars(),
                                               stdout=subprocess.DEVNULL, stderr=log))
        pending = list(self.dirs)
        addresses = {}
        while pending:
            for d in list(pending):
                if d not in addresses:
                    m = re.search(r"address=([0-9.:]+)", open(os.path.join(d, "log")).read())
                    if m:
                        addresses[d] = "http://" + m.group(1)
                if d in addresses and get(addresses[d] + "/readyz")[0] == 200:
                    pending.remove(d)
            if time.perf_counter() - started > 60:
                raise SystemExit("instances did not become ready")
            time.sleep(0.002)
        self.bases = [addresses[d] for d in self.dirs]
        return time.perf_counter() - started

    def kids(self, base):
        status, body = get(base + "/production/.well-known/jwks.json")
        return [k["kid"] for k in json.loads(body)["keys"]] if status == 200 else []

    def rotate(self):
        out = subprocess.run([BIN, "signing-keys", "rotate", "--env", "production"],
                             cwd=self.dirs[0], env=self.vars(), check=True,
                             capture_output=True, text=True).stdout
        done = time.perf_counter()
        kid = re.search(r"signing key (\S+) for", out).group(1)
        pending = list(self.bases)
        while pending:
            pending = [b for b in pending if kid not in self.kids(b)]
            if time.perf_counter() - done > 10:
                raise SystemExit("rotation did not reach every instance")
            time.sleep(0.002)
        return time.perf_counter() - done

    def stop(self):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.wait()
        psql(f"DROP DATABASE IF EXISTS {self.db} WITH (FORCE)")


def main():
    if "KEYMINT_BENCH_BIN" not in os.environ:
        subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "keymint"],
                       cwd=ROOT, check=True)
    for n in (1, 3):
        times = []
        for _ in range(ROUNDS):
            cluster = Cluster(n)
            try:
                times.append(cluster.start())
            finally:
                cluster.stop()
        print(f"start-up, {n} instance(s) racing on an empty database: "
              f"median {statistics.median(times) * 1000:.0f} ms, "
              f"max {max(times) * 1000:.0f} ms ({ROUNDS} rounds)")
    if "KEYMINT_BENCH_BIN" in os.environ:
        return
    cluster = Cluster(3)
    try:
        cluster.start()
        reach = [cluster.rotate() for _ in range(ROUNDS)]
    finally:
        cluster.stop()
    print(f"rotation (CLI) to the JWKS of all 3 instances: "
          f"median {statistics.median(reach) * 1000:.0f} ms, max {max(reach) * 1000:.0f} ms "
          f"({ROUNDS} rotations)")


if __name__ == "__main__":
    main()
