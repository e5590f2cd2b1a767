/*
 * store.c
 *		The api_token table: one heap insert per created token, one index
 *		probe per verification.
 *
 * Both go through the table access method directly rather than SPI: an SPI
 * INSERT builds and tears down a whole executor per call (re-reading the
 * table's CHECK expressions each time), which costs three times the insert
 * itself.  The rules those constraints state are enforced before this file
 * is reached (validate.c, token.c); the constraints stay on the table for
 * anyone who writes to it by SQL.
 */
#include "fynn_tokens.h"

#include "access/genam.h"
#include "access/relscan.h"
#include "access/stratnum.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/namespace.h"
#include "executor/executor.h"
#include "nodes/execnodes.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/fmgroids.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "utils/timestamp.h"

#define TOKEN_TABLE			"api_token"
#define TOKEN_HASH_INDEX	"api_token_token_hash_key"

/* Columns of fynn_tokens.api_token, in table order (sql/fynn_tokens--*.sql). */
enum TokenColumn
{
	COL_ID,
	COL_TENANT_ID,
	COL_USER_ID,
	COL_DESCRIPTION,
	COL_TOKEN_HASH,
	COL_PERMISSIONS,
	COL_CREATED_AT,
	COL_EXPIRES_AT,
	COL_REVOKED_AT,
	COL_LAST_USED_AT,
	TOKEN_NCOLUMNS
};

static const char *const token_column_names[TOKEN_NCOLUMNS] = {
	"id", "tenant_id", "user_id", "description", "token_hash", "permissions",
	"created_at", "expires_at", "revoked_at", "last_used_at"
};

/*
 * OIDs of the table and its hash index, looked up once per backend and
 * forgotten on any relcache invalidation of either (a re-created extension
 * gets new ones), so the hot paths skip three catalog lookups per call.
 */
static Oid	token_table_oid = InvalidOid;
static Oid	token_hash_index_oid = InvalidOid;
static bool columns_checked = false;

/* Relcache callback: InvalidOid means every relation. */
static void
forget_relation_oids(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == token_table_oid || relid == token_hash_index_oid)
	{
		token_table_oid = InvalidOid;
		token_hash_index_oid = InvalidOid;
		columns_checked = false;
	}
}

/* The OID of a relation of the extension's schema, or an error saying the install is broken. */
static Oid
extension_relid(const char *name)
{
	Oid			nsp = get_namespace_oid(FYNN_TOKENS_SCHEMA, false);
	Oid			relid = get_relname_relid(name, nsp);

	if (!OidIsValid(relid))
		ereport(ERROR,
				(errcode(ERRCODE_UNDEFINED_TABLE),
				 errmsg("relation \"%s.%s\" does not exist", FYNN_TOKENS_SCHEMA, name),
				 errdetail("The fynn_tokens extension is not installed correctly."),
				 errhint("Reinstall it with DROP EXTENSION and CREATE EXTENSION.")));
	return relid;
}

/* Fills the OID cache when it is empty. */
static void
lookup_relation_oids(void)
{
	static bool callback_registered = false;

	if (OidIsValid(token_table_oid) && OidIsValid(token_hash_index_oid))
		return;
	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(forget_relation_oids, (Datum) 0);
		callback_registered = true;
	}
	token_table_oid = extension_relid(TOKEN_TABLE);
	token_hash_index_oid = extension_relid(TOKEN_HASH_INDEX);
}

/* Checks once per relcache entry that the columns are the ones this code writes by position. */
static void
check_token_columns(Relation rel)
{
	TupleDesc	desc = RelationGetDescr(rel);

	for (int i = 0; i < TOKEN_NCOLUMNS; i++)
		if (desc->natts != TOKEN_NCOLUMNS ||
			TupleDescAttr(desc, i)->attisdropped ||
			strcmp(NameStr(TupleDescAttr(desc, i)->attname), token_column_names[i]) != 0)
			ereport(ERROR,
					(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
					 errmsg("table \"%s.%s\" does not have the expected columns",
							FYNN_TOKENS_SCHEMA, TOKEN_TABLE),
					 errdetail("Column %d should be \"%s\".", i + 1, token_column_names[i]),
					 errhint("Update the extension with ALTER EXTENSION fynn_tokens UPDATE.")));
	columns_checked = true;
}

/*
 * Opens the token table, checking its shape the first time, and tells the
 * hash index's OID as it was before the lock: taking the lock processes
 * invalidations, which may empty the cache but leaves the OIDs true.
 */
