"""Forward-auth (any method on /auth) and its verify cache, over HTTP.

Run by scripts/test-http.sh with the suite's environment (GATEWAY_PORT,
GATEWAY_JWT_SECRET, GATEWAY_DB_URI, GATEWAY_BIN, GATEWAY_SECRETS_FILE,
FYNN_ROOT/FYNN_RUN/FYNN_PGPORT/FYNN_DB), or on its own with the same.

Credentials and refusals are asked of the suite's gateway.  Everything
that reads counters or needs a setting of its own (cache size, max age,
admin port, JWT lifetime) runs on gateways this module starts and stops
itself, so no other test's traffic moves the numbers it compares.

The revocation tests are about time: after the statement that commits a
revocation returns, /auth must say 401 within REVOCATION_BUDGET, however
the revocation was made (the API, an operator's SQL, a cascade, a
TRUNCATE).  The listener tests kill the gateway's LISTEN connection and
check that the cache is not trusted while it is gone.
"""
import os
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gateway_client  # noqa: E402
from gateway_client import (  # noqa: E402
    GATEWAY_BIN, JWT_SECRET, PATH, WRITE, api_token, create, psql, read_metrics, remember,
    request, sign_jwt, sign_jwt_payload, spawn_gateway, user_claims, user_jwt, verify_jwt,
)

READ = "user:api-token:read"
BOTH = [WRITE, READ]
REVOCATION_BUDGET = 0.100  # seconds from the committing statement's return to the first 401
CHALLENGE = 'Bearer error="invalid_token"'
FYNN_HEADERS = {"x-fynn-user", "x-fynn-tenant", "x-fynn-permissions", "x-fynn-token-id", "x-fynn-jwt"}

# Where the gateways this module starts write their logs: the runner's log
# when it names one (its secret grep then covers them), else a file here.
LOG = os.environ.get("GATEWAY_LOG") or os.environ.get("GATEWAY_AUD_LOG") or os.path.join(
    os.environ.get("FYNN_RUN") or tempfile.gettempdir(), "forward-auth-gateways.log")

# The module's own gateway with the default cache (10000 entries, 60 s), for counters.
cached = None


def setUpModule():
    global cached
    cached = spawn_gateway(LOG)
    # A module cleanup runs even when the rest of setUpModule fails (tearDownModule would not).
    unittest.addModuleCleanup(stop, cached)
    wait_listener(cached.port, 1)


def stop(proc):
    proc.terminate()
    try:
        proc.wait(15)
    except Exception:
        proc.kill()
        proc.wait()


def metric(values, name):
    return values.get(name, 0.0)


