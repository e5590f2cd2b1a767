-- Listing: list_user_api_tokens(page int = 1, "limit" int = 30) and, for
-- HTTP, fynn_api.list_user_api_tokens(page text, page_size text). The
-- caller's live tokens (not revoked; expired ones included) and no one
-- else's, newest first (created_at DESC, id DESC), one page at a time:
-- page >= 1 (else 2201X), limit 1..100 (else 2201W), and
-- lastPage = max(1, ceil(totalItems / limit)). Needs user:api-token:read.
-- An item never holds the token: apiToken is "**********".
TRUNCATE tok;
-- The labels of a listing's items, in the listing's order.
CREATE FUNCTION pg_temp.labels(answer json) RETURNS text LANGUAGE sql STABLE AS $$
	SELECT coalesce(string_agg(lbl(item->>'id'), ' ' ORDER BY n), '') FROM json_array_elements(answer->'data') WITH ORDINALITY AS i(item, n) $$;
CREATE PROCEDURE pg_temp.act_as_reader(sub text DEFAULT 'list-user', tenant text DEFAULT 't-list') LANGUAGE sql AS $$
	SELECT set_config('request.jwt.claims', json_build_object('sub', sub, 'tenant_id', tenant,
		'permissions', json_build_array('user:api-token:read', 'user:api-token:write', 'invoice:read'))::text, false) $$;

-- Nothing yet: an empty first page, and still one last page.
CALL pg_temp.act_as_reader();
SELECT fynn_tokens.list_user_api_tokens() AS empty_list;

-- Seven tokens, one statement each so that each is newer than the last.
SELECT keep('L1', fynn_tokens.create_user_api_token('first', NULL));
SELECT keep('L2', fynn_tokens.create_user_api_token('second', '2099-01-01T00:00:00.25Z', ARRAY['invoice:read']));
SELECT keep('L3', fynn_tokens.create_user_api_token('third, expired', '2099-01-01T00:00:00Z'));
SELECT keep('L4', fynn_tokens.create_user_api_token(NULL, NULL));
SELECT keep('L5', fynn_tokens.create_user_api_token('fifth, revoked', NULL));
SELECT keep('L6', fynn_tokens.create_user_api_token('sixth', NULL));
SELECT keep('L7', fynn_tokens.create_user_api_token('seventh', NULL));
UPDATE fynn_tokens.api_token SET expires_at = now() - interval '1 second' WHERE id = id_of('L3');
SELECT fynn_tokens.revoke_user_api_token(id_of('L5'));
-- Tokens of the same user in another tenant, and of another user in the same tenant.
CALL pg_temp.act_as_reader('list-user', 't-list-other');
SELECT keep('other tenant', fynn_tokens.create_user_api_token('other tenant', NULL));
CALL pg_temp.act_as_reader('list-other-user', 't-list');
SELECT keep('other user', fynn_tokens.create_user_api_token('other user', NULL));

-- The first page with the defaults (page 1, limit 30): newest first,
-- the expired L3 included, the revoked L5 and the other callers' excluded.
CALL pg_temp.act_as_reader();
SELECT pg_temp.labels(fynn_tokens.list_user_api_tokens()) AS items,
	fynn_tokens.list_user_api_tokens()->'meta' AS meta;
-- NULL arguments mean the defaults too.
SELECT fynn_tokens.list_user_api_tokens(NULL, NULL)::text = fynn_tokens.list_user_api_tokens()::text AS nulls_are_defaults,
	fynn_tokens.list_user_api_tokens(1, 30)::text = fynn_tokens.list_user_api_tokens()::text AS defaults_are_1_and_30;

-- The order is created_at DESC, id DESC, whatever the order of creation:
-- two tokens with one created_at are ordered by id, the larger first.
UPDATE fynn_tokens.api_token SET created_at = (SELECT created_at FROM fynn_tokens.api_token WHERE id = id_of('L6'))
WHERE id = id_of('L7');
SELECT array(SELECT item->>'id' FROM json_array_elements(fynn_tokens.list_user_api_tokens()->'data') AS item)
	= array(SELECT id FROM fynn_tokens.api_token WHERE tenant_id = 't-list' AND user_id = 'list-user' AND revoked_at IS NULL
			ORDER BY created_at DESC, id DESC) AS ordered_by_created_at_then_id,
	(SELECT id_of('L6') > id_of('L7')) = (pg_temp.labels(fynn_tokens.list_user_api_tokens()) LIKE 'L6 L7%') AS tie_broken_by_id_desc;
UPDATE fynn_tokens.api_token SET created_at = created_at - interval '1 day' WHERE id = id_of('L7');
SELECT pg_temp.labels(fynn_tokens.list_user_api_tokens()) AS l7_made_older;

-- Paging: 6 items, 4 per page: pages 1 and 2, and a page past the end is empty, not an error.
SELECT p AS page, pg_temp.labels(a) AS items, a->'meta'->'pagination' AS pagination
FROM generate_series(1, 3) p, LATERAL (SELECT fynn_tokens.list_user_api_tokens(p, 4) AS a) s ORDER BY p;
-- lastPage = max(1, ceil(total / limit)) for several limits.
SELECT l AS "limit", (a->'meta'->'pagination'->>'lastPage')::int AS last_page,
	(a->'meta'->'pagination'->>'pageTotalItems')::int AS first_page_items
FROM unnest(ARRAY[1, 2, 3, 5, 6, 7, 100]) l, LATERAL (SELECT fynn_tokens.list_user_api_tokens(1, l) AS a) s ORDER BY l;
SELECT fynn_tokens.list_user_api_tokens(2147483647, 100)->'meta' AS last_int_page;

