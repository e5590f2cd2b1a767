"""The fynn_api schema as a PostgREST v12.2 client sees it: every route and
status of docs/contract.md, requested through test/postgrest/postgrest.py,
which sends the server exactly PostgREST's statements.

Run by test/postgrest/run-replay.sh, which prepares the database and the
roles and passes REPLAY_DB_URI, REPLAY_SUPERUSER_URI, REPLAY_JWT_SECRET and
REPLAY_PG_LOG.
"""
# How PostgREST's answers differ from the contract (docs/contract.md).  Each
# item is asserted by the test named after it:
#
#  1. Routes are /rpc/<function>: POST with a JSON body, GET with query
#     parameters; the REST paths need a proxy rewrite, and {id} travels in the
#     body ({"id": ...}) or the query string (?id=).  (every test)
#  2. A malformed JSON body is PostgREST's 400 before any SQL:
#     {"code":"PGRST102","details":null,"hint":null,"message":"Empty or invalid json"},
#     not the contract's problem+json "Syntax error".  A JSON array of
#     non-objects (or of objects with different keys) likewise:
#     "All object keys must match".  (test_create_400_malformed_json_pgrst102,
#     test_create_400_array_of_scalars_pgrst102)
#  3. An empty body reaches SQL as '' and its ::json cast fails before the
#     function runs: 400 {"code":"22P02","details":"The input string ended
#     unexpectedly.","hint":null,"message":"invalid input syntax for type json"}.
#     (test_create_400_empty_body_22p02)
#  4. `Authorization: Bearer api_...` is not a JWT: 401 PGRST301
#     ("JWSError (CompactDecodeError Invalid number of parts: Expected 3
#     parts; got 1)", WWW-Authenticate: Bearer error="invalid_token", ...)
#     before any SQL.  API tokens travel in X-API-Key, which
#     fynn_api.pre_request() (db-pre-request) checks.  (test_create_401_bearer_api_token_pgrst301)
#  5. An unknown query parameter, a function outside the exposed schema
#     (fynn_tokens.verify_api_token, record_api_token_use, ...) or a GET of a
#     function taking a json body is 404 PGRST202 before any SQL.
#     (test_list_404_unknown_query_parameter, test_core_functions_are_not_exposed,
#     test_get_of_a_json_function_is_404)
#  6. `limit` is reserved by PostgREST's query syntax and never reaches the
#     function: the REST `limit` is `page_size` here.  (test_list_limit_is_reserved)
#  7. Every answer a function returns (the contract's errors included)
#     carries PostgREST's own `Content-Range: 0-0/*`; its Content-Type is the
#     one the function sets (problem+json for the contract's errors).
#     (test_create_201_location)
#  8. An API key that pre_request refuses is a 401 in PostgREST's error shape,
#     application/json: {"code":"FYNN401","details":null,"hint":null,"message":...}
#     with WWW-Authenticate: Bearer error="invalid_token"; not problem+json.
#     (test_pre_request_invalid_key_401, test_pre_request_revoked_key_401)
#  9. request.headers holds every request header, authorization and x-api-key
#     included: with log_statement=all, JWTs and API keys reach the server
#     log as bind parameters.  (test_request_headers_carry_credentials_to_the_log)
# 10. A body that is JSON null, a string, a number or a boolean reaches the
#     function as '[]' (so the contract's 400 "The input data is misformatted."
#     still comes out).  (test_create_400_json_string_body)
# 11. No Content-Type (or any JSON one) is JSON to PostgREST: never the
#     contract's 415.  (test_create_without_content_type_is_json)
# 12. A JWT PostgREST refuses (expired beyond its 30 s leeway, bad signature)
#     is its 401 before any SQL: {"code":"PGRST301","details":null,"hint":null,
#     "message":"JWT expired"}, WWW-Authenticate: Bearer error="invalid_token",
#     error_description="JWT expired".  (test_create_401_expired_jwt_pgrst301)
# 13. An error raised rather than returned comes in PostgREST's shape with
#     Error.hs's status: e.g. an authenticator without
#     fynn_tokens.api_token_role presenting an API key is 500
#     {"code":"55000",...}.  (test_pre_request_without_api_token_role_is_500)

import hashlib
import json
import os
import re
import secrets
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "http"))

import libpq  # noqa: E402
import postgrest  # noqa: E402
from gateway_client import api_token as well_formed_token, sign_jwt  # noqa: E402

DB_URI = os.environ.get("REPLAY_DB_URI")
SU_URI = os.environ.get("REPLAY_SUPERUSER_URI")
SECRET = os.environ.get("REPLAY_JWT_SECRET")
PG_LOG = os.environ.get("REPLAY_PG_LOG")

WRITE = "user:api-token:write"
READ = "user:api-token:read"
JWT_ROLE = "fynn_api_user"
ANON = "web_anon"
TENANT = "tenant-replay"
PROBLEM_CT = "application/problem+json; charset=utf-8"
JSON_CT = "application/json; charset=utf-8"
MAIN_TAIL = ("SELECT null::bigint AS total_result_set, 1 AS page_total, "
             "coalesce(json_agg(_postgrest_t.pgrst_scalar)->0, 'null') AS body, "
             "nullif(current_setting('response.headers', true), '') AS response_headers, "
             "nullif(current_setting('response.status', true), '') AS response_status, "
             "'' AS response_inserted FROM (SELECT \"{fn}\".* FROM \"pgrst_source\" AS \"{fn}\") _postgrest_t")
SET_CONFIG = ("select set_config('search_path', $1, true), set_config('role', $2, true), "
              "set_config('request.jwt.claims', $3, true), set_config('request.method', $4, true), "
              "set_config('request.path', $5, true), set_config('request.headers', $6, true), "
              "set_config('request.cookies', $7, true)")
LEAK_BODY = b'{"message":"If this token existed, it has been revoked."}'
TOKEN_ID = re.compile(r"^[0-9A-Z]{20}$")

PG_LOG_START = 0    # where this run's part of the server log begins
replay = None       # PostgREST with db-pre-request = fynn_api.pre_request
replay_plain = None  # PostgREST without db-pre-request
su = None           # a superuser connection, for what no API shows


