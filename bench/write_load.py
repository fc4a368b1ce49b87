#!/usr/bin/env python3
"""Concurrent write load for bench/propagation.sh: signed `user.upserted` webhook events
for 100 bystander users, their permissions changing each time, sent as fast as Keymint
answers them, over several connections, until DURATION seconds have passed. Each event is
a transaction with change-feed rows, like the deactivations being measured. Prints the
writes per second.

Usage: bench/write_load.py BASE_URL WHSEC_SECRET DURATION [CONNECTIONS]
"""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "examples"))
from webhook_sender import send  # noqa: E402

base, whsec, duration = sys.argv[1], sys.argv[2], float(sys.argv[3])
connections = int(sys.argv[4]) if len(sys.argv) > 4 else 4
url = f"{base}/hooks/user-events"
deadline = time.time() + duration
counts = [0] * connections
failures = [0] * connections


def worker(n):
    i = 0
    while time.time() < deadline:
        i += 1
        status, _ = send(url, whsec, "user.upserted", f"bystander-{n}-{i % 25}", [f"load:{i % 7}"])
        if 200 <= status < 300:
            counts[n] += 1
        else:
            failures[n] += 1


threads = [threading.Thread(target=worker, args=(n,)) for n in range(connections)]
started = time.time()
for t in threads:
    t.start()
for t in threads:
    t.join()
print(f"write load: {sum(counts) / (time.time() - started):.0f} writes/s, {sum(failures)} refused")
