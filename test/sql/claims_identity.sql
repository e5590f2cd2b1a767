-- Identity comes from request.jwt.claims: user from "sub", tenant from
-- "tenant_id"; without them nobody is authenticated (28000).
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('no claims', NULL)$$);

CALL act_as('');
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('empty claims', NULL)$$);

CALL act_as('not json');
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('unparsable claims', NULL)$$);

CALL act_as('["sub", "tenant_id"]');
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('claims not an object', NULL)$$);

CALL act_as('{"tenant_id": "t1", "permissions": ["user:api-token:write"]}');
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('no user', NULL)$$);

CALL act_as('{"sub": "", "tenant_id": "t1", "permissions": ["user:api-token:write"]}');
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('empty user', NULL)$$);

CALL act_as('{"sub": {"id": 1}, "tenant_id": "t1", "permissions": ["user:api-token:write"]}');
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('user not a scalar', NULL)$$);

CALL act_as('{"sub": "user-1", "permissions": ["user:api-token:write"]}');
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('no tenant', NULL)$$);

-- Numeric ids are names too.
CALL act_as('{"sub": 42, "tenant_id": 7, "permissions": ["user:api-token:write"]}');
SELECT shape(fynn_tokens.create_user_api_token('numeric ids', NULL));
SELECT user_id, tenant_id FROM fynn_tokens.api_token WHERE description = 'numeric ids';
SELECT fynn_tokens.claimed_user_id(), fynn_tokens.claimed_tenant_id();

-- The claim names are configurable.
SET fynn_tokens.user_claim = 'uid';
SET fynn_tokens.tenant_claim = 'org';
SET fynn_tokens.permissions_claim = 'perms';
CALL act_as('{"uid": "u-9", "org": "o-9", "perms": ["user:api-token:write"], "sub": "ignored"}');
SELECT shape(fynn_tokens.create_user_api_token('custom claim names', NULL));
SELECT user_id, tenant_id, permissions FROM fynn_tokens.api_token WHERE description = 'custom claim names';
CALL act_as('{"sub": "user-1", "tenant_id": "t1", "perms": ["user:api-token:write"]}');
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('old names no longer count', NULL)$$);
RESET fynn_tokens.user_claim;
RESET fynn_tokens.tenant_claim;
RESET fynn_tokens.permissions_claim;

-- The claim-name settings decide who a caller is: only a superuser sets them.
CREATE ROLE fynn_regress_plain;
SET ROLE fynn_regress_plain;
SELECT outcome($$SET fynn_tokens.user_claim = 'anything'$$);
RESET ROLE;
DROP ROLE fynn_regress_plain;

-- Claims set transaction-locally, as backends and PostgREST do, end with the transaction.
CALL act_as('');
BEGIN;
SELECT set_config('request.jwt.claims', '{"sub": "user-1", "tenant_id": "t1", "permissions": ["user:api-token:write"]}', true) IS NOT NULL AS claims_set;
SELECT shape(fynn_tokens.create_user_api_token('transaction-local claims', NULL));
COMMIT;
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('after commit', NULL)$$);

-- PostgREST's anonymous claims name a role and nobody: no credential.
CALL act_as('{"role": "web_anon"}');
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('anonymous', NULL)$$) AS anonymous;

-- Canonical identities: an integral number is written in plain decimal, so
-- 100, 1e2, 100.0 and "100" are one user; strings are kept byte for byte.
SELECT claims, result_as(claims, 'SELECT fynn_tokens.claimed_user_id()') AS user_id,
	result_as(claims, 'SELECT fynn_tokens.claimed_tenant_id()') AS tenant_id
FROM (VALUES ('{"sub": 100, "tenant_id": "t1"}'), ('{"sub": 1e2, "tenant_id": "t1"}'),
	('{"sub": 100.0, "tenant_id": 7.000}'), ('{"sub": "100", "tenant_id": "t1"}'),
	('{"sub": 1.0, "tenant_id": 1E+1}'), ('{"sub": -0.0, "tenant_id": 0}'),
	('{"sub": -5, "tenant_id": -1e1}'), ('{"sub": "-5", "tenant_id": "5"}'),
	('{"sub": 123456789012345678901234567890, "tenant_id": "t1"}'),
	('{"sub": "Alice", "tenant_id": "t1"}'), ('{"sub": "alice", "tenant_id": "t1"}')) AS c(claims)
ORDER BY claims COLLATE "C";

-- And these name nobody (401, with the reason): fractions, empty or
-- space-padded strings, control characters, names over 255 bytes.
CREATE TEMP TABLE bad_claims(claims text);
INSERT INTO bad_claims VALUES ('{"sub": 1.5, "tenant_id": "t1"}'), ('{"sub": 1e-1, "tenant_id": "t1"}'),
	('{"sub": "", "tenant_id": "t1"}'), ('{"sub": "   ", "tenant_id": "t1"}'),
	('{"sub": " alice", "tenant_id": "t1"}'), ('{"sub": "alice ", "tenant_id": "t1"}'),
	('{"sub": "al\nice", "tenant_id": "t1"}'), ('{"sub": "al\u007fice", "tenant_id": "t1"}'),
	('{"sub": true, "tenant_id": "t1"}'), ('{"sub": null, "tenant_id": "t1"}'),
	('{"sub": "alice", "tenant_id": " t1"}'), ('{"sub": "alice", "tenant_id": 1e400}'),
	('{"sub": "alice", "tenant_id": "t1", "token_id": "not-a-token-id"}'),
	(json_build_object('sub', repeat('u', 256), 'tenant_id', 't1')::text),
	(json_build_object('sub', 'alice', 'tenant_id', repeat('t', 3000))::text);
SELECT left(claims, 60) AS claims,
	outcome_as((claims::jsonb || '{"permissions": ["user:api-token:write"]}')::text,
		$$SELECT fynn_tokens.create_user_api_token('bad identity', NULL)$$) AS outcome
FROM bad_claims ORDER BY claims COLLATE "C";

-- 255 bytes is the longest name (a 4-byte character counts four).
CALL act_as(json_build_object('sub', repeat('u', 255), 'tenant_id', repeat(chr(128512), 63) || 'ttt',
	'permissions', json_build_array('user:api-token:write'))::text);
SELECT octet_length(fynn_tokens.claimed_user_id()) AS user_bytes, octet_length(fynn_tokens.claimed_tenant_id()) AS tenant_bytes;
SELECT shape(fynn_tokens.create_user_api_token('longest names', NULL))->>'description' AS created;

-- The identity cache is keyed by every setting that names a claim: the
-- same claims text read again under a changed name gives the new answer.
CALL act_as('{"sub": "s", "uid": "u", "tenant_id": "t", "org": "o", "permissions": ["user:api-token:write"], "perms": ["user:api-token:read"]}');
SELECT fynn_tokens.claimed_user_id() AS sub_user, fynn_tokens.claimed_tenant_id() AS sub_tenant;
SET fynn_tokens.user_claim = 'uid';
SELECT fynn_tokens.claimed_user_id() AS uid_user;
RESET fynn_tokens.user_claim;
SET fynn_tokens.tenant_claim = 'org';
SELECT fynn_tokens.claimed_tenant_id() AS org_tenant;
RESET fynn_tokens.tenant_claim;
SELECT shape(fynn_tokens.create_user_api_token('with permissions', NULL))->>'description' AS writer;
SET fynn_tokens.permissions_claim = 'perms';
SELECT outcome($$SELECT fynn_tokens.create_user_api_token('with perms', NULL)$$) AS reader_only;
RESET fynn_tokens.permissions_claim;