def setUpModule():
    global replay, replay_plain, su, PG_LOG_START
    if not (DB_URI and SU_URI and SECRET):
        raise RuntimeError("run me through test/postgrest/run-replay.sh (REPLAY_* variables unset)")
    if PG_LOG and os.path.exists(PG_LOG):
        PG_LOG_START = os.path.getsize(PG_LOG)
    replay = postgrest.PostgrestReplay(DB_URI, ANON, SECRET, pre_request="fynn_api.pre_request")
    replay_plain = postgrest.PostgrestReplay(DB_URI, ANON, SECRET)
    su = libpq.Connection(SU_URI)
    su.exec("SET client_min_messages = warning")


def tearDownModule():
    for c in (replay, replay_plain, su):
        if c is not None:
            c.close()


def superuser(sql, *params):
    r = su.execute(sql, [None if p is None else str(p) for p in params])
    if r.error:
        raise r.error
    return r.rows


def problem(status, detail):
    """The contract's fixed problem+json body, byte for byte."""
    return ('{"type":"/errors/%d","title":"An error occurred","status":%d,"detail":%s}'
            % (status, status, json.dumps(detail))).encode()


class Probe:
    """A function of the test's own in the exposed schema, for what only SQL
    inside the request can see; dropped again, and the schema cache reloaded."""

    def __init__(self, name, body, volatility):
        self.name, self.body, self.volatility = name, body, volatility

    def __enter__(self):
        superuser(f"CREATE FUNCTION fynn_api.{self.name}() RETURNS json LANGUAGE sql {self.volatility} "
                  f"AS $$ {self.body} $$")
        superuser(f"GRANT EXECUTE ON FUNCTION fynn_api.{self.name}() TO web_anon, fynn_api_user")
        replay.reload_schema_cache()
        return self

    def __exit__(self, *exc):
        superuser(f"DROP FUNCTION fynn_api.{self.name}()")
        replay.reload_schema_cache()


class Replay(unittest.TestCase):
    """Helpers: a fresh user per test, JWTs signed with the replay's secret."""

    def setUp(self):
        self.user = "user-" + secrets.token_hex(5)

    def jwt(self, permissions=(WRITE, READ), **extra):
        """A JWT of this test's user; a claim given as None is left out."""
        claims = {"role": JWT_ROLE, "sub": self.user, "tenant_id": TENANT,
                  "permissions": list(permissions), "exp": int(time.time()) + 600}
        claims.update(extra)
        return sign_jwt({k: v for k, v in claims.items() if v is not None}, secret=SECRET)

    def call(self, method, fn, body=None, query=None, jwt=None, api_key=None, headers=None, via=None):
        h = {}
        if method == "POST":
            h["Content-Type"] = "application/json"
        if jwt is not None:
            h["Authorization"] = "Bearer " + jwt
        if api_key is not None:
            h["X-API-Key"] = api_key
        h.update(headers or {})
        if body is not None and not isinstance(body, (str, bytes)):
            body = json.dumps(body)
        return (via or replay).request(method, "/rpc/" + fn, query=query, body=body, headers=h)

    def post(self, fn, body, **kw):
        return self.call("POST", fn, body=body, **kw)

    def get(self, fn, query=None, **kw):
        return self.call("GET", fn, query=query, **kw)

    def create(self, jwt=None, api_key=None, **body):
        body.setdefault("description", "replay token")
        a = self.post("create_user_api_token", body, jwt=jwt if jwt or api_key else self.jwt(), api_key=api_key)
        self.assertEqual(a.status, 201, a)
        return a.json()

    def statements(self):
        return [e["sql"] for e in replay.last_statements]

    def main_statement(self, via=None):
        return (via or replay).last_statements[-2]

    def assertProblem(self, a, status, detail, www=None):
        self.assertEqual(a.status, status, a)
        self.assertEqual(a.header("content-type"), PROBLEM_CT, a)
        self.assertEqual(a.body, problem(status, detail))
        self.assertEqual(a.header("www-authenticate"), www, a)

    def assertNoSql(self, via=None):
        self.assertEqual((via or replay).last_statements, [], "answered before any SQL")

    def assertCommitted(self, read_only):
        s = self.statements()
        mode = "READ ONLY" if read_only else "READ WRITE"
        self.assertEqual(s[0], f"BEGIN ISOLATION LEVEL READ COMMITTED {mode}")
        self.assertEqual(s[-1], "COMMIT")

    def live(self, token_id):
        return superuser("SELECT revoked_at IS NULL FROM fynn_tokens.api_token WHERE id = $1", token_id)[0][0] == "t"


