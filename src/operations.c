/*
 * operations.c
 *		The contract, once: create, list, get, revoke, rotate.  The SQL
 *		functions (core_api.c) and the HTTP functions (http_api.c) both call
 *		these and only differ in how they render an ApiProblem.
 *
 * Every operation checks everything before it writes anything, so a
 * refused request leaves no trace.  Revocations are plain UPDATEs run as
 * the table's owner: the table's trigger (triggers.c) then cascades them to
 * descendant tokens, NOTIFYs, and records the event, for these UPDATEs and
 * an operator's alike.
 */
#include "fynn_tokens.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "tcop/utility.h"
#include "utils/builtins.h"
#include "utils/datum.h"
#include "utils/timestamp.h"

#define TOKEN_SELECT_LIST \
	"id, tenant_id, user_id, description, permissions, created_at, expires_at, last_used_at, updated_at, parent_id"

static const char *const list_sql =
"SELECT " TOKEN_SELECT_LIST " FROM fynn_tokens.api_token"
" WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL"
" ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4";

static const char *const count_sql =
"SELECT count(*) FROM fynn_tokens.api_token"
" WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL";

static const char *const lock_for_rotation_sql =
"SELECT " TOKEN_SELECT_LIST " FROM fynn_tokens.api_token"
" WHERE id = $1 AND tenant_id = $2 AND user_id = $3 AND revoked_at IS NULL FOR UPDATE";

static const char *const revoke_sql =
"UPDATE fynn_tokens.api_token SET revoked_at = $4, updated_at = $4"
" WHERE id = $1 AND tenant_id = $2 AND user_id = $3 AND revoked_at IS NULL";

static const char *const revoke_by_hash_sql =
"UPDATE fynn_tokens.api_token SET revoked_at = $2, updated_at = $2"
" WHERE token_hash = $1 AND revoked_at IS NULL";

static const char *const shorten_sql =
"UPDATE fynn_tokens.api_token SET expires_at = $2, updated_at = $3"
" WHERE id = $1 AND (expires_at IS NULL OR expires_at > $2)";

/* The one answer for another user's, another tenant's, a revoked or an unknown token. */
static bool
not_found(ApiProblem *problem)
{
	problem_set(problem, 404, ERRCODE_NO_DATA_FOUND, NULL, "API token not found.");
	problem_set_sql_message(problem, "API token not found");
	problem_set_sql_detail(problem, "The caller has no API token with this id that is not revoked.");
	return false;
}

/* A token row from SPI, columns in TOKEN_SELECT_LIST order. */
static void
spi_read_token(HeapTuple tuple, TupleDesc desc, StoredToken *out)
{
	bool		isnull;
	Datum		d;

	memset(out, 0, sizeof(*out));
	out->id = SPI_getvalue(tuple, desc, 1);
	out->tenant_id = SPI_getvalue(tuple, desc, 2);
	out->user_id = SPI_getvalue(tuple, desc, 3);
	d = SPI_getbinval(tuple, desc, 4, &isnull);
	out->description = isnull ? NULL : DatumGetTextPCopy(d);
	out->permissions = SPI_datumTransfer(SPI_getbinval(tuple, desc, 5, &isnull), false, -1);
	out->created_at = DatumGetTimestampTz(SPI_getbinval(tuple, desc, 6, &isnull));
	d = SPI_getbinval(tuple, desc, 7, &isnull);
	out->has_expires_at = !isnull;
	out->expires_at = isnull ? 0 : DatumGetTimestampTz(d);
	d = SPI_getbinval(tuple, desc, 8, &isnull);
	out->has_last_used_at = !isnull;
	out->last_used_at = isnull ? 0 : DatumGetTimestampTz(d);
	d = SPI_getbinval(tuple, desc, 9, &isnull);
	out->has_updated_at = !isnull;
	out->updated_at = isnull ? 0 : DatumGetTimestampTz(d);
	out->parent_id = SPI_getvalue(tuple, desc, 10);
}

