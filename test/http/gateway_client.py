"""What the HTTP tests need besides unittest: HS256 JWTs, well-formed API
tokens, HTTP clients (http.client and raw sockets), gateways of their own,
superuser SQL, assertions in the contract's words, and a record of every
credential the tests used so scripts/test-http.sh can prove none of them
reached a log or the database's files.

Standard library only: the tests sign their own JWTs with hmac/hashlib.

Every test module ends with

    if __name__ == "__main__":
        sys.exit(gateway_client.main(sys.modules[__name__]))

and may define ORDER (its test classes in the order to run; default: as
defined) and SMOKE (test names run under valgrind; default: none).
"""
import base64
import contextlib
import hashlib
import hmac
import http.client
import inspect
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest
import zlib

GATEWAY_HOST = os.environ.get("GATEWAY_HOST", "127.0.0.1")
GATEWAY_PORT = int(os.environ.get("GATEWAY_PORT", "3000"))
JWT_SECRET = os.environ.get("GATEWAY_JWT_SECRET", "")
SECRETS_FILE = os.environ.get("GATEWAY_SECRETS_FILE")
FYNN_ROOT = os.environ.get("FYNN_ROOT", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
GATEWAY_BIN = os.environ.get("GATEWAY_BIN", os.path.join(FYNN_ROOT, "gateway", "fynn-gateway"))
GATEWAY_LOG = os.environ.get("GATEWAY_LOG")
PG_LOG = os.environ.get("GATEWAY_PG_LOG", os.path.join(os.environ.get("FYNN_RUN", ""), "postgresql.log"))

PATH = "/user/api-tokens"
REVOKE_PATH = "/api-tokens/revoke"
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
WRITE = "user:api-token:write"
READ = "user:api-token:read"
PROBLEM = "application/problem+json; charset=utf-8"
JSON = "application/json; charset=utf-8"
FUTURE = "2099-01-01T00:00:00+00:00"
ID_RE = r"^[0-9A-Z]{20}$"
TOKEN_RE = r"^api_[0-9A-Za-z]{38}$"
LEAK_ANSWER = {"message": "If this token existed, it has been revoked."}

# Violation codes of docs/contract.md, by rule.
TOO_SHORT = "9ff3fdc4-b214-49db-8718-39c315e33d45"
TOO_LONG = "d94b19cc-114f-4f44-9cc4-4138e80a87b9"
NOT_FUTURE = "778b7ae0-84d3-481a-9dec-35fdb64b1d78"
NOT_NULL = "ad32d13f-c3d4-423b-909a-857b961eb720"
BEYOND_MAX_LIFETIME = "30fbb013-d015-4232-8b3b-8f3be97a7e14"
EMPTY_PERMISSIONS = "bef8e338-6ae5-4caf-b8e2-50e7b0579e69"
PERMISSIONS_NOT_HELD = "8e179f1b-97aa-4560-a02f-2a8b42e49df7"
MAX_LIVE_TOKENS = "756b1212-697c-468d-a9ad-50dd783bb169"
GRACE_OUT_OF_RANGE = "04b91c99-a946-4221-afc5-e65ebac401eb"


# ------------------------------------------------------------- credentials

def remember(secret):
    """Every credential a test sends is appended here; the runner greps the logs and the database's files for each."""
    if SECRETS_FILE and secret:
        with open(SECRETS_FILE, "a", encoding="utf-8") as f:
            f.write(secret + "\n")
    return secret


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign_jwt(claims, secret=None, alg="HS256", header=None, payload=None):
    """A JWT over claims (or over the raw payload bytes), signed HS256 unless alg says otherwise.

    alg none / HS512 / RS256 make tokens the gateway must refuse (RS256 is
    "signed" with HMAC over the shared secret, the classic confusion attack).
    header adds fields to the JOSE header (e.g. crit).
    """
    secret = JWT_SECRET if secret is None else secret
    head = {"alg": alg, "typ": "JWT"}
    head.update(header or {})
    if payload is None:
        payload = json.dumps(claims, separators=(",", ":")).encode()
    signing_input = f"{b64url(json.dumps(head).encode())}.{b64url(payload)}"
    if alg == "none":
        return remember(signing_input + ".")
    digest = hashlib.sha512 if alg == "HS512" else hashlib.sha256
    sig = b64url(hmac.new(secret.encode(), signing_input.encode(), digest).digest())
    return remember(f"{signing_input}.{sig}")


def new_user():
    return "user-" + secrets.token_hex(6)


def user_claims(**overrides):
    """The claims of a user allowed to create tokens, valid for ten minutes."""
    claims = {
        "sub": new_user(),
        "tenant_id": "tenant-1",
        "permissions": [WRITE],
        "exp": int(time.time()) + 600,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def user_jwt(**overrides):
    return sign_jwt(user_claims(**overrides))


def rw_jwt(**overrides):
    """A user who may also read (list and get) tokens; tokens it issues can read too."""
    overrides.setdefault("permissions", [WRITE, READ])
    return user_jwt(**overrides)


def jwt_with_raw_claim(name, raw_json, **overrides):
    """A JWT whose claim `name` is written exactly as raw_json (1e2, 1.0, a 30-digit number...)."""
    claims = user_claims(**overrides)
    claims[name] = "@@RAW@@"
    text = json.dumps(claims, separators=(",", ":")).replace('"@@RAW@@"', raw_json)
    return sign_jwt(None, payload=text.encode())


def api_token(random_part=None, valid_checksum=True):
    """A token of the right shape: 32 base62 characters + 6 of their CRC32 in base62."""
    random_part = random_part or "".join(secrets.choice(BASE62) for _ in range(32))
    crc = zlib.crc32(random_part.encode())
    if not valid_checksum:
        crc = (crc + 1) & 0xFFFFFFFF
    checksum = ""
    for _ in range(6):
        checksum = BASE62[crc % 62] + checksum
        crc //= 62
    return remember("api_" + random_part + checksum)


def bearer(credential):
    return {"Authorization": "Bearer " + credential}


def iso(epoch):
    """An RFC 3339 instant in UTC, whole seconds."""
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(epoch))


# ------------------------------------------------------------------- HTTP

class Reply:
    def __init__(self, status, headers, body, seconds=0.0):
        self.status = status
        self.headers = headers
        self.body = body
        self.seconds = seconds

    def header(self, name):
        return self.headers.get(name.lower())

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return f"<{self.status} {self.body[:300]!r}>"


def _send(conn, method, path, body, headers):
    conn.putrequest(method, path, skip_host=False, skip_accept_encoding=True)
    for name, value in (headers or {}).items():
        conn.putheader(name, value)
    if body is not None:
        data = body if isinstance(body, bytes) else body.encode("utf-8")
        conn.putheader("Content-Length", str(len(data)))
        conn.endheaders(data)
    else:
        conn.endheaders()
    resp = conn.getresponse()
    return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())


