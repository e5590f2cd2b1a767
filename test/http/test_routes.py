"""Every route of docs/contract.md through fynn-gateway, with every status it
lists: one test class per route and status, one test per cause.

Run by scripts/test-http.sh, which starts a cluster, the extension and a
gateway, and passes their coordinates in the environment.  The database
restart runs last.
"""
import hashlib
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import gateway_client  # noqa: E402
from gateway_client import (  # noqa: E402
    BEYOND_MAX_LIFETIME, EMPTY_PERMISSIONS, FUTURE, GRACE_OUT_OF_RANGE, JSON, LEAK_ANSWER,
    MAX_LIVE_TOKENS, NOT_FUTURE, NOT_NULL, PATH, PERMISSIONS_NOT_HELD, READ, REVOKE_PATH, TOO_LONG,
    TOO_SHORT, WRITE, ContractCase, api_token, bearer, cluster, create, get_token, iso, issue,
    list_tokens, metric, psql, raw_exchange, remember, report_leak, request, revoke, revoke_current,
    rotate, rw_jwt, sign_jwt, user_claims, user_jwt, works,
)

EMOJI = "\U0001F600"  # 4 bytes in UTF-8, one code point
ITEM_KEYS = ["apiToken", "createdAt", "description", "expiresAt", "id", "lastUsedAt", "permissions", "updatedAt"]
PAGINATION_KEYS = ["currentPage", "itemsPerPage", "lastPage", "pageTotalItems", "totalItems"]
DATE_RE = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?\+00:00$"


def new_tenant(prefix="tenant"):
    return f"{prefix}-{os.urandom(5).hex()}"


# ======================================================= POST /user/api-tokens

class TestCreate201(ContractCase):
    def test_201_body_has_every_key_and_location_names_the_token(self):
        reply = create({"description": "My API token", "expiresAt": FUTURE}, user_jwt(),
                       content_type="application/json; charset=utf-8")
        body = self.assertCreated(reply)
        self.assertEqual(body["description"], "My API token")
        self.assertEqual(body["expiresAt"], FUTURE)
        self.assertEqual(body["permissions"], [WRITE])

    def test_201_with_nulls_and_unknown_keys(self):
        body = self.assertCreated(create({"description": None, "expiresAt": None, "unknown": 1}, user_jwt()))
        self.assertIsNone(body["description"])
        self.assertIsNone(body["expiresAt"])

    def test_201_keeps_a_clients_fractional_expiry(self):
        body = self.assertCreated(create({"description": "fraction", "expiresAt": "2099-01-01T00:00:00.25Z"}, user_jwt()))
        self.assertEqual(body["expiresAt"], "2099-01-01T00:00:00.25+00:00")

    def test_201_with_a_subset_of_the_callers_permissions(self):
        body = self.assertCreated(create({"description": "read only", "permissions": [READ]}, rw_jwt()))
        self.assertEqual(body["permissions"], [READ])

    def test_201_with_an_issued_api_token_as_bearer_records_its_use(self):
        parent, parent_id, _ = issue()
        self.assertEqual(psql(f"SELECT last_used_at IS NULL FROM fynn_tokens.api_token WHERE id = '{parent_id}'"), "t")
        child = self.assertCreated(create({"description": "child token"}, parent))
        self.assertNotEqual(parent_id, child["id"])
        # The use is recorded on the token that authenticated, not on the new one.
        self.assertEqual(psql(f"SELECT last_used_at IS NOT NULL FROM fynn_tokens.api_token WHERE id = '{parent_id}'"), "t")
        self.assertEqual(psql(f"SELECT last_used_at IS NULL FROM fynn_tokens.api_token WHERE id = '{child['id']}'"), "t")

    def test_201_with_jwt_expired_within_the_30s_leeway(self):
        self.assertCreated(create({"description": "leeway"}, user_jwt(exp=int(time.time()) - 10)))

    def test_201_with_scope_string_instead_of_permissions(self):
        token = sign_jwt(user_claims(permissions=None, scope="openid " + WRITE))
        self.assertCreated(create({"description": "scoped"}, token))

    def test_201_with_4_byte_characters_at_3_and_255_code_points(self):
        for n in (3, 255):
            body = self.assertCreated(create({"description": EMOJI * n}, user_jwt()))
            self.assertEqual(body["description"], EMOJI * n)


class TestCreate400(ContractCase):
    def test_400_empty_body_is_a_syntax_error(self):
        self.assertProblem(create("", user_jwt()), 400, "Syntax error")

    def test_400_malformed_json_is_a_syntax_error(self):
        self.assertProblem(create('{"description": "abc"', user_jwt()), 400, "Syntax error")

    def test_400_invalid_utf8_is_a_syntax_error(self):
        self.assertProblem(create(b'{"description": "\xff\xfe\xfd"}', user_jwt()), 400, "Syntax error")

    def test_400_nul_escape_is_a_syntax_error(self):
        self.assertProblem(create('{"description": "a\\u0000bc"}', user_jwt()), 400, "Syntax error")

    def test_400_raw_nul_byte_is_a_syntax_error(self):
        # fuzz_gateway_body found jansson taking {"token":true<NUL>} as JSON.
        for body in (b'{"description": "abc"\x00}', b'{"description": "abc"}\x00', b'{"description": "a\x00bc"}'):
            self.assertProblem(create(body, user_jwt()), 400, "Syntax error")

    def test_400_non_object_bodies_are_misformatted(self):
        for body in ("[]", '"text"', "42", "null", "true"):
            self.assertProblem(create(body, user_jwt()), 400, "The input data is misformatted.")

    def test_400_wrong_type_of_description(self):
        self.assertProblem(create({"description": 5}, user_jwt()), 400,
                           'The type of the "description" attribute must be "string", "integer" given.')

    def test_400_wrong_type_of_expires_at_and_permissions(self):
        self.assertProblem(create({"description": "typed", "expiresAt": 5}, user_jwt()), 400)
        self.assertProblem(create({"description": "typed", "permissions": WRITE}, user_jwt()), 400)
        self.assertProblem(create({"description": "typed", "permissions": [5]}, user_jwt()), 400)

    def test_400_bad_dates(self):
        for date in ("now", "tomorrow", "infinity", "2021-02-31T00:00:00+00:00", "2031-01-01T00:00:00",
                     "2031-01-01", "2031-13-01T00:00:00Z"):
            reply = create({"description": "dated", "expiresAt": date}, user_jwt())
            self.assertProblem(reply, 400)
            self.assertIn("expiresAt", reply.json()["detail"], date)