class Create(Replay):
    """POST /user/api-tokens = POST /rpc/create_user_api_token"""

    def test_create_201_location(self):
        a = self.post("create_user_api_token",
                      '{"description":"CI deploy","expiresAt":"2099-01-02T03:04:05Z"}', jwt=self.jwt())
        self.assertEqual(a.status, 201, a)
        body = a.json()
        self.assertEqual(list(body), ["id", "token", "description", "expiresAt", "permissions"])
        self.assertRegex(body["id"], TOKEN_ID)
        self.assertEqual(a.header("location"), "/user/api-tokens/" + body["id"])
        self.assertEqual(a.header("content-type"), JSON_CT)
        self.assertEqual(a.header("content-range"), "0-0/*")          # difference 7
        self.assertEqual(body["description"], "CI deploy")
        self.assertEqual(body["expiresAt"], "2099-01-02T03:04:05+00:00")
        self.assertEqual(body["permissions"], [WRITE, READ])
        # PostgREST's statements, exactly.
        log = replay.last_statements
        self.assertCommitted(read_only=False)
        self.assertEqual(log[1]["sql"], SET_CONFIG)
        self.assertEqual(log[1]["types"], [705] * 7)
        self.assertEqual(log[1]["params"][:2], ['"fynn_api", "public"', JWT_ROLE])
        self.assertEqual(log[1]["params"][3:5], ["POST", "/rpc/create_user_api_token"])
        self.assertEqual(log[2]["sql"], 'select "fynn_api"."pre_request"()')
        self.assertEqual(log[3]["sql"], 'WITH pgrst_source AS (SELECT pgrst_call.pgrst_scalar FROM (SELECT '
                         '"fynn_api"."create_user_api_token"($1::json) pgrst_scalar) pgrst_call) '
                         + MAIN_TAIL.format(fn="create_user_api_token"))
        self.assertEqual(log[3]["params"], ['{"description":"CI deploy","expiresAt":"2099-01-02T03:04:05Z"}'])
        self.assertEqual(log[3]["types"], [705])
        self.assertEqual(superuser("SELECT user_id, tenant_id, parent_id FROM fynn_tokens.api_token WHERE id = $1",
                                   body["id"]), [[self.user, TENANT, None]])

    def test_create_400_not_an_object(self):
        a = self.post("create_user_api_token", "[]", jwt=self.jwt())
        self.assertProblem(a, 400, "The input data is misformatted.")
        self.assertEqual(a.body, b'{"type":"/errors/400","title":"An error occurred","status":400,'
                                 b'"detail":"The input data is misformatted."}')
        self.assertEqual(self.main_statement()["params"], ["[]"])

    def test_create_400_json_string_body(self):
        a = self.post("create_user_api_token", '"a JSON string"', jwt=self.jwt())
        self.assertProblem(a, 400, "The input data is misformatted.")
        self.assertEqual(self.main_statement()["params"], ["[]"], "PostgREST sends a scalar body as []")
        for scalar in ("null", "42", "true"):
            a = self.post("create_user_api_token", scalar, jwt=self.jwt())
            self.assertProblem(a, 400, "The input data is misformatted.")

    def test_create_400_wrong_type(self):
        a = self.post("create_user_api_token", {"description": 12}, jwt=self.jwt())
        self.assertEqual(a.status, 400, a)
        self.assertEqual(a.header("content-type"), PROBLEM_CT)
        self.assertEqual(a.body, b'{"type":"/errors/400","title":"An error occurred","status":400,'
                                 b'"detail":"The type of the \\"description\\" attribute must be \\"string\\", '
                                 b'\\"integer\\" given."}')

    def test_create_400_bad_date(self):
        for date in ("tomorrow", "2030-01-01 00:00:00", "2021-02-31T00:00:00Z"):
            a = self.post("create_user_api_token", {"description": "abc", "expiresAt": date}, jwt=self.jwt())
            self.assertProblem(a, 400, 'The "expiresAt" attribute must be an RFC 3339 date-time '
                                       'such as "2021-01-01T00:00:00+00:00".')

    def test_create_422_violations(self):
        a = self.post("create_user_api_token", {"description": "ab", "expiresAt": "2000-01-01T00:00:00Z"},
                      jwt=self.jwt())
        self.assertEqual(a.status, 422, a)
        self.assertEqual(a.header("content-type"), PROBLEM_CT, "problem+json, not PostgREST's error shape")
        self.assertEqual(a.json(), {
            "status": 422,
            "violations": [
                {"propertyPath": "description",
                 "message": "This value is too short. It should have 3 characters or more.",
                 "code": "9ff3fdc4-b214-49db-8718-39c315e33d45"},
                {"propertyPath": "expiresAt", "message": "This value should be in the future.",
                 "code": "778b7ae0-84d3-481a-9dec-35fdb64b1d78"}],
            "detail": "description: This value is too short. It should have 3 characters or more.\n"
                      "expiresAt: This value should be in the future.",
            "type": "/validation_errors/0=9ff3fdc4-b214-49db-8718-39c315e33d45;"
                    "1=778b7ae0-84d3-481a-9dec-35fdb64b1d78",
            "title": "An error occurred"})
        self.assertCommitted(read_only=False)   # an answer, not an error: PostgREST commits
        self.assertEqual(superuser("SELECT count(*) FROM fynn_tokens.api_token WHERE user_id = $1", self.user),
                         [["0"]], "nothing written")

    def test_create_422_tenant_policy(self):
        tenant = "tenant-policy-" + secrets.token_hex(4)
        superuser("INSERT INTO fynn_tokens.tenant_policy VALUES ($1, interval '1 day', 1)", tenant)
        jwt = self.jwt(tenant_id=tenant)
        a = self.post("create_user_api_token", {"description": "forever"}, jwt=jwt)
        self.assertEqual(a.status, 422, a)
        self.assertEqual(a.json()["violations"], [{"propertyPath": "expiresAt",
                                                   "message": "This value should not be null.",
                                                   "code": "ad32d13f-c3d4-423b-909a-857b961eb720"}])
        soon = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 3600))
        self.assertEqual(self.post("create_user_api_token", {"description": "one", "expiresAt": soon},
                                   jwt=jwt).status, 201)
        a = self.post("create_user_api_token", {"description": "two", "expiresAt": soon}, jwt=jwt)
        self.assertEqual(a.status, 422, a)
        self.assertEqual(a.json()["violations"], [{"propertyPath": "",
                                                   "message": "You have reached the maximum of 1 live API tokens.",
                                                   "code": "756b1212-697c-468d-a9ad-50dd783bb169"}])

    def test_create_401_anonymous(self):
        a = self.post("create_user_api_token", {"description": "abc"})
        self.assertProblem(a, 401, "Authentication is required.", www="Bearer")
        params = self.main_statement()["params"]
        self.assertEqual(replay.last_statements[1]["params"][1:3], [ANON, '{"role":"web_anon"}'])
        self.assertEqual(params, ['{"description": "abc"}'])

    def test_create_401_jwt_without_sub(self):
        a = self.post("create_user_api_token", {"description": "abc"}, jwt=self.jwt(sub=None))
        self.assertProblem(a, 401, 'The claims have no "sub" claim.', www='Bearer error="invalid_token"')

    def test_create_401_expired_jwt_pgrst301(self):
        a = self.post("create_user_api_token", {"description": "abc"},
                      jwt=self.jwt(exp=int(time.time()) - 120))
        self.assertEqual((a.status, a.body), (401, b'{"code":"PGRST301","details":null,"hint":null,'
                                                   b'"message":"JWT expired"}'))
        self.assertEqual(a.header("www-authenticate"),
                         'Bearer error="invalid_token", error_description="JWT expired"')
        self.assertNoSql()

    def test_create_403_without_permission(self):
        a = self.post("create_user_api_token", {"description": "abc"}, jwt=self.jwt(permissions=[READ]))
        self.assertProblem(a, 403, 'The permission "user:api-token:write" is required.')

    def test_create_400_empty_body_22p02(self):
        a = self.post("create_user_api_token", "", jwt=self.jwt())
        self.assertEqual(a.status, 400, a)
        self.assertEqual(a.header("content-type"), JSON_CT)
        self.assertEqual(a.body, b'{"code":"22P02","details":"The input string ended unexpectedly.",'
                                 b'"hint":null,"message":"invalid input syntax for type json"}')
        log = replay.last_statements
        self.assertEqual(log[-2]["params"], [""])
        self.assertEqual(log[-2]["error"], "22P02")
        self.assertEqual(log[-1]["sql"], "ABORT")

    def test_create_400_malformed_json_pgrst102(self):
        a = self.post("create_user_api_token", '{"description":', jwt=self.jwt())
        self.assertEqual((a.status, a.header("content-type")), (400, JSON_CT))
        self.assertEqual(a.body, b'{"code":"PGRST102","details":null,"hint":null,"message":"Empty or invalid json"}')
        self.assertNoSql()

    def test_create_400_array_of_scalars_pgrst102(self):
        for body in ("[1, 2]", '[{"description":"abc"}, {"expiresAt":null}]'):
            a = self.post("create_user_api_token", body, jwt=self.jwt())
            self.assertEqual(a.body, b'{"code":"PGRST102","details":null,"hint":null,'
                                     b'"message":"All object keys must match"}')
            self.assertEqual(a.status, 400)
            self.assertNoSql()

    def test_create_401_bearer_api_token_pgrst301(self):
        token = self.create()["token"]
        a = self.post("create_user_api_token", {"description": "abc"}, jwt=token)
        self.assertEqual(a.status, 401, a)
        self.assertEqual(a.json(), {"code": "PGRST301", "details": None, "hint": None,
                                    "message": "JWSError (CompactDecodeError Invalid number of parts: "
                                               "Expected 3 parts; got 1)"})
        self.assertTrue(a.header("www-authenticate").startswith('Bearer error="invalid_token"'))
        self.assertNoSql()

    def test_create_without_content_type_is_json(self):
        a = replay.request("POST", "/rpc/create_user_api_token", body='{"description":"none at all"}',
                           headers={"Authorization": "Bearer " + self.jwt()})
        self.assertEqual(a.status, 201, a)

    def test_attack_snake_case_keys_reach_the_json_function(self):
        # The attack: keys named like the core overload's parameters.
        a = self.post("create_user_api_token", {"description": "x1x", "expires_at": "tomorrow"}, jwt=self.jwt())
        self.assertEqual(a.status, 201, a)
        self.assertIsNone(a.json()["expiresAt"], "the unknown key expires_at is ignored")
        self.assertIn('"fynn_api"."create_user_api_token"($1::json)', self.main_statement()["sql"])
        self.assertNotIn(":=", self.main_statement()["sql"])
        self.assertEqual(superuser("SELECT expires_at FROM fynn_tokens.api_token WHERE id = $1", a.json()["id"]),
                         [[None]])

    def test_attack_would_need_fynn_tokens_exposed_and_granted(self):
        # The overload exists in the core schema...
        self.assertEqual(superuser("SELECT count(*) FROM pg_proc WHERE proname = 'create_user_api_token' "
                                   "AND pronamespace = 'fynn_tokens'::regnamespace "
                                   "AND pg_get_function_identity_arguments(oid) = "
                                   "'description text, expires_at timestamp with time zone'"), [["1"]])
        # ...and a PostgREST exposing fynn_tokens would pick it by the body's keys,
        # but PostgreSQL refuses: PostgREST's roles hold nothing on fynn_tokens.
        exposed = postgrest.PostgrestReplay(DB_URI, ANON, SECRET, schemas=("fynn_tokens", "public"))
        try:
            a = self.post("create_user_api_token", {"description": "x1x", "expires_at": "tomorrow"},
                          jwt=self.jwt(), via=exposed)
            main = exposed.last_statements[-2]
            self.assertIn('"description" := pgrst_body."description", "expires_at" := pgrst_body."expires_at"',
                          main["sql"])
            self.assertEqual(main["types"], [114])
            self.assertEqual(a.status, 403, a)
            self.assertEqual(a.json()["code"], "42501")
            self.assertEqual(a.json()["message"], "permission denied for schema fynn_tokens")
        finally:
            exposed.close()

    def test_core_functions_are_not_exposed(self):
        token = self.create()["token"]
        for fn, body in (("verify_api_token", {"token": token}),
                         ("record_api_token_use", {"token_hash": "\\x00"}),
                         ("revoke_api_token", {"token": token})):
            a = self.post(fn, body)
            self.assertEqual(a.status, 404, (fn, a))
            self.assertEqual(a.json()["code"], "PGRST202")
            self.assertEqual(a.json()["message"],
                             f"Could not find the function fynn_api.{fn}({next(iter(body))}) in the schema cache")
            self.assertNoSql()
        self.assertTrue(self.live(self.create()["id"]))


