#!/usr/bin/env python3
"""Pre-creates N sessions through the API and writes one session token per line.

Environment (as the harness passes it): N, COOKIE_FILE, SESSIONDB_URL, API_KEY.
Uses keep-alive connections from a few threads (stdlib only).
"""

import http.client
import json
import os
import threading
import urllib.parse

DATA = {
    "email": "user@example.com",
    "name": "Bench User",
    "roles": ["user", "beta"],
    "prefs": {"theme": "dark", "lang": "en"},
    "created_at": "2026-01-01T00:00:00Z",
}
DATA["pad"] = "x" * (512 - len(json.dumps(DATA, separators=(",", ":"))) - len(',"pad":""'))


def main():
    n = int(os.environ["N"])
    out = os.environ["COOKIE_FILE"]
    url = urllib.parse.urlsplit(os.environ["SESSIONDB_URL"])
    key = os.environ["API_KEY"]
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    tokens = [None] * n
    workers = 8

    def work(w):
        conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
        for i in range(w, n, workers):
            body = json.dumps({"user_id": f"seed-{i}", "data": DATA})
            conn.request("POST", "/v1/sessions", body=body, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
            if resp.status != 201:
                raise SystemExit(f"create failed: {resp.status} {payload[:200]!r}")
            tokens[i] = json.loads(payload)["session_token"]
        conn.close()

    threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if any(t is None for t in tokens):
        raise SystemExit("some sessions were not created")
    with open(out, "w") as f:
        f.write("\n".join(tokens) + "\n")


if __name__ == "__main__":
    main()
