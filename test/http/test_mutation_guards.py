"""What the gateway alone must get right, each test named after the bug it
guards against: the tests mutation testing (test/mutation/) showed missing.

Run by scripts/test-http.sh (or test/mutation/run-mutants.sh) against a
running gateway (GATEWAY_PORT); the tests that need settings of their own
(a dead database, a small cache age, one database connection) start
gateways of their own.
"""
import contextlib
import json
import os
import signal
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gateway_client  # noqa: E402
from gateway_client import (  # noqa: E402
    PATH, READ, WRITE, ContractCase, Gateway, api_token, bearer, create, free_port, iso, issue, metric,
    psql, raw_exchange, remember, request, sign_jwt, user_claims,
)

RUN = os.urandom(3).hex()
TENANT = "guards-" + RUN


# ------------------------------------------------------------------ helpers

def writer(**overrides):
    """A JWT of a fresh user of TENANT who may create, read and revoke tokens."""
    overrides.setdefault("tenant_id", TENANT)
    overrides.setdefault("permissions", [WRITE, READ])
    return sign_jwt(user_claims(**overrides))


def post_create(credential, port=None, content_type="application/json", timeout=10, scheme="Bearer"):
    """POST /user/api-tokens with a small valid body; scheme names the Authorization scheme."""
    extra = {"Authorization": f"{scheme} {credential}"} if credential is not None else {}
    return create({"description": "guarded"}, None, content_type, extra, port=port, timeout=timeout)


def forward_auth(token, port=None):
    return request("GET", "/auth", headers=bearer(token), port=port)


def eventually(condition, seconds=5.0, step=0.05):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def wait_listening(gw):
    if not eventually(lambda: metric("fynn_gateway_listener_up", gw.port) == 1, 10):
        raise AssertionError("the gateway's change listener did not subscribe")


def revoke_unannounced(token_id):
    """Revokes a token without its trigger (no NOTIFY): only an age bound or a flush can tell a cache."""
    psql("SET session_replication_role = replica;"
         f" UPDATE fynn_tokens.api_token SET revoked_at = now() WHERE id = '{token_id}'")


def listener_pids():
    out = psql("SELECT pid FROM pg_stat_activity WHERE application_name = 'fynn-gateway-listener'"
               " AND datname = current_database()")
    return {int(p) for p in out.split()}


@contextlib.contextmanager
def insert_trigger(body, name="mutation_guard"):
    """A BEFORE INSERT trigger on api_token, running body (PL/pgSQL) for TENANT's rows only."""
    psql(f"""CREATE OR REPLACE FUNCTION public.{name}() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
                 IF NEW.tenant_id = '{TENANT}' THEN {body} END IF;
                 RETURN NEW;
             END $$;
             CREATE OR REPLACE TRIGGER {name} BEFORE INSERT ON fynn_tokens.api_token
                 FOR EACH ROW EXECUTE FUNCTION public.{name}();""")
    try:
        yield
    finally:
        psql(f"DROP TRIGGER IF EXISTS {name} ON fynn_tokens.api_token; DROP FUNCTION IF EXISTS public.{name}();")


class GuardCase(ContractCase):
    def assertServedFromCache(self, gw, token):
        """The token's /auth answer comes from the verify cache (a hit is counted)."""
        self.assertEqual(forward_auth(token, gw.port).status, 200)
        hits = metric("fynn_gateway_cache_hits_total", gw.port)
        self.assertEqual(forward_auth(token, gw.port).status, 200)
        self.assertEqual(metric("fynn_gateway_cache_hits_total", gw.port), hits + 1,
                         "the second /auth was not answered from the cache")


# -------------------------------------------------------------------- JWTs