/* SPI_getvalue allocates in SPI's context: copies that survive SPI_finish. */
static void
transfer_token(StoredToken *t, MemoryContext into)
{
	MemoryContext old = MemoryContextSwitchTo(into);

	t->id = pstrdup(t->id);
	t->tenant_id = pstrdup(t->tenant_id);
	t->user_id = pstrdup(t->user_id);
	if (t->parent_id)
		t->parent_id = pstrdup(t->parent_id);
	if (t->description)
		t->description = DatumGetTextPCopy(PointerGetDatum(t->description));
	MemoryContextSwitchTo(old);
}

/* The caller's own token, locked FOR SHARE: it cannot be revoked while its child is made. */
static bool
lock_caller_token(const Caller *caller, StoredToken *token, ApiProblem *problem)
{
	if (store_lock_for_child(caller->token.id, token) &&
		token_is_live_at(token, GetCurrentTimestamp()))
		return true;
	return token_no_longer_valid(problem);
}

/*
 * Issues a token for the caller: the rules, then the secret, the row and
 * the event.  The caller's own API token (if any) bounds the new one;
 * parent_id is what the row records as its parent.
 */
static bool
issue_token(const Caller *caller, CreateRequest *request, const char *parent_id,
			bool count_live_tokens, const char *reason, const char *related_token_id,
			CreatedToken *out, ApiProblem *problem)
{
	const CallerIdentity *identity = caller->identity;
	TimestampTz now = GetCurrentTimestamp();
	StoredToken caller_token;
	const StoredToken *bound = NULL;
	TenantPolicy policy;
	int			live_tokens = 0;
	NewToken	token;
	TokenRow	row;
	StoredToken stored;

	if (caller->by_api_token)
	{
		if (!lock_caller_token(caller, &caller_token, problem))
			return false;
		bound = &caller_token;
	}
	policy_for_tenant(identity->tenant_id, &policy);
	if (count_live_tokens && policy.max_live_tokens > 0)
		live_tokens = policy_count_live_tokens(identity->tenant_id, identity->user_id,
											   policy.max_live_tokens);
	if (!validate_new_token(caller, request, bound, &policy, now, live_tokens, problem))
		return false;

	token_generate(&token);
	memset(&row, 0, sizeof(row));
	row.id = token.id;
	row.hash = token.hash;
	row.tenant_id = identity->tenant_id;
	row.user_id = identity->user_id;
	row.description = request->description;
	row.permissions = permissions_array_datum(request->npermissions, request->permissions);
	row.created_at = now;
	row.has_expires_at = request->has_expires_at;
	row.expires_at = request->expires_at;
	row.parent_id = parent_id;
	store_insert_token(&row);

	memset(&stored, 0, sizeof(stored));
	stored.id = token.id;
	stored.tenant_id = identity->tenant_id;
	stored.user_id = identity->user_id;
	events_record("create", reason, &stored, caller, related_token_id);

	out->answer = json_created_token(&token, request);
	strlcpy(out->id, token.id, sizeof(out->id));
	explicit_bzero(&token, sizeof(token));
	return true;
}

/* A new token for the caller; a token made with an API token is that token's child. */
bool
op_create(const Caller *caller, CreateRequest *request, CreatedToken *out, ApiProblem *problem)
{
	/* The insert may bypass the executor, and with it the read-only check: make it here. */
	PreventCommandIfReadOnly("create_user_api_token()");
	return issue_token(caller, request, caller->by_api_token ? caller->token.id : NULL,
					   true, NULL, NULL, out, problem);
}