def wait_listener(port, up, seconds=5.0):
    """Waits until fynn_gateway_listener_up is up (1 or 0); fails after seconds."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if metric(read_metrics(port), "fynn_gateway_listener_up") == up:
            return
        time.sleep(0.01)
    raise AssertionError(f"listener_up did not become {up} within {seconds} s")


def auth(credential=None, method="GET", port=None, scheme="Bearer"):
    headers = {}
    if credential is not None:
        headers["Authorization"] = f"{scheme} {credential}"
    reply = request(method, "/auth", headers=headers, port=port)
    if reply.status == 200:
        remember(reply.header("X-Fynn-Jwt"))
    return reply


def issue(jwt=None, port=None, **body):
    """A new API token (via POST /user/api-tokens with a JWT): (token, id)."""
    body.setdefault("description", "forward-auth test")
    reply = create(body, jwt or user_jwt(permissions=BOTH), port=port)
    if reply.status != 201:
        raise AssertionError(f"token creation failed: {reply}")
    return reply.json()["token"], reply.json()["id"]


def bearer(credential):
    return {"Authorization": "Bearer " + credential}


def parse_rfc3339(text):
    from datetime import datetime
    return datetime.fromisoformat(text).timestamp()


class ForwardAuthCase(unittest.TestCase):
    maxDiff = None

    def assertRefused(self, reply, challenge=CHALLENGE):
        self.assertEqual(reply.status, 401, reply)
        self.assertEqual(reply.header("WWW-Authenticate"), challenge)
        self.assertFalse(FYNN_HEADERS & set(reply.headers), reply.headers)

    def assertRevokedWithinBudget(self, token, committed_at, port):
        """Polls /auth from the commit's return: the first 401 must come within the budget."""
        statuses = []
        while True:
            started = time.monotonic()
            reply = auth(token, port=port)
            statuses.append(reply.status)
            if reply.status == 401:
                self.assertEqual(reply.header("WWW-Authenticate"), CHALLENGE)
                return started - committed_at
            if started - committed_at > REVOCATION_BUDGET:
                self.fail(f"still {reply.status} {1000 * (started - committed_at):.1f} ms after the "
                          f"revocation committed ({len(statuses)} requests: {statuses[:5]}...; "
                          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
            time.sleep(0.002)


class TestApiToken(ForwardAuthCase):
    def test_200_with_exactly_the_headers_and_a_signed_short_jwt(self):
        jwt = user_jwt(permissions=BOTH)
        sub = verify_jwt(jwt)[1]["sub"]
        token, token_id = issue(jwt)
        before = int(time.time())
        reply = auth(token)
        after = int(time.time())
        self.assertEqual(reply.status, 200, reply)
        self.assertEqual(FYNN_HEADERS & set(reply.headers), FYNN_HEADERS)
        self.assertEqual({h for h in reply.headers if h.startswith("x-")}, FYNN_HEADERS)
        self.assertEqual(reply.header("X-Fynn-User"), sub)
        self.assertEqual(reply.header("X-Fynn-Tenant"), "tenant-1")
        self.assertEqual(reply.header("X-Fynn-Permissions"), f"{WRITE} {READ}")
        self.assertEqual(reply.header("X-Fynn-Token-Id"), token_id)
        self.assertEqual(reply.header("Cache-Control"), "no-store")
        self.assertEqual(reply.body, b"")

        header, claims = verify_jwt(reply.header("X-Fynn-Jwt"))
        self.assertEqual(header["alg"], "HS256")
        self.assertEqual(sorted(claims), ["exp", "iat", "permissions", "role", "sub", "tenant_id", "token_id"])
        self.assertEqual(claims["sub"], sub)
        self.assertEqual(claims["tenant_id"], "tenant-1")
        self.assertEqual(claims["permissions"], BOTH)
        self.assertEqual(claims["token_id"], token_id)
        self.assertEqual(claims["role"], "fynn_api_user")
        self.assertTrue(before <= claims["iat"] <= after, claims)
        self.assertLessEqual(claims["exp"], after + 60)
        self.assertGreaterEqual(claims["exp"], before + 60)
        with self.assertRaises(ValueError):
            verify_jwt(reply.header("X-Fynn-Jwt"), secret="another-secret-another-secret-another")

    def test_minted_exp_is_capped_by_the_tokens_own_expiry(self):
        # A fraction on the expiry: the minted exp must not round past it.
        expires = time.time() + 20.7
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(expires)) + f"{expires % 1:.3f}"[1:] + "+00:00"
        token, _ = issue(expiresAt=stamp)
        for _ in range(2):  # the second answer comes from the cache
            reply = auth(token)
            self.assertEqual(reply.status, 200, reply)
            claims = verify_jwt(reply.header("X-Fynn-Jwt"))[1]
            self.assertLessEqual(claims["exp"], parse_rfc3339(stamp))
            self.assertGreaterEqual(claims["exp"], int(expires) - 1)
            self.assertLessEqual(claims["exp"], claims["iat"] + 60)

    def test_any_method(self):
        token, token_id = issue()
        for method in ("GET", "POST", "HEAD", "PUT", "DELETE", "PATCH", "OPTIONS"):
            reply = auth(token, method=method)
            self.assertEqual(reply.status, 200, (method, reply))
            self.assertEqual(reply.header("X-Fynn-Token-Id"), token_id, method)
        self.assertRefused(auth(None, method="POST"), "Bearer")
        self.assertRefused(auth(None, method="HEAD"), "Bearer")

    def test_post_with_a_body_is_answered(self):
        token, _ = issue()
        reply = request("POST", "/auth", body='{"ignored": true}',
                        headers={**bearer(token), "Content-Type": "text/plain"})
        self.assertEqual(reply.status, 200, reply)
        remember(reply.header("X-Fynn-Jwt"))


