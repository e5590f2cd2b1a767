"""Parity: the same REST requests through fynn-gateway and through nginx in
front of PostgREST (the replay's HTTP front, test/postgrest/emulator.py,
behind docs/nginx/postgrest-routes.conf) give the same status, the same
contract headers and the same body, byte for byte.

Run by test/nginx/run-postgrest-routes.sh, which starts the cluster, the
emulator, the gateway and nginx, and passes their ports in the environment.
Only what the contract leaves to the database is compared; what each front
answers before any SQL (malformed JSON, 415, Bearer api_..., a 405 nginx
gives for a method the route lacks) is listed in test_replay.py's header.

Random values (a new token's id and secret) are compared by shape; every
other byte must match.  The two fronts act on one database, one after the
other: a case that writes uses a fresh token for each front.
"""
import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import secrets
import sys
import time
import unittest
import zlib

GATEWAY = int(os.environ["PARITY_GATEWAY_PORT"])
NGINX = int(os.environ["PARITY_NGINX_PORT"])
SECRET = os.environ["PARITY_JWT_SECRET"]
SECRETS_FILE = os.environ.get("PARITY_SECRETS_FILE")
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ID = re.compile(r"[0-9A-Z]{20}")
TOKEN = re.compile(r"api_[0-9A-Za-z]{38}")
CONTRACT_HEADERS = ("content-type", "www-authenticate")


def remember(secret):
    """Every credential goes to the file the runner greps the logs for."""
    if SECRETS_FILE:
        with open(SECRETS_FILE, "a") as f:
            f.write(secret + "\n")
    return secret