class TestCreate401(ContractCase):
    def test_401_without_credentials(self):
        self.assertUnauthorized(create({"description": "abc"}, None), credential_given=False,
                                detail="Authentication is required.")

    def test_401_with_another_scheme(self):
        reply = create({"description": "abc"}, None, extra={"Authorization": "Basic dXNlcjpwYXNz"})
        self.assertUnauthorized(reply, credential_given=False)

    def test_401_with_anonymous_claims_holding_only_a_role(self):
        reply = create({"description": "abc"}, sign_jwt({"role": "web_anon"}))
        self.assertUnauthorized(reply, credential_given=False, detail="Authentication is required.")

    def test_401_malformed_jwt(self):
        self.assertUnauthorized(create({"description": "abc"}, remember("not.a.jwt")))

    def test_401_jwt_signed_with_another_secret(self):
        token = sign_jwt(user_claims(), secret="another-secret-another-secret-another-secret")
        self.assertUnauthorized(create({"description": "abc"}, token))

    def test_401_expired_jwt(self):
        self.assertUnauthorized(create({"description": "abc"}, user_jwt(exp=int(time.time()) - 60)))

    def test_401_jwt_not_yet_valid(self):
        self.assertUnauthorized(create({"description": "abc"}, user_jwt(nbf=int(time.time()) + 120)))

    def test_401_jwt_without_a_user(self):
        self.assertUnauthorized(create({"description": "abc"}, user_jwt(sub=None)))

    def test_401_jwt_without_a_tenant(self):
        self.assertUnauthorized(create({"description": "abc"}, user_jwt(tenant_id=None)))

    def test_401_unknown_api_token(self):
        self.assertUnauthorized(create({"description": "abc"}, api_token()))

    def test_401_api_token_with_bad_checksum(self):
        self.assertUnauthorized(create({"description": "abc"}, api_token(valid_checksum=False)))

    def test_401_api_token_of_the_wrong_length(self):
        self.assertUnauthorized(create({"description": "abc"}, remember("api_tooShort")))

    def test_401_revoked_api_token(self):
        token, token_id, _ = issue()
        self.assertCreated(create({"description": "still valid"}, token))
        psql(f"UPDATE fynn_tokens.api_token SET revoked_at = now() WHERE id = '{token_id}'")
        self.assertUnauthorized(create({"description": "after revoke"}, token))

    def test_401_expired_api_token(self):
        token, token_id, _ = issue()
        psql(f"UPDATE fynn_tokens.api_token SET expires_at = now() - interval '1 minute' WHERE id = '{token_id}'")
        self.assertUnauthorized(create({"description": "after expiry"}, token))


class TestCreate403(ContractCase):
    def test_403_without_the_write_permission(self):
        self.assertProblem(create({"description": "abc"}, user_jwt(permissions=[READ])), 403)

    def test_403_without_any_permission(self):
        self.assertProblem(create({"description": "abc"}, user_jwt(permissions=None)), 403)

    def test_403_with_an_api_token_that_cannot_write(self):
        token, _, _ = issue(permissions=[READ])
        self.assertProblem(create({"description": "abc"}, token), 403)


class TestCreate413(ContractCase):
    def head(self, extra):
        return (f"POST {PATH} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {user_jwt()}\r\n"
                f"Content-Type: application/json\r\n{extra}\r\n").encode()

    def test_413_declared_length_is_refused_before_the_body_is_read(self):
        # Only the headers are sent: the answer must not wait for the 64 KiB + 1.
        self.assertIn(" 413 ", raw_exchange(self.head(f"Content-Length: {64 * 1024 + 1}\r\n")))

    def test_413_chunked_body_over_the_limit(self):
        chunk = b"2000\r\n" + b" " * 0x2000 + b"\r\n"
        self.assertIn(" 413 ", raw_exchange(self.head("Transfer-Encoding: chunked\r\n"), [chunk] * 9 + [b"0\r\n\r\n"]))

    def test_64_kib_exactly_is_accepted(self):
        body = '{"description": "exactly 64 KiB"}'
        self.assertCreated(create(body + " " * (64 * 1024 - len(body)), user_jwt()))


class TestCreate415(ContractCase):
    def test_415_missing_content_type(self):
        self.assertProblem(create({"description": "abc"}, user_jwt(), content_type=None), 415,
                           'The "Content-Type" header must exist.')

    def test_415_other_content_types(self):
        for ct in ("text/plain", "application/x-www-form-urlencoded", "application/jsonx", "application/json-seq",
                   "multipart/form-data; boundary=x"):
            self.assertProblem(create({"description": "abc"}, user_jwt(), content_type=ct), 415)

    def test_415_charset_latin1(self):
        reply = create({"description": "abc"}, user_jwt(), content_type="application/json; charset=latin1")
        self.assertProblem(reply, 415, 'The content-type "application/json; charset=latin1" is not supported.'
                           ' Supported MIME types are "application/json".')


