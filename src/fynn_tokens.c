/*
 * fynn_tokens.c
 *		Module entry: the magic block and the settings.
 *
 * Every setting decides who a caller is or what a tenant may do, so all
 * are superuser-only (PGC_SUSET): a role that may call the functions must
 * not be able to loosen them for itself.
 */
#include "fynn_tokens.h"

#include <limits.h>

#include "utils/guc.h"

PG_MODULE_MAGIC;

char	   *fynn_tokens_user_claim = NULL;
char	   *fynn_tokens_tenant_claim = NULL;
char	   *fynn_tokens_permissions_claim = NULL;
int			fynn_tokens_default_max_lifetime = 0;
int			fynn_tokens_default_max_live_tokens = 0;
char	   *fynn_tokens_api_token_role = NULL;

void		_PG_init(void);

/* A claim name changed: remembered answers carry the old names. */
static void
claim_name_assigned(const char *newval, void *extra)
{
	verify_cache_reset();
}

/* The verify cache's size or age bound changed: start it afresh under the new one. */
static void
verify_cache_bound_assigned(int newval, void *extra)
{
	verify_cache_reset();
}

/* Registers the settings. */
void
_PG_init(void)
{
	DefineCustomStringVariable("fynn_tokens.user_claim",
							   "Claim of request.jwt.claims that names the user.",
							   NULL,
							   &fynn_tokens_user_claim,
							   "sub",
							   PGC_SUSET, 0,
							   NULL, claim_name_assigned, NULL);
	DefineCustomStringVariable("fynn_tokens.tenant_claim",
							   "Claim of request.jwt.claims that names the tenant.",
							   NULL,
							   &fynn_tokens_tenant_claim,
							   "tenant_id",
							   PGC_SUSET, 0,
							   NULL, claim_name_assigned, NULL);
	DefineCustomStringVariable("fynn_tokens.permissions_claim",
							   "Claim of request.jwt.claims that lists the permissions (a JSON array, or a space-separated string).",
							   NULL,
							   &fynn_tokens_permissions_claim,
							   "permissions",
							   PGC_SUSET, 0,
							   NULL, claim_name_assigned, NULL);
	DefineCustomIntVariable("fynn_tokens.default_max_lifetime",
							"Longest lifetime of a new API token for tenants without a policy of their own; 0 means none.",
							"A token created with no expiry, or one beyond this, is refused.",
							&fynn_tokens_default_max_lifetime,
							0, 0, INT_MAX,
							PGC_SUSET, GUC_UNIT_S,
							NULL, NULL, NULL);
	DefineCustomIntVariable("fynn_tokens.default_max_live_tokens",
							"Most live API tokens a user may hold in a tenant without a policy of its own; 0 means no limit.",
							NULL,
							&fynn_tokens_default_max_live_tokens,
							0, 0, INT_MAX,
							PGC_SUSET, 0,
							NULL, NULL, NULL);
	DefineCustomStringVariable("fynn_tokens.api_token_role",
							   "Role that fynn_api.pre_request() switches to for a request authenticated by an API token.",
							   "The role PostgREST would take from a user's JWT; empty refuses API tokens there.",
							   &fynn_tokens_api_token_role,
							   "",
							   PGC_SUSET, 0,
							   NULL, NULL, NULL);

	DefineCustomIntVariable("fynn_tokens.verify_cache_size",
							"Most tokens a backend remembers the claims of after verifying them; 0 turns the cache off.",
							"A change that ends or narrows a token empties every backend's cache when it commits.",
							&fynn_tokens_verify_cache_size,
							1024, 0, 1000000,
							PGC_SUSET, 0,
							NULL, verify_cache_bound_assigned, NULL);
	DefineCustomIntVariable("fynn_tokens.verify_cache_max_age",
							"Longest a backend answers a verification from memory before reading the table again; 0 turns the cache off.",
							"Bounds what a change made with session_replication_role = replica, which skips the table's triggers, can leave behind.",
							&fynn_tokens_verify_cache_max_age,
							60, 0, 3600,
							PGC_SUSET, GUC_UNIT_S,
							NULL, verify_cache_bound_assigned, NULL);

	MarkGUCPrefixReserved("fynn_tokens");
}
