"""The cases of test/nginx/run-nginx-test.sh: a real nginx asks fynn-gateway's
/auth (auth_request) and proxies to the gateway with the minted JWT.

Prints "ok - ..." / "not ok - ..." lines and writes "passed failed" to
NGINX_COUNTS_FILE.  Environment: GATEWAY_PORT, NGINX_PORT, GATEWAY_JWT_SECRET,
GATEWAY_LOG (the gateway's access log), PG_LOG and PG_LOG_OFFSET (the
postgres log, log_statement = all), plus the cluster's FYNN_* variables.

How the upstream is shown to have seen a JWT and never the API token: the
gateway runs with "authorization" on its FYNN_REQUEST_HEADERS allow-list,
so every fynn_api call it makes carries the Authorization header it
received in request.headers, and postgres logs that call's parameters
(log_statement = all).  The header values found there are exactly what the
upstream saw: each must be a JWT signed with the gateway's secret whose
token_id is the API token's id, and the API token itself must appear
nowhere in that log.
"""
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "http"))

from gateway_client import (  # noqa: E402
    WRITE, api_token, create, psql, remember, request, user_jwt, verify_jwt,
)

READ = "user:api-token:read"
NGINX = int(os.environ["NGINX_PORT"])
GATEWAY_LOG = os.environ["GATEWAY_LOG"]
PG_LOG = os.environ["PG_LOG"]
PG_LOG_OFFSET = int(os.environ.get("PG_LOG_OFFSET", "0"))
CHALLENGE = 'Bearer error="invalid_token"'

passed = 0
failed = 0


