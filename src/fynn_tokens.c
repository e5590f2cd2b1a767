/*
 * fynn_tokens.c
 *		Module entry: the magic block and the GUCs that name the claims.
 */
#include "fynn_tokens.h"

#include "fmgr.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

char	   *fynn_tokens_user_claim = NULL;
char	   *fynn_tokens_tenant_claim = NULL;
char	   *fynn_tokens_permissions_claim = NULL;

void		_PG_init(void);

/* Registers the claim-name GUCs; superuser-only, since they decide who a caller is. */
void
_PG_init(void)
{
	DefineCustomStringVariable("fynn_tokens.user_claim",
							   "Claim of request.jwt.claims that names the user.",
							   NULL,
							   &fynn_tokens_user_claim,
							   "sub",
							   PGC_SUSET, 0,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("fynn_tokens.tenant_claim",
							   "Claim of request.jwt.claims that names the tenant.",
							   NULL,
							   &fynn_tokens_tenant_claim,
							   "tenant_id",
							   PGC_SUSET, 0,
							   NULL, NULL, NULL);
	DefineCustomStringVariable("fynn_tokens.permissions_claim",
							   "Claim of request.jwt.claims that lists the permissions (a JSON array, or a space-separated string).",
							   NULL,
							   &fynn_tokens_permissions_claim,
							   "permissions",
							   PGC_SUSET, 0,
							   NULL, NULL, NULL);

#if PG_VERSION_NUM >= 150000
	MarkGUCPrefixReserved("fynn_tokens");
#else
	EmitWarningsOnPlaceholders("fynn_tokens");
#endif
}
