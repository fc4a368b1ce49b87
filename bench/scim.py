#!/usr/bin/env python3
"""SCIM deprovisioning reach (issue: SCIM 2.0), release build, PostgreSQL 15.

Two instances on one database. Each round a directory creates a user through SCIM at
instance A, the user gets a key (CLI), B issues a token for it (so B has verified and
cached the secret), then the directory deactivates the user at A (Okta's PATCH shape).
Measured: from A's answer to the PATCH to B's first refusal of a token request, polling
B back to back. Prints p50, p99 and max over ROUNDS rounds.

Then groups: GROUP_SIZE users, a mapping for the group's name (CLI), and times for
pushing the group with every member (POST), adding one member to it (Entra ID's PATCH,
median of 20) and renaming it off and back onto the mapped name (every member's
permissions recomputed).

Usage: bench/scim.py [ROUNDS]     (needs PostgreSQL on 127.0.0.1:5432, as in .ci/run)
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
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release", "keymint")
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 100
PG = os.environ.get("KEYMINT_CI_PG_PASSWORD", "postgres")
TOKEN = "bench-scim-token-" + secrets.token_hex(8)
KEY = "ek_bench:" + base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
GROUP_SIZE = 1000


def psql(sql):
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qc", sql],
                   env=dict(os.environ, PGPASSWORD=PG), check=True, stdout=subprocess.DEVNULL)


def request(method, url, body=None, headers=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def main():
    subprocess.run(["cargo", "build", "--release", "--quiet", "--bin", "keymint"], cwd=ROOT,
                   check=True)
    db = f"keymint_scim_{os.getpid()}"
    psql(f"CREATE DATABASE {db}")
    env = dict(os.environ, DATABASE_URL=f"postgres://postgres:{PG}@127.0.0.1:5432/{db}",
               KEYMINT_ENCRYPTION_KEYS=KEY, KEYMINT_SCIM_TOKEN=TOKEN,
               KEYMINT_LISTEN="127.0.0.1:0", RUST_LOG="warn,keymint::cli::serve=info")
    procs, bases, dirs = [], [], []
    try:
        for _ in range(2):
            d = tempfile.mkdtemp()
            dirs.append(d)
            log = open(os.path.join(d, "log"), "w")
            procs.append(subprocess.Popen([BIN, "serve"], cwd=d, env=env,
                                          stdout=subprocess.DEVNULL, stderr=log))
        for d in dirs:
            for _ in range(600):
                m = re.search(r"address=([0-9.:]+)", open(os.path.join(d, "log")).read())
                if m and request("GET", f"http://{m.group(1)}/readyz")[0] == 200:
                    bases.append(f"http://{m.group(1)}")
                    break
                time.sleep(0.05)
        a, b = bases
        scim = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/scim+json"}
        reach = []
        for i in range(ROUNDS):
            user = f"bench-{i}-{secrets.token_hex(3)}"
            status, _ = request("POST", f"{a}/scim/v2/Users", {"userName": user}, scim)
            assert status == 201, status
            out = subprocess.run([BIN, "keys", "create", "--user", user, "--env", "production",
                                  "--json"], cwd=dirs[0], env=env, check=True,
                                 capture_output=True, text=True).stdout
            created = json.loads(out)
            basic = base64.b64encode(f"{created['clientId']}:{created['clientSecret']}".encode())
            token = {"Authorization": "Basic " + basic.decode(),
                     "Content-Type": "application/x-www-form-urlencoded"}
            form = b"grant_type=client_credentials"

            def mint(base):
                req = urllib.request.Request(f"{base}/production/oauth2/token", data=form,
                                             headers=token, method="POST")
                try:
                    with urllib.request.urlopen(req, timeout=5) as r:
                        return r.status
                except urllib.error.HTTPError as e:
                    return e.code

            assert mint(b) == 200
            status, _ = request("PATCH", f"{a}/scim/v2/Users/{user}",
                                {"schemas": [PATCH], "Operations": [
                                    {"op": "replace", "value": {"active": False}}]}, scim)
            answered = time.perf_counter()
            assert status == 200, status
            while mint(b) != 401:
                if time.perf_counter() - answered > 5:
                    raise SystemExit("B never refused")
            reach.append(time.perf_counter() - answered)
        reach.sort()
        p99 = reach[min(len(reach) - 1, int(len(reach) * 0.99))]
        print(f"SCIM deactivation at A -> refusal at B: p50 {statistics.median(reach) * 1000:.1f} ms, "
              f"p99 {p99 * 1000:.1f} ms, max {reach[-1] * 1000:.1f} ms ({ROUNDS} rounds)")
        groups(a, scim, env, dirs[0])
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait()
        psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


def groups(a, scim, env, cwd):
    subprocess.run([BIN, "groups", "set-permissions", "Bench Group", "--permission", "deploy"],
                   cwd=cwd, env=env, check=True, capture_output=True)
    members = []
    for i in range(GROUP_SIZE + 20):
        user = f"member-{i}-{secrets.token_hex(3)}"
        status, _ = request("POST", f"{a}/scim/v2/Users", {"userName": user}, scim)
        assert status == 201, status
        members.append(user)
    start = time.perf_counter()
    status, body = request("POST", f"{a}/scim/v2/Groups", {
        "displayName": "Bench Group",
        "members": [{"value": m} for m in members[:GROUP_SIZE]]}, scim)
    push = time.perf_counter() - start
    assert status == 201, (status, body)
    group = json.loads(body)["id"]
    adds = []
    for user in members[GROUP_SIZE:]:
        start = time.perf_counter()
        status, _ = request("PATCH", f"{a}/scim/v2/Groups/{group}", {"schemas": [PATCH],
                            "Operations": [{"op": "Add", "path": "members",
                                            "value": [{"value": user}]}]}, scim)
        adds.append(time.perf_counter() - start)
        assert status == 204, status
    renames = []
    for name in ["Bench Group (old)", "Bench Group"]:
        start = time.perf_counter()
        status, _ = request("PATCH", f"{a}/scim/v2/Groups/{group}", {"schemas": [PATCH],
                            "Operations": [{"op": "Replace", "path": "displayName",
                                            "value": name}]}, scim)
        renames.append(time.perf_counter() - start)
        assert status == 204, status
    print(f"group of {GROUP_SIZE} members: push {push * 1000:.0f} ms; "
          f"one member added to it: median {statistics.median(adds) * 1000:.1f} ms; "
          f"rename off / onto the mapped name ({GROUP_SIZE + 20} members recomputed): "
          f"{renames[0] * 1000:.0f} / {renames[1] * 1000:.0f} ms")


if __name__ == "__main__":
    main()
