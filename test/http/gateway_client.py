"""What the HTTP tests need besides unittest: HS256 JWTs, well-formed API
tokens, an HTTP client, and a record of every credential the tests used so
scripts/test-http.sh can prove none of them reached a log.

Standard library only: the tests sign their own JWTs with hmac/hashlib.
"""
import base64
import hashlib
import hmac
import http.client
import json
import os
import secrets
import socket
import subprocess
import time
import zlib

GATEWAY_HOST = os.environ.get("GATEWAY_HOST", "127.0.0.1")
GATEWAY_PORT = int(os.environ.get("GATEWAY_PORT", "3000"))
JWT_SECRET = os.environ.get("GATEWAY_JWT_SECRET", "")
SECRETS_FILE = os.environ.get("GATEWAY_SECRETS_FILE")
FYNN_ROOT = os.environ.get("FYNN_ROOT", os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))
GATEWAY_BIN = os.environ.get("GATEWAY_BIN", os.path.join(FYNN_ROOT, "gateway", "fynn-gateway"))

PATH = "/user/api-tokens"
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
WRITE = "user:api-token:write"


def remember(secret):
    """Every credential a test sends is appended here; the runner greps the logs for each."""
    if SECRETS_FILE and secret:
        with open(SECRETS_FILE, "a", encoding="utf-8") as f:
            f.write(secret + "\n")
    return secret


def _b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def sign_jwt(claims, secret=None, alg="HS256"):
    """An HS256 JWT (or alg=none / HS512 ones, to prove they are refused)."""
    secret = JWT_SECRET if secret is None else secret
    header = _b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    payload = _b64(json.dumps(claims).encode())
    signing_input = f"{header}.{payload}"
    if alg == "none":
        return remember(signing_input + ".")
    digest = hashlib.sha512 if alg == "HS512" else hashlib.sha256
    sig = _b64(hmac.new(secret.encode(), signing_input.encode(), digest).digest())
    return remember(f"{signing_input}.{sig}")


def user_claims(**overrides):
    """The claims of a user allowed to create tokens, valid for ten minutes."""
    claims = {
        "sub": "user-" + secrets.token_hex(4),
        "tenant_id": "tenant-1",
        "permissions": [WRITE],
        "exp": int(time.time()) + 600,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def user_jwt(**overrides):
    return sign_jwt(user_claims(**overrides))


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


class Reply:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name):
        return self.headers.get(name.lower())

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self):
        return f"<{self.status} {self.body[:300]!r}>"


def request(method, path, body=None, headers=None, port=None, timeout=10):
    """One request on a fresh connection; returns status, lower-cased headers and raw body."""
    conn = http.client.HTTPConnection(GATEWAY_HOST, port or GATEWAY_PORT, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
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
    finally:
        conn.close()


def create(body, token=None, content_type="application/json", extra=None, port=None):
    """POST /user/api-tokens as the contract's clients do; body may be a dict or raw text."""
    headers = {}
    if token is not None:
        headers["Authorization"] = "Bearer " + token
    if content_type is not None:
        headers["Content-Type"] = content_type
    headers.update(extra or {})
    if not isinstance(body, (str, bytes)):
        body = json.dumps(body)
    reply = request("POST", PATH, body, headers, port=port)
    if reply.status == 201:
        remember(reply.json().get("token"))
    return reply


def raw_exchange(head, chunks=(), port=None, timeout=10):
    """Sends raw bytes (headers, then chunks while the server still reads) and returns the status line."""
    sock = socket.create_connection((GATEWAY_HOST, port or GATEWAY_PORT), timeout=timeout)
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


def cluster(action):
    """Stops or starts the test's private cluster (scripts/pg-cluster.sh honours FYNN_RUN/FYNN_PGPORT)."""
    subprocess.run([os.path.join(FYNN_ROOT, "scripts", "pg-cluster.sh"), action],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def psql(sql):
    """Runs SQL as superuser on the test database (for what no API can do, e.g. revoking)."""
    out = subprocess.run([os.path.join(FYNN_ROOT, "scripts", "pg-cluster.sh"), "psql",
                          "-q", "-tA", "-v", "ON_ERROR_STOP=1", "-c", sql],
                         check=True, capture_output=True, text=True)
    return out.stdout.strip()


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


def sign_jwt_payload(payload, secret=None):
    """An HS256 JWT over the payload text exactly as given (a number written 1e2 stays 1e2)."""
    secret = JWT_SECRET if secret is None else secret
    signing_input = _b64(b'{"alg":"HS256","typ":"JWT"}') + "." + _b64(payload.encode("utf-8"))
    sig = _b64(hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest())
    return remember(f"{signing_input}.{sig}")


def verify_jwt(token, secret=None):
    """(header, claims) of a JWT whose HS256 signature checks with secret; ValueError otherwise."""
    secret = JWT_SECRET if secret is None else secret
    parts = token.split(".")
    if len(parts) != 3:
        raise ValueError("not a compact JWS")
    expected = _b64(hmac.new(secret.encode(), f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest())
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
    base = {k: v for k, v in os.environ.items() if not k.startswith(("PGRST_", "FYNN_"))}
    base.update({"PGRST_DB_URI": os.environ["GATEWAY_DB_URI"], "PGRST_JWT_SECRET": JWT_SECRET,
                 "PGRST_SERVER_HOST": "127.0.0.1", "PGRST_SERVER_PORT": str(port),
                 "PGRST_DB_POOL": "4", "FYNN_LOG_LEVEL": "debug"})
    for k, v in env.items():
        if v is None:
            base.pop(k, None)
        else:
            base[k] = str(v)
    log = open(log_path or os.devnull, "ab")
    proc = subprocess.Popen([GATEWAY_BIN], env=base, stdout=log, stderr=log)
    log.close()
    proc.port = port
    if not wait_for_port(port, proc):
        proc.kill()
        proc.wait()
        raise RuntimeError(f"gateway did not start (exit {proc.returncode}; log {log_path})")
    return proc
