"""The HTTP contract of fynn-gateway, one test per status and cause.

Run by scripts/test-http.sh, which starts a cluster, the extension and the
gateway, and passes their coordinates in the environment.  Reads like the
contract: ../shared/spec/create-api-token.openapi.yaml and its README.
"""
import os
import re
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from gateway_client import (  # noqa: E402
    GATEWAY_BIN, JWT_SECRET, PATH, WRITE, api_token, cluster, create, free_port,
    psql, raw_exchange, remember, request, sign_jwt, user_claims, user_jwt, wait_for_port,
)

PROBLEM = "application/problem+json; charset=utf-8"
JSON = "application/json; charset=utf-8"
TOO_SHORT = "9ff3fdc4-b214-49db-8718-39c315e33d45"
TOO_LONG = "d94b19cc-114f-4f44-9cc4-4138e80a87b9"
FUTURE = "2099-01-01T00:00:00+00:00"
EMOJI = "\U0001F600"  # 4 bytes in UTF-8, one code point


class ContractCase(unittest.TestCase):
    maxDiff = None

    def assertProblem(self, reply, status, detail=None):
        """The API Platform error body: type, title, status, detail."""
        self.assertEqual(reply.status, status, reply)
        self.assertEqual(reply.header("Content-Type"), PROBLEM)
        body = reply.json()
        self.assertEqual(body["type"], f"/errors/{status}")
        self.assertEqual(body["title"], "An error occurred")
        self.assertEqual(body["status"], status)
        self.assertIsInstance(body["detail"], str)
        if detail is not None:
            self.assertEqual(body["detail"], detail)
        return body

    def assertUnauthorized(self, reply, credential_given=True):
        self.assertProblem(reply, 401)
        expected = 'Bearer error="invalid_token"' if credential_given else "Bearer"
        self.assertEqual(reply.header("WWW-Authenticate"), expected)

    def assertViolations(self, reply, expected):
        """422: violations as in the spec, detail joined by newlines, type naming the codes."""
        self.assertEqual(reply.status, 422, reply)
        self.assertEqual(reply.header("Content-Type"), PROBLEM)
        body = reply.json()
        self.assertEqual(list(body), ["status", "violations", "detail", "type", "title"])
        self.assertEqual(body["status"], 422)
        self.assertEqual(body["title"], "An error occurred")
        self.assertEqual([(v["propertyPath"], v["code"]) for v in body["violations"]], expected)
        self.assertEqual(body["detail"], "\n".join(
            f'{v["propertyPath"]}: {v["message"]}' for v in body["violations"]))
        codes = [code for _, code in expected]
        if len(codes) == 1:
            self.assertEqual(body["type"], f"/validation_errors/{codes[0]}")
        else:
            self.assertEqual(body["type"], "/validation_errors/" + ";".join(
                f"{i}={c}" for i, c in enumerate(codes)))
        return body