def request(method, path, body=None, headers=None, port=None, timeout=10):
    """One request on a fresh connection; returns status, lower-cased headers and raw body."""
    conn = http.client.HTTPConnection(GATEWAY_HOST, port or GATEWAY_PORT, timeout=timeout)
    started = time.monotonic()
    try:
        reply = _send(conn, method, path, body, headers)
        reply.seconds = time.monotonic() - started
        return reply
    finally:
        conn.close()


class KeepAlive:
    """Requests on one persistent connection, to prove what holds across requests on it."""

    def __init__(self, port=None, timeout=10):
        self.conn = http.client.HTTPConnection(GATEWAY_HOST, port or GATEWAY_PORT, timeout=timeout)
        self.conn.connect()
        self.sock = self.conn.sock

    def request(self, method, path, body=None, headers=None):
        reply = _send(self.conn, method, path, body, headers)
        # http.client silently reconnects; a new socket would prove nothing.
        if self.conn.sock is not None and self.conn.sock is not self.sock:
            raise AssertionError("the keep-alive connection was replaced")
        return reply

    def close(self):
        self.conn.close()


def json_headers(credential=None, content_type="application/json"):
    headers = {}
    if credential is not None:
        headers.update(bearer(credential))
    if content_type is not None:
        headers["Content-Type"] = content_type
    return headers


def _remember_issued(reply):
    if reply.status == 201:
        with contextlib.suppress(ValueError, AttributeError):
            remember(reply.json().get("token"))
    return reply


def create(body, token=None, content_type="application/json", extra=None, port=None, timeout=10):
    """POST /user/api-tokens as the contract's clients do; body may be a dict or raw text."""
    headers = json_headers(token, content_type)
    headers.update(extra or {})
    if not isinstance(body, (str, bytes)):
        body = json.dumps(body)
    return _remember_issued(request("POST", PATH, body, headers, port=port, timeout=timeout))


def issue(credential=None, port=None, **body):
    """A new token (201 asserted) as (token, id, answer); a JWT of a fresh user when no credential is given."""
    body.setdefault("description", "issued by a test")
    reply = create(body, credential or rw_jwt(), port=port)
    if reply.status != 201:
        raise AssertionError(f"could not issue a token: {reply!r}")
    answer = reply.json()
    return answer["token"], answer["id"], answer


