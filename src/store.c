/*
 * store.c
 *		The extension's tables: inserts that behave exactly like INSERT, and
 *		lookups by one index probe.
 *
 * An insert takes one of two paths, decided per table from the catalog and
 * decided again whenever the table's relcache entry is invalidated:
 *
 *	direct	the tuple is formed here, checked with ExecConstraints (every
 *			NOT NULL and CHECK constraint on the table, the extension's and
 *			any a DBA added), defaulted for columns the extension does not
 *			set, and inserted with its index entries (unique and exclusion
 *			constraints included).  Taken only when nothing else can react
 *			to an INSERT: no trigger fires on INSERT (foreign keys and
 *			deferrable unique constraints are such triggers), no rule, no
 *			forced row-level security, no generated or identity column.
 *	SQL		otherwise: a prepared INSERT run as the table's owner, so every
 *			trigger, foreign key and rule a DBA added takes effect.
 *
 * The direct path exists because an SQL INSERT per token costs several
 * times the insert itself (an executor built and torn down per call).
 * Lookups probe the unique indexes directly under the caller's snapshot,
 * so they are read-only and answer on a hot standby.
 */
#include "fynn_tokens.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "catalog/pg_collation.h"
#include "catalog/pg_type.h"
#include "commands/trigger.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "optimizer/optimizer.h"
#include "rewrite/prs2lock.h"
#include "rewrite/rewriteHandler.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#include "token_clock.h"

#define MAX_COLUMNS 16

typedef struct ColumnSpec
{
	const char *name;
	Oid			type;
} ColumnSpec;

/* A table of the extension as this code writes and reads it. */
typedef struct TableSpec
{
	const char *relname;
	const ColumnSpec *columns;	/* the columns this code sets or reads */
	int			ncolumns;
	int			nrequired;		/* the first nrequired must exist (older versions lack the rest) */
	const char *unique_indexes[2];	/* probed by key lookups */

	/* Filled from the catalog, forgotten on relcache invalidation. */
	Oid			relid;
	Oid			index_relids[2];
	bool		valid;
	AttrNumber	attnum[MAX_COLUMNS];	/* 0: column absent (an older version) */
	bool		direct;			/* the direct insert path is equivalent */
	MemoryContext cache;		/* expression states below */
	ExprState **check_exprs;	/* per CHECK constraint, as ExecRelCheck builds them */
	ExprState **default_exprs;	/* per attribute this code does not set */
	SPIPlanPtr	insert_plan;	/* the SQL path, prepared once */
} TableSpec;

/* Columns of fynn_tokens.api_token in install order; 0.2.0 appended the last two. */
enum TokenColumn
{
	TOK_ID, TOK_TENANT_ID, TOK_USER_ID, TOK_DESCRIPTION, TOK_TOKEN_HASH,
	TOK_PERMISSIONS, TOK_CREATED_AT, TOK_EXPIRES_AT, TOK_REVOKED_AT,
	TOK_LAST_USED_AT, TOK_PARENT_ID, TOK_UPDATED_AT, TOK_NCOLUMNS
};

static const ColumnSpec token_columns[TOK_NCOLUMNS] = {
	{"id", TEXTOID}, {"tenant_id", TEXTOID}, {"user_id", TEXTOID},
	{"description", TEXTOID}, {"token_hash", BYTEAOID}, {"permissions", TEXTARRAYOID},
	{"created_at", TIMESTAMPTZOID}, {"expires_at", TIMESTAMPTZOID},
	{"revoked_at", TIMESTAMPTZOID}, {"last_used_at", TIMESTAMPTZOID},
	{"parent_id", TEXTOID}, {"updated_at", TIMESTAMPTZOID},
};

enum EventColumn
{
	EV_OCCURRED_AT, EV_TENANT_ID, EV_USER_ID, EV_TOKEN_ID, EV_ACTION, EV_REASON,
	EV_ACTOR, EV_ACTOR_TOKEN_ID, EV_RELATED_TOKEN_ID, EV_NCOLUMNS
};

