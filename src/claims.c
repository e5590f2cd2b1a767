/*
 * claims.c
 *		Who is calling: the user, tenant, permissions and (for a request
 *		authenticated by an API token) the token named by the transaction's
 *		request.jwt.claims setting, PostgREST's convention.
 *
 * Identities are canonical (common/identity.h): a user named 100, 1e2 or
 * "100" is one user; "", " alice" or a 3,000-byte name is nobody.
 *
 * Parsing the claims is the costliest step of a call, and a backend usually
 * sends the same claims many times in a row, so the last parsed identity is
 * cached, keyed by the exact claims text and every setting that names a
 * claim.
 */
#include "fynn_tokens.h"

#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/memutils.h"

#include "identity.h"

#define CLAIMS_SETTING	"request.jwt.claims"
#define SCOPE_CLAIM		"scope"
#define TOKEN_ID_CLAIM	"token_id"
#define ROLE_CLAIM		"role"

/* The cache: one identity, the text and claim names it was parsed with, and its memory. */
static MemoryContext cache_context = NULL;
static char *cached_claims = NULL;
static char *cached_user_claim = NULL;
static char *cached_tenant_claim = NULL;
static char *cached_permissions_claim = NULL;
static CallerIdentity cached_identity;

/* Parses claims text as jsonb, NULL instead of an error for bad JSON. */
static Jsonb *
parse_claims_jsonb(const char *claims)
{
	Jsonb	   *result;

	if (!compat_jsonb_parse(claims, &result))
		return NULL;
	if (!JB_ROOT_IS_OBJECT(result) || JB_ROOT_IS_SCALAR(result))
		return NULL;
	return result;
}

/* PostgREST's anonymous claims are {"role": ...} alone: no credential was presented. */
static bool
claims_name_only_a_role(Jsonb *claims)
{
	JsonbValue	value;
	int			count = JB_ROOT_COUNT(claims);

	return count == 0 ||
		(count == 1 &&
		 getKeyJsonValueFromContainer(&claims->root, ROLE_CLAIM, strlen(ROLE_CLAIM), &value) != NULL);
}

/*
 * A claim in canonical identity form, or NULL with *why saying what is
 * wrong.  Strings are kept byte for byte; integral numbers are written in
 * plain decimal.
 */
static char *
canonical_identity(Jsonb *claims, const char *name, char **why)
{
	JsonbValue	value;
	identity_status status;

	if (getKeyJsonValueFromContainer(&claims->root, name, strlen(name), &value) == NULL)
	{
		*why = psprintf("The claims have no \"%s\" claim.", name);
		return NULL;
	}
	if (value.type == jbvString)
	{
		status = identity_check_string(value.val.string.val, value.val.string.len);
		if (status == IDENTITY_OK)
			return pnstrdup(value.val.string.val, value.val.string.len);
	}
	else if (value.type == jbvNumeric)
	{
		char	   *digits = DatumGetCString(DirectFunctionCall1(numeric_out,
																 NumericGetDatum(value.val.numeric)));
		char		canonical[IDENTITY_MAX_BYTES + 1];
		size_t		len;

		status = identity_canonical_number(digits, strlen(digits), canonical, &len);
		if (status == IDENTITY_OK)
			return pnstrdup(canonical, len);
	}
	else
		status = IDENTITY_NOT_A_NUMBER;
	*why = psprintf("The \"%s\" claim %s.", name, identity_status_text(status));
	return NULL;
}

/* The token_id claim: absent (NULL, fine) or a well-formed token id. */
static bool
read_token_id(Jsonb *claims, char **out, char **why)
{
	JsonbValue	value;

	*out = NULL;
	if (getKeyJsonValueFromContainer(&claims->root, TOKEN_ID_CLAIM, strlen(TOKEN_ID_CLAIM), &value) == NULL)
		return true;
	if (value.type == jbvString && api_token_id_is_well_formed(value.val.string.val,
																value.val.string.len))
	{
		*out = pnstrdup(value.val.string.val, value.val.string.len);
		return true;
	}
	*why = psprintf("The \"%s\" claim is not a token id.", TOKEN_ID_CLAIM);
	return false;
}

/* Appends one permission unless it is empty or already there. */
static void
add_permission(CallerIdentity *identity, int *capacity, const char *perm, int len)
{
	if (len == 0)
		return;
	for (int i = 0; i < identity->npermissions; i++)
		if ((int) strlen(identity->permissions[i]) == len &&
			memcmp(identity->permissions[i], perm, len) == 0)
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

/* Permissions as the text[] stored with each token. */
Datum
permissions_array_datum(int n, char *const *permissions)
{
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));

	for (int i = 0; i < n; i++)
		elems[i] = CStringGetTextDatum(permissions[i]);
	return PointerGetDatum(construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT));
}