def list_tokens(credential, query="", port=None):
    return request("GET", PATH + query, headers=bearer(credential), port=port)


def get_token(credential, token_id, port=None):
    return request("GET", f"{PATH}/{token_id}", headers=bearer(credential), port=port)


def revoke(credential, token_id, port=None):
    return request("DELETE", f"{PATH}/{token_id}", headers=bearer(credential), port=port)


def rotate(credential, token_id, body=None, content_type="application/json", port=None):
    headers = bearer(credential)
    if body is not None:
        if content_type is not None:
            headers["Content-Type"] = content_type
        if not isinstance(body, (str, bytes)):
            body = json.dumps(body)
    return _remember_issued(request("POST", f"{PATH}/{token_id}/rotate", body, headers, port=port))


def revoke_current(credential=None, port=None):
    return request("DELETE", PATH + "/current", headers=bearer(credential) if credential else {}, port=port)


def report_leak(body, content_type="application/json", extra=None, port=None):
    """POST /api-tokens/revoke without any credential; body may be a dict or raw text."""
    headers = json_headers(None, content_type)
    headers.update(extra or {})
    if not isinstance(body, (str, bytes)):
        body = json.dumps(body)
    return request("POST", REVOKE_PATH, body, headers, port=port)


def works(token, token_id, port=None):
    """Whether an API token (with the read permission) still authenticates: GET of its own item."""
    reply = get_token(token, token_id, port=port)
    if reply.status not in (200, 401):
        raise AssertionError(f"unexpected answer while checking a token: {reply!r}")
    return reply.status == 200


def metric(name, port=None):
    """A counter or gauge from /metrics (the main port serves it without an admin port)."""
    for line in request("GET", "/metrics", port=port).body.decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"metric {name} not found")


# ------------------------------------------------------------ raw sockets

def connect(port=None, source=None, timeout=10):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    if source:
        sock.bind((source, 0))
    sock.connect((GATEWAY_HOST, port or GATEWAY_PORT))
    return sock


def read_until_closed(sock, timeout=5):
    """Everything the server sends, and whether it closed the connection within timeout."""
    data = b""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return data, False
        sock.settimeout(left)
        try:
            part = sock.recv(65536)
        except socket.timeout:
            return data, False
        except ConnectionResetError:
            return data, True
        if not part:
            return data, True
        data += part


def raw_exchange(head, chunks=(), port=None, timeout=10):
    """Sends raw bytes (headers, then chunks while the server still reads) and returns the status line."""
    sock = connect(port, timeout=timeout)
    try:
        sock.sendall(head)
        for chunk in chunks:
            try:
                sock.sendall(chunk)
            except OSError:
                break
        data = b""
        while b"\r\n" not in data:
            part = sock.recv(4096)
            if not part:
                break
            data += part
        return data.split(b"\r\n", 1)[0].decode("latin-1")
    finally:
        sock.close()


def raw_request(data, port=None, timeout=5):
    """Sends raw bytes; returns (everything answered, closed by the server)."""
    sock = connect(port, timeout=timeout)
    try:
        sock.sendall(data)
        return read_until_closed(sock, timeout)
    finally:
        sock.close()


def parse_head(data):
    """The status and lower-cased headers of the first response in data."""
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    status = int(head[0].split(" ")[1]) if head and head[0].startswith("HTTP/1.") else 0
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), value.strip())
    return status, headers


# ------------------------------------------------------------- the database

