/*
 * compat.h
 *		The server APIs this extension uses that differ between PostgreSQL
 *		15 and 18, each shimmed once here with the version that changed it.
 */
#ifndef FYNN_TOKENS_COMPAT_H
#define FYNN_TOKENS_COMPAT_H

#include "postgres.h"

#include "access/genam.h"
#include "catalog/dependency.h"
#include "executor/executor.h"
#include "catalog/pg_type.h"
#include "utils/builtins.h"
#include "utils/jsonb.h"
#include "utils/memutils.h"

/* PostgreSQL 16 moved VARDATA_ANY and friends out of postgres.h. */
#if PG_VERSION_NUM >= 160000
#include "varatt.h"
#endif

/* PostgreSQL 18 spells "does not return" as a prefix; before, only a suffix attribute existed. */
#ifndef pg_noreturn
#define pg_noreturn __attribute__((noreturn))
#endif

/* PostgreSQL 16 added the onlySummarizing argument. */
static inline List *
compat_insert_index_tuples(ResultRelInfo *rri, TupleTableSlot *slot, EState *estate)
{
#if PG_VERSION_NUM >= 160000
	return ExecInsertIndexTuples(rri, slot, estate, false, false, NULL, NIL, false);
#else
	return ExecInsertIndexTuples(rri, slot, estate, false, false, NULL, NIL);
#endif
}

/* PostgreSQL 18 added an IndexScanInstrumentation argument. */
static inline IndexScanDesc
compat_index_beginscan(Relation heap, Relation index, Snapshot snapshot, int nkeys)
{
#if PG_VERSION_NUM >= 180000
	return index_beginscan(heap, index, snapshot, NULL, nkeys, 0);
#else
	return index_beginscan(heap, index, snapshot, nkeys, 0);
#endif
}

/* PostgreSQL 18 renamed the CHECK expression states and added NOT ENFORCED checks. */
#if PG_VERSION_NUM >= 180000
#define COMPAT_CHECK_EXPRS(rri) ((rri)->ri_CheckConstraintExprs)
#define COMPAT_CHECK_ENFORCED(check) ((check)->ccenforced)
#else
#define COMPAT_CHECK_EXPRS(rri) ((rri)->ri_ConstraintExprs)
#define COMPAT_CHECK_ENFORCED(check) true
#endif

/*
 * Text as jsonb, false instead of an error when it is not valid JSON (or
 * holds what jsonb cannot, such as \u0000).  PostgreSQL 16 added soft input
 * errors; before, the error is caught, which is safe because jsonb_in holds
 * no resource an abort would have to release.
 */
#if PG_VERSION_NUM >= 160000
#include "nodes/miscnodes.h"

static inline bool
compat_jsonb_parse(const char *text, Jsonb **out)
{
	ErrorSaveContext escontext = {T_ErrorSaveContext};
	Datum		datum;

	if (!DirectInputFunctionCallSafe(jsonb_in, (char *) text, JSONBOID, -1,
									 (Node *) &escontext, &datum))
		return false;
	*out = DatumGetJsonbP(datum);
	return true;
}
#else
static inline bool
compat_jsonb_parse(const char *text, Jsonb **out)
{
	MemoryContext caller_context = CurrentMemoryContext;
	volatile bool ok = true;

	PG_TRY();
	{
		*out = DatumGetJsonbP(DirectFunctionCall1(jsonb_in, CStringGetDatum(text)));
	}
	PG_CATCH();
	{
		MemoryContextSwitchTo(caller_context);
		FlushErrorState();
		ok = false;
	}
	PG_END_TRY();
	return ok;
}
#endif

#endif							/* FYNN_TOKENS_COMPAT_H */