static const ColumnSpec event_columns[EV_NCOLUMNS] = {
	{"occurred_at", TIMESTAMPTZOID}, {"tenant_id", TEXTOID}, {"user_id", TEXTOID},
	{"token_id", TEXTOID}, {"action", TEXTOID}, {"reason", TEXTOID},
	{"actor", TEXTOID}, {"actor_token_id", TEXTOID}, {"related_token_id", TEXTOID},
};

enum PolicyColumn
{
	POL_TENANT_ID, POL_MAX_LIFETIME, POL_MAX_LIVE_TOKENS, POL_NCOLUMNS
};

static const ColumnSpec policy_columns[POL_NCOLUMNS] = {
	{"tenant_id", TEXTOID}, {"max_lifetime", INTERVALOID}, {"max_live_tokens", INT4OID},
};

/* Which unique index of api_token a lookup probes. */
#define BY_HASH	0
#define BY_ID	1

static TableSpec token_table = {"api_token", token_columns, TOK_NCOLUMNS, TOK_LAST_USED_AT + 1,
{"api_token_token_hash_key", "api_token_pkey"}};
static TableSpec event_table = {"api_token_event", event_columns, EV_NCOLUMNS, EV_NCOLUMNS, {NULL, NULL}};
static TableSpec policy_table = {"tenant_policy", policy_columns, POL_NCOLUMNS, POL_NCOLUMNS,
{"tenant_policy_pkey", NULL}};

static TableSpec *const all_tables[] = {&token_table, &event_table, &policy_table};

/*
 * Relcache callback: forget what was read from the catalog.  Nothing is
 * freed here, since the caches may be in use further up the stack; the next
 * use rebuilds them (InvalidOid means every relation).
 */
static void
forget_tables(Datum arg, Oid relid)
{
	for (int i = 0; i < lengthof(all_tables); i++)
	{
		TableSpec  *spec = all_tables[i];

		if (relid == InvalidOid || relid == spec->relid ||
			relid == spec->index_relids[0] || relid == spec->index_relids[1])
		{
			spec->valid = false;
			spec->relid = InvalidOid;
			spec->index_relids[0] = spec->index_relids[1] = InvalidOid;
		}
	}
}

/* The OID of a relation of the extension's schema; InvalidOid or an error when absent. */
static Oid
extension_relid(const char *name, bool missing_ok)
{
	Oid			nsp = get_namespace_oid(FYNN_TOKENS_SCHEMA, false);
	Oid			relid = get_relname_relid(name, nsp);

	if (!OidIsValid(relid) && !missing_ok)
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"%s.%s\" does not exist", FYNN_TOKENS_SCHEMA, name),
				 errdetail("The fynn_tokens extension is not installed completely."),
				 errhint("Update it with ALTER EXTENSION fynn_tokens UPDATE.")));
	return relid;
}

/*
 * Looks up the relation (and its probe indexes) unless known; false when
 * the table is absent.  The OIDs are stored together at the end: the
 * catalog lookups may process invalidations, whose callback empties the
 * cache, and a half-stored set would then be kept.
 */
static bool
lookup_table(TableSpec *spec, bool missing_ok)
{
	static bool callback_registered = false;
	Oid			relid;
	Oid			index_relids[lengthof(spec->index_relids)] = {InvalidOid};

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(forget_tables, (Datum) 0);
		callback_registered = true;
	}
	if (OidIsValid(spec->relid))
		return true;
	relid = extension_relid(spec->relname, missing_ok);
	if (!OidIsValid(relid))
		return false;
	for (int i = 0; i < lengthof(spec->unique_indexes); i++)
		if (spec->unique_indexes[i])
			index_relids[i] = extension_relid(spec->unique_indexes[i], false);
	spec->relid = relid;
	memcpy(spec->index_relids, index_relids, sizeof(index_relids));
	return true;
}

/*
 * Whether a rule on INSERT exists.  pg_class.relhasrules cannot tell: it
 * stays true once a table has had a rule, after the last one is dropped;
 * the relcache's rules are read again on every invalidation.
 */