class TestJwt(ForwardAuthCase):
    def test_200_with_the_jwts_identity_and_no_token_id(self):
        claims = user_claims(permissions=BOTH)
        reply = auth(sign_jwt(claims))
        self.assertEqual(reply.status, 200, reply)
        self.assertEqual({h for h in reply.headers if h.startswith("x-")}, FYNN_HEADERS - {"x-fynn-token-id"})
        self.assertEqual(reply.header("X-Fynn-User"), claims["sub"])
        self.assertEqual(reply.header("X-Fynn-Tenant"), "tenant-1")
        self.assertEqual(reply.header("X-Fynn-Permissions"), f"{WRITE} {READ}")
        minted = verify_jwt(reply.header("X-Fynn-Jwt"))[1]
        self.assertEqual(minted["role"], "fynn_api_user")
        self.assertEqual({k: minted[k] for k in ("sub", "tenant_id", "permissions")},
                         {k: claims[k] for k in ("sub", "tenant_id", "permissions")})
        self.assertLessEqual(minted["exp"], minted["iat"] + 60)
        self.assertNotIn("token_id", minted)

    def test_scope_string_gives_the_permissions(self):
        reply = auth(sign_jwt(user_claims(permissions=None, scope=f"openid {READ}")))
        self.assertEqual(reply.status, 200, reply)
        self.assertEqual(reply.header("X-Fynn-Permissions"), f"openid {READ}")

    def test_its_own_role_is_kept(self):
        reply = auth(user_jwt(role="reporting_user"))
        self.assertEqual(reply.status, 200, reply)
        self.assertEqual(verify_jwt(reply.header("X-Fynn-Jwt"))[1]["role"], "reporting_user")

    def test_a_non_canonical_numeric_sub_is_named_canonically(self):
        exp = int(time.time()) + 600
        token = sign_jwt_payload('{"sub":1e2,"tenant_id":"tenant-1","permissions":["%s"],"exp":%d}' % (READ, exp))
        reply = auth(token)
        self.assertEqual(reply.status, 200, reply)
        self.assertEqual(reply.header("X-Fynn-User"), "100")
        self.assertEqual(verify_jwt(reply.header("X-Fynn-Jwt"))[1]["sub"], 100)

    def test_exp_is_never_extended_beyond_the_jwts_own(self):
        now = int(time.time())
        for own in (now + 20, now + 59, now - 10):  # the last: expired, within the 30 s leeway
            reply = auth(user_jwt(exp=own))
            self.assertEqual(reply.status, 200, (own - now, reply))
            self.assertEqual(verify_jwt(reply.header("X-Fynn-Jwt"))[1]["exp"], own)
        reply = auth(user_jwt(exp=now + 3600))
        minted = verify_jwt(reply.header("X-Fynn-Jwt"))[1]
        self.assertEqual(minted["exp"], minted["iat"] + 60)
        reply = auth(user_jwt(exp=None))
        minted = verify_jwt(reply.header("X-Fynn-Jwt"))[1]
        self.assertEqual(minted["exp"], minted["iat"] + 60)


class TestRefusals(ForwardAuthCase):
    def test_401_without_a_header(self):
        self.assertRefused(auth(None), "Bearer")

    def test_401_with_basic(self):
        self.assertRefused(auth(remember("dXNlcjpwYXNz"), scheme="Basic"), "Bearer")

    def test_401_malformed_api_token(self):
        for bad in ("api_tooShort", "api_" + "A" * 38, "api_" + "!" * 38):
            self.assertRefused(auth(remember(bad)))

    def test_401_api_token_with_a_bad_checksum(self):
        self.assertRefused(auth(api_token(valid_checksum=False)))

    def test_401_unknown_api_token(self):
        self.assertRefused(auth(api_token()))

    def test_401_revoked_api_token(self):
        token, token_id = issue()
        psql(f"UPDATE fynn_tokens.api_token SET revoked_at = now() WHERE id = '{token_id}'")
        self.assertRefused(auth(token))

    def test_401_expired_api_token(self):
        token, token_id = issue()
        psql(f"UPDATE fynn_tokens.api_token SET expires_at = now() - interval '1 minute' WHERE id = '{token_id}'")
        self.assertRefused(auth(token))

    def test_401_bad_jwts(self):
        for bad in (remember("not.a.jwt"), sign_jwt(user_claims(), secret="x" * 40),
                    sign_jwt(user_claims(), alg="none"), sign_jwt(user_claims(), alg="HS512")):
            self.assertRefused(auth(bad))

    def test_401_expired_jwt(self):
        self.assertRefused(auth(user_jwt(exp=int(time.time()) - 60)))

    def test_401_jwt_without_sub(self):
        self.assertRefused(auth(user_jwt(sub=None)))

    def test_401_jwt_with_a_3000_character_sub(self):
        self.assertRefused(auth(user_jwt(sub="u" * 3000)))

    def test_401_jwt_with_a_fractional_or_empty_sub(self):
        for sub in (1.5, "", " padded", True, ["u"]):
            self.assertRefused(auth(user_jwt(sub=sub)))

    def test_401_jwt_without_tenant(self):
        self.assertRefused(auth(user_jwt(tenant_id=None)))


