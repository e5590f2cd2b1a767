-- Tenant policies: fynn_tokens.tenant_policy (tenant_id, max_lifetime,
-- max_live_tokens), and for a tenant without a row, or a NULL column, the
-- superuser-only settings fynn_tokens.default_max_lifetime (seconds,
-- 0 = none) and fynn_tokens.default_max_live_tokens (0 = none).
--   max_lifetime: a new token must expire (expiresAt null_not_allowed) and
--     no later than now + max_lifetime (beyond_max_lifetime, naming the
--     instant).
--   max_live_tokens: a user holding that many live tokens (not revoked, not
--     expired) may create no more (too_many_tokens, a violation of the whole
--     request: propertyPath ""); a rotation replaces a token and is exempt.
-- (This test runs as a superuser, who alone may change the settings.)
CREATE FUNCTION pg_temp.try(tenant text, sql text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
	-- The instant a message names is the time of the call: shown by its shape.
	RETURN regexp_replace(outcome_as(json_build_object('sub', 'pol-user', 'tenant_id', tenant,
			'permissions', json_build_array('user:api-token:read', 'user:api-token:write'))::text, sql),
		'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00', '<YYYY-MM-DDTHH:MM:SS+00:00>', 'g');
END $$;
CREATE PROCEDURE pg_temp.act_in(tenant text) LANGUAGE sql AS $$
	CALL act_as_writer('pol-user', tenant) $$;

-- The settings are superuser-only: a role that may create tokens cannot loosen them.
LOAD 'fynn_tokens';
SELECT name, setting, unit, context FROM pg_settings
WHERE name IN ('fynn_tokens.default_max_lifetime', 'fynn_tokens.default_max_live_tokens') ORDER BY name COLLATE "C";
CREATE ROLE fynn_regress_policy;
SET ROLE fynn_regress_policy;
SELECT outcome($$SET fynn_tokens.default_max_lifetime = 0$$) AS set_lifetime;
SELECT outcome($$SET fynn_tokens.default_max_live_tokens = 0$$) AS set_live_tokens;
RESET ROLE;
DROP ROLE fynn_regress_policy;

-- No policy, no defaults: no expiry is fine, and so is any number of tokens.
SELECT pg_temp.try('t-pol-none', $$SELECT fynn_tokens.create_user_api_token('never expires', NULL)$$) AS no_policy;

-- ------------------------------------------------------------ max_lifetime

-- The default: a lifetime in the setting's unit, seconds ('1d' is 86400).
SET fynn_tokens.default_max_lifetime = '1d';
SHOW fynn_tokens.default_max_lifetime;
SELECT current_setting('fynn_tokens.default_max_lifetime') AS as_text;

SELECT pg_temp.try('t-pol-none', $$SELECT fynn_tokens.create_user_api_token('no expiry', NULL)$$) AS null_expiry;
SELECT pg_temp.try('t-pol-none', $$SELECT fynn_tokens.create_user_api_token('{"description": "no expiry"}'::json)$$) AS json_null_expiry;
SELECT pg_temp.try('t-pol-none', $$SELECT fynn_tokens.create_user_api_token('too late', now() + interval '1 day 1 minute')$$) AS beyond;
SELECT pg_temp.try('t-pol-none', $$SELECT fynn_tokens.create_user_api_token('within', now() + interval '23 hours')$$) AS within;
-- With other violations, all at once.
SELECT pg_temp.try('t-pol-none', $$SELECT fynn_tokens.create_user_api_token('ab', NULL, ARRAY['admin'])$$) AS three_at_once;

-- The instant named is now + the lifetime, in the API's format.
CALL pg_temp.act_in('t-pol-none');
SELECT clock_timestamp() AS before_call \gset
SELECT (substring(error_detail($$SELECT fynn_tokens.create_user_api_token('too late', '2099-01-01T00:00:00Z')$$)::json->0->>'message'
		FROM 'equal to (.*)\.$'))::timestamptz
	BETWEEN date_trunc('second', :'before_call'::timestamptz + interval '1 day') AND clock_timestamp() + interval '1 day' AS names_now_plus_a_day;

-- A tenant's row overrides the default, either way.
INSERT INTO fynn_tokens.tenant_policy (tenant_id, max_lifetime, max_live_tokens) VALUES
	('t-pol-week', '7 days', NULL), ('t-pol-hour', '1 hour', NULL), ('t-pol-nulls', NULL, NULL),
	('t-pol-month', '1 mon', NULL);
SELECT pg_temp.try('t-pol-week', $$SELECT fynn_tokens.create_user_api_token('six days', now() + interval '6 days')$$) AS week_allows_six_days;
SELECT pg_temp.try('t-pol-week', $$SELECT fynn_tokens.create_user_api_token('eight days', now() + interval '8 days')$$) AS week_refuses_eight_days;
SELECT pg_temp.try('t-pol-hour', $$SELECT fynn_tokens.create_user_api_token('two hours', now() + interval '2 hours')$$) AS hour_refuses_two_hours;
SELECT pg_temp.try('t-pol-hour', $$SELECT fynn_tokens.create_user_api_token('no expiry', NULL)$$) AS hour_refuses_null;
-- A month is a calendar month, as timestamptz + interval adds it.
SELECT pg_temp.try('t-pol-month', $$SELECT fynn_tokens.create_user_api_token('a month', now() + interval '1 mon')$$) AS month_allows_a_month;
SELECT pg_temp.try('t-pol-month', $$SELECT fynn_tokens.create_user_api_token('a month and a day', now() + interval '1 mon 1 day')$$) AS month_refuses_more;
-- A NULL column falls back to the default (1 day).
SELECT pg_temp.try('t-pol-nulls', $$SELECT fynn_tokens.create_user_api_token('two days', now() + interval '2 days')$$) AS null_column_uses_default;
SELECT pg_temp.try('t-pol-nulls', $$SELECT fynn_tokens.create_user_api_token('no expiry', NULL)$$) AS null_column_refuses_null;

-- Without the default, only the tenants with a lifetime have one.
RESET fynn_tokens.default_max_lifetime;
SELECT pg_temp.try('t-pol-nulls', $$SELECT fynn_tokens.create_user_api_token('no expiry', NULL)$$) AS null_column_no_default;
SELECT pg_temp.try('t-pol-hour', $$SELECT fynn_tokens.create_user_api_token('no expiry', NULL)$$) AS row_without_default;

-- A rotation is a creation under today's rules: a token made before its
-- tenant got a lifetime cannot be rotated into one that never expires.
CALL pg_temp.act_in('t-pol-later');
CREATE TEMP TABLE old_token AS SELECT fynn_tokens.create_user_api_token('made before the policy', NULL)->>'id' AS id;
INSERT INTO fynn_tokens.tenant_policy (tenant_id, max_lifetime) VALUES ('t-pol-later', '1 day');
SELECT pg_temp.try('t-pol-later', format('SELECT fynn_tokens.rotate_user_api_token(%L)', id)) AS rotate_under_new_policy FROM old_token;

-- Over HTTP the same violations are a 422 problem.
CALL pg_temp.act_in('t-pol-hour');
SELECT regexp_replace(http_answer(fynn_api.create_user_api_token('{"description": "http", "expiresAt": "2099-01-01T00:00:00Z"}'))::text,
	'\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00', '<instant>', 'g') AS http_beyond;
SELECT http_answer(fynn_api.create_user_api_token('{"description": "http"}')) AS http_null;

-- --------------------------------------------------------- max_live_tokens

SET fynn_tokens.default_max_live_tokens = 2;
CALL pg_temp.act_in('t-pol-count');
CREATE TEMP TABLE counted (label text PRIMARY KEY, id text);
INSERT INTO counted SELECT 'c' || n, fynn_tokens.create_user_api_token('counted ' || n, NULL)->>'id' FROM generate_series(1, 2) n;
-- At the limit: refused, with no property (the message has no "property: " prefix).
SELECT pg_temp.try('t-pol-count', $$SELECT fynn_tokens.create_user_api_token('third', NULL)$$) AS at_the_limit;
SELECT pg_temp.try('t-pol-count', $$SELECT fynn_tokens.create_user_api_token('ab', NULL)$$) AS with_another_violation;
-- Another user, or the same user in another tenant, has a count of its own.
SELECT outcome_as('{"sub": "pol-other", "tenant_id": "t-pol-count", "permissions": ["user:api-token:write"]}',
	$$SELECT fynn_tokens.create_user_api_token('another user', NULL)$$) AS another_user;
SELECT outcome_as('{"sub": "pol-user", "tenant_id": "t-pol-count-2", "permissions": ["user:api-token:write"]}',
	$$SELECT fynn_tokens.create_user_api_token('another tenant', NULL)$$) AS another_tenant;
-- A revoked token does not count.
CALL pg_temp.act_in('t-pol-count');
SELECT fynn_tokens.revoke_user_api_token(id) FROM counted WHERE label = 'c1';
INSERT INTO counted SELECT 'c3', fynn_tokens.create_user_api_token('after a revocation', NULL)->>'id';
SELECT pg_temp.try('t-pol-count', $$SELECT fynn_tokens.create_user_api_token('third again', NULL)$$) AS at_the_limit_again;
-- Nor does an expired one.
UPDATE fynn_tokens.api_token SET expires_at = now() - interval '1 second' WHERE id = (SELECT id FROM counted WHERE label = 'c2');
INSERT INTO counted SELECT 'c4', fynn_tokens.create_user_api_token('after an expiry', NULL)->>'id';
SELECT pg_temp.try('t-pol-count', $$SELECT fynn_tokens.create_user_api_token('third once more', NULL)$$) AS at_the_limit_once_more;
-- A rotation replaces a token: it works at the limit, with a grace period
-- too, though the old token then stays live for a while beside its successor.
SELECT shape(fynn_tokens.rotate_user_api_token(id))->>'description' AS rotated_at_the_limit FROM counted WHERE label = 'c3';
SELECT shape(fynn_tokens.rotate_user_api_token(id, '1 hour'))->>'description' AS rotated_with_grace FROM counted WHERE label = 'c4';
SELECT count(*) AS live_now FROM fynn_tokens.api_token
WHERE tenant_id = 't-pol-count' AND user_id = 'pol-user' AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now());
SELECT pg_temp.try('t-pol-count', $$SELECT fynn_tokens.create_user_api_token('over the limit', NULL)$$) AS over_the_limit;
-- The refusals above wrote nothing.
SELECT count(*) AS refused_rows FROM fynn_tokens.api_token
WHERE tenant_id = 't-pol-count' AND description IN ('third', 'ab', 'third again', 'third once more', 'over the limit');

