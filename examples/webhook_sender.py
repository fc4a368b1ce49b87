#!/usr/bin/env python3
"""Send a user-lifecycle event to Keymint's webhook, signed per Standard Webhooks.

Usage: webhook_sender.py URL WHSEC_SECRET TYPE USER_ID [PERMISSION ...]
  e.g. webhook_sender.py http://127.0.0.1:8080/hooks/user-events "$KEYMINT_WEBHOOK_SECRET" user.deactivated alice

Standard library only. Prints Keymint's answer; exits non-zero unless it is 2xx.
"""
import base64
import hashlib
import hmac
import json
import sys
import time
import urllib.error
import urllib.request
import uuid


def send(url, whsec, event_type, user_id, permissions):
    data = {"id": user_id}
    if event_type == "user.upserted":
        data.update({"email": None, "serviceAccount": False, "permissions": permissions})
    body = json.dumps({"type": event_type, "data": data}).encode()
    key = base64.b64decode(whsec.removeprefix("whsec_"))
    msg_id = f"msg_{uuid.uuid4().hex}"  # reuse the same id when retrying a delivery
    timestamp = str(int(time.time()))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    signature = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": f"v1,{signature}",
    })
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


if __name__ == "__main__":
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    status, answer = send(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
    print(status, answer)
    sys.exit(0 if 200 <= status < 300 else 1)