class TestExchange(ForwardAuthCase):
    """The minted X-Fynn-Jwt stands for the API token on the gateway's own routes."""

    def test_minted_jwt_lists_and_creates_a_child_of_the_api_token(self):
        token, token_id = issue()
        minted = auth(token).header("X-Fynn-Jwt")
        listed = request("GET", PATH, headers=bearer(minted))
        self.assertEqual(listed.status, 200, listed)
        self.assertIn(token_id, [item["id"] for item in listed.json()["data"]])
        as_token = request("GET", PATH, headers=bearer(token))
        self.assertEqual(as_token.json(), listed.json())

        child = create({"description": "child via minted JWT"}, minted)
        self.assertEqual(child.status, 201, child)
        self.assertEqual(child.json()["permissions"], BOTH)
        self.assertEqual(psql(f"SELECT parent_id FROM fynn_tokens.api_token WHERE id = '{child.json()['id']}'"),
                         token_id)
        self.assertEqual(auth(child.json()["token"]).status, 200)

    def test_minted_jwt_stops_working_on_the_routes_with_its_token(self):
        token, token_id = issue()
        minted = auth(token).header("X-Fynn-Jwt")
        self.assertEqual(request("GET", PATH, headers=bearer(minted)).status, 200)
        psql(f"UPDATE fynn_tokens.api_token SET revoked_at = now() WHERE id = '{token_id}'")
        self.assertRefused(request("GET", PATH, headers=bearer(minted)))


class TestMintedJwtAtAuth(ForwardAuthCase):
    """A minted JWT names its API token (token_id): /auth honours it only while that token lives.

    The extension says so for such claims (src/caller.c): a revocation holds
    the moment it commits, whatever carries the claims."""

    def test_200_while_the_token_lives_with_the_jwts_own_expiry(self):
        token, token_id = issue()
        minted = auth(token).header("X-Fynn-Jwt")
        own = verify_jwt(minted)[1]
        reply = auth(minted)
        self.assertEqual(reply.status, 200, reply)
        self.assertEqual(reply.header("X-Fynn-Token-Id"), token_id)
        again = verify_jwt(reply.header("X-Fynn-Jwt"))[1]
        self.assertLessEqual(again["exp"], own["exp"])
        self.assertEqual(again["token_id"], token_id)

    def test_401_once_the_token_is_revoked(self):
        for gw in (None, cached.port):
            token, token_id = issue()
            minted = auth(token, port=gw).header("X-Fynn-Jwt")
            self.assertEqual(auth(minted, port=gw).status, 200)
            psql(f"UPDATE fynn_tokens.api_token SET revoked_at = now() WHERE id = '{token_id}'")
            self.assertRevokedWithinBudget(minted, time.monotonic(), gw)

    def test_401_on_a_gateway_that_never_saw_the_token(self):
        gw = spawn_gateway(LOG, FYNN_CACHE_SIZE=0)
        self.addCleanup(stop, gw)
        token, token_id = issue()
        minted = auth(token).header("X-Fynn-Jwt")
        self.assertEqual(auth(minted, port=gw.port).status, 200)
        psql(f"UPDATE fynn_tokens.api_token SET expires_at = now() - interval '1 second' WHERE id = '{token_id}'")
        self.assertRefused(auth(minted, port=gw.port))

    def test_answered_from_the_cache_by_id(self):
        token, _ = issue()
        minted = auth(token, port=cached.port).header("X-Fynn-Jwt")
        before = read_metrics(cached.port)
        self.assertEqual(auth(minted, port=cached.port).status, 200)
        after = read_metrics(cached.port)
        self.assertEqual(metric(after, "fynn_gateway_db_verify_calls_total"),
                         metric(before, "fynn_gateway_db_verify_calls_total"))

    def test_401_when_the_claims_name_another_users_token(self):
        token, token_id = issue()
        auth(token, port=cached.port)  # cached: the answer by id must still compare the owner
        forged = user_jwt(token_id=token_id)
        self.assertRefused(auth(forged, port=cached.port))
        self.assertRefused(auth(forged))


