"""PostgREST v12.2's `/rpc/<fn>`, replayed statement for statement over libpq.

PostgREST cannot be installed here (no Haskell toolchain, no network to
fetch a binary), so this module does in Python what PostgREST v12.2 does
for a function call, and sends the server exactly the statements PostgREST
would send, so the fynn_api schema can be tested the way PostgREST uses it.
The facts come from ../shared/spec/postgrest.md (read from PostgREST's own
source at v12.2.12) and from these files of PostgREST's repository, read
again for this module:

- src/PostgREST/Error.hs (the v12.2 one: "53400" is 500, 54xxx is 500, no
  Proxy-Status header, no 22023-role special case): pgErrorStatus, the error
  body {"code","details","hint","message"}, WWW-Authenticate on a 401, the
  RAISE SQLSTATE 'PGRST' rules.  PG_ERROR_STATUS below is that table.
- src/PostgREST/Query/SqlFragment.hs: set_config parameters are `unknown`
  (unknownEncoder); the single json parameter of a POST is `unknown` cast
  with ::json (singleParameter); the payload of a GET with arguments is
  typed `json` (fromJsonBodyF's jsonPlaceHolder uses HE.jsonLazyBytes; sent
  as `unknown`, `SELECT $1 AS json_data` would resolve to text and
  json_to_record(text) does not exist); request.headers is
  JSON.encode of a HashMap.
- CHANGELOG.md: v12.0.1 "Empty or invalid json" (PGRST102), v11.0.1 JWT
  clock skew of 30 s, v12.2.0 #3267/#3255.

What one request does, in order (PostgrestReplay.request):
 1. Authorization: `Bearer <jwt>` is verified (HS256/384/512 with the
    secret, exp/nbf/iat with 30 s skew, aud when configured); a bad one is
    401 PGRST301 before any SQL.  The role is the "role" claim, or the
    anonymous role; the claims are the payload with "role" set, keys sorted,
    compact.  No (or a non-Bearer) Authorization is anonymous:
    {"role":"<anon>"}.
 2. The body (POST) is parsed for its top-level keys: invalid JSON, or an
    array whose elements are not objects with the same keys, is 400 PGRST102
    before SQL; an object passes as is; null, a string, a number or a
    boolean passes as '[]'; an empty body passes as '' (then `''::json` is
    22P02 in SQL).  GET takes the query string minus PostgREST's reserved
    keys as named text arguments.
 3. The function is looked up in the schema cache of the exposed schema
    (pg_proc, loaded at start): named parameters matching the keys, else
    (POST) the single unnamed json/jsonb parameter; no match is 404
    PGRST202 before SQL.  This is why fynn_tokens.* is unreachable.
 4. BEGIN ISOLATION LEVEL READ COMMITTED READ WRITE (POST to a VOLATILE
    function) or READ ONLY (GET, or POST to STABLE/IMMUTABLE); the
    set_config statement; `select "schema"."pre_request"()` when
    db-pre-request is set; the main statement; COMMIT, or ABORT after an
    error.  Every statement is prepared, and recorded in self.log with its
    parameters and their type OIDs.
 5. The answer: on success the status from response.status (else 200), the
    headers Content-Type: application/json; charset=utf-8 and
    Content-Range: 0-0/* overridden by name by response.headers, the body
    column verbatim (dropped for 204, as Warp drops it); on an SQL error the
    status from PG_ERROR_STATUS and PostgREST's error body, or the status,
    body and headers a RAISE SQLSTATE 'PGRST' asked for.

What it knowingly does not emulate is listed in not_emulated below; how
PostgREST's answers differ from the contract is listed at the top of
test_replay.py.
"""
import base64
import hashlib
import hmac
import json
import time
import urllib.parse

try:
    from . import libpq  # noqa: F401 (package import)
except ImportError:  # run as a script from this folder
    import libpq

ANON_CLAIMS_ROLE = "role"
JSON_CT = "application/json; charset=utf-8"
JWT_SKEW_SECONDS = 30       # CHANGELOG v11.0.1, #1139

