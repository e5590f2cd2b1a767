/*
 * owner_sql.c
 *		SQL that the extension runs on its own tables, as their owner and
 *		with search_path pinned to pg_catalog, whoever called.
 *
 * The C functions are not SECURITY DEFINER: their hot paths touch the
 * tables directly and resolve no names.  Where SQL is needed (an UPDATE
 * that must fire triggers, a listing), the caller's identity and search
 * path must not matter, so this file does what SECURITY DEFINER with SET
 * search_path would, for that statement only, the way PostgreSQL's own
 * foreign-key triggers switch to the table owner.
 */
#include "fynn_tokens.h"

#include "access/htup_details.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/guc.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/syscache.h"

struct OwnerSql
{
	Oid			saved_userid;
	int			saved_sec_context;
	int			guc_nest_level;
};

/* One prepared plan per SQL text, kept for the life of the backend. */
typedef struct PlanCacheEntry
{
	char	   *sql;
	int			nargs;
	SPIPlanPtr	plan;
	struct PlanCacheEntry *next;
} PlanCacheEntry;

static PlanCacheEntry *plan_cache = NULL;

/* The extension's owner: the owner of its schema's token table. */
static Oid
extension_owner(void)
{
	Oid			nsp = get_namespace_oid(FYNN_TOKENS_SCHEMA, false);
	Oid			relid = get_relname_relid("api_token", nsp);
	HeapTuple	tuple;
	Oid			owner;

	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	if (!HeapTupleIsValid(tuple))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"%s.api_token\" does not exist", FYNN_TOKENS_SCHEMA)));
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return owner;
}

/* Connects SPI, becomes the owner, pins search_path; undone by owner_sql_end or by abort. */
void
owner_sql_begin(OwnerSql **state)
{
	OwnerSql   *s = palloc(sizeof(OwnerSql));

	GetUserIdAndSecContext(&s->saved_userid, &s->saved_sec_context);
	SetUserIdAndSecContext(extension_owner(),
						   s->saved_sec_context | SECURITY_LOCAL_USERID_CHANGE);
	s->guc_nest_level = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET,
							 PGC_S_SESSION, GUC_ACTION_SAVE, true, 0, false);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	*state = s;
}

/* Back to the caller's identity and settings. */
void
owner_sql_end(OwnerSql *state)
{
	if (SPI_finish() != SPI_OK_FINISH)
		elog(ERROR, "SPI_finish failed");
	AtEOXact_GUC(true, state->guc_nest_level);
	SetUserIdAndSecContext(state->saved_userid, state->saved_sec_context);
	pfree(state);
}

/* The saved plan for this SQL text, prepared on first use. */
static SPIPlanPtr
cached_plan(const char *sql, int nargs, const Oid *types)
{
	PlanCacheEntry *entry;
	MemoryContext old;

	for (entry = plan_cache; entry; entry = entry->next)
		if (entry->nargs == nargs && strcmp(entry->sql, sql) == 0)
			return entry->plan;

	old = MemoryContextSwitchTo(TopMemoryContext);
	entry = palloc(sizeof(PlanCacheEntry));
	entry->sql = pstrdup(sql);
	entry->nargs = nargs;
	MemoryContextSwitchTo(old);
	entry->plan = SPI_prepare(sql, nargs, (Oid *) types);
	if (entry->plan == NULL)
		elog(ERROR, "SPI_prepare failed for \"%s\": %s", sql, SPI_result_code_string(SPI_result));
	if (SPI_keepplan(entry->plan) != 0)
		elog(ERROR, "SPI_keepplan failed");
	entry->next = plan_cache;
	plan_cache = entry;
	return entry->plan;
}

/*
 * Runs one statement (between owner_sql_begin and owner_sql_end); returns
 * SPI's result code, results in SPI_tuptable.  With latest_snapshot the
 * statement sees rows committed since the transaction's snapshot, as a
 * foreign-key cascade does: under REPEATABLE READ a row it would change
 * but the transaction cannot see is a serialization failure, never a row
 * silently missed.
 */
int
owner_sql_exec(const char *sql, int nargs, const Oid *types, const Datum *values,
			   const char *nulls, bool latest_snapshot)
{
	SPIPlanPtr	plan = cached_plan(sql, nargs, types);
	int			rc;

	if (latest_snapshot && IsolationUsesXactSnapshot())
	{
		CommandCounterIncrement();
		rc = SPI_execute_snapshot(plan, (Datum *) values, nulls, GetLatestSnapshot(),
								  GetTransactionSnapshot(), false, false, 0);
	}
	else
		rc = SPI_execute_plan(plan, (Datum *) values, nulls, false, 0);
	if (rc < 0)
		elog(ERROR, "SPI_execute failed for \"%s\": %s", sql, SPI_result_code_string(rc));
	return rc;
}