class TestJwtTimeClaims(GuardCase):
    """exp, nbf and iat, each with PostgREST's 30 s leeway and no more."""

    def test_expired_a_minute_ago_is_refused(self):
        self.assertUnauthorized(post_create(writer(exp=int(time.time()) - 60)), detail="Expired JWT Token")

    def test_expired_10s_ago_is_within_the_leeway(self):
        self.assertEqual(post_create(writer(exp=int(time.time()) - 10)).status, 201)

    def test_issued_two_minutes_in_the_future_is_refused(self):
        self.assertUnauthorized(post_create(writer(iat=int(time.time()) + 120)),
                                detail="JWT Token issued in the future")

    def test_issued_10s_in_the_future_is_within_the_leeway(self):
        self.assertEqual(post_create(writer(iat=int(time.time()) + 10)).status, 201)

    def test_not_before_10s_from_now_is_within_the_leeway(self):
        self.assertEqual(post_create(writer(nbf=int(time.time()) + 10)).status, 201)

    def test_not_before_two_minutes_from_now_is_refused(self):
        self.assertUnauthorized(post_create(writer(nbf=int(time.time()) + 120)))


class TestJwtHeader(GuardCase):
    """Only HS256, and no header extension we do not understand (RFC 7515 4.1.11)."""

    def test_crit_header_is_refused(self):
        self.assertUnauthorized(post_create(sign_jwt(user_claims(tenant_id=TENANT), header={"crit": ["exp"]})))

    def test_hs512_with_the_right_secret_is_refused(self):
        self.assertUnauthorized(post_create(sign_jwt(user_claims(tenant_id=TENANT), alg="HS512")))

    def test_scheme_name_is_case_insensitive(self):
        for scheme in ("bearer", "BEARER"):
            self.assertEqual(post_create(writer(), scheme=scheme).status, 201, scheme)


class TestChallenges(GuardCase):
    """RFC 6750: a missing credential gets the bare challenge, a bad one says invalid_token."""

    def test_no_credential_gets_the_bare_challenge(self):
        self.assertUnauthorized(post_create(None), credential_given=False)

    def test_a_bad_credential_gets_invalid_token(self):
        self.assertUnauthorized(post_create(api_token(valid_checksum=False)), detail="Invalid API token")


# ------------------------------------------------------------ the database

class TestTyposCostNoDatabase(GuardCase):
    """An API token's shape and checksum are checked locally: a typo is refused with the database down."""

    def test_bad_checksum_is_401_while_the_database_is_down(self):
        dead = f"postgresql://nobody:nothing@127.0.0.1:{free_port()}/nowhere"
        with Gateway(PGRST_DB_URI=dead, FYNN_CACHE_SIZE=0) as gw:
            self.assertUnauthorized(post_create(api_token(valid_checksum=False), port=gw.port),
                                    detail="Invalid API token")
            self.assertUnauthorized(post_create(remember("api_" + "A" * 37), port=gw.port))
            # A well-formed token does go to the database, which is down: that is what was spared.
            self.assertEqual(post_create(api_token(), port=gw.port).status, 503)


class TestDatabaseTimeout(GuardCase):
    def test_a_statement_past_the_timeout_is_504(self):
        with insert_trigger("PERFORM pg_sleep(4);"), Gateway(FYNN_DB_TIMEOUT=1) as gw:
            reply = post_create(writer(), port=gw.port, timeout=20)
            self.assertEqual(reply.status, 504, reply)
            self.assertEqual(reply.json()["detail"], "The database did not answer in time.")


class TestRequestHeaders(GuardCase):
    """request.headers carries the allow-listed headers only: never Authorization or Cookie."""

    def test_credentials_never_reach_request_headers(self):
        psql("DROP TABLE IF EXISTS public.mutation_guard_headers;"
             " CREATE TABLE public.mutation_guard_headers (headers text)")
        try:
            with insert_trigger("INSERT INTO public.mutation_guard_headers"
                                " VALUES (current_setting('request.headers', true));"):
                credential = writer()
                cookie = remember("session=" + os.urandom(8).hex())
                reply = create({"description": "headers"}, credential,
                               extra={"Cookie": cookie, "X-Request-Id": "guard-" + RUN})
                self.assertEqual(reply.status, 201, reply)
            headers = json.loads(psql("SELECT headers FROM public.mutation_guard_headers"))
        finally:
            psql("DROP TABLE IF EXISTS public.mutation_guard_headers")
        self.assertEqual(headers.get("x-request-id"), "guard-" + RUN)
        self.assertEqual(headers.get("content-type"), "application/json")
        self.assertNotIn("authorization", headers)
        self.assertNotIn("cookie", headers)


