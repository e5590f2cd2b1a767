/*
 * claims.c
 *		Who is calling: the user, tenant and permissions named by the
 *		transaction's request.jwt.claims setting (PostgREST's convention).
 *
 * Parsing the claims is the costliest step of a token creation, and a
 * backend usually sends the same claims many times in a row, so the last
 * parsed identity is cached, keyed by the exact claims text and claim names.
 */
#include "fynn_tokens.h"

#include "catalog/pg_type.h"
#include "fmgr.h"
#if PG_VERSION_NUM >= 160000
#include "nodes/miscnodes.h"
#endif
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

#define CLAIMS_SETTING	"request.jwt.claims"
#define SCOPE_CLAIM		"scope"

typedef enum ClaimsProblem
{
	CLAIMS_OK,
	CLAIMS_MISSING,
	CLAIMS_NOT_AN_OBJECT,
	CLAIMS_NO_USER,
	CLAIMS_NO_TENANT
} ClaimsProblem;

/* The cache: one identity, the text it was parsed from, and its memory. */
static MemoryContext cache_context = NULL;
static char *cached_claims = NULL;
static char *cached_user_claim = NULL;
static char *cached_tenant_claim = NULL;
static char *cached_permissions_claim = NULL;
static CallerIdentity cached_identity;

/* Parses claims text as jsonb, returning NULL instead of raising on bad JSON. */
static Jsonb *
parse_claims_jsonb(const char *claims)
{
	Jsonb	   *result = NULL;

#if PG_VERSION_NUM >= 160000
	ErrorSaveContext escontext = {T_ErrorSaveContext};
	Datum		datum;

	if (!DirectInputFunctionCallSafe(jsonb_in, (char *) claims, JSONBOID, -1,
									 (Node *) &escontext, &datum))
		return NULL;
	result = DatumGetJsonbP(datum);
#else
	MemoryContext caller_context = CurrentMemoryContext;

	PG_TRY();
	{
		result = DatumGetJsonbP(DirectFunctionCall1(jsonb_in,
													CStringGetDatum(claims)));
	}
	PG_CATCH();
	{
		/* jsonb_in holds no resources: dropping its error is safe. */
		MemoryContextSwitchTo(caller_context);
		FlushErrorState();
		result = NULL;
	}
	PG_END_TRY();
#endif

	if (result != NULL && (!JB_ROOT_IS_OBJECT(result) || JB_ROOT_IS_SCALAR(result)))
		return NULL;
	return result;
}

/* A claim's value as a string: JSON strings and numbers name users alike. */
static char *
claim_as_cstring(Jsonb *claims, const char *name)
{
	JsonbValue	value;

	if (getKeyJsonValueFromContainer(&claims->root, name, strlen(name), &value) == NULL)
		return NULL;
	if (value.type == jbvString && value.val.string.len > 0)
		return pnstrdup(value.val.string.val, value.val.string.len);
	if (value.type == jbvNumeric)
		return DatumGetCString(DirectFunctionCall1(numeric_out,
												   NumericGetDatum(value.val.numeric)));
	return NULL;
}

/* Appends one permission, growing the array as needed. */
static void
add_permission(CallerIdentity *identity, int *capacity, const char *perm, int len)
{
	if (len == 0)
		return;
	if (identity->npermissions == *capacity)
	{
		*capacity = *capacity * 2;
		identity->permissions = repalloc(identity->permissions,
										 sizeof(char *) * *capacity);
	}
	identity->permissions[identity->npermissions++] = pnstrdup(perm, len);
}

/* Splits an OAuth2 scope string on spaces. */
static void
add_space_separated(CallerIdentity *identity, int *capacity, const char *s, int len)
{
	int			start = 0;

	for (int i = 0; i <= len; i++)
	{
		if (i == len || s[i] == ' ')
		{
			add_permission(identity, capacity, s + start, i - start);
			start = i + 1;
		}
	}
}

/* Permissions from the permissions claim (array or string), else from scope. */
static void
collect_permissions(Jsonb *claims, CallerIdentity *identity)
{
	const char *names[] = {fynn_tokens_permissions_claim, SCOPE_CLAIM};
	int			capacity = 8;

	identity->npermissions = 0;
	identity->permissions = palloc(sizeof(char *) * capacity);

	for (int n = 0; n < lengthof(names); n++)
	{
		JsonbValue	value;

		if (getKeyJsonValueFromContainer(&claims->root, names[n], strlen(names[n]),
										 &value) == NULL)
			continue;

		if (value.type == jbvString)
			add_space_separated(identity, &capacity, value.val.string.val,
								value.val.string.len);
		else if (value.type == jbvBinary)
		{
			JsonbIterator *it = JsonbIteratorInit(value.val.binary.data);
			JsonbValue	elem;
			JsonbIteratorToken tok;

			while ((tok = JsonbIteratorNext(&it, &elem, true)) != WJB_DONE)
				if (tok == WJB_ELEM && elem.type == jbvString)
					add_permission(identity, &capacity, elem.val.string.val,
								   elem.val.string.len);
		}
		break;					/* the first claim present decides */
	}
}