/* True when wanted is exactly one of the permissions: no prefix, no pattern. */
bool
permissions_include(int n, char *const *permissions, const char *wanted)
{
	for (int i = 0; i < n; i++)
		if (strcmp(permissions[i], wanted) == 0)
			return true;
	return false;
}

/* True when the cache was filled from exactly this claims text and these claim names. */
static bool
cache_matches(const char *claims)
{
	return cached_claims != NULL &&
		strcmp(cached_claims, claims) == 0 &&
		strcmp(cached_user_claim, fynn_tokens_user_claim) == 0 &&
		strcmp(cached_tenant_claim, fynn_tokens_tenant_claim) == 0 &&
		strcmp(cached_permissions_claim, fynn_tokens_permissions_claim) == 0;
}

/* Reads the claims into identity, allocating in the current context. */
static ClaimsStatus
read_identity(const char *claims, CallerIdentity *identity, char **why)
{
	Jsonb	   *jb = parse_claims_jsonb(claims);

	if (jb == NULL)
	{
		*why = pstrdup("The claims are not a JSON object.");
		return CLAIMS_NOT_AN_OBJECT;
	}
	if (claims_name_only_a_role(jb))
	{
		*why = pstrdup("No credential was presented.");
		return CLAIMS_NO_CREDENTIAL;
	}
	if ((identity->user_id = canonical_identity(jb, fynn_tokens_user_claim, why)) == NULL)
		return CLAIMS_BAD_USER;
	if ((identity->tenant_id = canonical_identity(jb, fynn_tokens_tenant_claim, why)) == NULL)
		return CLAIMS_BAD_TENANT;
	if (!read_token_id(jb, &identity->token_id, why))
		return CLAIMS_BAD_TOKEN_ID;
	collect_permissions(jb, identity);
	identity->permissions_array = permissions_array_datum(identity->npermissions,
													   identity->permissions);
	return CLAIMS_OK;
}

/* Parses the claims into a fresh cache context, replacing the old cache on success. */
static ClaimsStatus
load_identity(const char *claims, char **why)
{
	MemoryContext caller_context = CurrentMemoryContext;
	MemoryContext context;
	CallerIdentity identity;
	ClaimsStatus status;
	char	   *reason = NULL;

	context = AllocSetContextCreate(TopMemoryContext, "fynn_tokens claims",
									ALLOCSET_SMALL_SIZES);
	MemoryContextSwitchTo(context);
	memset(&identity, 0, sizeof(identity));
	status = read_identity(claims, &identity, &reason);
	if (status == CLAIMS_OK)
	{
		cached_claims = pstrdup(claims);
		cached_user_claim = pstrdup(fynn_tokens_user_claim);
		cached_tenant_claim = pstrdup(fynn_tokens_tenant_claim);
		cached_permissions_claim = pstrdup(fynn_tokens_permissions_claim);
	}
	MemoryContextSwitchTo(caller_context);

	if (status != CLAIMS_OK)
	{
		*why = pstrdup(reason);
		MemoryContextDelete(context);
		return status;
	}
	if (cache_context != NULL)
		MemoryContextDelete(cache_context);
	cache_context = context;
	cached_identity = identity;
	return CLAIMS_OK;
}

/* The caller's identity, from the cache when neither the claims nor their names changed. */
ClaimsStatus
claims_identity(const CallerIdentity **out, char **why)
{
	const char *claims = GetConfigOption(CLAIMS_SETTING, true, false);
	ClaimsStatus status;

	*out = NULL;
	*why = NULL;
	if (claims == NULL || claims[0] == '\0')
	{
		*why = pstrdup("No credential was presented.");
		return CLAIMS_NO_CREDENTIAL;
	}
	if (!cache_matches(claims))
	{
		status = load_identity(claims, why);
		if (status != CLAIMS_OK)
			return status;
	}
	*out = &cached_identity;
	return CLAIMS_OK;
}

PG_FUNCTION_INFO_V1(fynn_tokens_claimed_user_id);
PG_FUNCTION_INFO_V1(fynn_tokens_claimed_tenant_id);

/* claimed_user_id(): the caller's canonical user id, NULL without one. */
Datum
fynn_tokens_claimed_user_id(PG_FUNCTION_ARGS)
{
	const CallerIdentity *identity;
	char	   *why;

	if (claims_identity(&identity, &why) != CLAIMS_OK)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(identity->user_id));
}

/* claimed_tenant_id(): the caller's canonical tenant id, NULL without one. */
Datum
fynn_tokens_claimed_tenant_id(PG_FUNCTION_ARGS)
{
	const CallerIdentity *identity;
	char	   *why;

	if (claims_identity(&identity, &why) != CLAIMS_OK)
		PG_RETURN_NULL();
	PG_RETURN_TEXT_P(cstring_to_text(identity->tenant_id));
}