# ------------------------------------------------------------ request heads

class TestFraming(GuardCase):
    """Ambiguous framing is refused before the body is read (request smuggling)."""

    def head(self, framing):
        return (f"POST {PATH} HTTP/1.1\r\nHost: guards\r\nAuthorization: Bearer {writer()}\r\n"
                f"Content-Type: application/json\r\n{framing}\r\n").encode()

    def test_two_content_lengths_are_400(self):
        self.assertIn(" 400 ", raw_exchange(self.head("Content-Length: 2\r\nContent-Length: 2\r\n"), [b"{}"]))

    def test_content_length_and_chunked_are_400(self):
        status = raw_exchange(self.head("Content-Length: 2\r\nTransfer-Encoding: chunked\r\n"),
                              [b"2\r\n{}\r\n0\r\n\r\n"])
        self.assertIn(" 400 ", status)

    def test_a_body_of_exactly_64_kib_is_taken(self):
        body = '{"description": "exactly 64 KiB"}'
        body += " " * (64 * 1024 - len(body))
        self.assertEqual(create(body, writer()).status, 201)


class TestContentType(GuardCase):
    def test_json_in_another_charset_is_415(self):
        self.assertEqual(post_create(writer(), content_type="application/json; charset=latin1").status, 415)

    def test_a_longer_media_type_is_415(self):
        self.assertEqual(post_create(writer(), content_type="application/jsonx").status, 415)

    def test_utf8_in_either_spelling_is_taken(self):
        for ct in ("application/json; charset=UTF-8", 'application/json;charset="utf8"'):
            self.assertEqual(post_create(writer(), content_type=ct).status, 201, ct)


class TestRouting(GuardCase):
    def test_a_percent_escape_reaches_no_route(self):
        auth = bearer(writer())
        for method, path in (("DELETE", PATH + "/curren%74"), ("GET", PATH + "/%41BCDEFGHIJKLMNOPQRST")):
            reply = request(method, path, headers=auth)
            self.assertEqual((reply.status, reply.json()["detail"]), (404, "Not Found"), (method, path))

    def test_head_is_get_without_the_body(self):
        reply = request("HEAD", "/health")
        self.assertEqual(reply.status, 200, reply)
        self.assertEqual(reply.body, b"")


# ------------------------------------------------------- the verify cache