class TestCreate422(ContractCase):
    def test_422_too_short_counts_code_points(self):
        self.assertViolations(create({"description": EMOJI * 2}, user_jwt()), [("description", TOO_SHORT)])

    def test_422_empty_string_is_too_short(self):
        self.assertViolations(create({"description": ""}, user_jwt()), [("description", TOO_SHORT)])

    def test_422_too_long_counts_code_points(self):
        self.assertViolations(create({"description": EMOJI * 256}, user_jwt()), [("description", TOO_LONG)])

    def test_422_expires_at_in_the_past(self):
        reply = create({"description": "old", "expiresAt": "2001-01-01T00:00:00+00:00"}, user_jwt())
        self.assertViolations(reply, [("expiresAt", NOT_FUTURE)])

    def test_422_permissions_not_held(self):
        reply = create({"description": "more", "permissions": [WRITE, READ]}, user_jwt(permissions=[WRITE]))
        self.assertViolations(reply, [("permissions", PERMISSIONS_NOT_HELD)])

    def test_422_permissions_empty(self):
        self.assertViolations(create({"description": "none", "permissions": []}, user_jwt()),
                              [("permissions", EMPTY_PERMISSIONS)])

    def test_422_several_violations_at_once(self):
        reply = create({"description": "ab", "expiresAt": "2001-01-01T00:00:00Z", "permissions": []}, user_jwt())
        self.assertViolations(reply, [("description", TOO_SHORT), ("expiresAt", NOT_FUTURE),
                                      ("permissions", EMPTY_PERMISSIONS)])

    def test_422_no_expiry_while_the_tenant_has_a_max_lifetime(self):
        tenant = new_tenant()
        psql(f"INSERT INTO fynn_tokens.tenant_policy (tenant_id, max_lifetime) VALUES ('{tenant}', '1 day')")
        self.assertViolations(create({"description": "forever"}, user_jwt(tenant_id=tenant)), [("expiresAt", NOT_NULL)])

    def test_422_expiry_beyond_the_tenants_max_lifetime(self):
        tenant = new_tenant()
        psql(f"INSERT INTO fynn_tokens.tenant_policy (tenant_id, max_lifetime) VALUES ('{tenant}', '1 day')")
        jwt = user_jwt(tenant_id=tenant)
        reply = create({"description": "too long", "expiresAt": iso(time.time() + 2 * 86400)}, jwt)
        body = self.assertViolations(reply, [("expiresAt", BEYOND_MAX_LIFETIME)])
        self.assertRegex(body["violations"][0]["message"],
                         r"^This value should be less than or equal to \d{4}-.*\+00:00\.$")
        self.assertCreated(create({"description": "within", "expiresAt": iso(time.time() + 3600)}, jwt))

    def test_422_user_already_holds_the_max_live_tokens(self):
        tenant = new_tenant()
        psql(f"INSERT INTO fynn_tokens.tenant_policy (tenant_id, max_live_tokens) VALUES ('{tenant}', 2)")
        jwt = user_jwt(tenant_id=tenant)
        self.assertCreated(create({"description": "first"}, jwt))
        self.assertCreated(create({"description": "second"}, jwt))
        body = self.assertViolations(create({"description": "third"}, jwt), [("", MAX_LIVE_TOKENS)])
        self.assertEqual(body["detail"], "You have reached the maximum of 2 live API tokens.")


# ======================================================== GET /user/api-tokens

class TestList200(ContractCase):
    def test_200_shape_newest_first(self):
        jwt = rw_jwt()
        first = issue(jwt, description="first")[2]
        second = issue(jwt, description="second")[2]
        reply = list_tokens(jwt)
        self.assertEqual(reply.status, 200, reply)
        self.assertEqual(reply.header("Content-Type"), JSON)
        body = reply.json()
        self.assertEqual(sorted(body), ["data", "meta"])
        self.assertEqual(sorted(body["meta"]["pagination"]), PAGINATION_KEYS)
        self.assertEqual(body["meta"]["pagination"], {"totalItems": 2, "itemsPerPage": 30, "currentPage": 1,
                                                      "lastPage": 1, "pageTotalItems": 2})
        self.assertEqual([item["id"] for item in body["data"]], [second["id"], first["id"]])
        item = body["data"][0]
        self.assertEqual(sorted(item), ITEM_KEYS)
        self.assertEqual(item["apiToken"], "**********")
        self.assertEqual(item["description"], "second")
        self.assertRegex(item["createdAt"], DATE_RE)

    def test_200_paging(self):
        jwt = rw_jwt()
        ids = [issue(jwt, description=f"token {i}")[1] for i in range(5)]
        pages = [list_tokens(jwt, f"?page={p}&limit=2").json() for p in (1, 2, 3, 4)]
        self.assertEqual([[item["id"] for item in page["data"]] for page in pages],
                         [ids[4:2:-1], ids[2:0:-1], ids[0:1], []])
        self.assertEqual(pages[2]["meta"]["pagination"], {"totalItems": 5, "itemsPerPage": 2, "currentPage": 3,
                                                          "lastPage": 3, "pageTotalItems": 1})
        self.assertEqual(pages[3]["meta"]["pagination"]["pageTotalItems"], 0)

    def test_200_empty_list_has_one_page(self):
        body = list_tokens(rw_jwt()).json()
        self.assertEqual(body["data"], [])
        self.assertEqual(body["meta"]["pagination"]["lastPage"], 1)

    def test_200_lists_live_tokens_expired_included_revoked_not(self):
        jwt = rw_jwt()
        _, revoked_id, _ = issue(jwt)
        _, expired_id, _ = issue(jwt)
        _, live_id, _ = issue(jwt)
        self.assertEqual(revoke(jwt, revoked_id).status, 204)
        psql(f"UPDATE fynn_tokens.api_token SET expires_at = now() - interval '1 hour' WHERE id = '{expired_id}'")
        self.assertEqual({item["id"] for item in list_tokens(jwt).json()["data"]}, {live_id, expired_id})

    def test_200_lists_only_the_callers_tokens(self):
        claims = user_claims(permissions=[WRITE, READ])
        issue(rw_jwt())
        issue(sign_jwt(dict(claims, tenant_id=new_tenant())))
        self.assertEqual(list_tokens(sign_jwt(claims)).json()["data"], [])