-- A tenant's row overrides the default; a NULL column falls back to it.
INSERT INTO fynn_tokens.tenant_policy (tenant_id, max_lifetime, max_live_tokens) VALUES
	('t-pol-one', NULL, 1), ('t-pol-five', NULL, 5), ('t-pol-fallback', '1 day', NULL);
SELECT tenant, (SELECT count(*) FROM generate_series(1, 6) n
		WHERE pg_temp.try(tenant, format('SELECT fynn_tokens.create_user_api_token(%L, now() + interval ''1 hour'')', 'try ' || n)) = 'ok')
	AS created_of_six
FROM unnest(ARRAY['t-pol-one', 't-pol-five', 't-pol-fallback']) tenant ORDER BY tenant COLLATE "C";
-- Without the default, a tenant without a row has no limit.
RESET fynn_tokens.default_max_live_tokens;
SELECT pg_temp.try('t-pol-count', $$SELECT fynn_tokens.create_user_api_token('no limit', NULL)$$) AS no_default_no_limit;
SELECT pg_temp.try('t-pol-one', $$SELECT fynn_tokens.create_user_api_token('row limit', NULL)$$) AS row_limit_stays;

-- Over HTTP: 422 with propertyPath "" and the detail line without a prefix.
CALL pg_temp.act_in('t-pol-one');
SELECT http_answer(fynn_api.create_user_api_token('{}')) AS http_too_many;

-- The table refuses limits that are not positive.
SELECT v, outcome(format('INSERT INTO fynn_tokens.tenant_policy VALUES (%L, %s)', 't-pol-bad', v)) AS outcome
FROM unnest(ARRAY[$$'0', NULL$$, $$'-1 day', NULL$$, $$'1 day -25 hours', NULL$$, $$NULL, 0$$, $$NULL, -1$$, $$'1 second', 1$$]) v
ORDER BY v COLLATE "C";
SELECT tenant_id, max_lifetime, max_live_tokens FROM fynn_tokens.tenant_policy ORDER BY tenant_id COLLATE "C";

DELETE FROM fynn_tokens.tenant_policy WHERE tenant_id LIKE 't-pol-%';