class TestCacheEviction(ForwardAuthCase):
    """A cached token, revoked by every path there is: 401 within the budget."""

    def cached_token(self, jwt=None):
        """A token verified once, then answered from the cache (hits move, database calls do not)."""
        token, token_id = issue(jwt)
        self.assertEqual(auth(token, port=cached.port).status, 200)
        before = read_metrics(cached.port)
        self.assertEqual(auth(token, port=cached.port).status, 200)
        after = read_metrics(cached.port)
        self.assertEqual(metric(after, "fynn_gateway_cache_hits_total"),
                         metric(before, "fynn_gateway_cache_hits_total") + 1)
        self.assertEqual(metric(after, "fynn_gateway_db_verify_calls_total"),
                         metric(before, "fynn_gateway_db_verify_calls_total"))
        return token, token_id

    def revoke_by_sql(self, sql):
        token, token_id = self.cached_token()
        psql(sql.format(id=token_id))
        self.assertRevokedWithinBudget(token, time.monotonic(), cached.port)

    def test_delete_route(self):
        jwt = user_jwt(permissions=BOTH)
        token, token_id = self.cached_token(jwt)
        reply = request("DELETE", f"{PATH}/{token_id}", headers=bearer(jwt), port=cached.port)
        committed = time.monotonic()
        self.assertEqual(reply.status, 204, reply)
        self.assertRevokedWithinBudget(token, committed, cached.port)

    def test_revoke_current_route(self):
        token, _ = self.cached_token()
        reply = request("DELETE", f"{PATH}/current", headers=bearer(token), port=cached.port)
        committed = time.monotonic()
        self.assertEqual(reply.status, 204, reply)
        self.assertRevokedWithinBudget(token, committed, cached.port)

    def test_rotate_with_no_grace(self):
        jwt = user_jwt(permissions=BOTH)
        token, token_id = self.cached_token(jwt)
        reply = request("POST", f"{PATH}/{token_id}/rotate", body='{"gracePeriod": 0}',
                        headers={**bearer(jwt), "Content-Type": "application/json"}, port=cached.port)
        committed = time.monotonic()
        self.assertEqual(reply.status, 201, reply)
        successor = remember(reply.json()["token"])
        self.assertRevokedWithinBudget(token, committed, cached.port)
        self.assertEqual(auth(successor, port=cached.port).status, 200)

    def test_cascade_from_the_parent(self):
        jwt = user_jwt(permissions=BOTH)
        parent, parent_id = self.cached_token(jwt)
        child, child_id = issue(parent)
        self.assertEqual(auth(child, port=cached.port).status, 200)
        self.assertEqual(auth(child, port=cached.port).status, 200)
        reply = request("DELETE", f"{PATH}/{parent_id}", headers=bearer(jwt), port=cached.port)
        committed = time.monotonic()
        self.assertEqual(reply.status, 204, reply)
        self.assertRevokedWithinBudget(child, committed, cached.port)
        self.assertRevokedWithinBudget(parent, committed, cached.port)

    def test_operator_update_revoked_at(self):
        self.revoke_by_sql("UPDATE fynn_tokens.api_token SET revoked_at = now() WHERE id = '{id}'")

    def test_operator_update_expires_at(self):
        self.revoke_by_sql("UPDATE fynn_tokens.api_token SET expires_at = now() - interval '1 second' WHERE id = '{id}'")

    def test_operator_delete(self):
        self.revoke_by_sql("DELETE FROM fynn_tokens.api_token WHERE id = '{id}'")

    def test_operator_changes_permissions(self):
        token, token_id = self.cached_token()
        psql(f"UPDATE fynn_tokens.api_token SET permissions = '{{{READ}}}' WHERE id = '{token_id}'")
        committed = time.monotonic()
        while True:
            reply = auth(token, port=cached.port)
            if reply.header("X-Fynn-Permissions") == READ:
                break
            self.assertLess(time.monotonic() - committed, REVOCATION_BUDGET, reply.headers)
            time.sleep(0.002)

    def test_leak_report_route(self):
        token, _ = self.cached_token()
        reply = request("POST", "/api-tokens/revoke", body='{"token": "%s"}' % token,
                        headers={"Content-Type": "application/json"}, port=cached.port)
        committed = time.monotonic()
        self.assertEqual(reply.status, 202, reply)
        self.assertRevokedWithinBudget(token, committed, cached.port)

    def test_truncate(self):
        # Runs last in its class (unittest sorts by name): it empties the table.
        tokens = [self.cached_token()[0] for _ in range(3)]
        psql("TRUNCATE fynn_tokens.api_token")
        committed = time.monotonic()
        for token in tokens:
            self.assertRevokedWithinBudget(token, committed, cached.port)
        self.assertEqual(metric(read_metrics(cached.port), "fynn_gateway_cache_entries"), 0)