class List(Replay):
    """GET /user/api-tokens?page&limit = GET /rpc/list_user_api_tokens?page&page_size"""

    def test_list_200_shape(self):
        jwt = self.jwt()
        ids = [self.create(jwt=jwt, description=f"token {i}")["id"] for i in range(3)]
        a = self.get("list_user_api_tokens", {"page": "1", "page_size": "2"}, jwt=jwt)
        self.assertEqual((a.status, a.header("content-type")), (200, JSON_CT), a)
        body = a.json()
        self.assertEqual(body["meta"], {"pagination": {"totalItems": 3, "itemsPerPage": 2, "currentPage": 1,
                                                       "lastPage": 2, "pageTotalItems": 2}})
        self.assertEqual([i["id"] for i in body["data"]], ids[::-1][:2], "newest first")
        self.assertEqual(list(body["data"][0]), ["id", "description", "expiresAt", "createdAt", "updatedAt",
                                                 "apiToken", "lastUsedAt", "permissions"])
        self.assertEqual(body["data"][0]["apiToken"], "**********")
        self.assertCommitted(read_only=True)
        main = self.main_statement()
        self.assertEqual(main["sql"], 'WITH pgrst_source AS (SELECT pgrst_call.pgrst_scalar FROM (SELECT $1 AS '
                         'json_data) pgrst_payload, LATERAL (SELECT "page", "page_size" FROM json_to_record('
                         'pgrst_payload.json_data) AS _("page" text, "page_size" text) LIMIT 1) pgrst_body , '
                         'LATERAL (SELECT "fynn_api"."list_user_api_tokens"("page" := pgrst_body."page", '
                         '"page_size" := pgrst_body."page_size") pgrst_scalar) pgrst_call) '
                         + MAIN_TAIL.format(fn="list_user_api_tokens"))
        self.assertEqual(main["params"], ['{"page":"1","page_size":"2"}'])
        a = self.get("list_user_api_tokens", {"page": "2", "page_size": "2"}, jwt=jwt)
        self.assertEqual([i["id"] for i in a.json()["data"]], [ids[0]])

    def test_list_400_bad_page(self):
        jwt = self.jwt()
        for query in ({"page": "0"}, {"page": "abc"}, {"page": ""}):
            self.assertProblem(self.get("list_user_api_tokens", query, jwt=jwt), 400,
                               'The "page" parameter must be an integer of 1 or more.')
        for size in ("0", "101", "1.5"):
            self.assertProblem(self.get("list_user_api_tokens", {"page_size": size}, jwt=jwt), 400,
                               'The "limit" parameter must be an integer from 1 to 100.')

    def test_list_401(self):
        self.assertProblem(self.get("list_user_api_tokens"), 401, "Authentication is required.", www="Bearer")
        self.assertEqual(self.main_statement()["sql"],
                         'WITH pgrst_source AS (SELECT pgrst_call.pgrst_scalar FROM (SELECT '
                         '"fynn_api"."list_user_api_tokens"() pgrst_scalar) pgrst_call) '
                         + MAIN_TAIL.format(fn="list_user_api_tokens"))

    def test_list_403(self):
        self.assertProblem(self.get("list_user_api_tokens", jwt=self.jwt(permissions=[WRITE])), 403,
                           'The permission "user:api-token:read" is required.')

    def test_list_limit_is_reserved(self):
        jwt = self.jwt()
        self.create(jwt=jwt)
        a = self.get("list_user_api_tokens", {"page": "1", "limit": "1"}, jwt=jwt)
        self.assertEqual(a.status, 200, a)
        self.assertEqual(a.json()["meta"]["pagination"]["itemsPerPage"], 30, "limit never reached the function")
        self.assertEqual(self.main_statement()["params"], ['{"page":"1"}'])
        self.assertNotIn("limit", self.main_statement()["sql"].replace("LIMIT 1", ""))

    def test_list_404_unknown_query_parameter(self):
        a = self.get("list_user_api_tokens", {"pageSize": "2"}, jwt=self.jwt())
        self.assertEqual(a.status, 404, a)
        self.assertEqual(a.json(), {
            "code": "PGRST202", "hint": None,
            "message": "Could not find the function fynn_api.list_user_api_tokens(pageSize) in the schema cache",
            "details": "Searched for the function fynn_api.list_user_api_tokens with parameter pageSize, "
                       "but no matches were found in the schema cache."})
        self.assertNoSql()


