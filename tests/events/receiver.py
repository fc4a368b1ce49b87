"""A lifecycle-event receiver for the tests: verifies each delivery with the Standard
Webhooks reference library (`standardwebhooks`, not Keymint's code), appends what it
accepted to a file as JSON lines, answers 204; a bad signature is 400 and not kept.

Usage: receiver.py PORT SECRET OUTFILE
"""
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook

port, secret, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
hook = Webhook(secret)


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        try:
            event = hook.verify(body, dict(self.headers))
        except Exception as e:  # noqa: BLE001 - any failure is a refusal
            self.send_response(400)
            self.end_headers()
            self.wfile.write(str(e).encode())
            return
        with open(out, "a", encoding="utf-8") as f:
            f.write(json.dumps({"id": self.headers["webhook-id"], "event": event}) + "\n")
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
print("ready", flush=True)
server.serve_forever()