class TestListener(ForwardAuthCase):
    KILL = ("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = 'fynn-gateway-listener'")

    def test_killed_listener_flushes_the_cache_and_comes_back(self):
        token, _ = issue()
        auth(token, port=cached.port)
        self.assertGreater(metric(read_metrics(cached.port), "fynn_gateway_cache_entries"), 0)
        before = read_metrics(cached.port)
        self.assertGreaterEqual(int(psql(self.KILL)), 1)
        wait_listener(cached.port, 0, 1.0)
        self.assertEqual(metric(read_metrics(cached.port), "fynn_gateway_cache_entries"), 0)
        wait_listener(cached.port, 1)
        after = read_metrics(cached.port)
        self.assertGreater(metric(after, "fynn_gateway_listener_reconnects_total"),
                           metric(before, "fynn_gateway_listener_reconnects_total"))
        # Caching resumes: one database call, then hits.
        self.assertEqual(auth(token, port=cached.port).status, 200)
        mid = read_metrics(cached.port)
        self.assertEqual(auth(token, port=cached.port).status, 200)
        end = read_metrics(cached.port)
        self.assertEqual(metric(end, "fynn_gateway_cache_hits_total"), metric(mid, "fynn_gateway_cache_hits_total") + 1)
        self.assertEqual(metric(end, "fynn_gateway_db_verify_calls_total"),
                         metric(mid, "fynn_gateway_db_verify_calls_total"))

    def test_while_the_listener_is_down_every_request_asks_the_database(self):
        # The gateway's role may open no new connection: the listener stays down
        # (the pool keeps the connections it has).
        token, token_id = issue()
        self.assertEqual(auth(token, port=cached.port).status, 200)
        psql("ALTER ROLE fynn_gateway CONNECTION LIMIT 0")
        try:
            psql(self.KILL)
            wait_listener(cached.port, 0, 1.0)
            before = read_metrics(cached.port)
            for _ in range(3):
                self.assertEqual(auth(token, port=cached.port).status, 200)
            after = read_metrics(cached.port)
            self.assertEqual(metric(after, "fynn_gateway_db_verify_calls_total"),
                             metric(before, "fynn_gateway_db_verify_calls_total") + 3)
            self.assertEqual(metric(after, "fynn_gateway_cache_hits_total"),
                             metric(before, "fynn_gateway_cache_hits_total"))
            self.assertEqual(metric(after, "fynn_gateway_cache_entries"), 0)
            # No notification can reach this gateway now: only the database can say 401.
            psql(f"UPDATE fynn_tokens.api_token SET revoked_at = now() WHERE id = '{token_id}'")
            self.assertRefused(auth(token, port=cached.port))
            self.assertEqual(metric(read_metrics(cached.port), "fynn_gateway_listener_up"), 0)
        finally:
            psql("ALTER ROLE fynn_gateway CONNECTION LIMIT -1")
        wait_listener(cached.port, 1)
        other, _ = issue()
        auth(other, port=cached.port)
        before = read_metrics(cached.port)
        self.assertEqual(auth(other, port=cached.port).status, 200)
        self.assertEqual(metric(read_metrics(cached.port), "fynn_gateway_cache_hits_total"),
                         metric(before, "fynn_gateway_cache_hits_total") + 1)


