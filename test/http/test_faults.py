"""Faults under load: a database backend killed mid-request, an exhausted
pool, a statement past FYNN_DB_TIMEOUT, SIGTERM with requests in flight, a
hung listener.

Requests are made slow by a trigger on fynn_tokens.api_token (created and
dropped through psql, firing for this module's tenant only).  Every test
runs a gateway of its own and checks that nothing was half-issued: every
201 it received verifies afterwards, and no row exists without its 201.

Run by scripts/test-http.sh.
"""
import os
import signal
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gateway_client  # noqa: E402
from gateway_client import (  # noqa: E402
    ContractCase, Gateway, READ, WRITE, bearer, create, in_threads, metric, psql, request, sign_jwt,
    user_claims, wait_for_database, works,
)

TENANT = "faults-" + os.urandom(4).hex()
UNAVAILABLE = "The database is unavailable, try again later."


def slow_inserts(seconds):
    """Every insert of a token of TENANT sleeps first, inside the request's transaction."""
    return gateway_client.slow_inserts(TENANT, seconds)


def busy_backends(seconds=3.0, want=1):
    """The pids of gateway backends running a create, once `want` of them are (or [] after seconds)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        out = psql("SELECT pid FROM pg_stat_activity WHERE application_name = 'fynn-gateway'"
                   " AND state = 'active' AND query LIKE '%create_user_api_token%'")
        pids = [int(p) for p in out.split()]
        if len(pids) >= want:
            return pids
        time.sleep(0.05)
    return []


class FaultCase(ContractCase):
    def setUp(self):
        self.claims = user_claims(tenant_id=TENANT, permissions=[WRITE, READ])
        self.jwt = sign_jwt(self.claims)
        self.issued = []

    def create(self, port, description="under faults", timeout=15):
        """A create whose 201 is remembered, to be verified once the fault is over."""
        reply = create({"description": description}, self.jwt, port=port, timeout=timeout)
        if reply.status == 201:
            self.issued.append(reply.json())
        return reply

    def rows(self):
        return int(psql(f"SELECT count(*) FROM fynn_tokens.api_token"
                        f" WHERE tenant_id = '{TENANT}' AND user_id = '{self.claims['sub']}'"))

    def assertNothingHalfIssued(self, port):
        """Every 201 received is a working token; every row of the user is one of them."""
        self.assertEqual(self.rows(), len(self.issued), "a row exists without its 201 (or a 201 without its row)")
        for answer in self.issued:
            self.assertTrue(works(answer["token"], answer["id"], port=port), answer["id"])


class TestBackendKilledMidRequest(FaultCase):
    def assertKilledMidRequest(self, kill):
        with Gateway(PGRST_DB_POOL=2) as gateway, slow_inserts(2):
            self.assertEqual(self.create(gateway.port).status, 201)
            started = time.monotonic()
            results = in_threads([lambda: (self.create(gateway.port), time.monotonic()),
                                  lambda: kill(busy_backends())])
            reply, answered = results[0]
            self.assertNotIsInstance(results[1], Exception, results[1])
            self.assertProblem(reply, 503, UNAVAILABLE)
            self.assertLess(answered - started, 8)
            wait_for_database()
            # The gateway recovers by itself: the next request is served.
            self.assertEqual(self.create(gateway.port).status, 201)
            self.assertNothingHalfIssued(gateway.port)
            self.assertEqual(len(self.issued), 2)

    def test_503_when_the_backend_is_terminated(self):
        def terminate(pids):
            self.assertEqual(len(pids), 1, "no busy gateway backend found")
            self.assertEqual(psql(f"SELECT pg_terminate_backend({pids[0]})"), "t")
        self.assertKilledMidRequest(terminate)

    def test_503_when_the_backend_is_killed_with_sigkill(self):
        def sigkill(pids):
            self.assertEqual(len(pids), 1, "no busy gateway backend found")
            os.kill(pids[0], signal.SIGKILL)  # the postmaster then restarts every backend
        self.assertKilledMidRequest(sigkill)


class TestPoolExhausted(FaultCase):
    def test_503_for_whoever_gets_no_connection_within_2_s(self):
        with Gateway(PGRST_DB_POOL=2) as gateway, slow_inserts(2):
            started = time.monotonic()
            results = in_threads([lambda: (self.create(gateway.port), time.monotonic()) for _ in range(6)],
                                 timeout=20)
            for result in results:
                self.assertNotIsInstance(result, Exception, result)
            statuses = sorted(reply.status for reply, _ in results)
            self.assertLess(max(answered for _, answered in results) - started, 8.0, "a request hung")
            self.assertEqual(set(statuses) - {201, 503}, set(), results)
            # Two connections of 2 s each: the first two, and at most two waiters, are served.
            self.assertGreaterEqual(statuses.count(201), 2, statuses)
            self.assertGreaterEqual(statuses.count(503), 2, statuses)
            for reply, _ in results:
                if reply.status == 503:
                    self.assertProblem(reply, 503, UNAVAILABLE)
            self.assertNothingHalfIssued(gateway.port)

    def test_504_past_fynn_db_timeout(self):
        with Gateway(PGRST_DB_POOL=1, FYNN_DB_TIMEOUT=1) as gateway, slow_inserts(3):
            reply = self.create(gateway.port)
            self.assertProblem(reply, 504, "The database did not answer in time.")
            self.assertLess(reply.seconds, 3.5)
            self.assertNothingHalfIssued(gateway.port)
            self.assertEqual(request("GET", "/ready", port=gateway.port).status, 200)


class TestSigtermWithRequestsInFlight(FaultCase):
    def test_requests_in_flight_get_their_201_then_exit_0(self):
        gateway = Gateway(PGRST_DB_POOL=4)
        try:
            with slow_inserts(2):
                def sigterm_once_busy():
                    self.assertEqual(len(busy_backends(want=3)), 3, "the requests did not reach the database")
                    gateway.terminate()
                    time.sleep(0.3)
                    with self.assertRaises(ConnectionRefusedError):
                        socket.create_connection(("127.0.0.1", gateway.port), timeout=2).close()
                    return True

                results = in_threads([lambda: self.create(gateway.port) for _ in range(3)] + [sigterm_once_busy],
                                     timeout=20)
                self.assertIs(results[3], True, results[3])
                for reply in results[:3]:
                    self.assertNotIsInstance(reply, Exception, reply)
                    self.assertEqual(reply.status, 201, reply)
                    self.assertEqual(reply.header("Connection"), "close")
                self.assertEqual(gateway.wait(), 0)
        finally:
            gateway.stop()
        self.assertNothingHalfIssued(None)



class TestListenerHung(FaultCase):
    """The listener's backend stops answering, its connection still open (SIGSTOP): the cache must
    not outlive a revocation it never passed on, whether this gateway or SQL revoked the token."""

    def listener_backends(self, want):
        """Every gateway listener's backend (the runner's gateway has one too), once there are `want`."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            pids = [int(p) for p in psql("SELECT pid FROM pg_stat_activity"
                                         " WHERE application_name = 'fynn-gateway-listener'").split()]
            if len(pids) >= want:
                return pids
            time.sleep(0.1)
        self.fail("no listener backend")

    def cached_token(self, gateway):
        """A token the gateway's verify cache holds, once its listener is subscribed: (token, id)."""
        deadline = time.monotonic() + 10
        while metric("fynn_gateway_listener_up", port=gateway.port) != 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        answer = self.create(gateway.port).json()
        self.assertEqual(request("GET", "/auth", headers=bearer(answer["token"]), port=gateway.port).status, 200)
        hits = metric("fynn_gateway_cache_hits_total", port=gateway.port)
        self.assertEqual(request("GET", "/auth", headers=bearer(answer["token"]), port=gateway.port).status, 200)
        self.assertEqual(metric("fynn_gateway_cache_hits_total", port=gateway.port), hits + 1,
                         "the token was not cached")
        return answer["token"], answer["id"]

    def test_204_then_401_while_the_listener_cannot_confirm(self):
        with Gateway() as gateway:
            token, token_id = self.cached_token(gateway)
            listeners = self.listener_backends(want=2)
            for pid in listeners:
                os.kill(pid, signal.SIGSTOP)  # they can no longer pass the revocation's NOTIFY on
            try:
                reply = request("DELETE", f"/user/api-tokens/{token_id}", headers=bearer(self.jwt),
                                port=gateway.port)
                self.assertEqual(reply.status, 204, reply)
                self.assertGreaterEqual(reply.seconds, 0.2, "the barrier was not waited for")
                self.assertEqual(request("GET", "/auth", headers=bearer(token), port=gateway.port).status, 401)
            finally:
                for pid in listeners:
                    os.kill(pid, signal.SIGCONT)


    def test_401_within_6_s_of_a_revocation_the_hung_listener_never_passed_on(self):
        with Gateway() as gateway:
            token, token_id = self.cached_token(gateway)
            listeners = self.listener_backends(want=2)
            for pid in listeners:
                os.kill(pid, signal.SIGSTOP)  # hung, the connection still open: no FIN, no keepalive failure
            try:
                psql(f"UPDATE fynn_tokens.api_token SET revoked_at = now() WHERE id = '{token_id}'")
                revoked = time.monotonic()
                status = 200
                while status == 200 and time.monotonic() - revoked < 10:
                    status = request("GET", "/auth", headers=bearer(token), port=gateway.port).status
                    time.sleep(0.05)
                self.assertEqual(status, 401, "the cache outlived the revocation")
                self.assertLess(time.monotonic() - revoked, 6.5)
            finally:
                for pid in listeners:
                    os.kill(pid, signal.SIGCONT)


def tearDownModule():
    """A SIGKILL restarted every backend: leave the shared gateway with a working pool and listener."""
    wait_for_database()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if request("GET", "/ready").status == 200 and gateway_client.metric("fynn_gateway_listener_up") == 1:
            return
        time.sleep(0.2)


if __name__ == "__main__":
    sys.exit(gateway_client.main(sys.modules[__name__]))