/* Builds the text[] snapshot stored with each token. */
static Datum
permissions_as_array(const CallerIdentity *identity)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(identity->npermissions, 1));

	for (int i = 0; i < identity->npermissions; i++)
		elems[i] = CStringGetTextDatum(identity->permissions[i]);
	return PointerGetDatum(construct_array(elems, identity->npermissions,
										   TEXTOID, -1, false, TYPALIGN_INT));
}

/* True when the cache was filled from exactly this claims text and claim names. */
static bool
cache_matches(const char *claims)
{
	return cached_claims != NULL &&
		strcmp(cached_claims, claims) == 0 &&
		strcmp(cached_user_claim, fynn_tokens_user_claim) == 0 &&
		strcmp(cached_tenant_claim, fynn_tokens_tenant_claim) == 0 &&
		strcmp(cached_permissions_claim, fynn_tokens_permissions_claim) == 0;
}

/* Parses the claims into a fresh cache context, replacing the old cache on success. */
static ClaimsProblem
load_identity(const char *claims)
{
	MemoryContext context;
	MemoryContext old;
	Jsonb	   *jb;
	CallerIdentity identity;
	ClaimsProblem problem = CLAIMS_OK;

	context = AllocSetContextCreate(TopMemoryContext, "fynn_tokens claims",
									ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(context);

	jb = parse_claims_jsonb(claims);
	if (jb == NULL)
		problem = CLAIMS_NOT_AN_OBJECT;
	else if ((identity.user_id = claim_as_cstring(jb, fynn_tokens_user_claim)) == NULL)
		problem = CLAIMS_NO_USER;
	else if ((identity.tenant_id = claim_as_cstring(jb, fynn_tokens_tenant_claim)) == NULL)
		problem = CLAIMS_NO_TENANT;
	else
	{
		collect_permissions(jb, &identity);
		identity.permissions_array = permissions_as_array(&identity);
		identity.can_create_token = false;
		for (int i = 0; i < identity.npermissions; i++)
			if (strcmp(identity.permissions[i], FYNN_TOKENS_WRITE_PERMISSION) == 0)
				identity.can_create_token = true;

		cached_claims = pstrdup(claims);
		cached_user_claim = pstrdup(fynn_tokens_user_claim);
		cached_tenant_claim = pstrdup(fynn_tokens_tenant_claim);
		cached_permissions_claim = pstrdup(fynn_tokens_permissions_claim);
	}
	MemoryContextSwitchTo(old);

	if (problem != CLAIMS_OK)
	{
		MemoryContextDelete(context);
		return problem;
	}
	if (cache_context != NULL)
		MemoryContextDelete(cache_context);
	cache_context = context;
	cached_identity = identity;
	return CLAIMS_OK;
}

/* Finds the caller's identity, from the cache when the claims did not change. */
static ClaimsProblem
current_identity(const CallerIdentity **out)
{
	const char *claims = GetConfigOption(CLAIMS_SETTING, true, false);
	ClaimsProblem problem;

	*out = NULL;
	if (claims == NULL || claims[0] == '\0')
		return CLAIMS_MISSING;
	if (!cache_matches(claims))
	{
		problem = load_identity(claims);
		if (problem != CLAIMS_OK)
			return problem;
	}
	*out = &cached_identity;
	return CLAIMS_OK;
}

/* For row-level security and queries: the identity, or NULL when there is none. */
const CallerIdentity *
claims_identity_or_null(void)
{
	const CallerIdentity *identity;

	(void) current_identity(&identity);
	return identity;
}

/* For creating a token: the identity, or a 28000 error saying what is missing. */
const CallerIdentity *
claims_require_identity(void)
{
	const CallerIdentity *identity;

	switch (current_identity(&identity))
	{
		case CLAIMS_OK:
			break;
		case CLAIMS_MISSING:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
					 errmsg("no authenticated user"),
					 errdetail("The setting request.jwt.claims is not set."),
					 errhint("Set it with set_config('request.jwt.claims', claims, true) before the call.")));
			break;
		case CLAIMS_NOT_AN_OBJECT:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
					 errmsg("no authenticated user"),
					 errdetail("The setting request.jwt.claims is not a JSON object.")));
			break;
		case CLAIMS_NO_USER:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
					 errmsg("no authenticated user"),
					 errdetail("The claims have no \"%s\" claim naming the user.",
							   fynn_tokens_user_claim)));
			break;
		case CLAIMS_NO_TENANT:
			ereport(ERROR,
					(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
					 errmsg("no authenticated tenant"),
					 errdetail("The claims have no \"%s\" claim naming the tenant.",
							   fynn_tokens_tenant_claim)));
			break;
	}
	return identity;
}

PG_FUNCTION_INFO_V1(fynn_tokens_claimed_user_id);
PG_FUNCTION_INFO_V1(fynn_tokens_claimed_tenant_id);

/* claimed_user_id(): the row-level security policy's view of the caller. */
Datum
fynn_tokens_claimed_user_id(PG_FUNCTION_ARGS)
{
	const CallerIdentity *identity = claims_identity_or_null();

	if (identity == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(identity->user_id));
}

/* claimed_tenant_id(): the row-level security policy's view of the tenant. */
Datum
fynn_tokens_claimed_tenant_id(PG_FUNCTION_ARGS)
{
	const CallerIdentity *identity = claims_identity_or_null();

	if (identity == NULL)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(identity->tenant_id));
}