class TestList400(ContractCase):
    PAGE = 'The "page" parameter must be an integer of 1 or more.'
    LIMIT = 'The "limit" parameter must be an integer from 1 to 100.'

    def test_400_limit_not_a_number(self):
        self.assertProblem(list_tokens(rw_jwt(), "?limit=abc"), 400, self.LIMIT)

    def test_400_limit_out_of_range(self):
        for limit in ("0", "101", "-1"):
            self.assertProblem(list_tokens(rw_jwt(), f"?limit={limit}"), 400, self.LIMIT)

    def test_400_page_zero(self):
        self.assertProblem(list_tokens(rw_jwt(), "?page=0"), 400, self.PAGE)

    def test_400_page_not_a_number(self):
        for page in ("abc", "1.5", "", "1e2"):
            self.assertProblem(list_tokens(rw_jwt(), f"?page={page}"), 400, self.PAGE)

    def test_400_page_with_a_nul(self):
        self.assertProblem(list_tokens(rw_jwt(), "?page=1%00"), 400, self.PAGE)


class TestList401(ContractCase):
    def test_401_without_credentials(self):
        self.assertUnauthorized(request("GET", PATH), credential_given=False)

    def test_401_bad_jwt(self):
        self.assertUnauthorized(list_tokens(sign_jwt(user_claims(), secret="x" * 40)))


class TestList403(ContractCase):
    def test_403_without_the_read_permission(self):
        self.assertProblem(list_tokens(user_jwt(permissions=[WRITE])), 403,
                           'The permission "user:api-token:read" is required.')


# =================================================== GET /user/api-tokens/{id}

class TestGet200(ContractCase):
    def test_200_the_item(self):
        jwt = rw_jwt()
        _, token_id, created = issue(jwt, description="one item", expiresAt=FUTURE)
        reply = get_token(jwt, token_id)
        self.assertEqual(reply.status, 200, reply)
        self.assertEqual(reply.header("Content-Type"), JSON)
        item = reply.json()
        self.assertEqual(sorted(item), ITEM_KEYS)
        self.assertEqual((item["id"], item["description"], item["expiresAt"], item["apiToken"], item["lastUsedAt"],
                          item["permissions"]),
                         (token_id, "one item", FUTURE, "**********", None, created["permissions"]))

    def test_200_shows_the_tokens_last_use(self):
        token, token_id, _ = issue()
        self.assertIsNone(get_token(token, token_id).json()["lastUsedAt"])  # recorded after this answer
        item = get_token(token, token_id).json()
        self.assertRegex(item["lastUsedAt"], DATE_RE)


class TestGet401(ContractCase):
    def test_401_without_credentials(self):
        self.assertUnauthorized(request("GET", f"{PATH}/{'A' * 20}"), credential_given=False)


class TestGet403(ContractCase):
    def test_403_without_the_read_permission(self):
        jwt = user_jwt()
        _, token_id, _ = issue(jwt)
        self.assertProblem(get_token(jwt, token_id), 403)


class TestGet404(ContractCase):
    def assertNotFound(self, reply):
        self.assertProblem(reply, 404)

    def test_404_another_users_token(self):
        _, token_id, _ = issue(rw_jwt())
        self.assertNotFound(get_token(rw_jwt(), token_id))

    def test_404_another_tenants_token(self):
        claims = user_claims(permissions=[WRITE, READ])
        _, token_id, _ = issue(sign_jwt(claims))
        self.assertNotFound(get_token(sign_jwt(dict(claims, tenant_id=new_tenant())), token_id))

    def test_404_revoked_token(self):
        jwt = rw_jwt()
        _, token_id, _ = issue(jwt)
        self.assertEqual(revoke(jwt, token_id).status, 204)
        self.assertNotFound(get_token(jwt, token_id))

    def test_404_unknown_token(self):
        self.assertNotFound(get_token(rw_jwt(), "A" * 20))

    def test_404_malformed_ids(self):
        for token_id in ("abc", "a" * 20, "A" * 21, "A" * 65, "%41" * 20, "..", "A" * 19 + "%2F"):
            self.assertNotFound(get_token(rw_jwt(), token_id))

    def test_404_encoded_slash_in_the_path(self):
        jwt = rw_jwt()
        _, token_id, _ = issue(jwt)
        self.assertNotFound(get_token(jwt, token_id[:10] + "%2F" + token_id[10:]))
        self.assertNotFound(request("GET", f"{PATH}%2F{token_id}", headers=bearer(jwt)))

    def test_404_encoded_nul_in_the_path(self):
        jwt = rw_jwt()
        _, token_id, _ = issue(jwt)
        self.assertNotFound(get_token(jwt, token_id + "%00"))
        self.assertNotFound(get_token(jwt, token_id + "%00x"))


