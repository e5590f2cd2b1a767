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