static bool
has_insert_rule(Relation rel)
{
	RuleLock   *rules = rel->rd_rules;

	if (rules == NULL)
		return false;
	for (int i = 0; i < rules->numLocks; i++)
		if (rules->rules[i]->event == CMD_INSERT)
			return true;
	return false;
}

/* Why an INSERT could do more than the direct path does, or NULL when it could not. */
static const char *
direct_path_obstacle(Relation rel)
{
	TriggerDesc *trig = rel->trigdesc;
	TupleDesc	desc = RelationGetDescr(rel);

	if (rel->rd_rel->relkind != RELKIND_RELATION)
		return "it is not a plain table";
	if (has_insert_rule(rel))
		return "a rule fires on INSERT";
	if (rel->rd_rel->relforcerowsecurity)
		return "row-level security is forced on it";
	if (trig && (trig->trig_insert_before_row || trig->trig_insert_after_row ||
				 trig->trig_insert_instead_row || trig->trig_insert_before_statement ||
				 trig->trig_insert_after_statement || trig->trig_insert_new_table))
		return "a trigger (or a foreign key) fires on INSERT";
	for (int i = 0; i < desc->natts; i++)
	{
		Form_pg_attribute att = TupleDescAttr(desc, i);

		if (!att->attisdropped && (att->attgenerated || att->attidentity))
			return "it has a generated or identity column";
	}
	return NULL;
}

/* An expression made ready for execution, as ExecPrepareExpr would, in the current context. */
static ExprState *
prepare_expr(Node *expr)
{
	return ExecInitExpr(expression_planner((Expr *) expr), NULL);
}

/*
 * Builds, in a fresh context, the expression states the direct path needs:
 * the table's CHECK constraints (exactly as ExecRelCheck would) and the
 * defaults of the columns this code does not set.
 */
static void
build_expression_cache(TableSpec *spec, Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	TupleConstr *constr = desc->constr;
	MemoryContext old;

	/* The previous cache may still be in use up the stack: free it with the transaction. */
	if (spec->cache != NULL)
		MemoryContextSetParent(spec->cache, TopTransactionContext);
	spec->cache = AllocSetContextCreate(CacheMemoryContext, "fynn_tokens table cache",
										ALLOCSET_SMALL_SIZES);
	old = MemoryContextSwitchTo(spec->cache);

	spec->check_exprs = NULL;
	if (constr != NULL && constr->num_check > 0)
	{
		spec->check_exprs = palloc0(sizeof(ExprState *) * constr->num_check);
		for (int i = 0; i < constr->num_check; i++)
			if (COMPAT_CHECK_ENFORCED(&constr->check[i]))
				spec->check_exprs[i] = prepare_expr(stringToNode(constr->check[i].ccbin));
	}

	spec->default_exprs = palloc0(sizeof(ExprState *) * desc->natts);
	for (int i = 0; i < desc->natts; i++)
	{
		bool		ours = false;
		Node	   *expr;

		if (TupleDescAttr(desc, i)->attisdropped)
			continue;
		for (int c = 0; c < spec->ncolumns; c++)
			ours |= (spec->attnum[c] == i + 1);
		if (!ours && (expr = build_column_default(rel, i + 1)) != NULL)
			spec->default_exprs[i] = prepare_expr(expr);
	}
	MemoryContextSwitchTo(old);
}