# Query keys PostgREST keeps for its own syntax: never function arguments.
RESERVED_QUERY_KEYS = {"select", "columns", "order", "limit", "offset", "and", "or", "on_conflict"}

# What this replay knowingly does differently from PostgREST v12.2.
not_emulated = [
    "request.headers keys are sorted; PostgREST encodes a HashMap, whose key order is its hash order",
    "PGRST202's hint (PostgREST's fuzzy 'Perhaps you meant ...') is always null",
    "PGRST301 messages other than 'JWT expired' and a wrong part count are approximations of jose's show",
    "only Content-Type JSON bodies (PostgREST also matches text/plain, xml, octet-stream functions)",
    "GET query values are always function arguments, never filters (eq.…) on the result",
    "no per-role or per-function settings in the set_config statement (none exist in this project)",
    "claims are re-encoded by Python's json: a float claim may be written differently from aeson (1e2)",
    "BEGIN/COMMIT/ABORT are prepared like the rest; hasql-transaction's exact protocol use is not replayed",
    "no connection pool, no Range/Prefer headers, no 40001 retries, no Server-Timing",
]


def _b64url_decode(part):
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _compact(value):
    """Aeson's compact encoding: no spaces, UTF-8 (not \\u escapes)."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _reject_constant(name):
    raise ValueError(f"not JSON: {name}")


def parse_json(data):
    """Strict JSON (aeson rejects NaN and Infinity); raises ValueError."""
    if isinstance(data, bytes):
        data = data.decode("utf-8")
    return json.loads(data, parse_constant=_reject_constant)


def quote_ident(name):
    """PostgREST's pgFmtIdent: double quotes, doubled inside, cut at NUL."""
    name = name.split("\x00", 1)[0]
    return '"' + name.replace('"', '""') + '"'


def quote_qi(qualified):
    """"schema.fn" -> "schema"."fn"."""
    schema, _, name = qualified.partition(".")
    return quote_ident(schema) + "." + quote_ident(name)


# pgErrorStatus / mapSQLtoHTTP of src/PostgREST/Error.hs at v12.2 (the
# version with "53400" -> 500 and 54xxx -> 500, CHANGELOG 12.2.0 #3267,
# #3255; 42P17 -> 500 from 12.0.3 #3256).  Checked in this order; the first
# entry that matches wins.  Anything else (22xxx, 42xxx other than these,
# 23xxx other than these, P0002, ...) is 400; only errors that are not
# server errors (connection loss) are 500/503.
PG_ERROR_STATUS = [
    ("08", 503),     # pg connection err
    ("09", 500),     # triggered action exception
    ("0L", 403),     # invalid grantor
    ("0P", 403),     # invalid role specification
    ("23503", 409),  # foreign_key_violation
    ("23505", 409),  # unique_violation
    ("25006", 405),  # read_only_sql_transaction
    ("21000", None),  # cardinality_violation: 400 for pg-safeupdate's "requires a WHERE clause", else 500
    ("25", 500),     # invalid tx state
    ("28", 403),     # invalid auth specification
    ("2D", 500),     # invalid tx termination
    ("38", 500),     # external routine exception
    ("39", 500),     # external routine invocation
    ("3B", 500),     # savepoint exception
    ("40", 500),     # tx rollback
    ("53400", 500),  # config limit exceeded
    ("53", 503),     # insufficient resources
    ("54", 500),     # too complex
    ("55", 500),     # obj not on prereq state
    ("57P01", 503),  # terminating connection due to administrator command
    ("57", 500),     # operator intervention
    ("58", 500),     # system error
    ("F0", 500),     # conf file error
    ("HV", 500),     # foreign data wrapper error
    ("P0001", 400),  # default code for "raise"
    ("P0", 500),     # PL/pgSQL Error
    ("XX", 500),     # internal Error
    ("42883", None),  # undefined function: 406 for "function xmlagg(", else 404
    ("42P01", 404),  # undefined table
    ("42P17", 500),  # infinite recursion
    ("42501", None),  # insufficient privilege: 403 when authenticated, 401 for the anonymous role
    ("PT", None),    # PTnnn: status nnn
    ("PGRST", None),  # RAISE SQLSTATE 'PGRST': the status in DETAIL
]