class Test201Created(ContractCase):
    def test_201_body_matches_the_schema_and_location_names_the_token(self):
        reply = create({"description": "My API token", "expiresAt": FUTURE}, user_jwt(),
                       content_type="application/json; charset=utf-8")
        self.assertEqual(reply.status, 201, reply)
        self.assertEqual(reply.header("Content-Type"), JSON)
        body = reply.json()
        self.assertEqual(sorted(body), ["description", "expiresAt", "id", "token"])
        self.assertRegex(body["id"], r"^[0-9A-Z]{20}$")
        self.assertRegex(body["token"], r"^api_[0-9A-Za-z]{38}$")
        self.assertEqual(body["description"], "My API token")
        self.assertIsInstance(body["expiresAt"], str)
        self.assertEqual(reply.header("Location"), f"{PATH}/{body['id']}")

    def test_201_with_nulls_and_unknown_keys(self):
        reply = create({"description": None, "expiresAt": None, "unknown": 1}, user_jwt())
        self.assertEqual(reply.status, 201, reply)
        body = reply.json()
        self.assertIsNone(body["description"])
        self.assertIsNone(body["expiresAt"])

    def test_201_with_an_issued_api_token_as_bearer(self):
        first = create({"description": "parent token"}, user_jwt())
        self.assertEqual(first.status, 201, first)
        self.assertEqual(psql(f"SELECT last_used_at IS NULL FROM fynn_tokens.api_token"
                              f" WHERE id = '{first.json()['id']}'"), "t")
        second = create({"description": "child token"}, first.json()["token"])
        self.assertEqual(second.status, 201, second)
        self.assertNotEqual(first.json()["id"], second.json()["id"])
        # The use is recorded on the token that authenticated, not on the new one.
        self.assertEqual(psql(f"SELECT last_used_at IS NOT NULL FROM fynn_tokens.api_token"
                              f" WHERE id = '{first.json()['id']}'"), "t")
        self.assertEqual(psql(f"SELECT last_used_at IS NULL FROM fynn_tokens.api_token"
                              f" WHERE id = '{second.json()['id']}'"), "t")

    def test_201_with_jwt_expired_within_the_30s_leeway(self):
        reply = create({"description": "leeway"}, user_jwt(exp=int(time.time()) - 10))
        self.assertEqual(reply.status, 201, reply)

    def test_201_with_scope_string_instead_of_permissions(self):
        token = sign_jwt(user_claims(permissions=None, scope="openid " + WRITE))
        self.assertEqual(create({"description": "scoped"}, token).status, 201)

    def test_201_with_4_byte_characters_at_3_and_255_code_points(self):
        for n in (3, 255):
            reply = create({"description": EMOJI * n}, user_jwt())
            self.assertEqual(reply.status, 201, (n, reply))
            self.assertEqual(reply.json()["description"], EMOJI * n)


class Test400BadRequest(ContractCase):
    def test_400_empty_body_is_a_syntax_error(self):
        self.assertProblem(create("", user_jwt()), 400, "Syntax error")

    def test_400_malformed_json_is_a_syntax_error(self):
        self.assertProblem(create('{"description": "abc"', user_jwt()), 400, "Syntax error")

    def test_400_invalid_utf8_is_a_syntax_error(self):
        self.assertProblem(create(b'{"description": "\xff\xfe\xfd"}', user_jwt()), 400, "Syntax error")

    def test_400_wrong_type(self):
        self.assertProblem(create({"description": 5}, user_jwt()), 400,
                           'The type of the "description" attribute must be "string", "integer" given.')

    def test_400_non_object_bodies(self):
        for body in ("[]", '"text"', "42", "null"):
            self.assertProblem(create(body, user_jwt()), 400)

    def test_400_bad_dates(self):
        for date in ("now", "tomorrow", "2021-02-31T00:00:00+00:00", "2031-01-01T00:00:00",
                     "2031-01-01", "2031-13-01T00:00:00Z"):
            reply = create({"description": "dated", "expiresAt": date}, user_jwt())
            self.assertProblem(reply, 400)
            self.assertIn("expiresAt", reply.json()["detail"], date)

    def test_400_nul_escape_reaches_the_extension(self):
        self.assertProblem(create('{"description": "a\\u0000bc"}', user_jwt()), 400)