def jwt(**claims):
    """An HS256 JWT for the JWT role (fynn_api_user), as a user's session has."""
    claims.setdefault("role", "fynn_api_user")
    claims.setdefault("exp", int(time.time()) + 600)
    b64 = lambda b: base64.urlsafe_b64encode(b).rstrip(b"=").decode()
    head = b64(b'{"alg":"HS256","typ":"JWT"}')
    body = b64(json.dumps(claims).encode())
    sig = b64(hmac.new(SECRET.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest())
    return remember(f"{head}.{body}.{sig}")


def user_jwt(user, permissions=("user:api-token:read", "user:api-token:write")):
    return jwt(sub=user, tenant_id="parity", permissions=list(permissions))


def fake_token():
    """Well-formed (shape and checksum), never issued."""
    random_part = "".join(secrets.choice(BASE62) for _ in range(32))
    crc = zlib.crc32(random_part.encode())
    check = ""
    for _ in range(6):
        check = BASE62[crc % 62] + check
        crc //= 62
    return remember("api_" + random_part + check)


def call(port, method, path, body=None, headers=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        data = None if body is None else (body if isinstance(body, bytes) else body.encode())
        hdrs = dict(headers or {})
        if data is not None:
            hdrs.setdefault("Content-Type", "application/json")
        conn.request(method, path, body=data, headers=hdrs)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def masked(body):
    """A body with the random parts of a new token replaced by their shape."""
    return TOKEN.sub("<token>", ID.sub("<id>", body.decode("utf-8")))


class Parity(unittest.TestCase):
    maxDiff = None

    def same(self, method, path, body=None, headers=None, gateway_headers=None, mask=False,
             expect=None):
        """Sends the request to both fronts and asserts the answers are the same."""
        gw = call(GATEWAY, method, path, body, gateway_headers or headers)
        ng = call(NGINX, method, path, body, headers)
        if expect is not None:
            self.assertEqual(gw[0], expect, (gw[0], gw[2]))
        self.assertEqual(gw[0], ng[0], f"status: gateway {gw[0]} {gw[2]!r}, PostgREST {ng[0]} {ng[2]!r}")
        for name in CONTRACT_HEADERS:
            self.assertEqual(gw[1].get(name), ng[1].get(name), name)
        if "location" in gw[1] or "location" in ng[1]:
            self.assertEqual(ID.sub("<id>", gw[1].get("location", "")),
                             ID.sub("<id>", ng[1].get("location", "")))
        if mask:
            self.assertEqual(masked(gw[2]), masked(ng[2]))
        else:
            self.assertEqual(gw[2], ng[2])
        return gw, ng

    def issue(self, user, description="parity", front=GATEWAY, **extra):
        body = json.dumps({"description": description, **extra})
        status, _, answer = call(front, "POST", "/user/api-tokens", body,
                                 {"Authorization": "Bearer " + user_jwt(user)})
        self.assertEqual(status, 201, answer)
        token = json.loads(answer)
        remember(token["token"])
        return token


class TestCreate(Parity):
    def test_201(self):
        gw, _ = self.same("POST", "/user/api-tokens",
                          '{"description":"same answer","expiresAt":"2099-01-01T00:00:00Z","permissions":["user:api-token:read"]}',
                          {"Authorization": "Bearer " + user_jwt("creator")}, mask=True, expect=201)
        remember(json.loads(gw[2])["token"])

    def test_400_not_an_object(self):
        self.same("POST", "/user/api-tokens", "[]", {"Authorization": "Bearer " + user_jwt("u")}, expect=400)

    def test_400_wrong_type(self):
        self.same("POST", "/user/api-tokens", '{"description": 5}',
                  {"Authorization": "Bearer " + user_jwt("u")}, expect=400)

    def test_400_bad_date(self):
        self.same("POST", "/user/api-tokens", '{"expiresAt": "tomorrow"}',
                  {"Authorization": "Bearer " + user_jwt("u")}, expect=400)

    def test_422_every_violation_at_once(self):
        self.same("POST", "/user/api-tokens",
                  '{"description": "ab", "expiresAt": "2001-01-01T00:00:00Z", "permissions": ["admin"]}',
                  {"Authorization": "Bearer " + user_jwt("u")}, expect=422)

    def test_401_without_credential(self):
        self.same("POST", "/user/api-tokens", '{"description": "abc"}', expect=401)

    def test_401_jwt_names_nobody(self):
        self.same("POST", "/user/api-tokens", '{"description": "abc"}',
                  {"Authorization": "Bearer " + jwt(tenant_id="parity", permissions=["user:api-token:write"])},
                  expect=401)

    def test_403_without_permission(self):
        self.same("POST", "/user/api-tokens", '{"description": "abc"}',
                  {"Authorization": "Bearer " + user_jwt("u", ["user:api-token:read"])}, expect=403)


class TestList(Parity):
    def test_200_the_same_page(self):
        for i in range(3):
            self.issue("lister", f"listed {i}")
        self.same("GET", "/user/api-tokens?page=2&limit=2", headers={"Authorization": "Bearer " + user_jwt("lister")},
                  expect=200)
        self.same("GET", "/user/api-tokens", headers={"Authorization": "Bearer " + user_jwt("lister")}, expect=200)

    def test_400_bad_limit_and_page(self):
        for query in ("limit=abc", "limit=101", "page=0", "page=x&limit=5"):
            self.same("GET", "/user/api-tokens?" + query, headers={"Authorization": "Bearer " + user_jwt("lister")},
                      expect=400)

    def test_401_and_403(self):
        self.same("GET", "/user/api-tokens", expect=401)
        self.same("GET", "/user/api-tokens", headers={"Authorization": "Bearer " + user_jwt("u", ["user:api-token:write"])},
                  expect=403)


class TestGet(Parity):
    def test_200_and_404(self):
        token = self.issue("getter")
        auth = {"Authorization": "Bearer " + user_jwt("getter")}
        self.same("GET", f"/user/api-tokens/{token['id']}", headers=auth, expect=200)
        self.same("GET", f"/user/api-tokens/{token['id']}", headers={"Authorization": "Bearer " + user_jwt("other")},
                  expect=404)
        self.same("GET", "/user/api-tokens/ABCDEFGHIJKLMNOPQRST", headers=auth, expect=404)
        self.same("GET", "/user/api-tokens/current", headers=auth, expect=404)


class TestRevoke(Parity):
    def test_204_then_404(self):
        auth = {"Authorization": "Bearer " + user_jwt("revoker")}
        first, second = self.issue("revoker"), self.issue("revoker")
        gw = call(GATEWAY, "DELETE", f"/user/api-tokens/{first['id']}", headers=auth)
        ng = call(NGINX, "DELETE", f"/user/api-tokens/{second['id']}", headers=auth)
        self.assertEqual((gw[0], gw[2]), (204, b""))
        self.assertEqual((ng[0], ng[2]), (204, b""))
        self.same("DELETE", f"/user/api-tokens/{first['id']}", headers=auth, expect=404)

    def test_current_with_a_jwt_is_400(self):
        self.same("DELETE", "/user/api-tokens/current", headers={"Authorization": "Bearer " + user_jwt("u")},
                  expect=400)

    def test_current_with_an_api_token_is_204(self):
        a, b = self.issue("self-revoker"), self.issue("self-revoker")
        gw = call(GATEWAY, "DELETE", "/user/api-tokens/current", headers={"Authorization": "Bearer " + a["token"]})
        # Behind PostgREST an API token travels as X-API-Key (fynn_api.pre_request).
        ng = call(NGINX, "DELETE", "/user/api-tokens/current", headers={"X-API-Key": b["token"]})
        self.assertEqual((gw[0], gw[2]), (204, b""))
        self.assertEqual((ng[0], ng[2]), (204, b""))

    def test_leaked_202_and_400(self):
        self.same("POST", "/api-tokens/revoke", json.dumps({"token": fake_token()}), expect=202)
        a, b = self.issue("leaker"), self.issue("leaker")
        gw = call(GATEWAY, "POST", "/api-tokens/revoke", json.dumps({"token": a["token"]}))
        ng = call(NGINX, "POST", "/api-tokens/revoke", json.dumps({"token": b["token"]}))
        self.assertEqual((gw[0], ng[0]), (202, 202))
        self.assertEqual(gw[2], ng[2])
        self.same("POST", "/api-tokens/revoke", '{"token": "api_typo"}', expect=400)
        self.same("POST", "/api-tokens/revoke", '{"token": 5}', expect=400)


class TestRotate(Parity):
    def test_201(self):
        a, b = self.issue("rotator"), self.issue("rotator")
        auth = {"Authorization": "Bearer " + user_jwt("rotator")}
        gw = call(GATEWAY, "POST", f"/user/api-tokens/{a['id']}/rotate", '{"gracePeriod": 30}', auth)
        ng = call(NGINX, "POST", f"/user/api-tokens/{b['id']}/rotate", '{"gracePeriod": 30}', auth)
        self.assertEqual(gw[0], 201, gw)
        self.assertEqual(ng[0], 201, ng)
        self.assertEqual(masked(gw[2]), masked(ng[2]))
        for answer in (gw, ng):
            remember(json.loads(answer[2])["token"])
            self.assertEqual(answer[1]["location"], "/user/api-tokens/" + json.loads(answer[2])["id"])

    def test_201_without_a_body(self):
        a, b = self.issue("rotator"), self.issue("rotator")
        auth = {"Authorization": "Bearer " + user_jwt("rotator")}
        gw = call(GATEWAY, "POST", f"/user/api-tokens/{a['id']}/rotate", headers=auth)
        ng = call(NGINX, "POST", f"/user/api-tokens/{b['id']}/rotate", headers=auth)
        self.assertEqual((gw[0], ng[0]), (201, 201), (gw, ng))
        for answer in (gw, ng):
            remember(json.loads(answer[2])["token"])

    def test_404_400_422(self):
        token = self.issue("rotator")
        auth = {"Authorization": "Bearer " + user_jwt("rotator")}
        self.same("POST", "/user/api-tokens/ABCDEFGHIJKLMNOPQRST/rotate", '{}', auth, expect=404)
        self.same("POST", f"/user/api-tokens/{token['id']}/rotate", '{"gracePeriod": "10"}', auth, expect=400)
        self.same("POST", f"/user/api-tokens/{token['id']}/rotate", '{"gracePeriod": 604801}', auth, expect=422)
        self.same("POST", f"/user/api-tokens/{token['id']}/rotate", '{"gracePeriod": 1}',
                  {"Authorization": "Bearer " + user_jwt("someone-else")}, expect=404)


def main():
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors)
    print(f"parity: {result.testsRun - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
