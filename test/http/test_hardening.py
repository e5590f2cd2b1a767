"""Regression tests for the findings of the gateway's security review (issue
8): one test per finding, each failing on the gateway before the fix.

Run by scripts/test-http.sh.  The slow-client tests start a gateway of
their own with short deadlines.
"""
import json
import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gateway_client  # noqa: E402
from gateway_client import (  # noqa: E402
    PATH, READ, REVOKE_PATH, WRITE, ContractCase, Gateway, KeepAlive, bearer, connect, create,
    issue, jwt_with_raw_claim, list_tokens, metric, parse_head, pg_log_offset, pg_log_since, psql,
    raw_request, read_until_closed, remember, report_leak, request, rw_jwt, sign_jwt, user_claims, user_jwt,
    works,
)


def nested_claims(depth):
    """Valid claims plus one claim nested depth arrays deep, written compactly ([[[...]]])."""
    text = json.dumps(user_claims(), separators=(",", ":"))
    return (text[:-1] + ',"deep":' + "[" * depth + "]" * depth + "}").encode()


def rows_of(user):
    return int(psql(f"SELECT count(*) FROM fynn_tokens.api_token WHERE user_id = '{user}'"))


# ============================================================ deep JSON

class TestDeeplyNestedJwtClaims(ContractCase):
    """A signed claim nested 1,700 arrays deep overflowed a request thread's stack (re-serialised recursively)."""

    def assertRefusedAndAlive(self, depth):
        payload = nested_claims(depth)
        token = sign_jwt(None, payload=payload)
        self.assertLess(len(token) + 100, 32 * 1024, "the header must fit MHD's 32 KiB limit")
        self.assertUnauthorized(create({"description": "deep claims"}, token))
        self.assertEqual(request("GET", "/health").status, 200, "the gateway died")

    def test_401_for_a_claim_nested_1700_deep_and_the_gateway_lives(self):
        self.assertRefusedAndAlive(1700)

    def test_401_for_a_claim_nested_5000_deep_and_the_gateway_lives(self):
        self.assertRefusedAndAlive(5000)

    def test_401_on_forward_auth_too(self):
        reply = request("GET", "/auth", headers=bearer(sign_jwt(None, payload=nested_claims(1700))))
        self.assertUnauthorized(reply)
        self.assertEqual(request("GET", "/health").status, 200)

    def test_a_claim_nested_20_deep_is_accepted(self):
        self.assertCreated(create({"description": "shallow claims"}, sign_jwt(None, payload=nested_claims(20))))


class TestDeeplyNestedBodies(ContractCase):
    def body(self, depth):
        text = '{"description":"deep body","x":' + "[" * depth + "]" * depth + "}"
        self.assertLessEqual(len(text), 64 * 1024)
        return text + " " * (64 * 1024 - len(text))

    def test_a_64_kib_body_nested_2000_deep_is_answered_without_a_crash(self):
        reply = create(self.body(2000), user_jwt())
        self.assertIn(reply.status, (201, 400), reply)
        self.assertEqual(request("GET", "/health").status, 200)

    def test_a_body_nested_3000_deep_is_a_syntax_error(self):
        self.assertProblem(create(self.body(3000), user_jwt()), 400, "Syntax error")
        self.assertEqual(request("GET", "/health").status, 200)


# ======================================================== slow clients