class Test401Unauthorized(ContractCase):
    def test_401_without_credentials(self):
        self.assertUnauthorized(create({"description": "abc"}, None), credential_given=False)

    def test_401_with_another_scheme(self):
        reply = create({"description": "abc"}, None, extra={"Authorization": "Basic dXNlcjpwYXNz"})
        self.assertUnauthorized(reply, credential_given=False)

    def test_401_malformed_jwt(self):
        self.assertUnauthorized(create({"description": "abc"}, remember("not.a.jwt")))

    def test_401_jwt_signed_with_another_secret(self):
        token = sign_jwt(user_claims(), secret="another-secret-another-secret-another-secret")
        self.assertUnauthorized(create({"description": "abc"}, token))

    def test_401_expired_jwt(self):
        self.assertUnauthorized(create({"description": "abc"}, user_jwt(exp=int(time.time()) - 60)))

    def test_401_jwt_not_yet_valid(self):
        self.assertUnauthorized(create({"description": "abc"}, user_jwt(nbf=int(time.time()) + 120)))

    def test_401_jwt_with_alg_none(self):
        self.assertUnauthorized(create({"description": "abc"}, sign_jwt(user_claims(), alg="none")))

    def test_401_jwt_with_alg_hs512(self):
        # The right secret, the wrong algorithm: only HS256 is accepted.
        self.assertUnauthorized(create({"description": "abc"}, sign_jwt(user_claims(), alg="HS512")))

    def test_401_jwt_without_identity(self):
        reply = create({"description": "abc"}, user_jwt(sub=None))
        self.assertUnauthorized(reply)

    def test_401_unknown_api_token(self):
        self.assertUnauthorized(create({"description": "abc"}, api_token()))

    def test_401_api_token_with_bad_checksum(self):
        self.assertUnauthorized(create({"description": "abc"}, api_token(valid_checksum=False)))

    def test_401_api_token_of_the_wrong_length(self):
        self.assertUnauthorized(create({"description": "abc"}, remember("api_tooShort")))

    def test_401_revoked_api_token(self):
        issued = create({"description": "soon revoked"}, user_jwt())
        self.assertEqual(issued.status, 201, issued)
        token, token_id = issued.json()["token"], issued.json()["id"]
        self.assertEqual(create({"description": "still valid"}, token).status, 201)
        psql(f"UPDATE fynn_tokens.api_token SET revoked_at = now() WHERE id = '{token_id}'")
        self.assertUnauthorized(create({"description": "after revoke"}, token))

    def test_401_expired_api_token(self):
        issued = create({"description": "soon expired"}, user_jwt())
        token, token_id = issued.json()["token"], issued.json()["id"]
        psql(f"UPDATE fynn_tokens.api_token SET expires_at = now() - interval '1 minute' WHERE id = '{token_id}'")
        self.assertUnauthorized(create({"description": "after expiry"}, token))


class Test403Forbidden(ContractCase):
    def test_403_without_the_write_permission(self):
        reply = create({"description": "abc"}, user_jwt(permissions=["user:api-token:read"]))
        self.assertProblem(reply, 403)


class Test404NotFound(ContractCase):
    def test_404_unknown_path(self):
        self.assertProblem(request("GET", "/nope"), 404)
        self.assertProblem(request("POST", "/user/api-tokens/extra", "{}"), 404)


class Test405MethodNotAllowed(ContractCase):
    def test_405_get_on_the_token_collection_says_allow_post(self):
        reply = request("GET", PATH, headers={"Authorization": "Bearer " + user_jwt()})
        self.assertProblem(reply, 405)
        self.assertEqual(reply.header("Allow"), "POST")

    def test_405_post_on_probes_says_allow_get(self):
        for path in ("/health", "/ready"):
            reply = request("POST", path, "{}")
            self.assertProblem(reply, 405)
            self.assertEqual(reply.header("Allow"), "GET")


class Test413PayloadTooLarge(ContractCase):
    def head(self, extra):
        return (f"POST {PATH} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {user_jwt()}\r\n"
                f"Content-Type: application/json\r\n{extra}\r\n").encode()

    def test_413_declared_length_is_refused_before_the_body_is_read(self):
        # Only the headers are sent: the answer must not wait for the 64 KiB + 1.
        status = raw_exchange(self.head(f"Content-Length: {64 * 1024 + 1}\r\n"))
        self.assertIn(" 413 ", status)

    def test_413_chunked_body_over_the_limit(self):
        chunk = b"2000\r\n" + b" " * 0x2000 + b"\r\n"
        status = raw_exchange(self.head("Transfer-Encoding: chunked\r\n"), [chunk] * 9 + [b"0\r\n\r\n"])
        self.assertIn(" 413 ", status)

    def test_64_kib_exactly_is_accepted(self):
        body = '{"description": "exactly 64 KiB"}'
        body = body + " " * (64 * 1024 - len(body))
        self.assertEqual(create(body, user_jwt()).status, 201)


class Test415UnsupportedMediaType(ContractCase):
    def test_415_missing_content_type(self):
        self.assertProblem(create({"description": "abc"}, user_jwt(), content_type=None), 415)

    def test_415_wrong_content_type(self):
        for ct in ("text/plain", "application/x-www-form-urlencoded", "application/jsonx",
                   "application/json; charset=latin1"):
            self.assertProblem(create({"description": "abc"}, user_jwt(), content_type=ct), 415)