/* Reads the table's shape: where each column is, and which insert path is equivalent to INSERT. */
static void
read_table_shape(TableSpec *spec, Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);
	const char *obstacle;

	for (int c = 0; c < spec->ncolumns; c++)
	{
		spec->attnum[c] = 0;
		for (int i = 0; i < desc->natts; i++)
		{
			Form_pg_attribute att = TupleDescAttr(desc, i);

			if (!att->attisdropped && strcmp(NameStr(att->attname), spec->columns[c].name) == 0)
			{
				if (att->atttypid != spec->columns[c].type)
					ereport(ERROR,
							(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
							 errmsg("column \"%s\" of table \"%s.%s\" has an unexpected type",
									spec->columns[c].name, FYNN_TOKENS_SCHEMA, spec->relname),
							 errdetail("The column's type is %s; the extension needs %s.",
									   format_type_be(att->atttypid),
									   format_type_be(spec->columns[c].type))));
				spec->attnum[c] = i + 1;
			}
		}
		if (spec->attnum[c] == 0 && c < spec->nrequired)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("table \"%s.%s\" has no column \"%s\"",
							FYNN_TOKENS_SCHEMA, spec->relname, spec->columns[c].name),
					 errhint("Update the extension with ALTER EXTENSION fynn_tokens UPDATE.")));
	}

	obstacle = direct_path_obstacle(rel);
	spec->direct = (obstacle == NULL);
	if (obstacle)
		elog(DEBUG1, "fynn_tokens: rows of %s are inserted by SQL: %s",
			 spec->relname, obstacle);
	else
		elog(DEBUG1, "fynn_tokens: rows of %s are inserted directly", spec->relname);
	build_expression_cache(spec, rel);
	spec->insert_plan = NULL;	/* prepared again, for the new shape, when needed */
	spec->valid = true;
}

/*
 * Opens a table of the extension and makes sure its shape is known.  The
 * OID is taken before the lock: acquiring it processes invalidations, which
 * may empty the cache but leave the OID true.  NULL when the table is
 * absent and missing_ok.
 */
static Relation
open_table(TableSpec *spec, LOCKMODE lockmode, bool missing_ok)
{
	Oid			relid;
	Oid			index_relids[2];
	Relation	rel;

	if (!lookup_table(spec, missing_ok))
		return NULL;
	relid = spec->relid;
	memcpy(index_relids, spec->index_relids, sizeof(index_relids));
	rel = table_open(relid, lockmode);
	spec->relid = relid;
	memcpy(spec->index_relids, index_relids, sizeof(index_relids));
	if (!spec->valid)
	{
		read_table_shape(spec, rel);
		/* Its catalog lookups process invalidations too: the OIDs, which our lock keeps true, are kept. */
		spec->relid = relid;
		memcpy(spec->index_relids, index_relids, sizeof(index_relids));
	}
	return rel;
}

/* Whether the token table has the 0.2.0 columns (the library may run before ALTER EXTENSION UPDATE). */
bool
store_has_v2_schema(void)
{
	Relation	rel = open_table(&token_table, AccessShareLock, false);
	bool		v2 = token_table.attnum[TOK_PARENT_ID] != 0 && token_table.attnum[TOK_UPDATED_AT] != 0;

	table_close(rel, NoLock);
	return v2;
}

/* ---------------------------------------------------------------- inserts */

/*
 * The direct path: form the tuple, default what this code does not set,
 * check every constraint, insert the heap tuple and its index entries.
 */
static void
insert_direct(TableSpec *spec, Relation rel, const Datum *values, const bool *nulls)
{
	TupleDesc	desc = RelationGetDescr(rel);
	EState	   *estate = CreateExecutorState();
	ResultRelInfo *rri = makeNode(ResultRelInfo);
	ExprContext *econtext = GetPerTupleExprContext(estate);
	TupleTableSlot *slot;
	Datum	   *row_values = palloc0(sizeof(Datum) * desc->natts);
	bool	   *row_nulls = palloc(sizeof(bool) * desc->natts);
	List	   *recheck;

	for (int i = 0; i < desc->natts; i++)
	{
		row_nulls[i] = true;
		if (spec->default_exprs[i] != NULL)
			row_values[i] = ExecEvalExprSwitchContext(spec->default_exprs[i], econtext,
													  &row_nulls[i]);
	}
	for (int c = 0; c < spec->ncolumns; c++)
	{
		if (spec->attnum[c] == 0)
			continue;
		row_values[spec->attnum[c] - 1] = values[c];
		row_nulls[spec->attnum[c] - 1] = nulls[c];
	}

	/* Range table index 0: the relation is not in a range table, so no privilege is consulted. */
	InitResultRelInfo(rri, rel, 0, NULL, 0);
	ExecOpenIndices(rri, false);
	COMPAT_CHECK_EXPRS(rri) = spec->check_exprs;

	slot = ExecInitExtraTupleSlot(estate, desc, &TTSOpsVirtual);
	ExecClearTuple(slot);
	memcpy(slot->tts_values, row_values, sizeof(Datum) * desc->natts);
	memcpy(slot->tts_isnull, row_nulls, sizeof(bool) * desc->natts);
	ExecStoreVirtualTuple(slot);

	if (desc->constr)
		ExecConstraints(rri, slot, estate);

	table_tuple_insert(rel, slot, GetCurrentCommandId(true), 0, NULL);
	recheck = compat_insert_index_tuples(rri, slot, estate);
	list_free(recheck);

	ExecCloseIndices(rri);
	ExecResetTupleTable(estate->es_tupleTable, false);
	FreeExecutorState(estate);
}

