"""Soak: N minutes of mixed traffic through fynn-gateway at full rate.

Driven by bench/soak.sh, which starts the cluster and the gateway.  Worker
threads each loop over a mix of requests, each with the one status the
contract gives it: creations (JWT and API token), forward-auth of issued
tokens, listings, gets, rotations, revocations, and bad inputs (malformed
JSON, wrong types, rule violations, bad and unknown tokens).  Reports
unexpected statuses (target 0), the gateway's RSS and the database
backends' private memory at start, middle and end (target: flat), and
checks at the end that every issued token still live verifies.
"""
import base64
import hashlib
import hmac
import http.client
import json
import os
import random
import secrets
import subprocess
import sys
import threading
import time
import zlib

PORT = int(os.environ["SOAK_GATEWAY_PORT"])
SECRET = os.environ["SOAK_JWT_SECRET"]
GATEWAY_PID = int(os.environ["SOAK_GATEWAY_PID"])
MINUTES = float(os.environ.get("SOAK_MINUTES", "5"))
THREADS = int(os.environ.get("SOAK_THREADS", "8"))
PSQL = os.environ["SOAK_PSQL"].split()
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def jwt(user):
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    claims = {"sub": user, "tenant_id": "soak", "exp": int(time.time()) + 7200,
              "permissions": ["user:api-token:read", "user:api-token:write"]}
    head = b64(b'{"alg":"HS256","typ":"JWT"}')
    body = b64(json.dumps(claims).encode())
    sig = b64(hmac.new(SECRET.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest())
    return f"{head}.{body}.{sig}"


def fake_token():
    random_part = "".join(secrets.choice(BASE62) for _ in range(32))
    crc = zlib.crc32(random_part.encode())
    check = ""
    for _ in range(6):
        check = BASE62[crc % 62] + check
        crc //= 62
    return "api_" + random_part + check


class Worker(threading.Thread):
    def __init__(self, n, stats, stop):
        super().__init__(daemon=True)
        self.user = f"soak-user-{n}"
        self.jwt = jwt(self.user)
        self.stats = stats
        self.stop = stop
        self.live = []          # (id, token) issued and not revoked
        self.parent = {}        # id -> the id of the token that created it
        self.conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)

    def request(self, kind, expected, method, path, body=None, token=None):
        headers = {}
        if token:
            headers["Authorization"] = "Bearer " + token
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            self.conn.request(method, path, body=body, headers=headers)
            resp = self.conn.getresponse()
            data = resp.read()
            status = resp.status
        except (OSError, http.client.HTTPException) as e:
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
            status, data = f"error {type(e).__name__}", b""
        with self.stats["lock"]:
            self.stats["requests"] += 1
            self.stats["by_kind"][kind] = self.stats["by_kind"].get(kind, 0) + 1
            if status != expected:
                self.stats["unexpected"] += 1
                if len(self.stats["examples"]) < 10:
                    self.stats["examples"].append((kind, expected, status, data[:200]))
        return status, data

    def create(self, credential, parent_id=None):
        status, data = self.request("create", 201, "POST", "/user/api-tokens",
                                    '{"description":"soak token","permissions":["user:api-token:read","user:api-token:write"]}',
                                    credential)
        if status == 201:
            answer = json.loads(data)
            self.live.append((answer["id"], answer["token"]))
            if parent_id:
                self.parent[answer["id"]] = parent_id

    def forget(self, token_id):
        """A revoked token takes its descendants with it (the extension's cascade)."""
        gone = {token_id}
        changed = True
        while changed:
            changed = False
            for child, parent in self.parent.items():
                if parent in gone and child not in gone:
                    gone.add(child)
                    changed = True
        self.live = [t for t in self.live if t[0] not in gone]
        for g in gone:
            self.parent.pop(g, None)

    def step(self):
        r = random.random()
        if r < 0.15 or not self.live:
            self.create(self.jwt)
        elif r < 0.20:
            parent = random.choice(self.live)
            self.create(parent[1], parent[0])
        elif r < 0.55:
            self.request("auth", 200, "GET", "/auth", token=random.choice(self.live)[1])
        elif r < 0.62:
            self.request("list", 200, "GET", "/user/api-tokens?page=1&limit=30", token=self.jwt)
        elif r < 0.67:
            self.request("get", 200, "GET", f"/user/api-tokens/{random.choice(self.live)[0]}", token=self.jwt)
        elif r < 0.70 and len(self.live) > 20:
            victim = random.choice(self.live)
            self.forget(victim[0])
            self.request("revoke", 204, "DELETE", f"/user/api-tokens/{victim[0]}", token=self.jwt)
            # Revoked through the gateway: its cache has dropped the token before the 204.
            self.request("auth-revoked", 401, "GET", "/auth", token=victim[1])
        elif r < 0.72 and len(self.live) > 20:
            old = random.choice(self.live)
            old_parent = self.parent.get(old[0])
            self.forget(old[0])
            status, data = self.request("rotate", 201, "POST", f"/user/api-tokens/{old[0]}/rotate", "{}", self.jwt)
            if status == 201:
                answer = json.loads(data)
                self.live.append((answer["id"], answer["token"]))
                if old_parent:
                    self.parent[answer["id"]] = old_parent
        elif r < 0.78:
            self.request("bad-json", 400, "POST", "/user/api-tokens", '{"description": "x"', self.jwt)
        elif r < 0.84:
            self.request("wrong-type", 400, "POST", "/user/api-tokens", '{"description": 5}', self.jwt)
        elif r < 0.90:
            self.request("violation", 422, "POST", "/user/api-tokens", '{"description": "ab"}', self.jwt)
        elif r < 0.95:
            self.request("unknown-token", 401, "GET", "/auth", token=fake_token())
        else:
            self.request("typo-token", 401, "GET", "/auth", token=fake_token()[:-1] + "!")

    def run(self):
        while not self.stop.is_set():
            self.step()