class Get(Replay):
    """GET /user/api-tokens/{id} = GET /rpc/get_user_api_token?id="""

    def test_get_200(self):
        jwt = self.jwt()
        created = self.create(jwt=jwt, description="to read", expiresAt="2099-01-01T00:00:00.5Z")
        a = self.get("get_user_api_token", {"id": created["id"]}, jwt=jwt)
        self.assertEqual(a.status, 200, a)
        item = a.json()
        self.assertEqual((item["id"], item["description"], item["expiresAt"], item["apiToken"]),
                         (created["id"], "to read", "2099-01-01T00:00:00.5+00:00", "**********"))
        self.assertCommitted(read_only=True)
        self.assertEqual(self.main_statement()["types"], [114])

    def test_get_404(self):
        other = self.create(jwt=self.jwt(sub=self.user + "-other"))
        jwt = self.jwt()
        for token_id in (other["id"], "0" * 20, "not an id", ""):
            self.assertProblem(self.get("get_user_api_token", {"id": token_id}, jwt=jwt), 404,
                               "API token not found.")
        self.assertProblem(self.get("get_user_api_token", jwt=jwt), 404, "API token not found.")

    def test_get_401(self):
        self.assertProblem(self.get("get_user_api_token", {"id": "0" * 20}), 401,
                           "Authentication is required.", www="Bearer")

    def test_get_403(self):
        created = self.create()
        self.assertProblem(self.get("get_user_api_token", {"id": created["id"]},
                                    jwt=self.jwt(permissions=[WRITE])),
                           403, 'The permission "user:api-token:read" is required.')

    def test_get_of_a_json_function_is_404(self):
        a = self.get("create_user_api_token", jwt=self.jwt())
        self.assertEqual((a.status, a.json()["code"]), (404, "PGRST202"))
        self.assertEqual(a.json()["message"],
                         "Could not find the function fynn_api.create_user_api_token without parameters "
                         "in the schema cache")
        self.assertNoSql()


class Revoke(Replay):
    """DELETE /user/api-tokens/{id} = POST /rpc/revoke_user_api_token {"id"}"""

    def test_revoke_204_then_the_token_fails(self):
        jwt = self.jwt()
        created = self.create(jwt=jwt)
        self.assertEqual(self.post("create_user_api_token", {"description": "works"},
                                   api_key=created["token"]).status, 201)
        a = self.post("revoke_user_api_token", {"id": created["id"]}, jwt=jwt)
        self.assertEqual((a.status, a.body), (204, b""), a)
        self.assertCommitted(read_only=False)
        self.assertFalse(self.live(created["id"]))
        a = self.post("create_user_api_token", {"description": "after"}, api_key=created["token"])
        self.assertEqual(a.status, 401, a)
        self.assertEqual(a.json()["code"], "FYNN401")
        self.assertProblem(self.get("get_user_api_token", {"id": created["id"]}, jwt=jwt), 404,
                           "API token not found.")

    def test_revoke_404(self):
        other = self.create(jwt=self.jwt(sub=self.user + "-other"))
        jwt = self.jwt()
        for body in ({"id": other["id"]}, {"id": "0" * 20}, {}):
            self.assertProblem(self.post("revoke_user_api_token", body, jwt=jwt), 404, "API token not found.")
        self.assertTrue(self.live(other["id"]))