/* The SQL path: INSERT of this code's columns, so that triggers, keys and rules all apply. */
static void
insert_by_sql(TableSpec *spec, const Datum *values, const bool *nulls)
{
	Oid			types[MAX_COLUMNS];
	Datum		args[MAX_COLUMNS];
	char		argnulls[MAX_COLUMNS];
	int			nargs = 0;
	StringInfoData sql;
	StringInfoData params;

	initStringInfo(&sql);
	initStringInfo(&params);
	appendStringInfo(&sql, "INSERT INTO %s.%s (", FYNN_TOKENS_SCHEMA, spec->relname);
	for (int c = 0; c < spec->ncolumns; c++)
	{
		if (spec->attnum[c] == 0)
			continue;
		appendStringInfo(&sql, "%s%s", nargs > 0 ? ", " : "", quote_identifier(spec->columns[c].name));
		appendStringInfo(&params, "%s$%d", nargs > 0 ? ", " : "", nargs + 1);
		types[nargs] = spec->columns[c].type;
		args[nargs] = values[c];
		argnulls[nargs] = nulls[c] ? 'n' : ' ';
		nargs++;
	}
	appendStringInfo(&sql, ") VALUES (%s)", params.data);
	owner_sql_exec(sql.data, nargs, types, args, argnulls, false);
}

/* Inserts one row by whichever path is equivalent to INSERT; values are in spec column order. */
static void
insert_row(TableSpec *spec, const Datum *values, const bool *nulls)
{
	Relation	rel = open_table(spec, RowExclusiveLock, false);

	if (spec->direct)
	{
		Oid			saved_userid;
		int			saved_sec_context;

		/* As the owner, like the SQL path: defaults (nextval) and checks run with its rights. */
		GetUserIdAndSecContext(&saved_userid, &saved_sec_context);
		SetUserIdAndSecContext(rel->rd_rel->relowner,
							   saved_sec_context | SECURITY_LOCAL_USERID_CHANGE);
		insert_direct(spec, rel, values, nulls);
		SetUserIdAndSecContext(saved_userid, saved_sec_context);
	}
	else
	{
		OwnerSql   *owner;

		owner_sql_begin(&owner);
		insert_by_sql(spec, values, nulls);
		owner_sql_end(owner);
	}
	table_close(rel, NoLock);
}

/* A 32-byte hash as a bytea datum. */
static Datum
hash_as_bytea(const uint8 hash[FYNN_TOKENS_HASH_LEN])
{
	bytea	   *result = palloc(VARHDRSZ + FYNN_TOKENS_HASH_LEN);

	SET_VARSIZE(result, VARHDRSZ + FYNN_TOKENS_HASH_LEN);
	memcpy(VARDATA(result), hash, FYNN_TOKENS_HASH_LEN);
	return PointerGetDatum(result);
}

/* Text datum of a C string, SQL NULL for NULL. */
static void
set_text(Datum *values, bool *nulls, int column, const char *s)
{
	nulls[column] = (s == NULL);
	values[column] = s ? CStringGetTextDatum(s) : (Datum) 0;
}

