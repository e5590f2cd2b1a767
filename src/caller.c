/*
 * caller.c
 *		The caller as every operation sees it: an identity from the claims,
 *		and, when an API token authenticates the request, that token as it
 *		is stored now.
 *
 * Claims that name a token (token_id, which verify_api_token puts in the
 * claims it returns) are honoured only while that token is live: whatever
 * carried the claims (a gateway, a short-lived JWT minted by forward-auth,
 * PostgREST's pre-request), a revocation holds the moment it commits.
 */
#include "fynn_tokens.h"

#include "utils/timestamp.h"

/* 401: the API token behind the claims is revoked, expired or gone. */
bool
token_no_longer_valid(ApiProblem *problem)
{
	problem_set(problem, 401, ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION, NULL,
				"The API token has been revoked or has expired.");
	problem_set_sql_message(problem, "API token is no longer valid");
	problem_set_sql_detail(problem, "The claims name an API token that has been revoked or has expired.");
	problem->credential_given = true;
	return false;
}

/* 401 for every reason the claims name nobody; "no credential" gets the plain challenge. */
bool
caller_authenticate(Caller *caller, ApiProblem *problem)
{
	char	   *why = NULL;
	ClaimsStatus status = claims_identity(&caller->identity, &why);

	caller->by_api_token = false;
	if (status == CLAIMS_NO_CREDENTIAL)
	{
		problem_set(problem, 401, ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION, NULL,
					"Authentication is required.");
		problem_set_sql_message(problem, "no authenticated user");
		problem_set_sql_detail(problem, "%s Set request.jwt.claims before the call.", why);
		return false;
	}
	if (status != CLAIMS_OK)
	{
		problem_set(problem, 401, ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION, NULL, "%s", why);
		problem_set_sql_message(problem, "no authenticated user");
		problem_set_sql_detail(problem, "%s", why);
		problem->credential_given = true;
		return false;
	}
	if (caller->identity->token_id == NULL)
		return true;

	if (!store_find_by_id(caller->identity->token_id, &caller->token) ||
		strcmp(caller->token.tenant_id, caller->identity->tenant_id) != 0 ||
		strcmp(caller->token.user_id, caller->identity->user_id) != 0 ||
		!token_is_live_at(&caller->token, GetCurrentTimestamp()))
	{
		token_no_longer_valid(problem);
		return false;
	}
	caller->by_api_token = true;
	return true;
}

/* 403 unless the claims grant exactly this permission. */
bool
caller_require(const Caller *caller, const char *permission, ApiProblem *problem)
{
	if (permissions_include(caller->identity->npermissions, caller->identity->permissions,
							permission))
		return true;
	problem_set(problem, 403, ERRCODE_INSUFFICIENT_PRIVILEGE, NULL,
				"The permission \"%s\" is required.", permission);
	problem_set_sql_message(problem, "permission denied: %s is required", permission);
	problem_set_sql_detail(problem, "The caller's claims lack the permission \"%s\".", permission);
	return false;
}

/* How the event log names the credential: a JWT (or trusted SQL claims) or an API token. */
const char *
caller_actor(const Caller *caller)
{
	return caller->by_api_token ? "api_token" : "jwt";
}