def cluster(action):
    """Stops or starts the test's private cluster (scripts/pg-cluster.sh honours FYNN_RUN/FYNN_PGPORT)."""
    subprocess.run([os.path.join(FYNN_ROOT, "scripts", "pg-cluster.sh"), action],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def psql(sql, database=None):
    """Runs SQL as superuser on the test database (for what no API can do). Never pass it a secret."""
    args = [os.path.join(FYNN_ROOT, "scripts", "pg-cluster.sh"), "psql", "-q", "-tA", "-v", "ON_ERROR_STOP=1"]
    if database:
        args += ["-d", database]
    out = subprocess.run(args + ["-c", sql], check=True, capture_output=True, text=True)
    return out.stdout.strip()


def wait_for_database(seconds=30):
    """Until the cluster accepts connections again (after a crash restart)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if psql("SELECT 1") == "1":
                return
        except subprocess.CalledProcessError:
            pass
        time.sleep(0.2)
    raise AssertionError("the database did not come back")


@contextlib.contextmanager
def slow_inserts(tenant, seconds):
    """Every insert of a token of tenant sleeps first, inside the request's transaction (a
    trigger named after the tenant, so modules running at once do not share one)."""
    name = "fynn_test_slow_" + re.sub(r"[^a-z0-9]", "_", tenant.lower())
    psql(f"""CREATE OR REPLACE FUNCTION public.{name}() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
                 IF NEW.tenant_id = '{tenant}' THEN PERFORM pg_sleep({seconds}); END IF;
                 RETURN NEW;
             END $$;
             CREATE OR REPLACE TRIGGER {name} BEFORE INSERT ON fynn_tokens.api_token
                 FOR EACH ROW EXECUTE FUNCTION public.{name}();""")
    try:
        yield
    finally:
        wait_for_database()
        psql(f"DROP TRIGGER IF EXISTS {name} ON fynn_tokens.api_token; DROP FUNCTION IF EXISTS public.{name}();")


def pg_log_offset():
    try:
        return os.path.getsize(PG_LOG)
    except OSError:
        return 0


def pg_log_since(offset):
    """What the postgres log (log_statement = all) received since offset."""
    with open(PG_LOG, "rb") as f:
        f.seek(offset)
        return f.read().decode("utf-8", "replace")


# ------------------------------------------------------ gateways of their own

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc, seconds=10):
    """Waits until a gateway we spawned accepts connections (or died)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def record_gateway_pid(pid):
    """The runner stops what a module killed by its timeout left running, by these pids."""
    if os.environ.get("GATEWAY_PIDS_FILE"):
        with open(os.environ["GATEWAY_PIDS_FILE"], "a") as f:
            f.write(f"{pid}\n")


