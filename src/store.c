/*
 * store.c
 *		The api_token table: one insert per created token, one index lookup
 *		per verification, through plans prepared once per backend.
 */
#include "fynn_tokens.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/timestamp.h"

#define INSERT_SQL \
	"INSERT INTO " FYNN_TOKENS_SCHEMA ".api_token" \
	" (id, tenant_id, user_id, description, token_hash, permissions, expires_at)" \
	" VALUES ($1, $2, $3, $4, $5, $6, $7)"

/* Only live tokens match: revoked or expired ones verify like unknown ones. */
#define LOOKUP_SQL \
	"SELECT id, user_id, tenant_id, permissions FROM " FYNN_TOKENS_SCHEMA ".api_token" \
	" WHERE token_hash = $1 AND revoked_at IS NULL" \
	" AND (expires_at IS NULL OR expires_at > pg_catalog.statement_timestamp())"

static SPIPlanPtr insert_plan = NULL;
static SPIPlanPtr lookup_plan = NULL;

/* Prepares a statement once and keeps it for the backend's lifetime. */
static SPIPlanPtr
prepare_once(SPIPlanPtr *plan, const char *sql, int nargs, Oid *argtypes)
{
	if (*plan == NULL)
	{
		SPIPlanPtr	fresh = SPI_prepare(sql, nargs, argtypes);

		if (fresh == NULL)
			elog(ERROR, "SPI_prepare failed for fynn_tokens: %s",
				 SPI_result_code_string(SPI_result));
		if (SPI_keepplan(fresh) != 0)
			elog(ERROR, "SPI_keepplan failed for fynn_tokens");
		*plan = fresh;
	}
	return *plan;
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

/* Stores the hash and the caller's snapshot; the token itself is not passed. */
void
store_insert_token(const NewToken *token, const CallerIdentity *caller,
				   const TokenRequest *request)
{
	Oid			argtypes[7] = {TEXTOID, TEXTOID, TEXTOID, TEXTOID, BYTEAOID,
	TEXTARRAYOID, TIMESTAMPTZOID};
	Datum		values[7];
	char		nulls[7] = "       ";
	int			rc;

	values[0] = CStringGetTextDatum(token->id);
	values[1] = CStringGetTextDatum(caller->tenant_id);
	values[2] = CStringGetTextDatum(caller->user_id);
	values[3] = PointerGetDatum(request->description);
	if (request->description == NULL)
		nulls[3] = 'n';
	values[4] = hash_as_bytea(token->hash);
	values[5] = caller->permissions_array;
	values[6] = TimestampTzGetDatum(request->expires_at);
	if (!request->has_expires_at)
		nulls[6] = 'n';

	SPI_connect();
	rc = SPI_execute_plan(prepare_once(&insert_plan, INSERT_SQL, 7, argtypes),
						  values, nulls, false, 1);
	if (rc != SPI_OK_INSERT)
		elog(ERROR, "fynn_tokens insert failed: %s", SPI_result_code_string(rc));
	SPI_finish();
}

/* One index lookup by hash; copies the row out before SPI memory is freed. */
bool
store_find_valid_token(const uint8 hash[FYNN_TOKENS_HASH_LEN], StoredToken *out)
{
	MemoryContext caller_context = CurrentMemoryContext;
	Oid			argtypes[1] = {BYTEAOID};
	Datum		values[1];
	bool		found;
	int			rc;

	values[0] = hash_as_bytea(hash);

	SPI_connect();
	rc = SPI_execute_plan(prepare_once(&lookup_plan, LOOKUP_SQL, 1, argtypes),
						  values, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "fynn_tokens lookup failed: %s", SPI_result_code_string(rc));

	found = (SPI_processed == 1);
	if (found)
	{
		HeapTuple	row = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		bool		isnull;
		MemoryContext spi_context = MemoryContextSwitchTo(caller_context);

		out->id = TextDatumGetCString(SPI_getbinval(row, desc, 1, &isnull));
		out->user_id = TextDatumGetCString(SPI_getbinval(row, desc, 2, &isnull));
		out->tenant_id = TextDatumGetCString(SPI_getbinval(row, desc, 3, &isnull));
		out->permissions = datumCopy(SPI_getbinval(row, desc, 4, &isnull), false, -1);
		MemoryContextSwitchTo(spi_context);
	}
	SPI_finish();
	return found;
}