def check(ok, description, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok - {description}")
    else:
        failed += 1
        print(f"not ok - {description}" + (f": {detail}" if detail else ""))
    return ok


def via_nginx(method, path, credential=None, body=None):
    """One request to nginx; returns (status, [(name, value)...] lower-cased, body)."""
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", NGINX, timeout=10)
    try:
        headers = {}
        if credential is not None:
            headers["Authorization"] = "Bearer " + credential
        if body is not None:
            headers["Content-Type"] = "application/json"
            body = json.dumps(body)
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, [(k.lower(), v) for k, v in resp.getheaders()], resp.read()
    finally:
        conn.close()


def header_values(headers, name):
    return [v for k, v in headers if k == name]


def gateway_lines(marker):
    """Access-log lines of the gateway for a path (after a pause, so lines in flight have landed)."""
    time.sleep(0.15)
    with open(GATEWAY_LOG, encoding="utf-8", errors="replace") as f:
        return sum(1 for line in f if marker in line)


def upstream_calls():
    return gateway_lines(" /user/api-tokens")


def auth_calls():
    return gateway_lines(" /auth ")


def postgres_log(offset=PG_LOG_OFFSET):
    with open(PG_LOG, "rb") as f:
        f.seek(offset)
        return f.read().decode("utf-8", errors="replace")


def issue(description):
    reply = create({"description": description, "permissions": [WRITE, READ]},
                   user_jwt(permissions=[WRITE, READ]), port=int(os.environ["GATEWAY_PORT"]))
    if reply.status != 201:
        raise SystemExit(f"setup: token creation failed: {reply}")
    return reply.json()["token"], reply.json()["id"]


def refused_at_nginx(description, credential, challenge):
    """401 from nginx with the gateway's challenge, once; /auth asked, the upstream route never called."""
    upstream, asked = upstream_calls(), auth_calls()
    status, headers, body = via_nginx("GET", "/user/api-tokens", credential)
    challenges = header_values(headers, "www-authenticate")
    check(status == 401 and challenges == [challenge],
          f"{description}: 401 at nginx with WWW-Authenticate {challenge}", f"{status} {challenges}")
    try:
        problem = json.loads(body)
        problem_ok = problem.get("status") == 401 and problem.get("type") == "/errors/401"
    except ValueError:
        problem_ok = False
    check(problem_ok and header_values(headers, "content-type") == ["application/problem+json; charset=utf-8"],
          f"{description}: a problem+json body", body[:200])
    check(auth_calls() == asked + 1 and upstream_calls() == upstream,
          f"{description}: nginx asked /auth once and never called the upstream route",
          f"auth {asked}->{auth_calls()}, upstream {upstream}->{upstream_calls()}")


def main():
    token, token_id = issue("behind nginx")
    upstream_log_start = os.path.getsize(PG_LOG)  # after the direct call that issued the token

    # An API token goes in: nginx asks /auth, the upstream answers.
    upstream = upstream_calls()
    status, _, body = via_nginx("GET", "/user/api-tokens", token)
    listed = json.loads(body) if status == 200 else {}
    check(status == 200 and token_id in [t["id"] for t in listed.get("data", [])],
          "Bearer api_... through nginx: GET /user/api-tokens is 200 and lists the token", f"{status} {body[:200]}")
    status, _, body = via_nginx("POST", "/user/api-tokens", token, {"description": "made behind nginx"})
    child = json.loads(body) if status == 201 else {}
    remember(child.get("token"))
    check(status == 201, "Bearer api_... through nginx: POST /user/api-tokens is 201", f"{status} {body[:200]}")
    if child:
        parent = psql(f"SELECT parent_id FROM fynn_tokens.api_token WHERE id = '{child['id']}'")
        check(parent == token_id, "the token created behind nginx has the API token as its parent", parent)
    check(upstream_calls() == upstream + 2, "the upstream route was called once per request")

    # What the upstream saw, from the postgres log of its fynn_api calls.
    log = postgres_log(upstream_log_start)
    seen = re.findall(r'"authorization":\s*"Bearer ([^"]+)"', log)
    for jwt in seen:
        remember(jwt)
    claims = []
    for jwt in seen:
        try:
            claims.append(verify_jwt(jwt)[1])
        except ValueError as e:
            claims.append({"error": str(e)})
    check(len(seen) >= 2, "the postgres log shows the Authorization header of each upstream call", f"{len(seen)} found")
    check(seen and all(c.get("token_id") == token_id and c.get("role") == "fynn_api_user" and
                       c.get("exp", 0) - c.get("iat", 0) <= 60 for c in claims),
          "the upstream received only JWTs minted for the API token (signed, token_id, role, <= 60 s)",
          json.dumps(claims)[:300])
    check(token not in postgres_log(), "the API token appears nowhere in the postgres log")
    with open(GATEWAY_LOG, encoding="utf-8", errors="replace") as f:
        check(token not in f.read(), "the API token appears nowhere in the gateway log")

    # A JWT client passes as well.
    status, _, _ = via_nginx("GET", "/user/api-tokens", user_jwt(permissions=[READ]))
    check(status == 200, "Bearer JWT through nginx: 200", str(status))

    # Refusals stop at nginx.
    revoked, revoked_id = issue("revoked behind nginx")
    expired, expired_id = issue("expired behind nginx")
    psql(f"UPDATE fynn_tokens.api_token SET revoked_at = now() WHERE id = '{revoked_id}'")
    psql(f"UPDATE fynn_tokens.api_token SET expires_at = now() - interval '1 second' WHERE id = '{expired_id}'")
    refused_at_nginx("revoked API token", revoked, CHALLENGE)
    refused_at_nginx("expired API token", expired, CHALLENGE)
    refused_at_nginx("malformed API token", remember("api_malformed"), CHALLENGE)
    refused_at_nginx("API token with a bad checksum", api_token(valid_checksum=False), CHALLENGE)
    refused_at_nginx("unknown API token", api_token(), CHALLENGE)
    refused_at_nginx("expired JWT", user_jwt(exp=int(time.time()) - 120), CHALLENGE)
    refused_at_nginx("no credential", None, "Bearer")

    # nginx passes the gateway's own answers through untouched (no interception).
    status, headers, _ = via_nginx("GET", "/user/api-tokens/NOPE", token)
    check(status == 404, "an upstream 404 reaches the client as it is", str(status))

    # The revoked token, once accepted, is refused behind nginx at once too.
    psql(f"UPDATE fynn_tokens.api_token SET revoked_at = now() WHERE id = '{token_id}'")
    status, _, _ = via_nginx("GET", "/user/api-tokens", token)
    check(status == 401, "an API token revoked after use is refused at nginx", str(status))

    counts = os.environ.get("NGINX_COUNTS_FILE")
    if counts:
        with open(counts, "w") as f:
            f.write(f"{passed} {failed}\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