def pg_error_status(sqlstate, message, authenticated):
    """The HTTP status PostgREST v12.2 gives an SQL error (not PGRST)."""
    for prefix, status in PG_ERROR_STATUS:
        if not sqlstate.startswith(prefix):
            continue
        if prefix == "21000":
            return 400 if message.endswith("requires a WHERE clause") else 500
        if prefix == "42883":
            return 406 if message.startswith("function xmlagg(") else 404
        if prefix == "42501":
            return 403 if authenticated else 401
        if prefix == "PT":
            digits = sqlstate[2:]
            return int(digits) if digits.isdigit() else 500
        if prefix == "PGRST":
            continue  # handled by the caller; "PGRSTx" codes fall through
        return status
    return 400


class Answer:
    """What PostgREST would send: status, lower-cased headers, body bytes."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body

    def header(self, name):
        return self.headers.get(name.lower())

    def json(self):
        return parse_json(self.body)

    def __iter__(self):
        return iter((self.status, self.headers, self.body))

    def __repr__(self):
        return f"<{self.status} {self.headers} {self.body[:300]!r}>"


def _error_answer(status, code, message, details=None, hint=None, extra_headers=()):
    # Aeson writes an object's keys in order: code, details, hint, message.
    body = _compact({"code": code, "details": details, "hint": hint, "message": message})
    return Answer(status, [("Content-Type", JSON_CT)] + list(extra_headers), body.encode("utf-8"))


class Routine:
    def __init__(self, schema, name, params, required, volatility, ret_type):
        self.schema = schema
        self.name = name
        self.params = params            # [(name or "", type)]
        self.required = required        # names of parameters without a default
        self.volatility = volatility    # 'v', 's' or 'i'
        self.ret_type = ret_type

    @property
    def single_unnamed_json(self):
        return len(self.params) == 1 and self.params[0][1] in ("json", "jsonb")


class PostgrestReplay:
    """One PostgREST v12.2 instance on one database connection.

    conninfo: how PostgREST's pool connects (the authenticator role).
    anon_role: db-anon-role.  jwt_secret: jwt-secret.  jwt_aud: jwt-aud.
    schemas: the search_path PostgREST sets: the exposed schema (db-schemas,
      the only one whose functions can be called) then db-extra-search-path.
    pre_request: db-pre-request, e.g. "fynn_api.pre_request", or None.
    """

    def __init__(self, conninfo, anon_role, jwt_secret, schemas=("fynn_api", "public"),
                 pre_request=None, jwt_aud=None):
        self.conn = libpq.Connection(conninfo)
        self.anon_role = anon_role
        self.jwt_secret = jwt_secret.encode("utf-8")
        self.jwt_aud = jwt_aud
        self.schemas = tuple(schemas)
        self.exposed_schema = self.schemas[0]
        self.pre_request = pre_request
        self.log = []            # every statement sent: {"sql", "params", "types", "error"}
        self.requests = []       # per request: the slice of self.log it produced
        self.routines = {}
        self.reload_schema_cache()

    def close(self):
        self.conn.close()

    # ------------------------------------------------------------ schema cache

    def reload_schema_cache(self):
        """Functions of the exposed schema, as PostgREST's schema cache sees them."""
        sql = """
            SELECT p.proname, p.provolatile,
                   coalesce(array_to_json(p.proargnames), '[]'),
                   array_to_json(array(SELECT format_type(t, NULL) FROM unnest(p.proargtypes) t)),
                   p.pronargs, p.pronargdefaults, format_type(p.prorettype, NULL)
              FROM pg_catalog.pg_proc p
              JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
             WHERE n.nspname = $1 AND p.prokind = 'f'"""
        r = self.conn.execute(sql, [self.exposed_schema])
        if r.error:
            raise r.error
        routines = {}
        for name, vol, names, types, nargs, ndefaults, ret in r.rows:
            names = parse_json(names)
            types = parse_json(types)
            nargs, ndefaults = int(nargs), int(ndefaults)
            params = [((names[i] if i < len(names) else "") or "", types[i]) for i in range(nargs)]
            required = [params[i][0] for i in range(nargs - ndefaults)]
            routines.setdefault(name, []).append(
                Routine(self.exposed_schema, name, params, required, vol, ret))
        self.routines = routines

    def find_routine(self, name, keys, is_post):
        """Plan.hs findProc: named parameters first, then (POST) the single
        unnamed json/jsonb one.  Returns (routine, called with the body as its
        one json argument, None) or (None, False, the error answer)."""
        matching, fallback = [], []
        for r in self.routines.get(name, []):
            names = {p[0] for p in r.params}
            required = set(r.required)
            optional = names - required
            if not r.params:
                ok = not keys
            elif not optional:
                ok = keys == required
            elif not required:
                ok = keys <= optional
            else:
                ok = (keys - optional) == required
            if ok:
                matching.append(r)
            elif is_post and r.single_unnamed_json:
                fallback.append(r)
        if len(matching) == 1:
            return matching[0], False, None
        if not matching and len(fallback) == 1:
            return fallback[0], True, None
        if len(matching) > 1 or len(fallback) > 1:
            procs = matching or fallback
            msg = "Could not choose the best candidate function between: " + ", ".join(
                f"{r.schema}.{r.name}(" + ", ".join(f"{p} => {t}" for p, t in r.params) + ")" for r in procs)
            return None, False, _error_answer(300, "PGRST203", msg, None,
                                       "Try renaming the parameters or the function itself in the database "
                                       "so function overloading can be resolved")
        return None, False, self._no_rpc(name, keys, is_post)

    def _no_rpc(self, name, keys, is_post):
        """PGRST202 as Error.hs words it (NoRpc), for a JSON body or a GET."""
        func = f"{self.exposed_schema}.{name}"
        args = sorted(keys)
        prms = ", ".join(args)
        msg_params = " without parameters" if not args else f"({prms})"
        det_params = " without parameters" if not args else \
            " with parameter" + ("s " if len(args) > 1 else " ") + prms
        message = f"Could not find the function {func}{msg_params} in the schema cache"
        details = f"Searched for the function {func}{det_params}" + \
            (" or with a single unnamed json/jsonb parameter" if is_post else "") + \
            ", but no matches were found in the schema cache."
        return _error_answer(404, "PGRST202", message, details, None)

    # --------------------------------------------------------------------- JWT

    def _jwt_error(self, message):
        return _error_answer(401, "PGRST301", message, extra_headers=[
            ("WWW-Authenticate", f'Bearer error="invalid_token", error_description={json.dumps(message)}')])

    def verify_jwt(self, token):
        """The payload of a valid JWT, or (None, the 401 answer)."""
        parts = token.split(".")
        if len(parts) != 3:
            return None, self._jwt_error(
                f"JWSError (CompactDecodeError Invalid number of parts: Expected 3 parts; got {len(parts)})")
        try:
            header = parse_json(_b64url_decode(parts[0]))
            payload = parse_json(_b64url_decode(parts[1]))
            signature = _b64url_decode(parts[2])
        except (ValueError, UnicodeDecodeError):
            return None, self._jwt_error("JWSError (CompactDecodeError Invalid JSON or base64)")
        digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}.get(
            header.get("alg") if isinstance(header, dict) else None)
        if digest is None:
            return None, self._jwt_error("JWSError (AlgorithmMismatch \"No matching key found\")")
        expected = hmac.new(self.jwt_secret, f"{parts[0]}.{parts[1]}".encode(), digest).digest()
        if not hmac.compare_digest(expected, signature):
            return None, self._jwt_error("JWSError JWSInvalidSignature")
        if not isinstance(payload, dict):
            return None, self._jwt_error("JWTClaimsSetDecodeError \"not an object\"")
        now = time.time()
        if isinstance(payload.get("exp"), (int, float)) and now > payload["exp"] + JWT_SKEW_SECONDS:
            return None, self._jwt_error("JWT expired")
        if isinstance(payload.get("nbf"), (int, float)) and now + JWT_SKEW_SECONDS < payload["nbf"]:
            return None, self._jwt_error("JWTNotYetValid")
        if isinstance(payload.get("iat"), (int, float)) and now + JWT_SKEW_SECONDS < payload["iat"]:
            return None, self._jwt_error("JWTIssuedAtFuture")
        if self.jwt_aud is not None:
            aud = payload.get("aud")
            auds = aud if isinstance(aud, list) else [aud] if aud is not None else []
            if auds and self.jwt_aud not in auds:
                return None, self._jwt_error("JWTNotInAudience")
        return payload, None

    # ------------------------------------------------------------------ SQL

    def _run(self, sql, params=(), types=None):
        """Sends one prepared statement and records it; returns the libpq Result."""
        entry = {"sql": sql, "params": list(params),
                 "types": list(types) if types is not None else [libpq.UNKNOWN_OID] * len(params),
                 "error": None}
        self.log.append(entry)
        self._current.append(entry)
        r = self.conn.execute(sql, params, types)
        if r.error is not None:
            entry["error"] = r.error.sqlstate
        return r

    @property
    def last_statements(self):
        """The statements of the last request (empty when it was answered before SQL)."""
        return self.requests[-1] if self.requests else []

    # ---------------------------------------------------------------- request

    def request(self, method, path, query=None, body=None, headers=None):
        """One HTTP request to PostgREST; returns an Answer (status, headers, body).

        query: a dict or a list of (key, value) pairs, or a raw query string.
        body: bytes or str, sent as is (None: no body).  headers: a dict.
        """
        self._current = []
        self.requests.append(self._current)
        try:
            return self._request(method.upper(), path, query, body, dict(headers or {}))
        finally:
            self._current = []

    def _request(self, method, path, query, body, headers):
        # Header names as Warp hands them over, case-insensitive; the ones a
        # client always sends added as a client would.
        hdrs = {k.lower(): v for k, v in headers.items()}
        hdrs.setdefault("host", "localhost:3000")
        raw = b"" if body is None else (body if isinstance(body, bytes) else body.encode("utf-8"))
        if body is not None:
            hdrs.setdefault("content-length", str(len(raw)))

        # 1. Authentication (Auth.hs): before anything else, before any SQL.
        claims = {}
        auth = hdrs.get("authorization")
        token = ""
        if auth is not None:
            words = auth.split(" ")
            if len(words) >= 2 and words[0] in ("Bearer", "bearer"):
                token = words[1]
        if token:
            payload, failure = self.verify_jwt(token)
            if failure is not None:
                return failure
            claims = payload
        role = claims.get("role") if isinstance(claims.get("role"), str) else self.anon_role
        claims = dict(claims)
        claims[ANON_CLAIMS_ROLE] = role
        authenticated = role != self.anon_role

        if not path.startswith("/rpc/") or "/" in path[len("/rpc/"):]:
            return Answer(404, [("Content-Type", JSON_CT)], b"{}")
        fn = urllib.parse.unquote(path[len("/rpc/"):])
        if method not in ("GET", "POST", "HEAD"):
            return _error_answer(405, "PGRST101", f"Cannot use the {method} method on RPC")

        # 2. Arguments.
        if isinstance(query, str):
            pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
        elif isinstance(query, dict):
            pairs = list(query.items())
        else:
            pairs = list(query or [])
        if method == "POST":
            if raw == b"":
                payload_text, keys = "", set()
            else:
                try:
                    value = parse_json(raw)
                except (ValueError, UnicodeDecodeError):
                    return _error_answer(400, "PGRST102", "Empty or invalid json")
                if isinstance(value, dict):
                    payload_text, keys = raw.decode("utf-8"), set(value)
                elif isinstance(value, list):
                    if not value:
                        payload_text, keys = "[]", set()
                    elif all(isinstance(v, dict) for v in value) and \
                            all(set(v) == set(value[0]) for v in value):
                        payload_text, keys = raw.decode("utf-8"), set(value[0])
                    else:
                        return _error_answer(400, "PGRST102", "All object keys must match")
                else:
                    payload_text, keys = "[]", set()
        else:
            args = {}
            for k, v in pairs:
                if k not in RESERVED_QUERY_KEYS:
                    args[k] = v
            keys = set(args)

        # 3. The function, from the schema cache of the exposed schema.
        routine, via_json_param, failure = self.find_routine(fn, keys, method == "POST")
        if failure is not None:
            return failure

        # 4. The transaction.
        read_only = method != "POST" or routine.volatility != "v"
        fq = quote_ident(routine.schema) + "." + quote_ident(routine.name)
        tail = ("SELECT null::bigint AS total_result_set, 1 AS page_total, "
                "coalesce(json_agg(_postgrest_t.pgrst_scalar)->0, 'null') AS body, "
                "nullif(current_setting('response.headers', true), '') AS response_headers, "
                "nullif(current_setting('response.status', true), '') AS response_status, "
                "'' AS response_inserted "
                f"FROM (SELECT {quote_ident(routine.name)}.* FROM \"pgrst_source\" AS {quote_ident(routine.name)}) _postgrest_t")
        if method == "POST" and via_json_param:
            main_sql = ("WITH pgrst_source AS (SELECT pgrst_call.pgrst_scalar FROM "
                        f"(SELECT {fq}($1::{routine.params[0][1]}) pgrst_scalar) pgrst_call) " + tail)
            main_params, main_types = [payload_text], [libpq.UNKNOWN_OID]
        elif method == "POST":
            # Named arguments from the body's keys (no fynn_api function has them).
            main_sql, main_params, main_types = self._named_call(routine, fq, keys, payload_text, tail)
        else:
            main_sql, main_params, main_types = self._named_call(
                routine, fq, keys, _compact(dict(sorted(args.items()))), tail)

        cookies = {}
        for part in (hdrs.get("cookie") or "").split(";"):
            if "=" in part:
                k, v = part.split("=", 1)
                cookies[k.strip()] = v.strip()
        request_headers = {k: v for k, v in sorted(hdrs.items()) if k != "cookie"}
        set_config_sql = ("select set_config('search_path', $1, true), set_config('role', $2, true), "
                          "set_config('request.jwt.claims', $3, true), set_config('request.method', $4, true), "
                          "set_config('request.path', $5, true), set_config('request.headers', $6, true), "
                          "set_config('request.cookies', $7, true)")
        set_config_params = [
            ", ".join(quote_ident(s) for s in self.schemas),
            role,
            _compact(dict(sorted(claims.items()))),
            method,
            path,
            _compact(request_headers),
            _compact(cookies),
        ]

        mode = "READ ONLY" if read_only else "READ WRITE"
        r = self._run(f"BEGIN ISOLATION LEVEL READ COMMITTED {mode}")
        if r.error:
            return self._sql_error(r.error, authenticated)
        steps = [(set_config_sql, set_config_params, None)]
        if self.pre_request:
            steps.append((f"select {quote_qi(self.pre_request)}()", [], None))
        steps.append((main_sql, main_params, main_types))
        result = None
        for sql, params, types in steps:
            result = self._run(sql, params, types)
            if result.error:
                self._run("ABORT")
                return self._sql_error(result.error, authenticated)
        r = self._run("COMMIT")
        if r.error:
            return self._sql_error(r.error, authenticated)

        # 5. The answer.
        row = dict(zip(result.columns, result.rows[0]))
        return self._success(row, method)

    def _named_call(self, routine, fq, keys, payload, tail):
        """callPlanToQuery with KeyParams: the given parameters, in declaration order."""
        given = [(n, t) for n, t in routine.params if n in keys]
        if not given:
            return ("WITH pgrst_source AS (SELECT pgrst_call.pgrst_scalar FROM "
                    f"(SELECT {fq}() pgrst_scalar) pgrst_call) " + tail, [], [])
        cols = ", ".join(quote_ident(n) for n, _ in given)
        typed = ", ".join(f"{quote_ident(n)} {t}" for n, t in given)
        call = ", ".join(f"{quote_ident(n)} := pgrst_body.{quote_ident(n)}" for n, _ in given)
        sql = ("WITH pgrst_source AS (SELECT pgrst_call.pgrst_scalar FROM "
               "(SELECT $1 AS json_data) pgrst_payload, "
               f"LATERAL (SELECT {cols} FROM json_to_record(pgrst_payload.json_data) AS _({typed}) LIMIT 1) pgrst_body , "
               f"LATERAL (SELECT {fq}({call}) pgrst_scalar) pgrst_call) " + tail)
        return sql, [payload], [libpq.JSON_OID]

    def _sql_error(self, err, authenticated):
        """Error.hs: PgError's status, headers and body."""
        if err.sqlstate == "PGRST":
            return self._raise_pgrst(err)
        status = pg_error_status(err.sqlstate, err.message, authenticated)
        extra = [("WWW-Authenticate", "Bearer")] if status == 401 else []
        return _error_answer(status, err.sqlstate, err.message, err.detail, err.hint, extra)

    def _raise_pgrst(self, err):
        """RAISE SQLSTATE 'PGRST': MESSAGE and DETAIL are JSON, else 500 PGRST121."""
        def parse_error(details, hint):
            return _error_answer(500, "PGRST121",
                                 "Could not parse JSON in the \"RAISE SQLSTATE 'PGRST'\" error", details, hint)
        msg_hint = ("MESSAGE must be a JSON object with obligatory keys: 'code', 'message' "
                    "and optional keys: 'details', 'hint'.")
        det_hint = ("DETAIL must be a JSON object with obligatory keys: 'status', 'headers' "
                    "and optional key: 'status_text'.")
        try:
            m = parse_json(err.message)
            if not (isinstance(m, dict) and isinstance(m.get("code"), str) and isinstance(m.get("message"), str)
                    and all(isinstance(m.get(k), (str, type(None))) for k in ("details", "hint"))):
                raise ValueError
        except ValueError:
            return parse_error(f"Invalid JSON value for MESSAGE: '{err.message}'", msg_hint)
        if err.detail is None:
            return parse_error("DETAIL is missing in the RAISE statement", det_hint)
        try:
            d = parse_json(err.detail)
            if not (isinstance(d, dict) and isinstance(d.get("status"), int) and not isinstance(d["status"], bool)
                    and isinstance(d.get("headers"), dict)
                    and all(isinstance(v, str) for v in d["headers"].values())):
                raise ValueError
        except ValueError:
            return parse_error(f"Invalid JSON value for DETAIL: '{err.detail}'", det_hint)
        return _error_answer(d["status"], m["code"], m["message"], m.get("details"), m.get("hint"),
                             sorted(d["headers"].items()))

    def _success(self, row, method):
        """Response.hs for a scalar function: GUC status and headers over PostgREST's own."""
        status = 200
        if row["response_status"] is not None:
            try:
                status = int(row["response_status"])
            except ValueError:
                return _error_answer(500, "PGRST112", "response.status guc must be a valid status code")
        own = [("Content-Type", JSON_CT), ("Content-Range", "0-0/*")]
        guc = []
        if row["response_headers"] is not None:
            try:
                items = parse_json(row["response_headers"])
                if not isinstance(items, list):
                    raise ValueError
                for item in items:
                    if not (isinstance(item, dict) and len(item) == 1):
                        raise ValueError
                    (k, v), = item.items()
                    if not isinstance(v, str):
                        raise ValueError
                    guc.append((k, v))
            except ValueError:
                return _error_answer(500, "PGRST111",
                                     "response.headers guc must be a JSON array composed of objects "
                                     "with a single key and a string value")
        names = {k.lower() for k, _ in guc}
        headers = [h for h in own if h[0].lower() not in names] + guc
        body = row["body"].encode("utf-8")
        if status in (204, 304) or method == "HEAD":
            body = b""
        return Answer(status, headers, body)