/* One page of the caller's live tokens, newest first, with the total. */
bool
op_list(const Caller *caller, const PageRequest *page, text **out, ApiProblem *problem)
{
	MemoryContext caller_context = CurrentMemoryContext;
	Oid			types[4] = {TEXTOID, TEXTOID, INT4OID, INT8OID};
	Datum		values[4];
	StoredToken *items;
	int			nitems;
	int64		total;
	bool		isnull;
	OwnerSql   *owner;

	values[0] = CStringGetTextDatum(caller->identity->tenant_id);
	values[1] = CStringGetTextDatum(caller->identity->user_id);
	values[2] = Int32GetDatum(page->limit);
	values[3] = Int64GetDatum((int64) (page->page - 1) * page->limit);

	owner_sql_begin(&owner);
	owner_sql_exec(count_sql, 2, types, values, NULL, false);
	total = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	owner_sql_exec(list_sql, 4, types, values, NULL, false);
	nitems = (int) SPI_processed;
	items = MemoryContextAlloc(caller_context, sizeof(StoredToken) * Max(nitems, 1));
	for (int i = 0; i < nitems; i++)
	{
		spi_read_token(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, &items[i]);
		transfer_token(&items[i], caller_context);
	}
	owner_sql_end(owner);

	*out = json_token_page(items, nitems, total, page);
	return true;
}

/* One of the caller's tokens that is not revoked (expired ones included). */
bool
op_get(const Caller *caller, const char *id, text **out, ApiProblem *problem)
{
	StoredToken token;
	StringInfoData buf;

	if (!api_token_id_is_well_formed(id, strlen(id)) ||
		!store_find_by_id(id, &token) || token.revoked ||
		strcmp(token.tenant_id, caller->identity->tenant_id) != 0 ||
		strcmp(token.user_id, caller->identity->user_id) != 0)
		return not_found(problem);
	initStringInfo(&buf);
	json_append_token_item(&buf, &token);
	*out = cstring_to_text_with_len(buf.data, buf.len);
	return true;
}

/* What a revoking UPDATE needs; run under a ChangeCause so the trigger knows why. */
typedef struct UpdateCall
{
	const char *sql;
	int			nargs;
	Oid			types[4];
	Datum		values[4];
	uint64		processed;
} UpdateCall;

/* Runs the UPDATE as the owner; the trigger sees the cause set around it. */
static void
run_update(void *arg)
{
	UpdateCall *call = arg;
	OwnerSql   *owner;

	owner_sql_begin(&owner);
	owner_sql_exec(call->sql, call->nargs, call->types, call->values, NULL, false);
	call->processed = SPI_processed;
	owner_sql_end(owner);
}

/* Revokes one token of the caller by id; its descendants go with it (trigger). */
static uint64
revoke_owned(const Caller *caller, const char *id, const char *reason)
{
	UpdateCall	call = {revoke_sql, 4, {TEXTOID, TEXTOID, TEXTOID, TIMESTAMPTZOID}};
	ChangeCause cause = {reason, caller_actor(caller),
	caller->by_api_token ? caller->token.id : NULL, NULL};

	call.values[0] = CStringGetTextDatum(id);
	call.values[1] = CStringGetTextDatum(caller->identity->tenant_id);
	call.values[2] = CStringGetTextDatum(caller->identity->user_id);
	call.values[3] = TimestampTzGetDatum(GetCurrentTimestamp());
	triggers_run_as_cause(&cause, run_update, &call);
	return call.processed;
}

/* DELETE /user/api-tokens/{id}. */
bool
op_revoke(const Caller *caller, const char *id, ApiProblem *problem)
{
	PreventCommandIfReadOnly("revoke_user_api_token()");
	if (!api_token_id_is_well_formed(id, strlen(id)) || revoke_owned(caller, id, "request") == 0)
		return not_found(problem);
	return true;
}