class Test422Unprocessable(ContractCase):
    def test_422_too_short_counts_code_points(self):
        self.assertViolations(create({"description": EMOJI * 2}, user_jwt()), [("description", TOO_SHORT)])

    def test_422_empty_string_is_too_short(self):
        self.assertViolations(create({"description": ""}, user_jwt()), [("description", TOO_SHORT)])

    def test_422_too_long_counts_code_points(self):
        self.assertViolations(create({"description": EMOJI * 256}, user_jwt()), [("description", TOO_LONG)])

    def test_422_expires_at_in_the_past(self):
        reply = create({"description": "old", "expiresAt": "2001-01-01T00:00:00+00:00"}, user_jwt())
        self.assertEqual(reply.status, 422, reply)
        violations = reply.json()["violations"]
        self.assertEqual([v["propertyPath"] for v in violations], ["expiresAt"])
        self.assertViolations(reply, [("expiresAt", violations[0]["code"])])

    def test_422_several_violations(self):
        reply = create({"description": "ab", "expiresAt": "2001-01-01T00:00:00Z"}, user_jwt())
        self.assertEqual(reply.status, 422, reply)
        codes = [v["code"] for v in reply.json()["violations"]]
        self.assertEqual(len(codes), 2)
        self.assertEqual(codes[0], TOO_SHORT)
        self.assertViolations(reply, [("description", TOO_SHORT), ("expiresAt", codes[1])])
        self.assertIn("\n", reply.json()["detail"])


class TestProbes(ContractCase):
    def test_health_is_200_while_the_process_is_up(self):
        reply = request("GET", "/health")
        self.assertEqual(reply.status, 200)
        self.assertEqual(reply.json(), {"status": "ok"})

    def test_ready_is_200_when_the_database_answers(self):
        reply = request("GET", "/ready")
        self.assertEqual(reply.status, 200)
        self.assertEqual(reply.json(), {"status": "ok"})


class TestNoSecretsInTheDatabase(ContractCase):
    def test_cookie_and_authorization_are_not_passed_on(self):
        # The runner greps the postgres log (log_statement=all) for this cookie and JWT.
        cookie = remember("session=" + "c00k1e" + os.urandom(8).hex())
        reply = create({"description": "with cookie"}, user_jwt(), extra={"Cookie": cookie, "X-Trace": "t1"})
        self.assertEqual(reply.status, 201, reply)


class TestConfiguration(ContractCase):
    """Bad configuration: refuse to start, say why, exit 1."""

    def run_gateway(self, **env):
        base = {k: v for k, v in os.environ.items() if not k.startswith("PGRST_")}
        base.update({"PGRST_DB_URI": os.environ.get("GATEWAY_DB_URI", "postgres:///nowhere"),
                     "PGRST_JWT_SECRET": "s" * 40, "PGRST_SERVER_PORT": str(free_port())})
        for k, v in env.items():
            if v is None:
                base.pop(k, None)
            else:
                base[k] = v
        return subprocess.run([GATEWAY_BIN], env=base, capture_output=True, text=True, timeout=10)

    def assertRefused(self, name, **env):
        proc = self.run_gateway(**env)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn(name, proc.stderr)

    def test_missing_secret(self):
        self.assertRefused("PGRST_JWT_SECRET", PGRST_JWT_SECRET=None)

    def test_short_secret(self):
        self.assertRefused("PGRST_JWT_SECRET", PGRST_JWT_SECRET="s" * 31)

    def test_missing_db_uri(self):
        self.assertRefused("PGRST_DB_URI", PGRST_DB_URI=None)

    def test_bad_ports(self):
        for port in ("abc", "0", "65536", "80x", "-1"):
            self.assertRefused("PGRST_SERVER_PORT", PGRST_SERVER_PORT=port)

    def test_bad_pool(self):
        for pool in ("0", "-3", "ten"):
            self.assertRefused("PGRST_DB_POOL", PGRST_DB_POOL=pool)

    def test_bad_log_level(self):
        self.assertRefused("FYNN_LOG_LEVEL", FYNN_LOG_LEVEL="loud")

    def test_audience_is_checked_when_configured(self):
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PGRST_")}
        env.update({"PGRST_DB_URI": os.environ["GATEWAY_DB_URI"], "PGRST_JWT_SECRET": JWT_SECRET,
                    "PGRST_JWT_AUD": "fynn-api", "PGRST_SERVER_PORT": str(port), "PGRST_DB_POOL": "1"})
        log = open(os.environ.get("GATEWAY_AUD_LOG", os.devnull), "a")
        proc = subprocess.Popen([GATEWAY_BIN], env=env, stdout=log, stderr=log)
        try:
            self.assertTrue(wait_for_port(port, proc), "gateway with PGRST_JWT_AUD did not start")
            self.assertEqual(create({"description": "aud"}, user_jwt(aud="fynn-api"), port=port).status, 201)
            self.assertEqual(create({"description": "aud"}, user_jwt(aud=["x", "fynn-api"]), port=port).status, 201)
            self.assertUnauthorized(create({"description": "aud"}, user_jwt(aud="other"), port=port))
            self.assertUnauthorized(create({"description": "aud"}, user_jwt(), port=port))
        finally:
            proc.terminate()
            proc.wait(10)
            log.close()


