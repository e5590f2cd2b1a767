-- create_user_api_token(json): the HTTP body as is. Unreadable input is a
-- class 22 error other than 22023 (HTTP 400); rule violations are 22023
-- (HTTP 422) exactly as with the typed function.
CALL act_as_writer();

SELECT shape(fynn_tokens.create_user_api_token('{"description": "My API token", "expiresAt": "2099-01-01T00:00:00+00:00"}'::json));
SELECT shape(fynn_tokens.create_user_api_token('{}'::json)) AS empty_object;
SELECT shape(fynn_tokens.create_user_api_token('{"description": null, "expiresAt": null}'::json)) AS nulls;
SELECT shape(fynn_tokens.create_user_api_token('{"description": "extra keys", "scopes": ["x"], "id": "mine"}'::json)) AS unknown_keys_ignored;

-- Not an object.
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('[]'::json)$$) AS array_body;
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('"text"'::json)$$) AS string_body;
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('null'::json)$$) AS json_null_body;
SELECT outcome($$SELECT fynn_tokens.create_user_api_token(NULL::json)$$) AS sql_null_body;

-- Wrong JSON types, named as the API names them.
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('{"description": 5}'::json)$$) AS integer;
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('{"description": 5.5}'::json)$$) AS double;
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('{"description": true}'::json)$$) AS boolean;
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('{"description": ["a"]}'::json)$$) AS array;
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('{"description": {"a": 1}}'::json)$$) AS object;
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('{"expiresAt": 1609459200}'::json)$$) AS expires_integer;

-- expiresAt must be an RFC 3339 date-time (22007).
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('{"expiresAt": "now"}'::json)$$) AS now;
SELECT v AS expires_at, split_part(outcome(format('SELECT fynn_tokens.create_user_api_token(%L::json)',
		json_build_object('description', 'dates', 'expiresAt', v))), ':', 1) AS sqlstate
FROM unnest(ARRAY[
	'now', 'tomorrow', '', '2099-01-01', '2099-01-01T00:00:00', '2099-01-01 00:00:00+00:00',
	'2099-02-31T00:00:00Z', '2099-02-29T00:00:00Z', '2099-13-01T00:00:00Z', '2099-01-01T24:00:00Z',
	'2099-01-01T00:60:00Z', '2099-01-01T00:00:00.Z', '2099-01-01T00:00:00+0100', '2099-01-01T00:00:00+24:00',
	'99-01-01T00:00:00Z', '2099-1-01T00:00:00Z', '2099-01-01T00:00:00Z ', ' 2099-01-01T00:00:00Z',
	'0000-01-01T00:00:00Z', '+2099-01-01T00:00:00Z', '2099-01-01T00:00:00+00:60', '2099-01-01T00:00:00-23:60',
	'2100-02-29T00:00:00Z', '2099-01-01T00:00:61Z']) AS v;

-- And these are RFC 3339: lower-case t and z, fractions, offsets, leap days
-- (2400 is a leap year, 2100 above is not), a leap second.
SELECT v AS expires_at, fynn_tokens.create_user_api_token(
		json_build_object('description', 'dates', 'expiresAt', v))->'expiresAt' AS answered
FROM unnest(ARRAY[
	'2099-01-01t00:00:00z', '2099-01-01T00:00:00.123456789Z', '2099-01-01T00:00:00.1234565Z',
	'2099-12-31T23:59:59.999999+14:00', '2096-02-29T12:00:00-05:30', '2099-01-01T00:00:00.000Z',
	'2400-02-29T00:00:00Z', '2099-12-31T23:59:60Z', '2099-01-01T00:00:00+23:59', '2099-01-01T00:00:00-00:59']) AS v;

-- Violations through JSON: both at once, in order, with the machine-readable detail.
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('{"description": "ab", "expiresAt": "2020-01-01T00:00:00Z"}'::json)$$) AS two_violations;
SELECT error_detail($$SELECT fynn_tokens.create_user_api_token('{"description": "ab", "expiresAt": "2020-01-01T00:00:00Z"}'::json)$$)::jsonb AS violations;
SELECT error_detail(format('SELECT fynn_tokens.create_user_api_token(%L::json)',
	json_build_object('description', repeat(chr(128512), 256))))::jsonb AS too_long;

-- Identity and permission come before the body: 28000 and 42501 even for a bad body.
CALL act_as('');
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('[]'::json)$$) AS unauthenticated;
CALL act_as('{"sub": "user-1", "tenant_id": "t1", "permissions": []}');
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('{"description": 5}'::json)$$) AS forbidden;

-- A NUL character cannot be stored as text: a 400-class error, not a crash.
CALL act_as_writer();
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('{"description": "a\u0000b"}'::json)$$) AS nul_char;