class TestCacheSettings(ForwardAuthCase):
    def gateway(self, **env):
        proc = spawn_gateway(LOG, **env)
        self.addCleanup(stop, proc)
        return proc

    def verify_calls(self, port):
        return metric(read_metrics(port), "fynn_gateway_db_verify_calls_total")

    def test_max_age_one_second(self):
        gw = self.gateway(FYNN_CACHE_MAX_AGE=1)
        wait_listener(gw.port, 1)
        token, _ = issue()
        self.assertEqual(auth(token, port=gw.port).status, 200)
        calls = self.verify_calls(gw.port)
        self.assertEqual(auth(token, port=gw.port).status, 200)
        self.assertEqual(self.verify_calls(gw.port), calls)
        time.sleep(1.1)
        self.assertEqual(auth(token, port=gw.port).status, 200)
        self.assertEqual(self.verify_calls(gw.port), calls + 1)
        self.assertEqual(auth(token, port=gw.port).status, 200)
        self.assertEqual(self.verify_calls(gw.port), calls + 1)

    def test_size_zero_asks_the_database_every_time(self):
        gw = self.gateway(FYNN_CACHE_SIZE=0)
        token, _ = issue()
        calls = self.verify_calls(gw.port)
        for i in range(1, 4):
            self.assertEqual(auth(token, port=gw.port).status, 200)
            self.assertEqual(self.verify_calls(gw.port), calls + i)
        values = read_metrics(gw.port)
        self.assertEqual(metric(values, "fynn_gateway_cache_hits_total"), 0)
        self.assertEqual(metric(values, "fynn_gateway_cache_entries"), 0)
        # Nothing to keep fresh: no listener connection at all.
        self.assertEqual(metric(values, "fynn_gateway_listener_up"), 0)

    def test_lru_bound_of_two_entries(self):
        gw = self.gateway(FYNN_CACHE_SIZE=2)
        wait_listener(gw.port, 1)
        tokens = [issue()[0] for _ in range(3)]
        for _ in range(3):
            for token in tokens:
                self.assertEqual(auth(token, port=gw.port).status, 200)
                self.assertLessEqual(metric(read_metrics(gw.port), "fynn_gateway_cache_entries"), 2)
        values = read_metrics(gw.port)
        self.assertEqual(metric(values, "fynn_gateway_cache_entries"), 2)
        self.assertGreater(metric(values, "fynn_gateway_cache_evictions_total"), 0)
        # Round-robin over 3 with room for 2: LRU keeps missing.
        self.assertEqual(metric(values, "fynn_gateway_db_verify_calls_total"), 9)
        # The two most recent stay: hits.
        hits = metric(values, "fynn_gateway_cache_hits_total")
        self.assertEqual(auth(tokens[2], port=gw.port).status, 200)
        self.assertEqual(metric(read_metrics(gw.port), "fynn_gateway_cache_hits_total"), hits + 1)