/* Stores a new token: its hash and the rules' outcome; the token itself is never passed here. */
void
store_insert_token(const TokenRow *row)
{
	Datum		values[TOK_NCOLUMNS];
	bool		nulls[TOK_NCOLUMNS];

	set_text(values, nulls, TOK_ID, row->id);
	set_text(values, nulls, TOK_TENANT_ID, row->tenant_id);
	set_text(values, nulls, TOK_USER_ID, row->user_id);
	values[TOK_DESCRIPTION] = PointerGetDatum(row->description);
	nulls[TOK_DESCRIPTION] = (row->description == NULL);
	values[TOK_TOKEN_HASH] = hash_as_bytea(row->hash);
	nulls[TOK_TOKEN_HASH] = false;
	values[TOK_PERMISSIONS] = row->permissions;
	nulls[TOK_PERMISSIONS] = false;
	values[TOK_CREATED_AT] = TimestampTzGetDatum(row->created_at);
	nulls[TOK_CREATED_AT] = false;
	values[TOK_EXPIRES_AT] = TimestampTzGetDatum(row->expires_at);
	nulls[TOK_EXPIRES_AT] = !row->has_expires_at;
	nulls[TOK_REVOKED_AT] = true;
	nulls[TOK_LAST_USED_AT] = true;
	set_text(values, nulls, TOK_PARENT_ID, row->parent_id);
	values[TOK_UPDATED_AT] = TimestampTzGetDatum(row->created_at);
	nulls[TOK_UPDATED_AT] = false;

	insert_row(&token_table, values, nulls);
}

/* Appends one event; the id and db_role come from the table's defaults. */
void
store_insert_event(const EventRow *event)
{
	Datum		values[EV_NCOLUMNS];
	bool		nulls[EV_NCOLUMNS];

	values[EV_OCCURRED_AT] = TimestampTzGetDatum(GetCurrentTimestamp());
	nulls[EV_OCCURRED_AT] = false;
	set_text(values, nulls, EV_TENANT_ID, event->tenant_id);
	set_text(values, nulls, EV_USER_ID, event->user_id);
	set_text(values, nulls, EV_TOKEN_ID, event->token_id);
	set_text(values, nulls, EV_ACTION, event->action);
	set_text(values, nulls, EV_REASON, event->reason);
	set_text(values, nulls, EV_ACTOR, event->actor);
	set_text(values, nulls, EV_ACTOR_TOKEN_ID, event->actor_token_id);
	set_text(values, nulls, EV_RELATED_TOKEN_ID, event->related_token_id);

	/* A 0.1.0 schema, before ALTER EXTENSION UPDATE, has no event log yet. */
	if (!lookup_table(&event_table, true))
		return;
	insert_row(&event_table, values, nulls);
}

/* ---------------------------------------------------------------- lookups */

/* Reads an attribute of the slot by the spec's column, SQL NULL for an absent column. */
static Datum
column_value(const TableSpec *spec, TupleTableSlot *slot, int column, bool *isnull)
{
	if (spec->attnum[column] == 0)
	{
		*isnull = true;
		return (Datum) 0;
	}
	return slot_getattr(slot, spec->attnum[column], isnull);
}

/* Copies a text column into a C string, NULL for SQL NULL. */
static char *
column_cstring(const TableSpec *spec, TupleTableSlot *slot, int column)
{
	bool		isnull;
	Datum		d = column_value(spec, slot, column, &isnull);

	return isnull ? NULL : TextDatumGetCString(d);
}

/* A timestamptz column; false for SQL NULL. */
static bool
column_timestamp(const TableSpec *spec, TupleTableSlot *slot, int column, TimestampTz *out)
{
	bool		isnull;
	Datum		d = column_value(spec, slot, column, &isnull);

	*out = isnull ? 0 : DatumGetTimestampTz(d);
	return !isnull;
}

