#!/usr/bin/env python3
"""Revocation flood for bench/propagation.sh (LOAD=revoke): each connection takes one of
the keys in KEYS_FILE (lines `client_id secret`) and mints a token and revokes it, again
and again, as fast as Keymint answers, until DURATION seconds have passed. Every accepted
revocation is a change-feed row every instance applies; past a key's revocation quota
Keymint answers 429 and the connection moves on to minting and revoking again. Prints
revocations per second and how many were refused.

Usage: bench/revoke_load.py BASE_URL KEYS_FILE DURATION
"""
import base64
import json
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

base, keys_file, duration = sys.argv[1], sys.argv[2], float(sys.argv[3])
keys = [line.split() for line in open(keys_file) if line.strip()]
deadline = time.time() + duration
revoked = [0] * len(keys)
refused = [0] * len(keys)


def post(path, client_id, secret, form):
    auth = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    request = urllib.request.Request(
        f"{base}{path}", data=urllib.parse.urlencode(form).encode(), method="POST",
        headers={"authorization": f"Basic {auth}",
                 "content-type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def worker(n):
    client_id, secret = keys[n]
    while time.time() < deadline:
        status, body = post("/production/oauth2/token", client_id, secret,
                            {"grant_type": "client_credentials"})
        if status != 200:
            continue
        token = json.loads(body)["access_token"]
        status, _ = post("/production/oauth2/revoke", client_id, secret, {"token": token})
        if status == 200:
            revoked[n] += 1
        else:
            refused[n] += 1


threads = [threading.Thread(target=worker, args=(n,)) for n in range(len(keys))]
started = time.time()
for t in threads:
    t.start()
for t in threads:
    t.join()
print(f"revocation load: {sum(revoked) / (time.time() - started):.0f} revocations/s, "
      f"{sum(refused)} refused over {len(keys)} keys")
