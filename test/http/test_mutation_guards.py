"""What the other modules of test/http did not check, each test named after
the bug it guards against: the gateway mutants of test/mutation/ that
survived every other module (see test/mutation/README.md).

Run by scripts/test-http.sh (or test/mutation/run-mutants.sh) against a
running gateway (GATEWAY_PORT); the tests that need settings of their own
(a dead database, one database connection) start gateways of their own.
"""
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gateway_client  # noqa: E402
from gateway_client import (  # noqa: E402
    PATH, READ, WRITE, ContractCase, Gateway, api_token, bearer, create, free_port, issue, metric,
    psql, remember, request, sign_jwt, user_claims,
)

RUN = os.urandom(3).hex()
TENANT = "guards-" + RUN


def writer(**overrides):
    """A JWT of a fresh user of TENANT who may create, read and revoke tokens."""
    overrides.setdefault("tenant_id", TENANT)
    overrides.setdefault("permissions", [WRITE, READ])
    return sign_jwt(user_claims(**overrides))


def post_create(credential, port=None, scheme="Bearer", timeout=10):
    """POST /user/api-tokens with a small valid body; scheme names the Authorization scheme."""
    extra = {"Authorization": f"{scheme} {credential}"} if credential is not None else {}
    return create({"description": "guarded"}, None, extra=extra, port=port, timeout=timeout)


def forward_auth(token, port=None):
    return request("GET", "/auth", headers=bearer(token), port=port)


def eventually(condition, seconds=5.0, step=0.05):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def slow_inserts(seconds):
    """Every insert of a token of TENANT sleeps first, inside the request's transaction."""
    return gateway_client.slow_inserts(TENANT, seconds)


class TestJwtLeeway(ContractCase):
    """nbf gets PostgREST's 30 s leeway, as exp and iat do: a server a little ahead is no error."""

    def test_not_before_10s_from_now_is_taken(self):
        self.assertEqual(post_create(writer(nbf=int(time.time()) + 10)).status, 201)

    def test_not_before_two_minutes_from_now_is_refused(self):
        self.assertUnauthorized(post_create(writer(nbf=int(time.time()) + 120)), detail="JWT Token not yet valid")


class TestBearerScheme(ContractCase):
    def test_the_scheme_name_is_case_insensitive(self):
        # RFC 7235 section 2.1: "bearer" and "BEARER" are the Bearer scheme.
        for scheme in ("bearer", "BEARER"):
            self.assertEqual(post_create(writer(), scheme=scheme).status, 201, scheme)


class TestTyposCostNoDatabase(ContractCase):
    """An API token's shape and checksum are checked in the gateway: a typo is refused with the database down."""

    def test_a_bad_checksum_is_401_while_the_database_is_down(self):
        dead = f"postgresql://nobody:nothing@127.0.0.1:{free_port()}/nowhere"
        with Gateway(PGRST_DB_URI=dead, FYNN_CACHE_SIZE=0) as gw:
            self.assertUnauthorized(post_create(api_token(valid_checksum=False), port=gw.port),
                                    detail="Invalid API token")
            self.assertUnauthorized(post_create(remember("api_" + "A" * 37), port=gw.port),
                                    detail="Invalid API token")
            # A well-formed token does go to the database, which is down: that is what was spared.
            self.assertEqual(post_create(api_token(), port=gw.port).status, 503)


class TestRouting(ContractCase):
    def test_a_percent_escape_reaches_no_route(self):
        # The gateway's own 404, not the extension's "API token not found.": no function ran.
        auth = bearer(writer())
        for method, path in (("DELETE", PATH + "/curren%74"), ("GET", PATH + "/%41BCDEFGHIJKLMNOPQRST"),
                             ("POST", PATH + "/ABCDEFGHIJKLMNOPQRST/rot%61te")):
            reply = request(method, path, body="{}" if method == "POST" else None, headers=auth)
            self.assertProblem(reply, 404, "Not Found")

    def test_head_is_a_get_without_its_body(self):
        for path in ("/health", "/ready"):
            reply = request("HEAD", path)
            self.assertEqual((reply.status, reply.body), (200, b""), path)


class TestVerifyCache(ContractCase):
    def test_a_verification_that_overlapped_a_change_is_not_cached(self):
        # One database connection: /auth waits for it while a slow create holds it (1.5 s,
        # within the pool's 2 s wait), and a change is announced meanwhile.  What /auth then
        # reads may predate the change (a revocation of this very token, in the race this
        # stands for), so its answer must not be cached: a later unannounced revocation
        # then shows at once.
        with slow_inserts(1.5), Gateway(PGRST_DB_POOL=1) as gw:
            self.assertTrue(eventually(lambda: metric("fynn_gateway_listener_up", gw.port) == 1, 10),
                            "the change listener did not subscribe")
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
            psql("SET session_replication_role = replica;"  # no trigger: no NOTIFY
                 f" UPDATE fynn_tokens.api_token SET revoked_at = now() WHERE id = '{token_id}'")
            self.assertUnauthorized(forward_auth(token, gw.port))


ORDER = [TestJwtLeeway, TestBearerScheme, TestTyposCostNoDatabase, TestRouting, TestVerifyCache]

# For the valgrind run of scripts/test-http.sh.
SMOKE = ["TestBearerScheme.test_the_scheme_name_is_case_insensitive",
         "TestRouting.test_a_percent_escape_reaches_no_route",
         "TestRouting.test_head_is_a_get_without_its_body"]

if __name__ == "__main__":
    sys.exit(gateway_client.main(sys.modules[__name__]))