/* Fills a StoredToken from a token row; "full" adds what only the listing shows. */
static void
read_token(TupleTableSlot *slot, StoredToken *out, bool full)
{
	const TableSpec *spec = &token_table;
	bool		isnull;
	TimestampTz revoked_at;

	memset(out, 0, sizeof(*out));
	out->id = column_cstring(spec, slot, TOK_ID);
	out->tenant_id = column_cstring(spec, slot, TOK_TENANT_ID);
	out->user_id = column_cstring(spec, slot, TOK_USER_ID);
	out->permissions = datumCopy(column_value(spec, slot, TOK_PERMISSIONS, &isnull), false, -1);
	out->has_expires_at = column_timestamp(spec, slot, TOK_EXPIRES_AT, &out->expires_at);
	out->revoked = column_timestamp(spec, slot, TOK_REVOKED_AT, &revoked_at);
	out->parent_id = column_cstring(spec, slot, TOK_PARENT_ID);
	if (!full)
		return;
	{
		Datum		d = column_value(spec, slot, TOK_DESCRIPTION, &isnull);

		out->description = isnull ? NULL : DatumGetTextPCopy(d);
	}
	(void) column_timestamp(spec, slot, TOK_CREATED_AT, &out->created_at);
	out->has_last_used_at = column_timestamp(spec, slot, TOK_LAST_USED_AT, &out->last_used_at);
	out->has_updated_at = column_timestamp(spec, slot, TOK_UPDATED_AT, &out->updated_at);
}

/* Live at an instant, by the rule the gateway's cache shares (common/token_clock.h). */
bool
token_is_live_at(const StoredToken *token, TimestampTz now)
{
	return api_token_live_at(token->revoked, token->has_expires_at, token->expires_at, now);
}

/*
 * One probe of a unique index of a table under the active snapshot; the
 * row (if any) is left in slot.  The key compares with the index column's
 * collation, which for the extension's identifiers is "C".
 */
static bool
probe_unique(TableSpec *spec, Relation rel, int which, RegProcedure eq_proc, Datum key,
			 TupleTableSlot *slot)
{
	Relation	index = index_open(spec->index_relids[which], AccessShareLock);
	IndexScanDesc scan;
	ScanKeyData skey;
	bool		found;

	ScanKeyEntryInitialize(&skey, 0, 1, BTEqualStrategyNumber, InvalidOid,
						   index->rd_indcollation[0], eq_proc, key);
	scan = compat_index_beginscan(rel, index, GetActiveSnapshot(), 1);
	index_rescan(scan, &skey, 1, NULL, 0);
	found = index_getnext_slot(scan, ForwardScanDirection, slot);
	index_endscan(scan);
	index_close(index, NoLock);
	return found;
}

/*
 * Whether the row version in slot is settled: inserted by a committed
 * transaction (a visible version not inserted by this one), and neither
 * updated nor deleted by anyone, committed, in progress or aborted (a
 * FOR SHARE lock is no change).  Only a later UPDATE or DELETE can change
 * what such a version says, and their trigger invalidates whatever
 * remembered it.  The header is read without the buffer lock: a concurrent
 * updater that is missed here has not committed yet, and its commit will
 * invalidate.
 */
static bool
row_version_settled(TupleTableSlot *slot)
{
	HeapTupleHeader header = ExecFetchSlotHeapTuple(slot, false, NULL)->t_data;
	uint16		infomask = header->t_infomask;

	if (TransactionIdIsCurrentTransactionId(HeapTupleHeaderGetXmin(header)))
		return false;
	return (infomask & HEAP_XMAX_INVALID) != 0 || HEAP_XMAX_IS_LOCKED_ONLY(infomask);
}

/*
 * Whether every change that can end or narrow a token of this table is
 * announced: the extension's three change triggers exist and fire in
 * ordinary sessions.  Not so on a 0.1.0 schema (a new library serves it
 * until the update), nor after ALTER TABLE ... DISABLE TRIGGER (which
 * itself invalidates, so what was remembered goes too).
 */
static bool
changes_announced(Relation rel)
{
	static const char *const names[] = {"api_token_changed", "api_token_deleted", "api_token_truncated"};
	TriggerDesc *trig = rel->trigdesc;
	int			firing = 0;

	if (trig == NULL)
		return false;
	for (int i = 0; i < trig->numtriggers; i++)
	{
		Trigger    *t = &trig->triggers[i];

		if (t->tgenabled != TRIGGER_FIRES_ON_ORIGIN && t->tgenabled != TRIGGER_FIRES_ALWAYS)
			continue;
		for (int n = 0; n < lengthof(names); n++)
			if (strcmp(t->tgname, names[n]) == 0)
				firing++;
	}
	return firing == lengthof(names);
}