class TestVerifyCache(GuardCase):
    """Forward-auth's cache of API tokens never outlives what the database says."""

    def test_a_notified_revocation_evicts(self):
        with Gateway() as gw:
            wait_listening(gw)
            token, token_id, _ = issue(writer(), gw.port)
            self.assertServedFromCache(gw, token)
            psql(f"UPDATE fynn_tokens.api_token SET revoked_at = now() WHERE id = '{token_id}'")
            self.assertTrue(eventually(lambda: forward_auth(token, gw.port).status == 401, 5),
                            "a revoked token was still honoured 5 s after its revocation")

    def test_an_expired_token_is_not_served(self):
        with Gateway() as gw:
            wait_listening(gw)
            expiry = int(time.time()) + 3
            token, _, _ = issue(writer(), gw.port, expiresAt=iso(expiry))
            self.assertServedFromCache(gw, token)
            time.sleep(max(0.0, expiry - time.time()) + 0.3)
            self.assertUnauthorized(forward_auth(token, gw.port))

    def test_an_unannounced_change_lasts_at_most_the_max_age(self):
        with Gateway(FYNN_CACHE_MAX_AGE=1) as gw:
            wait_listening(gw)
            token, token_id, _ = issue(writer(), gw.port)
            self.assertServedFromCache(gw, token)
            revoke_unannounced(token_id)
            time.sleep(1.3)
            self.assertUnauthorized(forward_auth(token, gw.port))

    def test_what_was_cached_before_a_listener_outage_is_forgotten(self):
        with Gateway() as gw:
            wait_listening(gw)
            token, token_id, _ = issue(writer(), gw.port)
            self.assertServedFromCache(gw, token)
            revoke_unannounced(token_id)  # as if announced while the listener was away
            reconnects = metric("fynn_gateway_listener_reconnects_total", gw.port)
            psql("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                 " WHERE application_name = 'fynn-gateway-listener' AND datname = current_database()")
            self.assertTrue(eventually(lambda: metric("fynn_gateway_listener_reconnects_total", gw.port) > reconnects
                                       and metric("fynn_gateway_listener_up", gw.port) == 1, 10),
                            "the listener did not come back")
            self.assertUnauthorized(forward_auth(token, gw.port))

    def test_a_verification_that_overlapped_a_change_is_not_cached(self):
        # One database connection: /auth waits for it while a slow create holds it (1.5 s,
        # within the pool's 2 s wait), and a change is announced meanwhile; what /auth then
        # reads may predate the change, so it must not be cached.
        with insert_trigger("PERFORM pg_sleep(1.5);"), Gateway(PGRST_DB_POOL=1) as gw:
            wait_listening(gw)
            token, token_id, _ = issue(writer(tenant_id="guards-fast-" + RUN), gw.port)
            _, other_id, _ = issue(writer(tenant_id="guards-fast-" + RUN), gw.port)
            results = {}
            slow = threading.Thread(target=lambda: results.update(slow=post_create(writer(), port=gw.port)))
            slow.start()
            time.sleep(0.2)
            verifying = threading.Thread(target=lambda: results.update(auth=forward_auth(token, gw.port)))
            verifying.start()
            time.sleep(0.2)
            psql(f"UPDATE fynn_tokens.api_token SET revoked_at = now() WHERE id = '{other_id}'")
            slow.join(10)
            verifying.join(10)
            self.assertEqual(results["slow"].status, 201, results["slow"])
            self.assertEqual(results["auth"].status, 200, results["auth"])
            revoke_unannounced(token_id)
            self.assertUnauthorized(forward_auth(token, gw.port))


class TestRevocationBarrier(GuardCase):
    """A revocation through the gateway is answered only once its cache has heard of it."""

    def test_the_answer_waits_for_the_listener(self):
        with Gateway() as gw:
            wait_listening(gw)
            credential = writer()
            _, token_id, _ = issue(credential, gw.port)
            paused = listener_pids()
            self.assertTrue(paused, "no listener connection to pause")
            for pid in paused:
                os.kill(pid, signal.SIGSTOP)
            try:
                started = time.monotonic()
                reply = request("DELETE", f"{PATH}/{token_id}", headers=bearer(credential), port=gw.port)
                elapsed = time.monotonic() - started
            finally:
                for pid in paused:
                    os.kill(pid, signal.SIGCONT)
            self.assertEqual(reply.status, 204, reply)
            self.assertGreaterEqual(elapsed, 0.19, "the 204 did not wait for the listener to hear of it")


ORDER = [TestJwtTimeClaims, TestJwtHeader, TestChallenges, TestTyposCostNoDatabase, TestDatabaseTimeout,
         TestRequestHeaders, TestFraming, TestContentType, TestRouting, TestVerifyCache, TestRevocationBarrier]

# A short subset for the valgrind run of scripts/test-http.sh.
SMOKE = ["TestJwtTimeClaims.test_issued_two_minutes_in_the_future_is_refused",
         "TestJwtHeader.test_crit_header_is_refused",
         "TestFraming.test_two_content_lengths_are_400",
         "TestRouting.test_a_percent_escape_reaches_no_route"]


if __name__ == "__main__":
    sys.exit(gateway_client.main(sys.modules[__name__]))
