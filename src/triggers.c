/*
 * triggers.c
 *		What any change of a token row sets off, whoever made it: the
 *		extension's own revoke and rotate, or an operator's plain UPDATE or
 *		DELETE.  A trigger is the one place no path can miss.
 *
 *	NOTIFY		the token's id on FYNN_TOKENS_CHANNEL, in the same
 *				transaction, so caches (fynn-gateway's) drop it the moment
 *				the change commits; a TRUNCATE announces "*".
 *	invalidate	the table's relcache entry, which empties the verify cache
 *				of every backend (verify_cache.c) at the same moment.
 *	cascade		a revoked or deleted token takes its live descendants with
 *				it; a token whose expiry moves earlier caps theirs, so no
 *				child outlives its parent.  One recursive UPDATE per root,
 *				like a foreign key's ON UPDATE CASCADE, reading the latest
 *				committed rows.
 *	event		every revocation goes into the event log, with the cause the
 *				extension set around its UPDATE, or "sql" for anyone else's.
 *
 * The event log itself is append-only: its trigger refuses UPDATE, DELETE
 * and TRUNCATE, except for prune_api_token_events().
 */
#include "fynn_tokens.h"

#include "access/htup_details.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/rel.h"
#include "utils/timestamp.h"

/* Who is changing rows through the extension right now (NULL: an operator's SQL). */
static const ChangeCause *current_cause = NULL;
/* Set while a cascade's own UPDATE runs: the rows it touches are not roots. */
static const char *cascade_root = NULL;
/* Set while prune_api_token_events() deletes. */
static bool event_deletion_allowed = false;

static const char *const cascade_revoke_sql =
"WITH RECURSIVE descendant(id) AS ("
" SELECT id FROM fynn_tokens.api_token WHERE parent_id = $1 AND revoked_at IS NULL"
" UNION"
" SELECT t.id FROM fynn_tokens.api_token t JOIN descendant d ON t.parent_id = d.id"
" WHERE t.revoked_at IS NULL)"
" UPDATE fynn_tokens.api_token t SET revoked_at = $2, updated_at = $2"
" FROM descendant d WHERE t.id = d.id AND t.revoked_at IS NULL";

static const char *const cascade_cap_sql =
"WITH RECURSIVE descendant(id) AS ("
" SELECT id FROM fynn_tokens.api_token WHERE parent_id = $1 AND revoked_at IS NULL"
" UNION"
" SELECT t.id FROM fynn_tokens.api_token t JOIN descendant d ON t.parent_id = d.id"
" WHERE t.revoked_at IS NULL)"
" UPDATE fynn_tokens.api_token t SET expires_at = $2, updated_at = $3"
" FROM descendant d WHERE t.id = d.id AND (t.expires_at IS NULL OR t.expires_at > $2)";

/* Runs fn with the cause set; the trigger reads it, and it is restored even on error. */
void
triggers_run_as_cause(const ChangeCause *cause, void (*fn) (void *), void *arg)
{
	const ChangeCause *saved = current_cause;

	current_cause = cause;
	PG_TRY();
	{
		fn(arg);
	}
	PG_FINALLY();
	{
		current_cause = saved;
	}
	PG_END_TRY();
}

/* The columns of a token row the trigger reads, looked up by name. */
typedef struct RowView
{
	char	   *id;
	char	   *tenant_id;
	char	   *user_id;
	bool		revoked;
	bool		has_expires_at;
	TimestampTz expires_at;
} RowView;

/* Reads a column by name; the trigger has no position it could trust across versions. */
static Datum
column_by_name(HeapTuple tuple, TupleDesc desc, const char *name, bool *isnull)
{
	int			attnum = SPI_fnumber(desc, name);

	if (attnum <= 0)
		elog(ERROR, "fynn_tokens.api_token has no column \"%s\"", name);
	return heap_getattr(tuple, attnum, desc, isnull);
}

/* What the trigger needs of a row version. */
static void
read_row(HeapTuple tuple, TupleDesc desc, RowView *out)
{
	bool		isnull;
	Datum		d;

	out->id = TextDatumGetCString(column_by_name(tuple, desc, "id", &isnull));
	out->tenant_id = TextDatumGetCString(column_by_name(tuple, desc, "tenant_id", &isnull));
	out->user_id = TextDatumGetCString(column_by_name(tuple, desc, "user_id", &isnull));
	(void) column_by_name(tuple, desc, "revoked_at", &isnull);
	out->revoked = !isnull;
	d = column_by_name(tuple, desc, "expires_at", &isnull);
	out->has_expires_at = !isnull;
	out->expires_at = isnull ? 0 : DatumGetTimestampTz(d);
}

/* Records a revocation (or deletion) of row, with the cause in effect. */
static void
record_revocation(const RowView *row, const char *action)
{
	EventRow	event;

	event.tenant_id = row->tenant_id;
	event.user_id = row->user_id;
	event.token_id = row->id;
	event.action = action;
	if (cascade_root)
	{
		event.reason = "cascade";
		event.actor = current_cause ? current_cause->actor : "sql";
		event.actor_token_id = current_cause ? current_cause->actor_token_id : NULL;
		event.related_token_id = cascade_root;
	}
	else if (current_cause)
	{
		event.reason = current_cause->reason;
		event.actor = current_cause->actor;
		event.actor_token_id = current_cause->actor_token_id;
		event.related_token_id = current_cause->related_token_id;
	}
	else
	{
		event.reason = "sql";
		event.actor = "sql";
		event.actor_token_id = NULL;
		event.related_token_id = NULL;
	}
	store_insert_event(&event);
}