class Rotate(Replay):
    """POST /user/api-tokens/{id}/rotate = POST /rpc/rotate_user_api_token {"id","request"}"""

    def test_rotate_201(self):
        jwt = self.jwt()
        old = self.create(jwt=jwt, description="rotate me")
        a = self.post("rotate_user_api_token", {"id": old["id"], "request": {"gracePeriod": 0}}, jwt=jwt)
        self.assertEqual(a.status, 201, a)
        new = a.json()
        self.assertNotEqual(new["id"], old["id"])
        self.assertEqual(a.header("location"), "/user/api-tokens/" + new["id"])
        self.assertEqual((new["description"], new["permissions"]), ("rotate me", old["permissions"]))
        self.assertFalse(self.live(old["id"]))
        self.assertEqual(self.post("create_user_api_token", {"description": "old"},
                                   api_key=old["token"]).status, 401)
        self.assertEqual(self.post("create_user_api_token", {"description": "new"},
                                   api_key=new["token"]).status, 201)

    def test_rotate_with_grace_keeps_the_old_one(self):
        jwt = self.jwt()
        old = self.create(jwt=jwt)
        a = self.post("rotate_user_api_token", {"id": old["id"], "request": {"gracePeriod": 3600}}, jwt=jwt)
        self.assertEqual(a.status, 201, a)
        self.assertTrue(self.live(old["id"]))
        self.assertEqual(self.post("create_user_api_token", {"description": "grace"},
                                   api_key=old["token"]).status, 201)

    def test_rotate_400(self):
        jwt = self.jwt()
        old = self.create(jwt=jwt)
        self.assertProblem(self.post("rotate_user_api_token", {"id": old["id"], "request": {"gracePeriod": "1"}},
                                     jwt=jwt),
                           400, 'The type of the "gracePeriod" attribute must be "int", "string" given.')
        self.assertProblem(self.post("rotate_user_api_token", {"id": old["id"], "request": [1]}, jwt=jwt),
                           400, "The input data is misformatted.")
        self.assertProblem(self.post("rotate_user_api_token", {"id": 5}, jwt=jwt),
                           400, 'The type of the "id" attribute must be "string", "integer" given.')
        self.assertTrue(self.live(old["id"]))

    def test_rotate_404(self):
        other = self.create(jwt=self.jwt(sub=self.user + "-other"))
        self.assertProblem(self.post("rotate_user_api_token", {"id": other["id"], "request": None},
                                     jwt=self.jwt()), 404, "API token not found.")

    def test_rotate_422(self):
        jwt = self.jwt()
        old = self.create(jwt=jwt)
        a = self.post("rotate_user_api_token", {"id": old["id"], "request": {"gracePeriod": 604801}}, jwt=jwt)
        self.assertEqual((a.status, a.header("content-type")), (422, PROBLEM_CT), a)
        self.assertEqual(a.json()["violations"], [{"propertyPath": "gracePeriod",
                                                   "message": "This value should be between 0 and 604800.",
                                                   "code": "04b91c99-a946-4221-afc5-e65ebac401eb"}])
        self.assertTrue(self.live(old["id"]))


class RevokeCurrent(Replay):
    """DELETE /user/api-tokens/current = POST /rpc/revoke_current_api_token {} with X-API-Key"""

    def test_revoke_current_204_with_api_key(self):
        created = self.create()
        a = self.post("revoke_current_api_token", {}, api_key=created["token"])
        self.assertEqual((a.status, a.body), (204, b""), a)
        self.assertFalse(self.live(created["id"]))
        self.assertEqual(self.post("revoke_current_api_token", {}, api_key=created["token"]).status, 401)

    def test_revoke_current_400_with_jwt(self):
        self.assertProblem(self.post("revoke_current_api_token", {}, jwt=self.jwt()), 400,
                           "This request is not authenticated by an API token.")

    def test_revoke_current_401_without_credential(self):
        self.assertProblem(self.post("revoke_current_api_token", {}), 401, "Authentication is required.",
                           www="Bearer")


class RevokeLeaked(Replay):
    """POST /api-tokens/revoke = POST /rpc/revoke_leaked_api_token {"token"}, anonymous"""

    def test_leak_202_live_token(self):
        created = self.create()
        a = self.post("revoke_leaked_api_token", {"token": created["token"]})
        self.assertEqual((a.status, a.body), (202, LEAK_BODY), a)
        self.assertEqual(replay.last_statements[1]["params"][1], ANON)
        self.assertFalse(self.live(created["id"]))
        self.assertEqual(self.post("create_user_api_token", {"description": "leaked"},
                                   api_key=created["token"]).status, 401)

    def test_leak_202_unknown_token(self):
        a = self.post("revoke_leaked_api_token", {"token": well_formed_token()})
        self.assertEqual((a.status, a.body), (202, LEAK_BODY), a)

    def test_leak_202_by_sha256(self):
        created = self.create()
        digest = hashlib.sha256(created["token"].encode()).hexdigest()
        a = self.post("revoke_leaked_api_token", {"token_sha256": digest})
        self.assertEqual((a.status, a.body), (202, LEAK_BODY), a)
        self.assertFalse(self.live(created["id"]))
        self.assertProblem(self.post("revoke_leaked_api_token", {"token_sha256": digest.upper()}), 400,
                           'The "token_sha256" attribute must be 64 lower-case hexadecimal digits.')

    def test_leak_400_malformed(self):
        self.assertProblem(self.post("revoke_leaked_api_token", {"token": "api_nope"}), 400,
                           "The token is not a well-formed API token.")
        self.assertProblem(self.post("revoke_leaked_api_token", {"token": well_formed_token(valid_checksum=False)}),
                           400, "The token is not a well-formed API token.")
        self.assertProblem(self.post("revoke_leaked_api_token", {}), 400, 'The "token" attribute is required.')