# ================================================= DELETE /user/api-tokens/{id}

class TestRevoke204(ContractCase):
    def test_204_without_a_body(self):
        jwt = user_jwt()
        _, token_id, _ = issue(jwt)
        reply = revoke(jwt, token_id)
        self.assertEqual(reply.status, 204, reply)
        self.assertEqual(reply.body, b"")
        self.assertEqual(psql(f"SELECT revoked_at IS NOT NULL FROM fynn_tokens.api_token WHERE id = '{token_id}'"), "t")

    def test_the_revoked_token_is_401_on_the_very_next_request(self):
        jwt = rw_jwt()
        token, token_id, _ = issue(jwt)
        self.assertTrue(works(token, token_id))
        self.assertEqual(revoke(jwt, token_id).status, 204)
        self.assertUnauthorized(get_token(token, token_id))

    def test_204_a_token_revokes_itself_by_id(self):
        token, token_id, _ = issue()
        self.assertEqual(revoke(token, token_id).status, 204)
        self.assertFalse(works(token, token_id))


class TestRevoke401(ContractCase):
    def test_401_without_credentials(self):
        self.assertUnauthorized(request("DELETE", f"{PATH}/{'A' * 20}"), credential_given=False)


class TestRevoke403(ContractCase):
    def test_403_without_the_write_permission(self):
        claims = user_claims(permissions=[WRITE, READ])
        token, token_id, _ = issue(sign_jwt(claims))
        self.assertProblem(revoke(sign_jwt(dict(claims, permissions=[READ])), token_id), 403)
        self.assertTrue(works(token, token_id))


class TestRevoke404(ContractCase):
    def test_404_unknown(self):
        self.assertProblem(revoke(user_jwt(), "A" * 20), 404)

    def test_404_another_users_token(self):
        token, token_id, _ = issue()
        self.assertProblem(revoke(user_jwt(), token_id), 404)
        self.assertTrue(works(token, token_id))

    def test_404_already_revoked(self):
        jwt = user_jwt()
        _, token_id, _ = issue(jwt)
        self.assertEqual(revoke(jwt, token_id).status, 204)
        self.assertProblem(revoke(jwt, token_id), 404)

    def test_404_malformed_id(self):
        self.assertProblem(revoke(user_jwt(), "not-an-id"), 404)


# ========================================== POST /user/api-tokens/{id}/rotate

class TestRotate201(ContractCase):
    def assertSuccessor(self, reply, old):
        body = self.assertCreated(reply)
        self.assertNotEqual(body["id"], old["id"])
        self.assertEqual((body["description"], body["expiresAt"], body["permissions"]),
                         (old["description"], old["expiresAt"], old["permissions"]))
        return body

    def test_201_without_a_body(self):
        jwt = rw_jwt()
        token, token_id, old = issue(jwt, description="rotate me", expiresAt=FUTURE)
        new = self.assertSuccessor(rotate(jwt, token_id), old)
        self.assertTrue(works(new["token"], new["id"]))
        self.assertFalse(works(token, token_id))

    def test_201_with_an_empty_object(self):
        jwt = rw_jwt()
        token, token_id, old = issue(jwt)
        self.assertSuccessor(rotate(jwt, token_id, {}), old)
        self.assertFalse(works(token, token_id))

    def test_201_with_a_grace_period_the_old_token_still_works(self):
        jwt = rw_jwt()
        token, token_id, old = issue(jwt)
        new = self.assertSuccessor(rotate(jwt, token_id, {"gracePeriod": 3600}), old)
        self.assertTrue(works(token, token_id))
        self.assertTrue(works(new["token"], new["id"]))

    def test_201_with_grace_0_the_old_token_is_401_at_once(self):
        jwt = rw_jwt()
        token, token_id, old = issue(jwt)
        self.assertSuccessor(rotate(jwt, token_id, {"gracePeriod": 0}), old)
        self.assertUnauthorized(get_token(token, token_id))

    def test_201_a_token_rotates_itself(self):
        token, token_id, old = issue()
        new = self.assertSuccessor(rotate(token, token_id), old)
        self.assertTrue(works(new["token"], new["id"]))


class TestRotate400(ContractCase):
    def test_400_body_not_json(self):
        jwt = user_jwt()
        _, token_id, _ = issue(jwt)
        self.assertProblem(rotate(jwt, token_id, "grace=10"), 400, "Syntax error")

    def test_400_body_not_an_object(self):
        jwt = user_jwt()
        _, token_id, _ = issue(jwt)
        self.assertProblem(rotate(jwt, token_id, "[]"), 400, "The input data is misformatted.")

    def test_400_grace_period_as_a_string(self):
        jwt = user_jwt()
        _, token_id, _ = issue(jwt)
        self.assertProblem(rotate(jwt, token_id, {"gracePeriod": "10"}), 400,
                           'The type of the "gracePeriod" attribute must be "int", "string" given.')


class TestRotate401(ContractCase):
    def test_401_without_credentials(self):
        self.assertUnauthorized(request("POST", f"{PATH}/{'A' * 20}/rotate"), credential_given=False)


class TestRotate403(ContractCase):
    def test_403_without_the_write_permission(self):
        self.assertProblem(rotate(user_jwt(permissions=[READ]), "A" * 20), 403)


class TestRotate404(ContractCase):
    def test_404_unknown(self):
        self.assertProblem(rotate(user_jwt(), "A" * 20), 404)

    def test_404_another_users_token(self):
        _, token_id, _ = issue()
        self.assertProblem(rotate(user_jwt(), token_id), 404)

    def test_404_revoked(self):
        jwt = user_jwt()
        _, token_id, _ = issue(jwt)
        self.assertEqual(revoke(jwt, token_id).status, 204)
        self.assertProblem(rotate(jwt, token_id), 404)