/* One recursive UPDATE over the root's live descendants, marked as a cascade for their triggers. */
static void
cascade(const char *sql, const char *root_id, TimestampTz bound)
{
	Oid			types[3] = {TEXTOID, TIMESTAMPTZOID, TIMESTAMPTZOID};
	Datum		values[3];
	OwnerSql   *owner;
	const char *saved_root = cascade_root;

	values[0] = CStringGetTextDatum(root_id);
	values[1] = TimestampTzGetDatum(bound);
	values[2] = TimestampTzGetDatum(GetCurrentTimestamp());
	cascade_root = root_id;
	PG_TRY();
	{
		owner_sql_begin(&owner);
		owner_sql_exec(sql, sql == cascade_revoke_sql ? 2 : 3, types, values, NULL, true);
		owner_sql_end(owner);
	}
	PG_FINALLY();
	{
		cascade_root = saved_root;
	}
	PG_END_TRY();
}

PG_FUNCTION_INFO_V1(fynn_tokens_api_token_changed);

/*
 * AFTER UPDATE (of the columns that decide what a token may do) OR DELETE
 * FOR EACH ROW, and AFTER TRUNCATE FOR EACH STATEMENT, on api_token.
 */
Datum
fynn_tokens_api_token_changed(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;
	TupleDesc	desc;
	RowView		old_row;
	RowView		new_row;

	if (!CALLED_AS_TRIGGER(fcinfo) || !TRIGGER_FIRED_AFTER(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("api_token_changed() must be fired AFTER a change of fynn_tokens.api_token")));

	/*
	 * Every backend's verify cache (verify_cache.c) empties when this
	 * commits, hot standbys' when they replay it; this backend's at the end
	 * of the statement.  Several rows queue one message.
	 */
	CacheInvalidateRelcache(trigdata->tg_relation);

	if (TRIGGER_FIRED_BY_TRUNCATE(trigdata->tg_event))
	{
		Async_Notify(FYNN_TOKENS_CHANNEL, "*");
		return PointerGetDatum(NULL);
	}
	if (!TRIGGER_FIRED_FOR_ROW(trigdata->tg_event))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("api_token_changed() must be fired for each row")));

	desc = RelationGetDescr(trigdata->tg_relation);
	read_row(trigdata->tg_trigtuple, desc, &old_row);
	/* Every cache keyed by this token drops it at commit. */
	Async_Notify(FYNN_TOKENS_CHANNEL, old_row.id);

	if (TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
	{
		record_revocation(&old_row, "delete");
		if (!cascade_root)
			cascade(cascade_revoke_sql, old_row.id, GetCurrentTimestamp());
		return PointerGetDatum(NULL);
	}

	read_row(trigdata->tg_newtuple, desc, &new_row);
	if (strcmp(new_row.id, old_row.id) != 0)
		Async_Notify(FYNN_TOKENS_CHANNEL, new_row.id);
	if (!old_row.revoked && new_row.revoked)
	{
		record_revocation(&new_row, "revoke");
		if (!cascade_root)
			cascade(cascade_revoke_sql, new_row.id, GetCurrentTimestamp());
	}
	else if (!new_row.revoked && new_row.has_expires_at &&
			 (!old_row.has_expires_at || new_row.expires_at < old_row.expires_at) &&
			 !cascade_root)
		cascade(cascade_cap_sql, new_row.id, new_row.expires_at);
	return PointerGetDatum(NULL);
}

PG_FUNCTION_INFO_V1(fynn_tokens_event_append_only);

/* BEFORE UPDATE OR DELETE (row) and BEFORE TRUNCATE (statement) on api_token_event. */
Datum
fynn_tokens_event_append_only(PG_FUNCTION_ARGS)
{
	TriggerData *trigdata = (TriggerData *) fcinfo->context;

	if (!CALLED_AS_TRIGGER(fcinfo))
		ereport(ERROR,
				(errcode(ERRCODE_E_R_I_E_TRIGGER_PROTOCOL_VIOLATED),
				 errmsg("api_token_event_append_only() must be fired as a trigger")));
	if (event_deletion_allowed && TRIGGER_FIRED_BY_DELETE(trigdata->tg_event))
		return PointerGetDatum(trigdata->tg_trigtuple);
	ereport(ERROR,
			(errcode(ERRCODE_INSUFFICIENT_PRIVILEGE),
			 errmsg("the API token event log is append-only"),
			 errdetail("Events can be added, never changed; old ones are removed with fynn_tokens.prune_api_token_events()."),
			 errhint("A superuser who must bypass this can set session_replication_role to replica.")));
	pg_unreachable();
}

PG_FUNCTION_INFO_V1(fynn_tokens_prune_api_token_events);

/* prune_api_token_events(older_than timestamptz): retention for the operator; returns the count removed. */
Datum
fynn_tokens_prune_api_token_events(PG_FUNCTION_ARGS)
{
	static const char *sql = "DELETE FROM fynn_tokens.api_token_event WHERE occurred_at < $1";
	Oid			types[1] = {TIMESTAMPTZOID};
	Datum		values[1];
	OwnerSql   *owner;
	volatile uint64 removed = 0;

	if (PG_ARGISNULL(0))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("older_than must not be null")));
	values[0] = PG_GETARG_DATUM(0);
	event_deletion_allowed = true;
	PG_TRY();
	{
		owner_sql_begin(&owner);
		owner_sql_exec(sql, 1, types, values, NULL, false);
		removed = SPI_processed;
		owner_sql_end(owner);
	}
	PG_FINALLY();
	{
		event_deletion_allowed = false;
	}
	PG_END_TRY();
	PG_RETURN_INT64((int64) removed);
}
