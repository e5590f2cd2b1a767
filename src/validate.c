/*
 * validate.c
 *		The rules a new token must satisfy, reported as violations all at
 *		once (problem.c renders them).
 *
 * A token never holds more than its creator: its permissions are a subset
 * of the caller's (and, when the caller is itself an API token, of that
 * token's), and it expires no later than the API token that created it.
 * The tenant's policy bounds its lifetime and how many a user holds.
 */
#include "fynn_tokens.h"

#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "token_clock.h"

/* The API's date format, for messages that name an instant. */
static char *
format_instant(TimestampTz ts)
{
	StringInfoData buf;

	initStringInfo(&buf);
	json_append_rfc3339(&buf, ts, true);
	/* Without the JSON quotes. */
	return pnstrdup(buf.data + 1, buf.len - 2);
}

/* now + interval, as PostgreSQL's timestamptz + interval computes it (months by the calendar). */
static TimestampTz
add_interval(TimestampTz ts, const Interval *span)
{
	return DatumGetTimestampTz(DirectFunctionCall2(timestamptz_pl_interval,
												   TimestampTzGetDatum(ts),
												   IntervalPGetDatum(span)));
}

/* Description: NULL, or 3 to 255 characters counted as code points. */
static void
check_description(const CreateRequest *request, ApiProblem *problem)
{
	int			chars;

	if (request->description == NULL)
		return;
	chars = pg_mbstrlen_with_len(VARDATA_ANY(request->description),
								 VARSIZE_ANY_EXHDR(request->description));
	if (chars < FYNN_TOKENS_DESCRIPTION_MIN)
		problem_add_violation(problem, VIOLATION_DESCRIPTION_TOO_SHORT,
							  "This value is too short. It should have %d characters or more.",
							  FYNN_TOKENS_DESCRIPTION_MIN);
	else if (chars > FYNN_TOKENS_DESCRIPTION_MAX)
		problem_add_violation(problem, VIOLATION_DESCRIPTION_TOO_LONG,
							  "This value is too long. It should have %d characters or less.",
							  FYNN_TOKENS_DESCRIPTION_MAX);
}

/*
 * expiresAt: a child token is capped to its parent's expiry (the answer
 * shows the capped value); then it must lie ahead, and within the
 * tenant's maximum lifetime, which also forbids "never".
 */
static void
check_expiry(CreateRequest *request, const StoredToken *parent, const TenantPolicy *policy,
			 TimestampTz now, ApiProblem *problem)
{
	if (parent && parent->has_expires_at &&
		(!request->has_expires_at || request->expires_at > parent->expires_at))
	{
		request->has_expires_at = true;
		request->expires_at = parent->expires_at;
	}
	if (request->has_expires_at && !api_token_expiry_ahead(request->expires_at, now))
	{
		problem_add_violation(problem, VIOLATION_EXPIRES_AT_NOT_IN_FUTURE,
							  "This value should be in the future.");
		return;
	}
	if (policy->has_max_lifetime)
	{
		TimestampTz latest = add_interval(now, &policy->max_lifetime);

		if (!request->has_expires_at)
			problem_add_violation(problem, VIOLATION_EXPIRES_AT_NULL,
								  "This value should not be null.");
		else if (request->expires_at > latest)
			problem_add_violation(problem, VIOLATION_EXPIRES_AT_TOO_LATE,
								  "This value should be less than or equal to %s.",
								  format_instant(latest));
	}
}

/*
 * Permissions: omitted means all of the caller's; given, a non-empty
 * subset of them (exact names, no prefixes), and of the parent token's.
 * Duplicates are kept once.
 */
static void
check_permissions(const Caller *caller, CreateRequest *request, const StoredToken *parent,
				  ApiProblem *problem)
{
	const CallerIdentity *identity = caller->identity;
	char	  **unique;
	int			nunique = 0;
	Datum	   *parent_perms = NULL;
	int			nparent = 0;
	char	  **parent_names = NULL;

	if (!request->has_permissions)
	{
		request->npermissions = identity->npermissions;
		request->permissions = identity->permissions;
	}
	else if (request->npermissions == 0)
	{
		problem_add_violation(problem, VIOLATION_PERMISSIONS_EMPTY,
							  "This collection should contain 1 element or more.");
		return;
	}

	if (parent)
	{
		deconstruct_array(DatumGetArrayTypeP(parent->permissions), TEXTOID, -1, false,
						  TYPALIGN_INT, &parent_perms, NULL, &nparent);
		parent_names = palloc(sizeof(char *) * Max(nparent, 1));
		for (int i = 0; i < nparent; i++)
			parent_names[i] = TextDatumGetCString(parent_perms[i]);
	}

	unique = palloc(sizeof(char *) * Max(request->npermissions, 1));
	for (int i = 0; i < request->npermissions; i++)
	{
		const char *perm = request->permissions[i];

		if (!permissions_include(identity->npermissions, identity->permissions, perm) ||
			(parent && !permissions_include(nparent, parent_names, perm)))
		{
			problem_add_violation(problem, VIOLATION_PERMISSIONS_NOT_HELD,
								  "One or more of the given values is invalid.");
			return;
		}
		if (!permissions_include(nunique, unique, perm))
			unique[nunique++] = (char *) perm;
	}
	request->npermissions = nunique;
	request->permissions = unique;
}

/* Every rule at once; false with a 422 (22023) problem listing each violation. */
bool
validate_new_token(const Caller *caller, CreateRequest *request, const StoredToken *parent,
				   const TenantPolicy *policy, TimestampTz now, int live_tokens,
				   ApiProblem *problem)
{
	if (request->has_expires_at && TIMESTAMP_NOT_FINITE(request->expires_at))
	{
		problem_set(problem, 400, ERRCODE_DATETIME_VALUE_OUT_OF_RANGE, "expiresAt",
					"The \"expiresAt\" attribute must be a finite date-time.");
		problem_set_sql_detail(problem, "A token that never expires has a NULL expiresAt.");
		return false;
	}
	check_description(request, problem);
	check_expiry(request, parent, policy, now, problem);
	check_permissions(caller, request, parent, problem);
	if (policy->max_live_tokens > 0 && live_tokens >= policy->max_live_tokens)
		problem_add_violation(problem, VIOLATION_TOO_MANY_TOKENS,
							  "You have reached the maximum of %d live API tokens.",
							  policy->max_live_tokens);
	return problem_close_violations(problem);
}