-- Bounds: page >= 1 (2201X), limit 1..100 (2201W); limit 100 is fine.
SELECT args, outcome('SELECT fynn_tokens.list_user_api_tokens(' || args || ')') AS outcome
FROM unnest(ARRAY['0, 30', '-1, 30', '1, 0', '1, -1', '1, 101', '1, 100', '0, 0']) args ORDER BY args COLLATE "C";

-- An item: exactly these keys in this order; dates in UTC, whole seconds
-- for the server's instants, the client's fraction kept in expiresAt.
SELECT string_agg(k, ',') AS item_keys
FROM json_object_keys(fynn_tokens.list_user_api_tokens(1, 1)->'data'->0) k;
SELECT item->>'description' AS description, item->'expiresAt' AS expires_at, item->>'apiToken' AS api_token,
	item->'lastUsedAt' AS last_used_at, item->'permissions' AS permissions,
	item->>'createdAt' = to_char(t.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"') AS created_at_whole_seconds_utc,
	item->>'updatedAt' = item->>'createdAt' AS updated_at_is_created_at
FROM json_array_elements(fynn_tokens.list_user_api_tokens()->'data') item
JOIN fynn_tokens.api_token t ON t.id = item->>'id'
WHERE lbl(item->>'id') IN ('L1', 'L2', 'L4') ORDER BY lbl(item->>'id') COLLATE "C";
-- A use shows as lastUsedAt, in whole seconds.
SELECT fynn_tokens.record_api_token_use(digest(token, 'sha256')) AS recorded FROM tok WHERE label = 'L1';
SELECT item->>'lastUsedAt' ~ '^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$' AS last_used_at_shape
FROM json_array_elements(fynn_tokens.list_user_api_tokens()->'data') item WHERE item->>'id' = id_of('L1');

-- No listing holds a token, or any part of one's secret, or "api_".
SELECT count(*) AS secrets_in_listing
FROM tok, (SELECT fynn_tokens.list_user_api_tokens(1, 100)::text AS body) l
WHERE position(substr(tok.token, 5, 32) IN l.body) > 0 OR position(right(tok.token, 10) IN l.body) > 0;
SELECT position('api_' IN fynn_tokens.list_user_api_tokens(1, 100)::text) AS api_prefix_in_listing;

-- Reading needs user:api-token:read (42501); the write permission alone is not it.
CALL act_as('{"sub": "list-user", "tenant_id": "t-list", "permissions": ["user:api-token:write"]}');
SELECT outcome('SELECT fynn_tokens.list_user_api_tokens()') AS writer_only;
CALL act_as('{"sub": "list-user", "tenant_id": "t-list", "permissions": ["user:api-token:read:all"]}');
SELECT outcome('SELECT fynn_tokens.list_user_api_tokens()') AS longer_name;
CALL act_as('');
SELECT outcome('SELECT fynn_tokens.list_user_api_tokens()') AS unauthenticated;
-- Authentication and permission come before the parameters.
CALL act_as('{"sub": "list-user", "tenant_id": "t-list", "permissions": []}');
SELECT outcome('SELECT fynn_tokens.list_user_api_tokens(0, 0)') AS forbidden_before_bad_page;

-- A token holding only the read permission lists its user's tokens, itself included.
CALL pg_temp.act_as_reader();
SELECT keep('R', fynn_tokens.create_user_api_token('reader', NULL, ARRAY['user:api-token:read']));
SELECT set_config('request.jwt.claims', fynn_tokens.verify_api_token(token)::text, false) IS NOT NULL AS as_reader_token
FROM tok WHERE label = 'R';
SELECT pg_temp.labels(fynn_tokens.list_user_api_tokens()) AS listed_by_a_token;

-- The HTTP form: 200 with the same body; the parameters are text, as a query
-- string has them, and anything but a plain integer is a 400 problem.
CALL pg_temp.act_as_reader();
BEGIN;
SELECT fynn_api.list_user_api_tokens('2', '4')::text = fynn_tokens.list_user_api_tokens(2, 4)::text AS same_body;
SELECT current_setting('response.status') AS status, current_setting('response.headers') AS headers;
COMMIT;
SELECT http_answer(fynn_api.list_user_api_tokens())->'body'->'meta' AS defaults,
	http_answer(fynn_api.list_user_api_tokens(NULL, NULL))->'status' AS null_status;
SELECT http_answer(fynn_api.list_user_api_tokens('99', '4'))::jsonb - 'body' AS past_the_end,
	fynn_api.list_user_api_tokens('99', '4')->'data' AS past_the_end_data;
SELECT http_answer(fynn_api.list_user_api_tokens('01', '100'))->'body'->'meta' AS leading_zero;
SELECT quote_nullable(page) AS page, quote_nullable(page_size) AS page_size,
	http_answer(fynn_api.list_user_api_tokens(page, page_size)) AS answer
FROM (VALUES ('abc', NULL), ('1.5', NULL), ('', NULL), (' 1', NULL), ('1 ', NULL), ('+1', NULL), ('0', NULL),
	('-1', NULL), ('2147483648', NULL), ('1e1', NULL), ('0x1', NULL),
	(NULL, 'abc'), (NULL, '1.5'), (NULL, ''), (NULL, ' 1'), (NULL, '0'), (NULL, '101'), ('0', '0')) AS v(page, page_size)
ORDER BY v.page COLLATE "C" NULLS FIRST, v.page_size COLLATE "C" NULLS FIRST;

-- HTTP: 401 without a credential, 403 without the read permission.
CALL act_as('');
SELECT http_answer(fynn_api.list_user_api_tokens()) AS unauthenticated;
CALL act_as('{"sub": "list-user", "tenant_id": "t-list", "permissions": ["user:api-token:write"]}');
SELECT http_answer(fynn_api.list_user_api_tokens('abc', 'abc')) AS forbidden_before_bad_page;