/* DELETE /user/api-tokens/current: the API token of this request revokes itself. */
bool
op_revoke_current(const Caller *caller, ApiProblem *problem)
{
	PreventCommandIfReadOnly("revoke_current_api_token()");
	if (!caller->by_api_token)
	{
		problem_set(problem, 400, ERRCODE_DATA_EXCEPTION, NULL,
					"This request is not authenticated by an API token.");
		problem_set_sql_message(problem, "the caller is not an API token");
		problem_set_sql_detail(problem, "The claims name no token_id: they come from a JWT.");
		return false;
	}
	if (revoke_owned(caller, caller->token.id, "self") == 0)
		return token_no_longer_valid(problem);
	return true;
}

/* Checks a token's shape and checksum (no table access for a typo) and hashes it. */
bool
op_check_token_text(const char *token, size_t len, uint8 hash[FYNN_TOKENS_HASH_LEN],
					ApiProblem *problem)
{
	if (!api_token_is_well_formed(token, len))
	{
		problem_set(problem, 400, ERRCODE_INVALID_TEXT_REPRESENTATION, "token",
					"The token is not a well-formed API token.");
		problem_set_sql_message(problem, "invalid API token");
		problem_set_sql_detail(problem, "An API token is \"api_\", 32 base62 characters and a 6-character checksum.");
		return false;
	}
	token_sha256(token, len, hash);
	return true;
}

/* Revocation by the secret itself (a leak report): the same outcome whether or not it existed. */
void
op_revoke_by_hash(const uint8 hash[FYNN_TOKENS_HASH_LEN])
{
	UpdateCall	call = {revoke_by_hash_sql, 2, {BYTEAOID, TIMESTAMPTZOID}};
	ChangeCause cause = {"leak_report", "token_value", NULL, NULL};
	bytea	   *b = palloc(VARHDRSZ + FYNN_TOKENS_HASH_LEN);

	PreventCommandIfReadOnly("revoke_api_token()");
	SET_VARSIZE(b, VARHDRSZ + FYNN_TOKENS_HASH_LEN);
	memcpy(VARDATA(b), hash, FYNN_TOKENS_HASH_LEN);
	call.values[0] = PointerGetDatum(b);
	call.values[1] = TimestampTzGetDatum(GetCurrentTimestamp());
	triggers_run_as_cause(&cause, run_update, &call);
}

/* The caller's live token with this id, locked FOR UPDATE; false when there is none. */
static bool
lock_for_rotation(const Caller *caller, const char *id, StoredToken *old)
{
	MemoryContext caller_context = CurrentMemoryContext;
	Oid			types[3] = {TEXTOID, TEXTOID, TEXTOID};
	Datum		values[3];
	OwnerSql   *owner;
	bool		found;

	values[0] = CStringGetTextDatum(id);
	values[1] = CStringGetTextDatum(caller->identity->tenant_id);
	values[2] = CStringGetTextDatum(caller->identity->user_id);
	owner_sql_begin(&owner);
	owner_sql_exec(lock_for_rotation_sql, 3, types, values, NULL, false);
	found = SPI_processed == 1;
	if (found)
	{
		spi_read_token(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, old);
		old->permissions = datumCopy(old->permissions, false, -1);
		transfer_token(old, caller_context);
	}
	owner_sql_end(owner);
	return found;
}

/* Locks a token FOR SHARE as the parent of a new child; false when it is revoked or gone. */
static bool
lock_live_parent(const char *parent_id)
{
	StoredToken parent;

	return store_lock_for_child(parent_id, &parent) && !parent.revoked;
}

/*
 * A successor is a child of the old token's parent, so, like any child, it
 * is made under a FOR SHARE lock on that parent: a concurrent revocation
 * of the parent then either waits for the successor (and its cascade finds
 * it) or comes first (and the old token is gone by the time it is locked).
 * The parent is locked before the old token, in the order a revocation's
 * cascade takes them, so the two cannot deadlock.  *parent_id is the parent
 * locked, or NULL; false when the parent is revoked or gone.
 */