def gateway_env(port, settings):
    """The environment of a gateway of a test's own: the suite's database and secret, nothing
    inherited from the caller's PGRST_/FYNN_ variables, then settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PGRST_", "FYNN_"))}
    env.update({"PGRST_DB_URI": os.environ["GATEWAY_DB_URI"], "PGRST_JWT_SECRET": JWT_SECRET,
                "PGRST_SERVER_HOST": "127.0.0.1", "PGRST_SERVER_PORT": str(port),
                "FYNN_LOG_LEVEL": "debug"})
    env.update({k: str(v) for k, v in settings.items()})
    return env


class Gateway:
    """A fynn-gateway process with settings of its own, logging into the runner's gateway log."""

    def __init__(self, **settings):
        self.port = free_port()
        env = gateway_env(self.port, settings)
        self.log = open(GATEWAY_LOG or os.devnull, "ab")
        self.proc = subprocess.Popen([GATEWAY_BIN], env=env, stdout=self.log, stderr=self.log)
        record_gateway_pid(self.proc.pid)
        if not wait_for_port(self.port, self.proc):
            self.stop()
            raise AssertionError(f"the gateway with {settings} did not start")

    def terminate(self):
        """SIGTERM: a graceful stop."""
        self.proc.send_signal(signal.SIGTERM)

    def wait(self, seconds=40):
        return self.proc.wait(seconds)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def in_threads(functions, timeout=30):
    """Runs the callables concurrently; returns their results (or the exceptions they raised), in order."""
    results = [None] * len(functions)

    def run(i, fn):
        try:
            results[i] = fn()
        except Exception as e:  # noqa: BLE001 - reported to the caller as a result
            results[i] = e

    threads = [threading.Thread(target=run, args=(i, fn), daemon=True) for i, fn in enumerate(functions)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    return results


# -------------------------------------------------- assertions of the contract

class ContractCase(unittest.TestCase):
    maxDiff = None

    def assertProblem(self, reply, status, detail=None):
        """The API Platform error body: type, title, status, detail."""
        self.assertEqual(reply.status, status, reply)
        self.assertEqual(reply.header("Content-Type"), PROBLEM, reply)
        body = reply.json()
        self.assertEqual(body["type"], f"/errors/{status}")
        self.assertEqual(body["title"], "An error occurred")
        self.assertEqual(body["status"], status)
        self.assertIsInstance(body["detail"], str)
        if detail is not None:
            self.assertEqual(body["detail"], detail)
        return body

    def assertUnauthorized(self, reply, credential_given=True, detail=None):
        self.assertProblem(reply, 401, detail)
        expected = 'Bearer error="invalid_token"' if credential_given else "Bearer"
        self.assertEqual(reply.header("WWW-Authenticate"), expected)

    def assertViolations(self, reply, expected):
        """422: violations as in the contract, detail joined by newlines, type naming the codes."""
        self.assertEqual(reply.status, 422, reply)
        self.assertEqual(reply.header("Content-Type"), PROBLEM)
        body = reply.json()
        self.assertEqual(list(body), ["status", "violations", "detail", "type", "title"])
        self.assertEqual(body["status"], 422)
        self.assertEqual(body["title"], "An error occurred")
        self.assertEqual([(v["propertyPath"], v["code"]) for v in body["violations"]], expected)
        self.assertEqual(body["detail"], "\n".join(
            f'{v["propertyPath"]}: {v["message"]}' if v["propertyPath"] else v["message"]
            for v in body["violations"]))
        codes = [code for _, code in expected]
        if len(codes) == 1:
            self.assertEqual(body["type"], f"/validation_errors/{codes[0]}")
        else:
            self.assertEqual(body["type"], "/validation_errors/" + ";".join(
                f"{i}={c}" for i, c in enumerate(codes)))
        return body

    def assertCreated(self, reply):
        """201 with Location naming the new token and the create answer's keys."""
        self.assertEqual(reply.status, 201, reply)
        self.assertEqual(reply.header("Content-Type"), JSON)
        body = reply.json()
        self.assertEqual(sorted(body), ["description", "expiresAt", "id", "permissions", "token"])
        self.assertRegex(body["id"], ID_RE)
        self.assertRegex(body["token"], TOKEN_RE)
        self.assertEqual(reply.header("Location"), f"{PATH}/{body['id']}")
        return body


# ----------------------------------------------------------------- running

def main(module):
    """Runs a module's tests (ORDER, else its classes as defined) or, with "smoke", its SMOKE list.

    Writes "passed failed" to GATEWAY_COUNTS_FILE for scripts/test-http.sh.
    """
    loader = unittest.TestLoader()
    if len(sys.argv) > 1 and sys.argv[1] == "smoke":
        suite = unittest.TestSuite(loader.loadTestsFromName(name, module) for name in getattr(module, "SMOKE", []))
    else:
        defined = [obj for obj in vars(module).values()
                   if inspect.isclass(obj) and issubclass(obj, unittest.TestCase)
                   and obj.__module__ == module.__name__ and loader.getTestCaseNames(obj)]
        cases = list(getattr(module, "ORDER", None) or defined)
        cases += [case for case in defined if case not in cases]  # a class left out of ORDER still runs, last
        suite = unittest.TestSuite(loader.loadTestsFromTestCase(case) for case in cases)
    result = unittest.TextTestRunner(verbosity=2, stream=sys.stdout).run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    passed = max(0, result.testsRun - failed - len(result.skipped))  # a setUpModule error is no test run
    counts = os.environ.get("GATEWAY_COUNTS_FILE")
    if counts:
        with open(counts, "w") as f:
            f.write(f"{passed} {failed}\n")
    print(f"{os.path.splitext(os.path.basename(module.__file__))[0]}: {passed} passed, {failed} failed")
    return 1 if failed else 0


def sign_jwt_payload(payload, secret=None):
    """An HS256 JWT over the payload text exactly as given (a number written 1e2 stays 1e2)."""
    return sign_jwt(None, secret=secret, payload=payload.encode("utf-8"))


def verify_jwt(token, secret=None):
    """(header, claims) of a JWT whose HS256 signature checks with secret; ValueError otherwise."""
    secret = JWT_SECRET if secret is None else secret
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a compact JWS")
    expected = b64url(hmac.new(secret.encode(), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(expected, parts[2]):
        raise ValueError("bad signature")
    decode = lambda s: json.loads(base64.urlsafe_b64decode(s + "=" * (-len(s) % 4)))
    return decode(parts[0]), decode(parts[1])


def read_metrics(port=None):
    """The gateway's /metrics as {"name" or "name{labels}": value}; 0 for a series not shown yet."""
    reply = request("GET", "/metrics", port=port)
    if reply.status != 200:
        raise AssertionError(f"/metrics answered {reply.status}")
    values = {}
    for line in reply.body.decode().splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    return values


def spawn_gateway(log_path=None, **env):
    """A gateway of the test's own on a free port (env: settings, None unsets); waits until it listens.

    The process gets the suite's database and secret, nothing inherited from
    PGRST_/FYNN_ variables; proc.port is its main port."""
    port = int(env.get("PGRST_SERVER_PORT") or free_port())
    base = gateway_env(port, {"PGRST_DB_POOL": "4"})
    for k, v in env.items():
        if v is None:
            base.pop(k, None)
        else:
            base[k] = str(v)
    log = open(log_path or os.devnull, "ab")
    proc = subprocess.Popen([GATEWAY_BIN], env=base, stdout=log, stderr=log)
    log.close()
    proc.port = port
    record_gateway_pid(proc.pid)
    if not wait_for_port(port, proc):
        proc.kill()
        proc.wait()
        raise RuntimeError(f"gateway did not start (exit {proc.returncode}; log {log_path})")
    return proc