class TestDatabaseRestart(ContractCase):
    """Runs last: stops the cluster under the running gateway and starts it again."""

    def test_503_while_the_database_is_down_then_201_again(self):
        token = user_jwt()
        self.assertEqual(create({"description": "before"}, token).status, 201)
        cluster("stop")
        try:
            started = time.monotonic()
            reply = create({"description": "during"}, token)
            self.assertLess(time.monotonic() - started, 3.0)
            self.assertProblem(reply, 503)
            started = time.monotonic()
            self.assertProblem(request("GET", "/ready"), 503)
            self.assertLess(time.monotonic() - started, 3.0)
            self.assertEqual(request("GET", "/health").status, 200)
        finally:
            cluster("start")
        reply = create({"description": "after"}, token)
        self.assertEqual(reply.status, 201, reply)
        self.assertEqual(request("GET", "/ready").status, 200)


ORDER = [Test201Created, Test400BadRequest, Test401Unauthorized, Test403Forbidden, Test404NotFound,
         Test405MethodNotAllowed, Test413PayloadTooLarge, Test415UnsupportedMediaType,
         Test422Unprocessable, TestProbes, TestNoSecretsInTheDatabase, TestConfiguration,
         TestDatabaseRestart]

# A short subset for the valgrind run: every code path of a request, few requests.
SMOKE = ["Test201Created.test_201_with_an_issued_api_token_as_bearer",
         "Test400BadRequest.test_400_empty_body_is_a_syntax_error",
         "Test400BadRequest.test_400_wrong_type",
         "Test401Unauthorized.test_401_jwt_with_alg_none",
         "Test401Unauthorized.test_401_unknown_api_token",
         "Test404NotFound.test_404_unknown_path",
         "Test405MethodNotAllowed.test_405_get_on_the_token_collection_says_allow_post",
         "Test413PayloadTooLarge.test_413_declared_length_is_refused_before_the_body_is_read",
         "Test415UnsupportedMediaType.test_415_missing_content_type",
         "Test422Unprocessable.test_422_several_violations",
         "TestProbes.test_ready_is_200_when_the_database_answers"]


def main():
    """Runs the suite in contract order (the restart test last) and writes 'passed failed' for the runner."""
    loader = unittest.TestLoader()
    if len(sys.argv) > 1 and sys.argv[1] == "smoke":
        suite = unittest.TestSuite(loader.loadTestsFromName(name, sys.modules[__name__]) for name in SMOKE)
    else:
        suite = unittest.TestSuite(loader.loadTestsFromTestCase(case) for case in ORDER)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors)
    passed = result.testsRun - failed - len(result.skipped)
    counts = os.environ.get("GATEWAY_COUNTS_FILE")
    if counts:
        with open(counts, "w") as f:
            f.write(f"{passed} {failed}\n")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