static Relation
open_token_table(LOCKMODE lockmode, Oid *hash_index_oid)
{
	Relation	rel;
	Oid			table_oid;

	lookup_relation_oids();
	table_oid = token_table_oid;
	*hash_index_oid = token_hash_index_oid;
	rel = table_open(table_oid, lockmode);
	if (!columns_checked)
		check_token_columns(rel);
	return rel;
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

/* Inserts a heap tuple and its index entries, unique checks included, as the executor would. */
static void
insert_with_indexes(Relation rel, HeapTuple tuple)
{
	EState	   *estate = CreateExecutorState();
	ResultRelInfo *rri = makeNode(ResultRelInfo);
	TupleTableSlot *slot;
	List	   *recheck;

	InitResultRelInfo(rri, rel, 1, NULL, 0);
	ExecOpenIndices(rri, false);

	slot = ExecInitExtraTupleSlot(estate, RelationGetDescr(rel), &TTSOpsHeapTuple);
	ExecStoreHeapTuple(tuple, slot, false);

	table_tuple_insert(rel, slot, GetCurrentCommandId(true), 0, NULL);
#if PG_VERSION_NUM >= 160000
	recheck = ExecInsertIndexTuples(rri, slot, estate, false, false, NULL, NIL, false);
#else
	recheck = ExecInsertIndexTuples(rri, slot, estate, false, false, NULL, NIL);
#endif
	list_free(recheck);

	ExecCloseIndices(rri);
	ExecResetTupleTable(estate->es_tupleTable, false);
	FreeExecutorState(estate);
}

/* Stores the hash and the caller's snapshot; the token itself is never passed here. */
void
store_insert_token(const NewToken *token, const CallerIdentity *caller,
				   const TokenRequest *request)
{
	Oid			hash_index_oid;
	Relation	rel = open_token_table(RowExclusiveLock, &hash_index_oid);
	Datum		values[TOKEN_NCOLUMNS];
	bool		nulls[TOKEN_NCOLUMNS] = {false};
	HeapTuple	tuple;

	values[COL_ID] = CStringGetTextDatum(token->id);
	values[COL_TENANT_ID] = CStringGetTextDatum(caller->tenant_id);
	values[COL_USER_ID] = CStringGetTextDatum(caller->user_id);
	values[COL_DESCRIPTION] = PointerGetDatum(request->description);
	nulls[COL_DESCRIPTION] = (request->description == NULL);
	values[COL_TOKEN_HASH] = hash_as_bytea(token->hash);
	values[COL_PERMISSIONS] = caller->permissions_array;
	values[COL_CREATED_AT] = TimestampTzGetDatum(GetCurrentTransactionStartTimestamp());
	values[COL_EXPIRES_AT] = TimestampTzGetDatum(request->expires_at);
	nulls[COL_EXPIRES_AT] = !request->has_expires_at;
	nulls[COL_REVOKED_AT] = true;
	nulls[COL_LAST_USED_AT] = true;

	tuple = heap_form_tuple(RelationGetDescr(rel), values, nulls);
	insert_with_indexes(rel, tuple);
	heap_freetuple(tuple);

	table_close(rel, NoLock);
}

/* True when a row is neither revoked nor expired at the statement's time. */
static bool
token_is_live(TupleTableSlot *slot)
{
	bool		isnull;
	Datum		expires_at;

	(void) slot_getattr(slot, COL_REVOKED_AT + 1, &isnull);
	if (!isnull)
		return false;
	expires_at = slot_getattr(slot, COL_EXPIRES_AT + 1, &isnull);
	return isnull ||
		DatumGetTimestampTz(expires_at) > GetCurrentStatementStartTimestamp();
}

/* One probe of the unique hash index under the caller's snapshot: read-only, so it runs on a standby. */
bool
store_find_valid_token(const uint8 hash[FYNN_TOKENS_HASH_LEN], StoredToken *out)
{
	Oid			hash_index_oid;
	Relation	rel = open_token_table(AccessShareLock, &hash_index_oid);
	Relation	index = index_open(hash_index_oid, AccessShareLock);
	TupleTableSlot *slot = table_slot_create(rel, NULL);
	IndexScanDesc scan;
	ScanKeyData key;
	bool		found = false;

	ScanKeyInit(&key, 1, BTEqualStrategyNumber, F_BYTEAEQ, hash_as_bytea(hash));
	scan = index_beginscan(rel, index, GetActiveSnapshot(), 1, 0);
	index_rescan(scan, &key, 1, NULL, 0);

	if (index_getnext_slot(scan, ForwardScanDirection, slot) && token_is_live(slot))
	{
		bool		isnull;

		out->id = TextDatumGetCString(slot_getattr(slot, COL_ID + 1, &isnull));
		out->user_id = TextDatumGetCString(slot_getattr(slot, COL_USER_ID + 1, &isnull));
		out->tenant_id = TextDatumGetCString(slot_getattr(slot, COL_TENANT_ID + 1, &isnull));
		out->permissions = datumCopy(slot_getattr(slot, COL_PERMISSIONS + 1, &isnull),
									 false, -1);
		found = true;
	}

	index_endscan(scan);
	ExecDropSingleTupleTableSlot(slot);
	index_close(index, NoLock);
	table_close(rel, NoLock);
	return found;
}