static bool
lock_parent_for_successor(const Caller *caller, const char *id, char **parent_id)
{
	StoredToken token;

	*parent_id = NULL;
	if (!store_find_by_id(id, &token) || token.revoked || token.parent_id == NULL ||
		strcmp(token.tenant_id, caller->identity->tenant_id) != 0 ||
		strcmp(token.user_id, caller->identity->user_id) != 0)
		return true;			/* no parent to lock; lock_for_rotation decides */
	*parent_id = token.parent_id;
	return lock_live_parent(token.parent_id);
}

/*
 * Rotation: a successor with the same description, permissions, parent and
 * expiry, made under the same rules as a creation by this caller; the old
 * token is revoked at once, or after the grace period.
 */
bool
op_rotate(const Caller *caller, const char *id, int64 grace_us, CreatedToken *out,
		  ApiProblem *problem)
{
	StoredToken old;
	char	   *parent_id;
	CreateRequest request;
	Datum	   *elems;
	int			nperms;
	TimestampTz now;
	UpdateCall	call;
	ChangeCause cause;

	PreventCommandIfReadOnly("rotate_user_api_token()");
	if (!api_token_id_is_well_formed(id, strlen(id)) ||
		!lock_parent_for_successor(caller, id, &parent_id) ||
		!lock_for_rotation(caller, id, &old))
		return not_found(problem);
	/* An operator moved the token to another parent meanwhile: lock that one too. */
	if (old.parent_id != NULL && (parent_id == NULL || strcmp(old.parent_id, parent_id) != 0) &&
		!lock_live_parent(old.parent_id))
		return not_found(problem);

	if (grace_us < 0 || grace_us > (int64) FYNN_TOKENS_GRACE_MAX_SECONDS * USECS_PER_SEC)
		problem_add_violation(problem, VIOLATION_GRACE_PERIOD_RANGE,
							  "This value should be between 0 and %d.", FYNN_TOKENS_GRACE_MAX_SECONDS);

	memset(&request, 0, sizeof(request));
	request.description = old.description;
	request.has_expires_at = old.has_expires_at;
	request.expires_at = old.expires_at;
	request.has_permissions = true;
	deconstruct_array(DatumGetArrayTypeP(old.permissions), TEXTOID, -1, false, TYPALIGN_INT,
					  &elems, NULL, &nperms);
	request.npermissions = nperms;
	request.permissions = palloc(sizeof(char *) * Max(nperms, 1));
	for (int i = 0; i < nperms; i++)
		request.permissions[i] = TextDatumGetCString(elems[i]);

	/* A rotation replaces a token: it never counts against the live-token limit. */
	if (!issue_token(caller, &request, old.parent_id, false, "rotation", old.id, out, problem))
		return false;
	events_record("rotate", NULL, &old, caller, out->id);

	now = GetCurrentTimestamp();
	memset(&call, 0, sizeof(call));
	cause.reason = "rotation";
	cause.actor = caller_actor(caller);
	cause.actor_token_id = caller->by_api_token ? caller->token.id : NULL;
	cause.related_token_id = out->id;
	call.values[0] = CStringGetTextDatum(old.id);
	if (grace_us == 0)
	{
		call.sql = revoke_sql;
		call.nargs = 4;
		call.types[0] = call.types[1] = call.types[2] = TEXTOID;
		call.types[3] = TIMESTAMPTZOID;
		call.values[1] = CStringGetTextDatum(old.tenant_id);
		call.values[2] = CStringGetTextDatum(old.user_id);
		call.values[3] = TimestampTzGetDatum(now);
	}
	else
	{
		call.sql = shorten_sql;
		call.nargs = 3;
		call.types[0] = TEXTOID;
		call.types[1] = call.types[2] = TIMESTAMPTZOID;
		call.values[1] = TimestampTzGetDatum(now + grace_us);
		call.values[2] = TimestampTzGetDatum(now);
	}
	triggers_run_as_cause(&cause, run_update, &call);
	return true;
}
