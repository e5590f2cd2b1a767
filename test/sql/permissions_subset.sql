-- A new token's permissions: omitted (or NULL), it holds all of the
-- caller's; given, it must be a non-empty subset of the caller's, matched
-- exactly (no prefix, no longer name), and is stored as given with
-- duplicates kept once. A violation is 22023 with the property in the
-- column name and the kind in the constraint name (HTTP 422); input of the
-- wrong type is a class-22 error other than 22023 (HTTP 400).
CALL act_as('{"sub": "subset-user", "tenant_id": "t-subset", "permissions": ["user:api-token:write", "invoice:read", "invoice:write", "user:read"]}');

-- Omitted: all of the caller's, in the claims' order; the answer says so.
SELECT fynn_tokens.create_user_api_token('sql omitted', NULL)->'permissions' AS sql_two_args;
SELECT fynn_tokens.create_user_api_token('sql null', NULL, NULL)->'permissions' AS sql_null_array;
SELECT fynn_tokens.create_user_api_token('{"description": "json omitted"}'::json)->'permissions' AS json_omitted;
SELECT fynn_tokens.create_user_api_token('{"description": "json null", "permissions": null}'::json)->'permissions' AS json_null;

-- A subset is stored exactly as given; duplicates are kept once, at their first place.
SELECT fynn_tokens.create_user_api_token('sql subset', NULL, ARRAY['invoice:write', 'invoice:read'])->'permissions' AS sql_subset;
SELECT fynn_tokens.create_user_api_token('sql duplicates', NULL,
	ARRAY['user:read', 'invoice:read', 'user:read', 'invoice:read'])->'permissions' AS sql_duplicates;
SELECT fynn_tokens.create_user_api_token('{"description": "json subset", "permissions": ["invoice:read"]}'::json)->'permissions' AS json_subset;
SELECT fynn_tokens.create_user_api_token('{"description": "json duplicates", "permissions": ["invoice:read", "invoice:read"]}'::json)->'permissions' AS json_duplicates;

-- The answer's keys, with "permissions" last.
SELECT shape(fynn_tokens.create_user_api_token('answer keys', NULL, ARRAY['user:read']))->>'keys' AS keys;

-- The stored rows hold exactly what the answers said.
SELECT description, permissions FROM fynn_tokens.api_token
WHERE user_id = 'subset-user' ORDER BY description COLLATE "C";

-- A subset's token verifies with that subset only.
CREATE TEMP TABLE subset_token AS
SELECT fynn_tokens.create_user_api_token('verify subset', NULL, ARRAY['invoice:read'])->>'token' AS token;
SELECT fynn_tokens.verify_api_token(token)->'permissions' AS verified_permissions FROM subset_token;

-- A permission the caller does not hold: not_held.
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('not held', NULL, ARRAY['admin'])$$) AS sql_not_held;
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('{"description": "not held", "permissions": ["invoice:read", "admin"]}'::json)$$) AS json_not_held;

-- Exact names only: neither a prefix of a held permission, nor a longer
-- name, nor another case, nor padding, nor the empty string is held.
SELECT quote_literal(p) AS asked, outcome(format('SELECT fynn_tokens.create_user_api_token(%L, NULL, %L::text[])', 'exact ' || p, ARRAY[p])) AS outcome
FROM unnest(ARRAY['user:api-token', 'user:api-token:write:all', 'user:api-token:writ', 'invoice',
	'Invoice:read', ' invoice:read', 'invoice:read ', '', 'invoice:*', '*']) AS p
ORDER BY p COLLATE "C";

-- An empty array: empty, in both forms.
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('empty', NULL, ARRAY[]::text[])$$) AS sql_empty;
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('{"description": "empty", "permissions": []}'::json)$$) AS json_empty;

-- The SQL form: a NULL element is 22004, a two-dimensional array 2202E.
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('null element', NULL, ARRAY['invoice:read', NULL])$$) AS sql_null_element;
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('two dimensions', NULL, ARRAY[['invoice:read'], ['user:read']])$$) AS sql_two_dimensions;

-- The JSON form: "permissions" must be an array of strings, named as the API names them.
SELECT body, outcome(format('SELECT fynn_tokens.create_user_api_token(%L::json)', body)) AS outcome
FROM unnest(ARRAY[
	'{"permissions": "invoice:read"}',
	'{"permissions": 5}',
	'{"permissions": true}',
	'{"permissions": {"0": "invoice:read"}}',
	'{"permissions": [5]}',
	'{"permissions": ["invoice:read", 1]}',
	'{"permissions": ["invoice:read", 1.5]}',
	'{"permissions": ["invoice:read", "user:read", null]}',
	'{"permissions": [["invoice:read"]]}',
	'{"permissions": ["invoice:read", {"a": 1}]}']) AS body
ORDER BY body COLLATE "C";

-- Several violations at once: every one in one error, in the order description, expiresAt, permissions.
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('ab', NULL, ARRAY['admin'])$$) AS description_and_not_held;
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('{"description": "ab", "expiresAt": "2020-01-01T00:00:00Z", "permissions": []}'::json)$$) AS three_violations;
SELECT error_detail($$SELECT fynn_tokens.create_user_api_token('ab', NULL, ARRAY['admin'])$$)::jsonb AS violations;

-- A 400 comes before the rules: a bad element hides a too-short description.
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('{"description": "ab", "permissions": [1]}'::json)$$) AS type_before_rules;

-- The write permission itself may be handed on, or left out.
SELECT fynn_tokens.create_user_api_token('without write', NULL, ARRAY['invoice:read'])->'permissions' AS without_write;
SELECT fynn_tokens.create_user_api_token('only write', NULL, ARRAY['user:api-token:write'])->'permissions' AS only_write;

-- Permissions from an OAuth2 scope string are held like any others.
CALL act_as('{"sub": "subset-user", "tenant_id": "t-subset", "scope": "user:api-token:write report:read"}');
SELECT fynn_tokens.create_user_api_token('from scope', NULL, ARRAY['report:read'])->'permissions' AS from_scope;
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('not in scope', NULL, ARRAY['invoice:read'])$$) AS not_in_scope;

-- Refused calls wrote nothing.
SELECT count(*) AS rows, count(*) FILTER (WHERE description IN ('not held', 'empty', 'null element',
	'two dimensions', 'ab', 'not in scope') OR description LIKE 'exact %') AS refused_rows
FROM fynn_tokens.api_token WHERE user_id = 'subset-user';