class PreRequest(Replay):
    """db-pre-request = fynn_api.pre_request: X-API-Key authentication"""

    def test_pre_request_api_key_makes_a_child_token(self):
        parent = self.create(permissions=[WRITE, READ])
        a = self.post("create_user_api_token", {"description": "child", "permissions": [READ]},
                      api_key=parent["token"])
        self.assertEqual(a.status, 201, a)
        child = a.json()
        self.assertEqual(replay.last_statements[1]["params"][1], ANON, "PostgREST itself saw no credential")
        self.assertEqual(superuser("SELECT parent_id, user_id, tenant_id, permissions::text "
                                   "FROM fynn_tokens.api_token WHERE id = $1", child["id"]),
                         [[parent["id"], self.user, TENANT, "{user:api-token:read}"]])
        self.assertEqual(superuser("SELECT actor, actor_token_id, db_user FROM fynn_tokens.api_token_event "
                                   "WHERE token_id = $1 AND action = 'create'", child["id"]),
                         [["api_token", parent["id"], "authenticator"]])
        self.assertIsNotNone(superuser("SELECT last_used_at FROM fynn_tokens.api_token WHERE id = $1",
                                       parent["id"])[0][0], "the use was recorded")

    def test_pre_request_switches_role_and_claims(self):
        # A probe in the exposed schema shows what the main statement runs as.
        parent = self.create()
        with Probe("replay_probe", "SELECT json_build_object('user', current_user, 'claims', "
                                   "current_setting('request.jwt.claims', true)::json)", "STABLE"):
            anonymous = self.get("replay_probe").json()
            by_key = self.get("replay_probe", api_key=parent["token"]).json()
        self.assertEqual(anonymous, {"user": ANON, "claims": {"role": ANON}})
        self.assertEqual(by_key["user"], JWT_ROLE)
        claims = by_key["claims"]
        self.assertEqual((claims["sub"], claims["tenant_id"], claims["token_id"], claims["role"]),
                         (self.user, TENANT, parent["id"], JWT_ROLE))
        self.assertEqual(claims["permissions"], [WRITE, READ])

    def test_pre_request_in_a_get_records_no_use(self):
        parent = self.create()
        a = self.get("list_user_api_tokens", api_key=parent["token"])
        self.assertEqual(a.status, 200, a)
        self.assertEqual([i["id"] for i in a.json()["data"]], [parent["id"]])
        # A GET is READ ONLY: pre_request must not record the use there (it would be 25006, a 405).
        self.assertCommitted(read_only=True)
        self.assertIsNone(superuser("SELECT last_used_at FROM fynn_tokens.api_token WHERE id = $1",
                                    parent["id"])[0][0])

    def test_pre_request_invalid_key_401(self):
        for key in ("api_nope", well_formed_token(valid_checksum=False), well_formed_token()):
            a = self.post("create_user_api_token", {"description": "abc"}, api_key=key)
            self.assertEqual(a.status, 401, a)
            self.assertEqual(a.body, b'{"code":"FYNN401","details":null,"hint":null,"message":"Invalid API token"}')
            self.assertEqual(a.header("content-type"), JSON_CT)
            self.assertEqual(a.header("www-authenticate"), 'Bearer error="invalid_token"')
            self.assertEqual(self.statements()[-2:], ['select "fynn_api"."pre_request"()', "ABORT"])

    def test_pre_request_revoked_key_401(self):
        revoked, expired = self.create(), self.create()
        superuser("UPDATE fynn_tokens.api_token SET revoked_at = now() WHERE id = $1", revoked["id"])
        superuser("UPDATE fynn_tokens.api_token SET expires_at = now() - interval '1 second' WHERE id = $1",
                  expired["id"])
        for key in (revoked["token"], expired["token"]):
            a = self.get("list_user_api_tokens", api_key=key)
            self.assertEqual((a.status, a.body), (401, b'{"code":"FYNN401","details":null,"hint":null,'
                                                       b'"message":"Invalid API token"}'), a)
            self.assertEqual(a.header("www-authenticate"), 'Bearer error="invalid_token"')

    def test_pre_request_child_cannot_widen(self):
        parent = self.create(permissions=[READ])
        a = self.post("create_user_api_token", {"description": "wider", "permissions": [READ, WRITE]},
                      api_key=parent["token"])
        self.assertProblem(a, 403, 'The permission "user:api-token:write" is required.')
        parent = self.create(permissions=[WRITE])
        a = self.post("create_user_api_token", {"description": "wider", "permissions": [READ, WRITE]},
                      api_key=parent["token"])
        self.assertEqual((a.status, a.json()["violations"][0]["code"]),
                         (422, "8e179f1b-97aa-4560-a02f-2a8b42e49df7"), a)

    def test_pre_request_without_api_token_role_is_500(self):
        # An authenticator the superuser forgot to ALTER ROLE ... SET fynn_tokens.api_token_role for.
        created = self.create()
        password = secrets.token_hex(12)
        superuser("DROP ROLE IF EXISTS authenticator_bare")
        superuser(f"CREATE ROLE authenticator_bare LOGIN NOINHERIT PASSWORD '{password}'")
        superuser("GRANT web_anon, fynn_api_user TO authenticator_bare")
        bare = None
        try:
            bare = postgrest.PostgrestReplay(
                re.sub(r"user=\S+ password=\S+", f"user=authenticator_bare password={password}", DB_URI),
                ANON, SECRET, pre_request="fynn_api.pre_request")
            a = self.post("create_user_api_token", {"description": "abc"}, api_key=created["token"], via=bare)
        finally:
            if bare is not None:
                bare.close()
            superuser("DROP ROLE authenticator_bare")
        self.assertEqual(a.status, 500, a)
        self.assertEqual(a.json(), {
            "code": "55000", "message": "fynn_tokens.api_token_role is not set",
            "details": "An API token was presented, and the role such requests run as is not configured.",
            "hint": "ALTER ROLE authenticator SET fynn_tokens.api_token_role = 'your_api_role';"})

    def test_pre_request_key_and_jwt_401(self):
        created = self.create()
        a = self.post("create_user_api_token", {"description": "abc"}, jwt=self.jwt(), api_key=created["token"])
        self.assertEqual(a.status, 401, a)
        self.assertEqual(a.json()["message"], "Send one credential: an API key or a JWT, not both.")

    def test_without_pre_request_the_api_key_is_ignored(self):
        created = self.create()
        a = self.post("create_user_api_token", {"description": "abc"}, api_key=created["token"], via=replay_plain)
        self.assertProblem(a, 401, "Authentication is required.", www="Bearer")
        self.assertNotIn("pre_request", " ".join(e["sql"] for e in replay_plain.last_statements))

    def test_request_headers_carry_credentials_to_the_log(self):
        jwt = self.jwt()
        created = self.create(jwt=jwt)
        marker = "replay-" + secrets.token_hex(6)
        self.post("create_user_api_token", {"description": marker}, api_key=created["token"],
                  headers={"Cookie": "session=abc"})
        headers = json.loads(replay.last_statements[1]["params"][5])
        self.assertEqual(headers["x-api-key"], created["token"], "the API key is a bind parameter")
        self.assertNotIn("cookie", headers)
        self.assertEqual(replay.last_statements[1]["params"][6], '{"session":"abc"}')
        self.post("create_user_api_token", {"description": marker}, jwt=jwt)
        headers = json.loads(replay.last_statements[1]["params"][5])
        self.assertEqual(headers["authorization"], "Bearer " + jwt, "the JWT is a bind parameter")
        # With log_statement=all (set for authenticator by run-replay.sh) both reach the server log.
        if not PG_LOG:
            self.skipTest("REPLAY_PG_LOG unset")
        text = ""
        for _ in range(50):
            with open(PG_LOG, "rb") as f:
                f.seek(PG_LOG_START)
                text = f.read().decode("utf-8", errors="replace")
            if created["token"] in text and jwt in text:
                break
            time.sleep(0.1)
        self.assertIn(created["token"], text, "X-API-Key in the server log")
        self.assertIn(jwt, text, "the JWT in the server log")