class TestRotate415(ContractCase):
    def test_415_body_without_a_json_content_type(self):
        jwt = user_jwt()
        token, token_id, _ = issue(rw_jwt())
        self.assertProblem(rotate(jwt, token_id, {"gracePeriod": 10}, content_type=None), 415)
        self.assertProblem(rotate(jwt, token_id, {"gracePeriod": 10}, content_type="text/plain"), 415)
        self.assertTrue(works(token, token_id))


class TestRotate422(ContractCase):
    def test_422_grace_period_over_a_week(self):
        jwt = rw_jwt()
        token, token_id, _ = issue(jwt)
        self.assertViolations(rotate(jwt, token_id, {"gracePeriod": 604801}), [("gracePeriod", GRACE_OUT_OF_RANGE)])
        self.assertTrue(works(token, token_id))

    def test_422_negative_grace_period(self):
        jwt = user_jwt()
        _, token_id, _ = issue(jwt)
        self.assertViolations(rotate(jwt, token_id, {"gracePeriod": -1}), [("gracePeriod", GRACE_OUT_OF_RANGE)])


# ============================================== DELETE /user/api-tokens/current

class TestRevokeCurrent204(ContractCase):
    def test_204_with_an_api_token_then_that_token_is_401(self):
        token, token_id, _ = issue()
        reply = revoke_current(token)
        self.assertEqual(reply.status, 204, reply)
        self.assertEqual(reply.body, b"")
        self.assertUnauthorized(get_token(token, token_id))

    def test_204_needs_no_permission(self):
        token, _, _ = issue(user_jwt(permissions=[WRITE, "other"]), permissions=["other"])
        self.assertEqual(revoke_current(token).status, 204)


class TestRevokeCurrent400(ContractCase):
    def test_400_with_a_jwt(self):
        self.assertProblem(revoke_current(user_jwt()), 400, "This request is not authenticated by an API token.")


class TestRevokeCurrent401(ContractCase):
    def test_401_without_credential(self):
        self.assertUnauthorized(revoke_current(None), credential_given=False)

    def test_401_with_a_revoked_api_token(self):
        token, token_id, _ = issue()
        self.assertEqual(revoke_current(token).status, 204)
        self.assertUnauthorized(revoke_current(token))


# ==================================================== POST /api-tokens/revoke

class TestRevokeLeaked202(ContractCase):
    def test_202_for_a_live_token_which_is_then_revoked(self):
        token, token_id, _ = issue()
        reply = report_leak({"token": token})
        self.assertEqual(reply.status, 202, reply)
        self.assertEqual(reply.header("Content-Type"), JSON)
        self.assertEqual(reply.json(), LEAK_ANSWER)
        self.assertFalse(works(token, token_id))
        self.assertEqual(psql(f"SELECT revoked_at IS NOT NULL FROM fynn_tokens.api_token WHERE id = '{token_id}'"), "t")

    def test_202_same_body_for_an_unknown_well_formed_token(self):
        reply = report_leak({"token": api_token()})
        self.assertEqual(reply.status, 202, reply)
        self.assertEqual(reply.json(), LEAK_ANSWER)

    def test_202_by_the_tokens_sha256(self):
        token, token_id, _ = issue()
        reply = report_leak({"token_sha256": hashlib.sha256(token.encode()).hexdigest()})
        self.assertEqual(reply.status, 202, reply)
        self.assertFalse(works(token, token_id))

    def test_202_for_an_already_revoked_token(self):
        token, _, _ = issue()
        self.assertEqual(report_leak({"token": token}).status, 202)
        self.assertEqual(report_leak({"token": token}).json(), LEAK_ANSWER)

    def test_202_ignores_a_bad_authorization_header(self):
        token, token_id, _ = issue()
        reply = report_leak({"token": token}, extra=bearer(api_token()))
        self.assertEqual(reply.status, 202, reply)
        self.assertFalse(works(token, token_id))


class TestRevokeLeaked400(ContractCase):
    def test_400_malformed_token(self):
        self.assertProblem(report_leak({"token": "api_abc"}), 400, "The token is not a well-formed API token.")

    def test_400_bad_checksum(self):
        self.assertProblem(report_leak({"token": api_token(valid_checksum=False)}), 400,
                           "The token is not a well-formed API token.")

    def test_400_token_not_a_string(self):
        self.assertProblem(report_leak({"token": 5}), 400,
                           'The type of the "token" attribute must be "string", "integer" given.')

    def test_400_token_not_a_string_even_when_it_holds_one(self):
        token, token_id, _ = issue()
        self.assertProblem(report_leak({"token": [token]}), 400,
                           'The type of the "token" attribute must be "string", "array" given.')
        self.assertTrue(works(token, token_id))

    def test_400_token_sha256_not_hex(self):
        self.assertProblem(report_leak({"token_sha256": "abc"}), 400,
                           'The "token_sha256" attribute must be 64 lower-case hexadecimal digits.')

    def test_400_nul_escape_is_a_syntax_error(self):
        self.assertProblem(report_leak('{"token": "api_x", "note": "a\\u0000b"}'), 400, "Syntax error")

    def test_400_token_missing(self):
        self.assertProblem(report_leak({}), 400, 'The "token" attribute is required.')
        self.assertProblem(report_leak({"token": None}), 400, 'The "token" attribute is required.')

    def test_400_body_not_json(self):
        self.assertProblem(report_leak("token=api_x"), 400, "Syntax error")

    def test_400_body_not_an_object(self):
        self.assertProblem(report_leak("[]"), 400, "The input data is misformatted.")