/* The token with this SHA-256, live or not: one probe of the unique hash index. */
bool
store_find_by_hash(const uint8 hash[FYNN_TOKENS_HASH_LEN], StoredToken *out)
{
	Relation	rel = open_table(&token_table, AccessShareLock, false);
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	bool		found = probe_unique(&token_table, rel, BY_HASH, F_BYTEAEQ, hash_as_bytea(hash), slot);

	if (found)
	{
		read_token(slot, out, false);
		out->relid = RelationGetRelid(rel);
		out->settled = changes_announced(rel) && row_version_settled(slot);
	}
	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, NoLock);
	return found;
}

/* The token with this id, live or not, with everything the listing shows. */
bool
store_find_by_id(const char *id, StoredToken *out)
{
	Relation	rel = open_table(&token_table, AccessShareLock, false);
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	bool		found = probe_unique(&token_table, rel, BY_ID, F_TEXTEQ, CStringGetTextDatum(id), slot);

	if (found)
		read_token(slot, out, true);
	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, NoLock);
	return found;
}

/*
 * Locks the token with this id FOR SHARE, so that it cannot be revoked or
 * have its expiry changed until this transaction ends, and returns its
 * latest version.  A child token is created under this lock: a revocation
 * of the parent then either comes after the child exists (and its cascade
 * finds the child) or before (and the lock sees the revoked parent).
 */
bool
store_lock_for_child(const char *id, StoredToken *out)
{
	Relation	rel = open_table(&token_table, RowShareLock, false);
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	TM_FailureData tmfd;
	TM_Result	result;
	ItemPointerData tid;
	bool		found = false;

	if (probe_unique(&token_table, rel, BY_ID, F_TEXTEQ, CStringGetTextDatum(id), slot))
	{
		tid = slot->tts_tid;
		result = table_tuple_lock(rel, &tid, GetActiveSnapshot(), slot,
								  GetCurrentCommandId(false), LockTupleShare,
								  LockWaitBlock, TUPLE_LOCK_FLAG_FIND_LAST_VERSION, &tmfd);
		if ((result == TM_Updated || tmfd.traversed) && IsolationUsesXactSnapshot())
			ereport(ERROR,
					(errcode(ERRCODE_T_R_SERIALIZATION_FAILURE),
					 errmsg("could not serialize access due to concurrent update"),
					 errdetail("The API token of this request changed in a concurrent transaction.")));
		if (result == TM_Ok || result == TM_SelfModified)
		{
			read_token(slot, out, true);
			found = true;
		}
	}
	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, NoLock);
	return found;
}

/* The tenant's own policy row; false when it has none (or on a 0.1.0 schema). */
bool
store_find_policy(const char *tenant_id, TenantPolicy *out)
{
	Relation	rel = open_table(&policy_table, AccessShareLock, true);
	TupleTableSlot *slot;
	bool		found;

	memset(out, 0, sizeof(*out));
	if (rel == NULL)
		return false;
	slot = table_slot_create(rel, NULL);
	found = probe_unique(&policy_table, rel, 0, F_TEXTEQ, CStringGetTextDatum(tenant_id), slot);
	if (found)
	{
		bool		isnull;
		Datum		d = column_value(&policy_table, slot, POL_MAX_LIFETIME, &isnull);

		if (!isnull)
		{
			out->has_max_lifetime = true;
			out->max_lifetime = *DatumGetIntervalP(d);
		}
		d = column_value(&policy_table, slot, POL_MAX_LIVE_TOKENS, &isnull);
		out->max_live_tokens = isnull ? 0 : DatumGetInt32(d);
	}
	ExecDropSingleTupleTableSlot(slot);
	table_close(rel, NoLock);
	return found;
}