class TestSlowClients(ContractCase):
    """Slowloris: one client held a thread per connection forever, and as many connections as it liked."""

    HEAD_TIMEOUT = 2
    READ_TIMEOUT = 4
    PER_IP = 32

    @classmethod
    def setUpClass(cls):
        cls.gateway = Gateway(FYNN_REQUEST_HEAD_TIMEOUT=cls.HEAD_TIMEOUT, FYNN_REQUEST_READ_TIMEOUT=cls.READ_TIMEOUT,
                              FYNN_MAX_CONNECTIONS_PER_IP=cls.PER_IP, FYNN_MAX_CONNECTIONS=200, PGRST_DB_POOL=2)

    @classmethod
    def tearDownClass(cls):
        cls.gateway.stop()

    def slow_connection(self, head, results, index, seconds=8):
        """Sends one byte of head a second (at most `seconds`); records when the server closed it, or None."""
        started = time.monotonic()
        try:
            sock = connect(self.gateway.port, source="127.0.0.2")
        except OSError:
            results[index] = 0.0
            return
        try:
            for i in range(seconds):
                try:
                    sock.sendall(head[i:i + 1])
                except OSError:
                    results[index] = time.monotonic() - started
                    return
                _, closed = read_until_closed(sock, timeout=max(0.0, started + i + 1 - time.monotonic()))
                if closed:
                    results[index] = time.monotonic() - started
                    return
        finally:
            sock.close()

    def test_per_address_limit_health_stays_fast_and_slow_heads_are_closed(self):
        closed_before = metric("fynn_gateway_slow_clients_closed_total", port=self.gateway.port)
        results = [None] * 100
        head = b"GET /health HTTP/1.1\r\nHost: slow\r\n"
        threads = [threading.Thread(target=self.slow_connection, args=(head, results, i), daemon=True)
                   for i in range(100)]
        for t in threads:
            t.start()
        probes = []
        while any(t.is_alive() for t in threads):
            reply = request("GET", "/health", port=self.gateway.port, timeout=5)
            probes.append((reply.status, reply.seconds))
            time.sleep(0.1)
        for t in threads:
            t.join()
        refused = [r for r in results if r is not None and r < 0.5]
        held = [r for r in results if r is None or r >= 0.5]
        self.assertGreaterEqual(len(refused), 100 - self.PER_IP, results)
        self.assertTrue(all(r is not None for r in results), "a slow connection was never closed")
        self.assertTrue(all(r <= self.HEAD_TIMEOUT + 1 for r in held), held)
        self.assertGreaterEqual(len(probes), 10)  # a probe every 0.1 s while the slow connections lived
        self.assertEqual({status for status, _ in probes}, {200}, probes)
        self.assertLess(max(seconds for _, seconds in probes), 1.0, probes)
        self.assertGreaterEqual(metric("fynn_gateway_slow_clients_closed_total", port=self.gateway.port),
                                closed_before + len(held))

    def test_a_slow_body_is_closed_after_the_read_timeout(self):
        closed_before = metric("fynn_gateway_slow_clients_closed_total", port=self.gateway.port)
        body = b'{"description": "slowly sent"}'
        head = (f"POST {PATH} HTTP/1.1\r\nHost: slow\r\nAuthorization: Bearer {user_jwt()}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        started = time.monotonic()
        sock = connect(self.gateway.port)
        try:
            sock.sendall(head)
            closed_after = None
            for i in range(len(body)):
                try:
                    sock.sendall(body[i:i + 1])
                except OSError:
                    closed_after = time.monotonic() - started
                    break
                data, closed = read_until_closed(sock, timeout=1)
                self.assertNotIn(b"201", data)
                if closed:
                    closed_after = time.monotonic() - started
                    break
        finally:
            sock.close()
        self.assertIsNotNone(closed_after, "the slow body was read to its end")
        self.assertGreaterEqual(closed_after, self.READ_TIMEOUT - 0.5)
        self.assertLessEqual(closed_after, self.READ_TIMEOUT + 1)
        self.assertGreater(metric("fynn_gateway_slow_clients_closed_total", port=self.gateway.port), closed_before)


# ============================================================== framing

class TestFraming(ContractCase):
    """Request smuggling: ambiguous framing must be refused and the connection closed, the rest never read."""

    def smuggle(self, framing, status):
        victim, victim_id, _ = issue()
        leak = json.dumps({"token": victim}).encode()
        hidden = (f"POST {REVOKE_PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  f"Content-Length: {len(leak)}\r\n\r\n").encode() + leak + b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
        head, body = framing(hidden)
        data, closed = raw_request(
            f"POST {PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {user_jwt()}\r\n"
            f"Content-Type: application/json\r\n".encode() + head + b"\r\n" + body)
        got, headers = parse_head(data)
        self.assertEqual(got, status, data)
        # libmicrohttpd 0.9.75 writes its own 400's head twice; whatever it writes, it is that one answer.
        self.assertEqual({int(s) for s in re.findall(rb"HTTP/1\.1 (\d{3}) ", data)}, {status}, data)
        self.assertEqual(headers.get("connection", "").lower(), "close", data)
        self.assertTrue(closed, "the connection stayed open")
        self.assertNotIn(b'{"status":"ok"}', data)
        self.assertTrue(works(victim, victim_id), "the smuggled revoke ran")

    def test_400_two_content_lengths_of_the_same_value(self):
        self.smuggle(lambda rest: (b"Content-Length: 2\r\nContent-Length: 2\r\n", b"{}" + rest), 400)

    def test_400_two_content_lengths_of_different_values(self):
        self.smuggle(lambda rest: (f"Content-Length: 2\r\nContent-Length: {2 + len(rest)}\r\n".encode(),
                                   b"{}" + rest), 400)

    def test_400_content_length_with_transfer_encoding_chunked(self):
        self.smuggle(lambda rest: (f"Content-Length: {5 + len(rest)}\r\nTransfer-Encoding: chunked\r\n".encode(),
                                   b"0\r\n\r\n" + rest), 400)

    def test_400_transfer_encoding_gzip(self):
        self.smuggle(lambda rest: (b"Transfer-Encoding: gzip\r\n", rest), 400)

    def test_501_transfer_encoding_gzip_chunked(self):
        self.smuggle(lambda rest: (b"Transfer-Encoding: gzip, chunked\r\n", b"0\r\n\r\n" + rest), 501)

    def test_400_transfer_encoding_chunked_twice(self):
        self.smuggle(lambda rest: (b"Transfer-Encoding: chunked, chunked\r\n", b"0\r\n\r\n" + rest), 400)

    def test_400_space_before_the_colon(self):
        self.smuggle(lambda rest: (b"Content-Length : 2\r\n", b"{}" + rest), 400)

    def test_400_tab_in_a_header_name(self):
        self.smuggle(lambda rest: (b"Content\tLength: 2\r\n", b"{}" + rest), 400)

    def test_400_content_length_with_a_plus_sign(self):
        # libmicrohttpd refuses this one itself.
        self.smuggle(lambda rest: (b"Content-Length: +2\r\n", b"{}" + rest), 400)


class TestEarlyAnswers(ContractCase):
    """An answer given before the body was read: the unread body must never be read as the next request."""

    HIDDEN = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"

    def assertClosedUnread(self, head, status):
        data, closed = raw_request(head + self.HIDDEN + b"GET /live HTTP/1.1\r\nHost: x\r\n\r\n")
        got, headers = parse_head(data)
        self.assertEqual(got, status, data)
        self.assertEqual(len(re.findall(rb"HTTP/1\.1 \d{3} ", data)), 1, data)
        self.assertEqual(headers.get("connection", "").lower(), "close", data)
        self.assertTrue(closed)

    def head(self, method, path, *headers):
        return (f"{method} {path} HTTP/1.1\r\nHost: x\r\n" + "".join(h + "\r\n" for h in headers) +
                f"Content-Length: {len(self.HIDDEN)}\r\n\r\n").encode()

    def test_415_401_404_405_close_the_connection_with_the_body_unread(self):
        jwt = f"Authorization: Bearer {user_jwt()}"
        self.assertClosedUnread(self.head("POST", PATH, jwt, "Content-Type: text/plain"), status=415)
        self.assertClosedUnread(self.head("POST", PATH, "Content-Type: application/json"), status=401)
        self.assertClosedUnread(self.head("POST", "/nowhere"), status=404)
        self.assertClosedUnread(self.head("PUT", PATH, jwt), status=405)

    def test_413_closes_the_connection_with_the_body_unread(self):
        head = (f"POST {PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {user_jwt()}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {64 * 1024 + 1}\r\n\r\n").encode()
        self.assertClosedUnread(head, status=413)


class TestTwoCredentials(ContractCase):
    """With two Authorization headers the first counted: a proxy reading the last one saw another caller."""

    def test_400_for_two_authorization_headers(self):
        jwt = rw_jwt()
        token, token_id, _ = issue()
        for first, second in ((jwt, token), (token, jwt)):
            data, closed = raw_request(
                f"DELETE {PATH}/current HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {first}\r\n"
                f"Authorization: Bearer {second}\r\n\r\n".encode())
            status, headers = parse_head(data)
            self.assertEqual(status, 400, data)
            self.assertIn(b"more than one Authorization header", data)
            self.assertTrue(closed)
        self.assertTrue(works(token, token_id))


# ==================================================== 500 where a 4xx is right

class TestFourHundredsNotFiveHundreds(ContractCase):
    ROUTES = [("POST", PATH, '{"description": "abc"}'), ("GET", PATH, None), ("GET", f"{PATH}/{'A' * 20}", None),
              ("DELETE", f"{PATH}/{'A' * 20}", None), ("POST", f"{PATH}/{'A' * 20}/rotate", None),
              ("DELETE", f"{PATH}/current", None), ("GET", "/auth", None)]

    def assertUnauthorizedEverywhere(self, token):
        for method, path, body in self.ROUTES:
            headers = bearer(token)
            if body is not None:
                headers["Content-Type"] = "application/json"
            reply = request(method, path, body, headers)
            self.assertUnauthorized(reply)

    def test_401_for_a_3000_character_sub_on_every_route(self):
        self.assertUnauthorizedEverywhere(user_jwt(sub="u" * 3000, permissions=[WRITE, READ]))

    def test_401_for_a_3000_character_tenant_on_every_route(self):
        self.assertUnauthorizedEverywhere(user_jwt(tenant_id="t" * 3000, permissions=[WRITE, READ]))

    def assertUnsupported(self, content_type):
        reply = create({"description": "abc"}, user_jwt(), content_type=None, extra={"Content-Type": content_type})
        self.assertEqual(reply.status, 415, reply)
        body = json.loads(reply.body.decode("utf-8", "strict"))
        self.assertEqual(body["status"], 415)
        self.assertTrue(body["detail"].startswith("The content-type "), body)

    def test_415_for_a_content_type_with_a_non_utf8_byte(self):
        self.assertUnsupported(b"application/json\xff")

    def test_415_for_a_multibyte_character_cut_at_the_100th_byte(self):
        prefix = b"text/plain; name="
        value = prefix + b"a" * (99 - len(prefix)) + "\u00e9\u00e9".encode()  # bytes 100-101 are one character
        self.assertEqual(value[99:101], "\u00e9".encode())
        self.assertUnsupported(value)

    def test_request_headers_holding_credentials_never_reach_the_database(self):
        request_id = "req-" + os.urandom(8).hex()
        secret_headers = {name: remember(f"{name.lower()}-secret-{os.urandom(12).hex()}")
                          for name in ("X-Api-Key", "X-Forwarded-Authorization", "Proxy-Authorization", "Cookie")}
        offset = pg_log_offset()
        reply = create({"description": "with headers"}, user_jwt(), extra=dict(secret_headers, **{"X-Request-Id": request_id}))
        self.assertCreated(reply)
        logged = pg_log_since(offset)
        self.assertIn(f'"x-request-id":"{request_id}"', logged, "log_statement = all is off: this proves nothing")
        for name, value in secret_headers.items():
            self.assertNotIn(value, logged, name)
            self.assertNotIn(f'"{name.lower()}"', logged, name)


class TestCredentialsNeverReachTheDatabase(ContractCase):
    """A leak report passed the client's body on when it was not {"token": "<string>"}: the secret reached the log."""

    def test_no_shape_of_a_leak_report_sends_the_token(self):
        token, token_id, _ = issue()
        bodies = [json.dumps(token), json.dumps([token]), json.dumps({"token": [token]}),
                  json.dumps({"token": {"value": token}}), json.dumps({"token_sha256": token}),
                  json.dumps({"token_sha256": [token]}), json.dumps({"token_sha256": 5, "token": token}),
                  json.dumps({"token": token, "token_sha256": "0" * 63}),
                  json.dumps({"token": "x" + token}), json.dumps({"other": token}),
                  json.dumps({"token": None, "t": token})]
        offset = pg_log_offset()
        for body in bodies:
            self.assertEqual(report_leak(body).status, 400, body)
        self.assertEqual(report_leak(json.dumps({"token": "api_" + "a" * 38, "x": token})).status, 400)
        logged = pg_log_since(offset)
        self.assertIn("revoke_leaked_api_token", logged, "log_statement = all is off: this proves nothing")
        self.assertFalse(token[4:] in logged, "the token reached the postgres log")
        self.assertTrue(works(token, token_id))


# ================================================================ JWTs

class TestJwtHeaderAndTimeClaims(ContractCase):
    def test_401_crit_header(self):
        self.assertUnauthorized(create({"description": "abc"}, sign_jwt(user_claims(), header={"crit": ["exp"]})))

    def test_401_issued_120_s_in_the_future(self):
        self.assertUnauthorized(create({"description": "abc"}, user_jwt(iat=int(time.time()) + 120)))

    def test_201_issued_10_s_in_the_future_within_the_leeway(self):
        self.assertCreated(create({"description": "abc"}, user_jwt(iat=int(time.time()) + 10)))

    def test_401_alg_none(self):
        self.assertUnauthorized(create({"description": "abc"}, sign_jwt(user_claims(), alg="none")))

    def test_401_alg_hs512(self):
        self.assertUnauthorized(create({"description": "abc"}, sign_jwt(user_claims(), alg="HS512")))

    def test_401_alg_rs256_signed_with_the_secret(self):
        self.assertUnauthorized(create({"description": "abc"}, sign_jwt(user_claims(), alg="RS256")))


# ======================================================= parsing limits

class TestNumbersJanssonCannotHold(ContractCase):
    def test_201_with_an_unknown_key_holding_1e400(self):
        self.assertCreated(create('{"description": "huge", "x": 1e400}', user_jwt()))

    def test_201_with_an_unknown_key_holding_a_30_digit_integer(self):
        self.assertCreated(create('{"description": "huge", "x": 123456789012345678901234567890}', user_jwt()))


class TestRawTarget(ContractCase):
    def test_404_for_a_nul_after_the_collection(self):
        claims = user_claims()
        reply = request("POST", PATH + "%00x", '{"description": "nul"}',
                        dict(bearer(sign_jwt(claims)), **{"Content-Type": "application/json"}))
        self.assertProblem(reply, 404)
        self.assertEqual(rows_of(claims["sub"]), 0)


class TestIdentities(ContractCase):
    def sub(self):
        return str(100_000_000 + int.from_bytes(os.urandom(4), "big") % 800_000_000)

    def assertSameUser(self, creator_raw, lister_raw):
        token_id = issue(jwt_with_raw_claim("sub", creator_raw, permissions=[WRITE, READ]))[1]
        listed = list_tokens(jwt_with_raw_claim("sub", lister_raw, permissions=[WRITE, READ]))
        self.assertEqual(listed.status, 200, listed)
        self.assertEqual([item["id"] for item in listed.json()["data"]], [token_id])

    def test_1e2_and_100_as_a_string_are_one_user(self):
        n = self.sub()
        self.assertSameUser(f"{n[0]}.{n[1:]}e{len(n) - 1}", json.dumps(n))

    def test_1_0_and_1_are_one_user(self):
        n = self.sub()
        self.assertSameUser(n + ".0", n)

    def test_401_sub_beyond_64_bits_rather_than_rounded(self):
        reply = create({"description": "abc"}, jwt_with_raw_claim("sub", "123456789012345678901234567890"))
        self.assertUnauthorized(reply)

    def test_401_whitespace_only_sub(self):
        for sub in (" ", "   ", "\t"):
            self.assertUnauthorized(create({"description": "abc"}, user_jwt(sub=sub)))


# ==================================================== expiry by the clock

class TestExpiryJudgedByTheClock(ContractCase):
    def expiring_token(self):
        token, token_id, _ = issue()
        psql(f"UPDATE fynn_tokens.api_token SET expires_at = now() + interval '1 second' WHERE id = '{token_id}'")
        return token, token_id

    def test_a_token_expiring_in_1_s_is_401_two_seconds_later_on_the_same_connection(self):
        token, token_id = self.expiring_token()
        conn = KeepAlive()
        try:
            self.assertEqual(conn.request("GET", f"{PATH}/{token_id}", headers=bearer(token)).status, 200)
            time.sleep(2)
            self.assertUnauthorized(conn.request("GET", f"{PATH}/{token_id}", headers=bearer(token)))
        finally:
            conn.close()

    def test_forward_auth_judges_a_cached_token_by_the_clock_too(self):
        token, _ = self.expiring_token()
        conn = KeepAlive()
        try:
            for _ in range(2):  # the second answer comes from the cache
                reply = conn.request("GET", "/auth", headers=bearer(token))
                self.assertEqual(reply.status, 200, reply)
                remember(reply.header("X-Fynn-Jwt"))
            time.sleep(2)
            self.assertUnauthorized(conn.request("GET", "/auth", headers=bearer(token)))
        finally:
            conn.close()


SMOKE = ["TestDeeplyNestedJwtClaims.test_401_for_a_claim_nested_1700_deep_and_the_gateway_lives",
         "TestFraming.test_400_two_content_lengths_of_different_values",
         "TestFraming.test_501_transfer_encoding_gzip_chunked",
         "TestEarlyAnswers.test_415_401_404_405_close_the_connection_with_the_body_unread",
         "TestFourHundredsNotFiveHundreds.test_415_for_a_content_type_with_a_non_utf8_byte",
         "TestCredentialsNeverReachTheDatabase.test_no_shape_of_a_leak_report_sends_the_token",
         "TestNumbersJanssonCannotHold.test_201_with_an_unknown_key_holding_1e400"]

if __name__ == "__main__":
    sys.exit(gateway_client.main(sys.modules[__name__]))