class TestRevokeLeaked415(ContractCase):
    def test_415_without_a_json_content_type(self):
        token, token_id, _ = issue()
        self.assertProblem(report_leak({"token": token}, content_type=None), 415)
        self.assertTrue(works(token, token_id))


# ============================================================== the route table

class Test404UnknownPath(ContractCase):
    def test_404_unknown_paths(self):
        for method, path in (("GET", "/nope"), ("GET", "/"), ("POST", "/user/api-tokens/x/y"),
                             ("GET", "/user/api-tokens/"), ("GET", "/user/api-tokens//"), ("GET", "/USER/API-TOKENS"),
                             ("POST", "/user/api-tokens%00x"), ("GET", "/health/"), ("GET", "/user/api-tokens/x/y")):
            self.assertProblem(request(method, path, "{}" if method == "POST" else None,
                                       headers={"Content-Type": "application/json"}), 404)


class Test405MethodNotAllowed(ContractCase):
    def assertNotAllowed(self, method, path, allow):
        reply = request(method, path, headers=bearer(user_jwt()))
        self.assertProblem(reply, 405)
        self.assertEqual(reply.header("Allow"), allow)

    def test_405_put_on_the_collection(self):
        self.assertNotAllowed("PUT", PATH, "POST, GET")

    def test_405_on_an_item(self):
        self.assertNotAllowed("PATCH", f"{PATH}/{'A' * 20}", "GET, DELETE")
        self.assertNotAllowed("POST", f"{PATH}/extra", "GET, DELETE")

    def test_405_get_on_rotate(self):
        self.assertNotAllowed("GET", f"{PATH}/{'A' * 20}/rotate", "POST")

    def test_405_post_on_current(self):
        # "current" also matches {id}: GET and DELETE exist there.
        self.assertNotAllowed("POST", f"{PATH}/current", "DELETE, GET")

    def test_405_get_on_revoke_by_value(self):
        self.assertNotAllowed("GET", REVOKE_PATH, "POST")

    def test_405_post_on_probes(self):
        for path in ("/health", "/live", "/ready", "/metrics"):
            self.assertNotAllowed("POST", path, "GET")


# ===================================================================== chains

class TestChains(ContractCase):
    def test_a_child_is_capped_to_its_parents_expiry(self):
        expiry = iso(time.time() + 3600)
        parent, _, _ = issue(expiresAt=expiry)
        for asked in (None, FUTURE):
            child = self.assertCreated(create({"description": "child", "expiresAt": asked}, parent))
            self.assertEqual(child["expiresAt"], expiry)

    def test_a_child_holds_at_most_its_parents_permissions(self):
        parent, _, _ = issue(rw_jwt(), permissions=[WRITE])
        self.assertViolations(create({"description": "child", "permissions": [WRITE, READ]}, parent),
                              [("permissions", PERMISSIONS_NOT_HELD)])

    def test_a_child_is_revoked_with_its_parent(self):
        jwt = rw_jwt()
        parent, parent_id, _ = issue(jwt)
        child, child_id, _ = issue(parent)
        grandchild, grandchild_id, _ = issue(child)
        self.assertTrue(works(grandchild, grandchild_id))
        self.assertEqual(revoke(jwt, parent_id).status, 204)
        self.assertUnauthorized(get_token(child, child_id))
        self.assertUnauthorized(get_token(grandchild, grandchild_id))

    def test_a_rotated_out_token_is_401_after_its_grace_period(self):
        jwt = rw_jwt()
        token, token_id, _ = issue(jwt)
        self.assertEqual(rotate(jwt, token_id, {"gracePeriod": 1}).status, 201)
        self.assertTrue(works(token, token_id))
        time.sleep(2)
        self.assertUnauthorized(get_token(token, token_id))


# ================================================================ forward-auth

class TestAuth(ContractCase):
    """GET /auth in brief, so the valgrind run covers it (test_forward_auth.py has the rest)."""

    def assertAuthorized(self, reply, user=None):
        self.assertEqual(reply.status, 200, reply)
        remember(reply.header("X-Fynn-Jwt"))
        self.assertEqual(reply.header("Cache-Control"), "no-store")
        if user:
            self.assertEqual(reply.header("X-Fynn-User"), user)

    def test_200_with_an_api_token_uncached_then_cached(self):
        # The cache is used only while the listener is subscribed (under valgrind that takes a while).
        deadline = time.monotonic() + 30
        while metric("fynn_gateway_listener_up") != 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        token, token_id, _ = issue()
        hits, misses = metric("fynn_gateway_cache_hits_total"), metric("fynn_gateway_cache_misses_total")
        self.assertAuthorized(request("GET", "/auth", headers=bearer(token)))
        self.assertEqual(metric("fynn_gateway_cache_misses_total"), misses + 1)
        reply = request("GET", "/auth", headers=bearer(token))
        self.assertAuthorized(reply)
        self.assertEqual(reply.header("X-Fynn-Token-Id"), token_id)
        self.assertEqual(metric("fynn_gateway_cache_hits_total"), hits + 1)

    def test_200_with_a_jwt(self):
        claims = user_claims()
        self.assertAuthorized(request("GET", "/auth", headers=bearer(sign_jwt(claims))), claims["sub"])

    def cached(self, credential=None, **body):
        """A token /auth has just answered for (so it is in the verify cache)."""
        token, token_id, answer = issue(credential, **body)
        self.assertAuthorized(request("GET", "/auth", headers=bearer(token)))
        return token, token_id, answer

    # A revocation through this gateway must not wait for its notification: the very next /auth is 401.
    def test_401_on_the_next_request_after_a_revoke(self):
        for _ in range(10):
            token, token_id, _ = self.cached()
            self.assertEqual(revoke(token, token_id).status, 204)
            self.assertUnauthorized(request("GET", "/auth", headers=bearer(token)))

    def test_401_on_the_next_request_for_a_child_of_a_revoked_token(self):
        for _ in range(5):
            jwt = rw_jwt()
            parent, parent_id, _ = issue(jwt)
            child, _, _ = self.cached(parent)
            self.assertEqual(revoke(jwt, parent_id).status, 204)
            self.assertUnauthorized(request("GET", "/auth", headers=bearer(child)))

    def test_401_on_the_next_request_after_a_leak_report(self):
        for _ in range(10):
            token, _, _ = self.cached()
            self.assertEqual(report_leak({"token": token}).status, 202)
            self.assertUnauthorized(request("GET", "/auth", headers=bearer(token)))

    def test_401_on_the_next_request_after_rotation_and_revoke_current(self):
        for _ in range(5):
            jwt = rw_jwt()
            token, token_id, _ = self.cached(jwt)
            successor = rotate(jwt, token_id).json()["token"]
            self.assertUnauthorized(request("GET", "/auth", headers=bearer(token)))
            self.assertAuthorized(request("GET", "/auth", headers=bearer(successor)))
            self.assertEqual(revoke_current(successor).status, 204)
            self.assertUnauthorized(request("GET", "/auth", headers=bearer(successor)))


