#!/usr/bin/env python3
"""Mints N access tokens over one keep-alive connection and writes one per line.

Usage: bench/mint_tokens.py BASE_URL CLIENT_ID CLIENT_SECRET N OUT_FILE
"""
import base64
import http.client
import json
import sys
import urllib.parse

base, client_id, secret, count, out = sys.argv[1:6]
url = urllib.parse.urlparse(base)
auth = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
headers = {"Authorization": f"Basic {auth}", "Content-Type": "application/x-www-form-urlencoded"}
conn = http.client.HTTPConnection(url.hostname, url.port)
with open(out, "w") as f:
    for _ in range(int(count)):
        conn.request("POST", "/production/oauth2/token", "grant_type=client_credentials", headers)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            sys.exit(f"token request answered {response.status}: {body[:200]!r}")
        f.write(json.loads(body)["access_token"] + "\n")