def gateway_rss_kb():
    with open(f"/proc/{GATEWAY_PID}/status") as f:
        return int(next(l for l in f if l.startswith("VmRSS:")).split()[1])


def backend_rss_kb():
    """The gateway's database backends' private memory (RssAnon), summed."""
    pids = subprocess.run(PSQL + ["-tAc", "SELECT pid FROM pg_stat_activity WHERE application_name = 'fynn-gateway'"],
                          capture_output=True, text=True).stdout.split()
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                total += int(next(l for l in f if l.startswith("RssAnon:")).split()[1])
        except (OSError, StopIteration):
            pass
    return total, len(pids)


def main():
    stats = {"lock": threading.Lock(), "requests": 0, "unexpected": 0, "examples": [], "by_kind": {}}
    stop = threading.Event()
    workers = [Worker(n, stats, stop) for n in range(THREADS)]
    samples = [("start", gateway_rss_kb(), *backend_rss_kb())]
    started = time.monotonic()
    for w in workers:
        w.start()
    duration = MINUTES * 60
    time.sleep(duration / 2)
    samples.append(("middle", gateway_rss_kb(), *backend_rss_kb()))
    time.sleep(duration / 2)
    samples.append(("end", gateway_rss_kb(), *backend_rss_kb()))
    stop.set()
    for w in workers:
        w.join(60)
    elapsed = time.monotonic() - started

    live = [t for w in workers for t in w.live]
    verified = 0
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
    for _, token in live:
        conn.request("GET", "/auth", headers={"Authorization": "Bearer " + token})
        resp = conn.getresponse()
        resp.read()
        verified += resp.status == 200

    print(f"soak: {MINUTES:g} min, {THREADS} threads, {stats['requests']} requests "
          f"({stats['requests'] / elapsed:.0f}/s), unexpected statuses: {stats['unexpected']}")
    print("requests by kind: " + ", ".join(f"{k} {v}" for k, v in sorted(stats["by_kind"].items())))
    for kind, expected, status, data in stats["examples"]:
        print(f"  unexpected: {kind} expected {expected} got {status} {data!r}")
    for name, rss, backends, nbackends in samples:
        print(f"memory at {name:6}: gateway RSS {rss} kB, {nbackends} backends' RssAnon {backends} kB")
    print(f"tokens live at the end: {len(live)}, verifying: {verified}")
    ok = stats["unexpected"] == 0 and verified == len(live)
    print(f"soak: {1 if ok else 0} passed, {0 if ok else 1} failed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
