/*
 * policy.c
 *		Per-tenant limits: a row of fynn_tokens.tenant_policy, with the
 *		superuser-only settings as the defaults for what a row leaves NULL.
 */
#include "fynn_tokens.h"

#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

/* An advisory lock class of our own ("fynn"), so keys never meet an application's. */
#define POLICY_LOCK_CLASS 0x66796E6E

/* The tenant's row where it says something, the settings where it does not. */
void
policy_for_tenant(const char *tenant_id, TenantPolicy *out)
{
	TenantPolicy row;
	bool		found = store_find_policy(tenant_id, &row);

	memset(out, 0, sizeof(*out));
	if (found && row.has_max_lifetime)
	{
		out->has_max_lifetime = true;
		out->max_lifetime = row.max_lifetime;
	}
	else if (fynn_tokens_default_max_lifetime > 0)
	{
		out->has_max_lifetime = true;
		out->max_lifetime.time = (int64) fynn_tokens_default_max_lifetime * USECS_PER_SEC;
	}
	out->max_live_tokens = (found && row.max_live_tokens > 0)
		? row.max_live_tokens : fynn_tokens_default_max_live_tokens;
}

/*
 * The user's live tokens, counted up to limit.  Creations for one user are
 * serialised by a transaction-level advisory lock taken first, and the
 * count reads the latest committed rows, so two concurrent creations
 * cannot both see room for one more.
 */
int
policy_count_live_tokens(const char *tenant_id, const char *user_id, int limit)
{
	static const char *sql =
		"SELECT count(*)::int4 FROM (SELECT FROM fynn_tokens.api_token"
		" WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL"
		" AND (expires_at IS NULL OR expires_at > clock_timestamp()) LIMIT $3) live";
	Oid			types[3] = {TEXTOID, TEXTOID, INT4OID};
	Datum		values[3];
	char	   *key = psprintf("%s%c%s", tenant_id, '\0', user_id);
	uint32		hash = hash_bytes((const unsigned char *) key,
								  strlen(tenant_id) + 1 + strlen(user_id));
	OwnerSql   *owner;
	bool		isnull;
	int			count;

	DirectFunctionCall2(pg_advisory_xact_lock_int4, Int32GetDatum(POLICY_LOCK_CLASS),
						Int32GetDatum((int32) hash));

	values[0] = CStringGetTextDatum(tenant_id);
	values[1] = CStringGetTextDatum(user_id);
	values[2] = Int32GetDatum(limit);
	owner_sql_begin(&owner);
	owner_sql_exec(sql, 3, types, values, NULL, true);
	count = DatumGetInt32(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	owner_sql_end(owner);
	return count;
}
