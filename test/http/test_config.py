"""fynn-gateway's configuration: a bad setting stops start-up with its
name and exit 1; the settings that change answers do.

Run by scripts/test-http.sh.
"""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gateway_client  # noqa: E402
from gateway_client import (  # noqa: E402
    GATEWAY_BIN, ContractCase, Gateway, create, free_port, request, user_jwt,
)


class TestRefusedToStart(ContractCase):
    """Bad configuration: refuse to start, say why, exit 1."""

    def run_gateway(self, **env):
        base = {k: v for k, v in os.environ.items() if not k.startswith(("PGRST_", "FYNN_"))}
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
            self.assertRefused("PGRST_ADMIN_SERVER_PORT", PGRST_ADMIN_SERVER_PORT=port)

    def test_bad_pool(self):
        for pool in ("0", "-3", "ten"):
            self.assertRefused("PGRST_DB_POOL", PGRST_DB_POOL=pool)

    def test_bad_log_level(self):
        self.assertRefused("FYNN_LOG_LEVEL", FYNN_LOG_LEVEL="loud")

    def test_bad_numbers(self):
        for name, value in (("FYNN_DB_TIMEOUT", "0"), ("FYNN_DB_TIMEOUT", "601"), ("FYNN_AUTH_JWT_LIFETIME", "0"),
                            ("FYNN_CACHE_SIZE", "-1"), ("FYNN_CACHE_MAX_AGE", "0"), ("FYNN_MAX_CONNECTIONS", "0"),
                            ("FYNN_MAX_CONNECTIONS_PER_IP", "x"), ("FYNN_REQUEST_HEAD_TIMEOUT", "0"),
                            ("FYNN_REQUEST_READ_TIMEOUT", "1s")):
            self.assertRefused(name, **{name: value})

    def test_read_timeout_shorter_than_head_timeout(self):
        self.assertRefused("FYNN_REQUEST_READ_TIMEOUT", FYNN_REQUEST_HEAD_TIMEOUT="10", FYNN_REQUEST_READ_TIMEOUT="5")

    def test_bad_header_list(self):
        self.assertRefused("FYNN_REQUEST_HEADERS", FYNN_REQUEST_HEADERS="x-request-id;cookie")


class TestSettings(ContractCase):
    def test_audience_is_checked_when_configured(self):
        with Gateway(PGRST_JWT_AUD="fynn-api", PGRST_DB_POOL=1) as gateway:
            self.assertCreated(create({"description": "aud"}, user_jwt(aud="fynn-api"), port=gateway.port))
            self.assertCreated(create({"description": "aud"}, user_jwt(aud=["x", "fynn-api"]), port=gateway.port))
            self.assertUnauthorized(create({"description": "aud"}, user_jwt(aud="other"), port=gateway.port))
            self.assertUnauthorized(create({"description": "aud"}, user_jwt(), port=gateway.port))

    def test_probes_move_to_the_admin_port(self):
        admin = free_port()
        with Gateway(PGRST_ADMIN_SERVER_PORT=admin, PGRST_DB_POOL=1) as gateway:
            for path in ("/live", "/ready", "/metrics"):
                self.assertEqual(request("GET", path, port=admin).status, 200, path)
                self.assertProblem(request("GET", path, port=gateway.port), 404)
            self.assertEqual(request("GET", "/health", port=gateway.port).status, 200)
            self.assertProblem(request("GET", "/user/api-tokens", port=admin), 404)

    def test_claim_names_are_configurable(self):
        with Gateway(FYNN_USER_CLAIM="uid", FYNN_TENANT_CLAIM="org", FYNN_PERMISSIONS_CLAIM="perms",
                     PGRST_DB_POOL=1) as gateway:
            reply = request("GET", "/auth", port=gateway.port, headers={
                "Authorization": "Bearer " + user_jwt(sub=None, tenant_id=None, permissions=None,
                                                      uid="u-1", org="o-1", perms=["p"])})
            self.assertEqual(reply.status, 200, reply)
            gateway_client.remember(reply.header("X-Fynn-Jwt"))
            self.assertEqual((reply.header("X-Fynn-User"), reply.header("X-Fynn-Tenant"),
                              reply.header("X-Fynn-Permissions")), ("u-1", "o-1", "p"))


if __name__ == "__main__":
    sys.exit(gateway_client.main(sys.modules[__name__]))