# ===================================================================== probes

class TestProbes(ContractCase):
    def test_health_and_live_are_200_while_the_process_is_up(self):
        for path in ("/health", "/live"):
            reply = request("GET", path)
            self.assertEqual(reply.status, 200)
            self.assertEqual(reply.json(), {"status": "ok"})

    def test_ready_is_200_when_the_database_answers(self):
        reply = request("GET", "/ready")
        self.assertEqual(reply.status, 200)
        self.assertEqual(reply.json(), {"status": "ok"})


class TestDatabaseRestart(ContractCase):
    """Runs last: stops the cluster under the running gateway and starts it again."""

    def test_503_while_the_database_is_down_then_201_again(self):
        token = user_jwt()
        self.assertCreated(create({"description": "before"}, token))
        cluster("stop")
        try:
            reply = create({"description": "during"}, token)
            self.assertLess(reply.seconds, 3.0)
            self.assertProblem(reply, 503, "The database is unavailable, try again later.")
            reply = request("GET", "/ready")
            self.assertLess(reply.seconds, 3.0)
            self.assertProblem(reply, 503)
            self.assertEqual(request("GET", "/health").status, 200)
            self.assertEqual(request("GET", "/live").status, 200)
        finally:
            cluster("start")
        self.assertCreated(create({"description": "after"}, token))
        self.assertEqual(request("GET", "/ready").status, 200)


ORDER = [TestCreate201, TestCreate400, TestCreate401, TestCreate403, TestCreate413, TestCreate415, TestCreate422,
         TestList200, TestList400, TestList401, TestList403,
         TestGet200, TestGet401, TestGet403, TestGet404,
         TestRevoke204, TestRevoke401, TestRevoke403, TestRevoke404,
         TestRotate201, TestRotate400, TestRotate401, TestRotate403, TestRotate404, TestRotate415, TestRotate422,
         TestRevokeCurrent204, TestRevokeCurrent400, TestRevokeCurrent401,
         TestRevokeLeaked202, TestRevokeLeaked400, TestRevokeLeaked415,
         Test404UnknownPath, Test405MethodNotAllowed, TestChains, TestAuth, TestProbes,
         TestDatabaseRestart]

# Under valgrind: every route and every answer the gateway builds itself, few requests.
SMOKE = ["TestCreate201.test_201_with_an_issued_api_token_as_bearer_records_its_use",
         "TestCreate400.test_400_empty_body_is_a_syntax_error",
         "TestCreate401.test_401_unknown_api_token",
         "TestCreate401.test_401_malformed_jwt",
         "TestCreate413.test_413_declared_length_is_refused_before_the_body_is_read",
         "TestCreate413.test_413_chunked_body_over_the_limit",
         "TestCreate415.test_415_missing_content_type",
         "TestCreate422.test_422_several_violations_at_once",
         "TestList200.test_200_shape_newest_first",
         "TestList400.test_400_page_with_a_nul",
         "TestGet200.test_200_the_item",
         "TestGet404.test_404_encoded_nul_in_the_path",
         "TestRevoke204.test_the_revoked_token_is_401_on_the_very_next_request",
         "TestRotate201.test_201_with_a_grace_period_the_old_token_still_works",
         "TestRotate400.test_400_body_not_json",
         "TestRevokeCurrent204.test_204_with_an_api_token_then_that_token_is_401",
         "TestRevokeLeaked202.test_202_for_a_live_token_which_is_then_revoked",
         "TestRevokeLeaked400.test_400_token_not_a_string",
         "Test404UnknownPath.test_404_unknown_paths",
         "Test405MethodNotAllowed.test_405_put_on_the_collection",
         "TestAuth.test_200_with_an_api_token_uncached_then_cached",
         "TestAuth.test_200_with_a_jwt",
         "TestAuth.test_401_on_the_next_request_after_a_leak_report",
         "TestProbes.test_ready_is_200_when_the_database_answers"]

if __name__ == "__main__":
    sys.exit(gateway_client.main(sys.modules[__name__]))