class Transactions(Replay):
    """What PostgREST's transactions look like, for every GET and POST here."""

    def test_every_get_is_read_only_every_volatile_post_read_write(self):
        jwt = self.jwt()
        created = self.create(jwt=jwt)
        self.assertCommitted(read_only=False)
        for fn, query in (("list_user_api_tokens", None), ("list_user_api_tokens", {"page": "1"}),
                          ("get_user_api_token", {"id": created["id"]})):
            self.get(fn, query, jwt=jwt)
            self.assertCommitted(read_only=True)
        for fn, body in (("revoke_leaked_api_token", {"token": well_formed_token()}),
                         ("rotate_user_api_token", {"id": created["id"]}),
                         ("revoke_current_api_token", {})):
            self.post(fn, body, jwt=jwt)
            self.assertCommitted(read_only=False)
        gets = [r for r in replay.requests if r and r[1]["params"][3] == "GET"]
        self.assertTrue(gets)
        for r in gets:
            self.assertEqual(r[0]["sql"], "BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY")

    def test_get_of_a_volatile_function_is_read_only(self):
        # No fynn_api function is both VOLATILE and reachable by GET, so a probe shows the rule:
        # GET is READ ONLY whatever the volatility; POST follows it.
        with Probe("replay_probe_volatile",
                   "SELECT to_json(current_setting('transaction_read_only'))", "VOLATILE"), \
                Probe("replay_probe_stable",
                      "SELECT to_json(current_setting('transaction_read_only'))", "STABLE"):
            answers = {(m, fn): self.call(m, fn).json()
                       for m in ("GET", "POST") for fn in ("replay_probe_volatile", "replay_probe_stable")}
        self.assertEqual(answers, {("GET", "replay_probe_volatile"): "on", ("GET", "replay_probe_stable"): "on",
                                   ("POST", "replay_probe_volatile"): "off", ("POST", "replay_probe_stable"): "on"})

    def test_a_revocation_notifies_at_commit(self):
        jwt = self.jwt()
        created = self.create(jwt=jwt)
        listener = libpq.Connection(SU_URI)
        try:
            self.assertIsNone(listener.exec("LISTEN fynn_tokens_changes").error)
            self.assertEqual(self.post("revoke_user_api_token", {"id": created["id"]}, jwt=jwt).status, 204)
            notes = []
            deadline = time.monotonic() + 5
            while not notes and time.monotonic() < deadline:
                notes = listener.notifies(timeout=0.5)
        finally:
            listener.close()
        self.assertEqual([(n[0], n[2]) for n in notes], [("fynn_tokens_changes", created["id"])])

    def test_no_grant_on_fynn_tokens(self):
        self.assertEqual(superuser("SELECT r, has_schema_privilege(r, 'fynn_tokens', 'USAGE'), "
                                   "has_schema_privilege(r, 'fynn_api', 'USAGE') "
                                   "FROM unnest(array['web_anon', 'fynn_api_user', 'authenticator']) r"),
                         [["web_anon", "f", "t"], ["fynn_api_user", "f", "t"], ["authenticator", "f", "f"]])


class ErrorTable(unittest.TestCase):
    """postgrest.pg_error_status against Error.hs's table (v12.2)."""

    def test_pg_error_status(self):
        cases = {("22023", True): 400, ("22P02", False): 400, ("28000", True): 403, ("42501", True): 403,
                 ("42501", False): 401, ("25006", True): 405, ("25001", True): 500, ("23505", True): 409,
                 ("23503", True): 409, ("23514", True): 400, ("08006", True): 503, ("53400", True): 500,
                 ("53100", True): 503, ("54000", True): 500, ("55000", True): 500, ("57P01", True): 503,
                 ("57014", True): 500, ("P0001", True): 400, ("P0002", True): 500, ("PT418", True): 418,
                 ("42883", True): 404, ("42P01", True): 404, ("42P17", True): 500, ("42601", True): 400,
                 ("40001", True): 500, ("XX000", True): 500, ("0P000", True): 403, ("HV000", True): 500}
        for (code, authed), status in cases.items():
            self.assertEqual(postgrest.pg_error_status(code, "m", authed), status, code)


class Tally(unittest.TextTestResult):
    """ok/FAIL lines, the format the project's runners parse."""

    def addSuccess(self, test):
        super().addSuccess(test)
        self.stream.writeln(f"ok: {test.id().split('.', 1)[1]}")

    def _fail(self, test, err, kind):
        self.stream.writeln(f"FAIL: {test.id().split('.', 1)[1]} ({kind}): {err[1]}")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._fail(test, err, "failure")

    def addError(self, test, err):
        super().addError(test, err)
        self._fail(test, err, "error")

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self.stream.writeln(f"FAIL: {test.id()} (skipped: {reason})")


def main():
    verbose = "-v" in sys.argv[1:]
    started = time.monotonic()
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2 if verbose else 0, resultclass=Tally)
    result = runner.run(suite)
    failed = len(result.failures) + len(result.errors) + len(result.skipped)
    passed = result.testsRun - failed
    print(f"replay: {result.testsRun} cases in {time.monotonic() - started:.1f} s")
    print(f"replay: {passed} passed, {failed} failed")
    return 0 if failed == 0 and result.testsRun > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