class TestMetricsAndConfiguration(ForwardAuthCase):
    def test_requests_and_latency_are_counted(self):
        token, _ = issue()
        before = read_metrics(cached.port)
        statuses = [auth(token, port=cached.port).status for _ in range(3)]
        statuses += [auth(api_token(), port=cached.port).status, auth(None, port=cached.port).status]
        self.assertEqual(statuses, [200, 200, 200, 401, 401])
        key = 'fynn_gateway_requests_total{route="%s",status="%s"}'

        def delta(after, name):
            return metric(after, name) - metric(before, name)

        count = "fynn_gateway_request_duration_seconds_count"

        def counted(after):
            return sum(delta(after, name) for name in after if name.startswith("fynn_gateway_requests_total{"))

        # A request is counted once its answer has gone out, so the last one may still be on its way.
        deadline = time.monotonic() + 5
        after = read_metrics(cached.port)
        while ((delta(after, key % ("auth", 401)) < 2 or delta(after, count) != counted(after))
               and time.monotonic() < deadline):
            time.sleep(0.05)
            after = read_metrics(cached.port)
        self.assertEqual(delta(after, key % ("auth", 200)), 3)
        self.assertEqual(delta(after, key % ("auth", 401)), 2)
        self.assertGreaterEqual(delta(after, key % ("metrics", 200)), 1)
        # Every counted request, the /metrics reads among them, is in the latency histogram once.
        self.assertEqual(delta(after, count), counted(after))
        self.assertEqual(metric(after, 'fynn_gateway_request_duration_seconds_bucket{le="+Inf"}'), metric(after, count))
        self.assertGreater(metric(after, "fynn_gateway_request_duration_seconds_sum"),
                           metric(before, "fynn_gateway_request_duration_seconds_sum"))

    def test_admin_port_takes_the_probes_and_metrics(self):
        from gateway_client import free_port
        admin = free_port()
        gw = spawn_gateway(LOG, PGRST_ADMIN_SERVER_PORT=admin)
        self.addCleanup(stop, gw)
        for path in ("/metrics", "/live", "/ready"):
            self.assertEqual(request("GET", path, port=gw.port).status, 404, path)
            self.assertEqual(request("GET", path, port=admin).status, 200, path)
        self.assertEqual(request("GET", "/health", port=gw.port).status, 200)
        self.assertEqual(request("GET", "/auth", port=admin).status, 404)
        token, _ = issue()
        self.assertEqual(auth(token, port=gw.port).status, 200)
        self.assertEqual(read_metrics(admin)['fynn_gateway_requests_total{route="auth",status="200"}'], 1)

    def test_lifetime_over_300_is_refused_at_start(self):
        import subprocess
        env = {k: v for k, v in os.environ.items() if not k.startswith(("PGRST_", "FYNN_"))}
        env.update({"PGRST_DB_URI": os.environ["GATEWAY_DB_URI"], "PGRST_JWT_SECRET": JWT_SECRET,
                    "PGRST_SERVER_PORT": "1"})
        for bad in ("301", "0", "60s", "-1"):
            proc = subprocess.run([GATEWAY_BIN], env={**env, "FYNN_AUTH_JWT_LIFETIME": bad},
                                  capture_output=True, text=True, timeout=10)
            self.assertEqual(proc.returncode, 1, (bad, proc.stderr))
            self.assertIn("FYNN_AUTH_JWT_LIFETIME", proc.stderr)

    def test_lifetime_and_role_settings(self):
        gw = spawn_gateway(LOG, FYNN_AUTH_JWT_LIFETIME=300, FYNN_AUTH_ROLE="edge_user", FYNN_CACHE_SIZE=0)
        self.addCleanup(stop, gw)
        token, _ = issue()
        minted = verify_jwt(auth(token, port=gw.port).header("X-Fynn-Jwt"))[1]
        self.assertEqual(minted["exp"] - minted["iat"], 300)
        self.assertEqual(minted["role"], "edge_user")


class TestNoCredentialInLogs(ForwardAuthCase):
    """Runs last: the gateways this module started logged no credential it used."""

    def test_own_gateway_logs_hold_no_credential(self):
        secrets_file = os.environ.get("GATEWAY_SECRETS_FILE")
        if not secrets_file or not os.path.exists(LOG):
            self.skipTest("no secrets file or no log to check")
        with open(LOG, encoding="utf-8", errors="replace") as f:
            log = f.read()
        with open(secrets_file, encoding="utf-8") as f:
            used = [s for s in f.read().splitlines() if s]
        self.assertTrue(used)
        self.assertEqual([i for i, s in enumerate(used) if s in log], [])


ORDER = [TestApiToken, TestJwt, TestRefusals, TestExchange, TestMintedJwtAtAuth, TestCacheEviction,
         TestListener, TestCacheSettings, TestMetricsAndConfiguration, TestNoCredentialInLogs]

# For a run against a gateway under valgrind: every /auth path, no timing.
SMOKE = ["TestApiToken.test_200_with_exactly_the_headers_and_a_signed_short_jwt",
         "TestApiToken.test_any_method",
         "TestJwt.test_200_with_the_jwts_identity_and_no_token_id",
         "TestRefusals.test_401_unknown_api_token",
         "TestRefusals.test_401_jwt_with_a_3000_character_sub",
         "TestRefusals.test_401_revoked_api_token",
         "TestExchange.test_minted_jwt_lists_and_creates_a_child_of_the_api_token",
         "TestMintedJwtAtAuth.test_200_while_the_token_lives_with_the_jwts_own_expiry",
         "TestMintedJwtAtAuth.test_401_when_the_claims_name_another_users_token"]


def load_tests(loader, standard_tests, pattern):
    """unittest discovery runs the classes in ORDER too (the log check last)."""
    return unittest.TestSuite(loader.loadTestsFromTestCase(case) for case in ORDER)


if __name__ == "__main__":
    sys.exit(gateway_client.main(sys.modules[__name__]))
