/*
 * fynn_tokens.h
 *		Declarations shared by the extension's C files, one file per concern:
 *
 *	fynn_tokens.c	module entry and settings
 *	claims.c		who is calling: identity and permissions from request.jwt.claims
 *	caller.c		the caller as the operations see it: identity, live token, permissions
 *	problem.c		a failed request: SQLSTATE for SQL callers, HTTP answer for the HTTP API
 *	token.c			secrets: random id and token, SHA-256
 *	request.c		input: the JSON bodies, RFC 3339 dates, page parameters
 *	validate.c		the rules a new token must satisfy, as violations
 *	policy.c		per-tenant policies and their defaults
 *	store.c			the tables: inserts that behave like INSERT, lookups by index
 *	owner_sql.c		SQL run as the extension's owner with a pinned search_path
 *	events.c		the append-only event log
 *	triggers.c		what any change of a token row sets off: cascade, NOTIFY, event
 *	json_out.c		the JSON answers
 *	operations.c	create, list, get, revoke, rotate: the contract, once
 *	core_api.c		the fynn_tokens.* SQL functions: problems raised as errors
 *	http_api.c		the fynn_api.* SQL functions: problems answered as HTTP
 *	verify.c		verify_api_token: from a token to its claims
 *	verify_cache.c	the claims of tokens verified before, until a change ends them
 */
#ifndef FYNN_TOKENS_H
#define FYNN_TOKENS_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "fmgr.h"
#include "lib/stringinfo.h"
#include "utils/array.h"
#include "utils/jsonb.h"

#include "compat.h"
#include "api_token_format.h"

#define FYNN_TOKENS_SCHEMA			"fynn_tokens"
#define FYNN_TOKENS_READ_PERMISSION	"user:api-token:read"
#define FYNN_TOKENS_WRITE_PERMISSION	"user:api-token:write"
#define FYNN_TOKENS_HASH_LEN		32	/* SHA-256 */
#define FYNN_TOKENS_DESCRIPTION_MIN	3
#define FYNN_TOKENS_DESCRIPTION_MAX	255
#define FYNN_TOKENS_PAGE_LIMIT_MAX	100
#define FYNN_TOKENS_PAGE_LIMIT_DEFAULT 30
#define FYNN_TOKENS_GRACE_MAX_SECONDS (7 * 24 * 3600)
/* The channel every change that can end a token is announced on. */
#define FYNN_TOKENS_CHANNEL			"fynn_tokens_changes"
/* The path of the token collection, for Location headers. */
#define FYNN_TOKENS_COLLECTION_PATH	"/user/api-tokens"

/* fynn_tokens.c: settings */
extern char *fynn_tokens_user_claim;
extern char *fynn_tokens_tenant_claim;
extern char *fynn_tokens_permissions_claim;
extern int	fynn_tokens_default_max_lifetime;	/* seconds, 0: none */
extern int	fynn_tokens_default_max_live_tokens;	/* 0: none */
extern char *fynn_tokens_api_token_role;

/* problem.c */
typedef enum ViolationId
{
	VIOLATION_DESCRIPTION_TOO_SHORT,
	VIOLATION_DESCRIPTION_TOO_LONG,
	VIOLATION_EXPIRES_AT_NOT_IN_FUTURE,
	VIOLATION_EXPIRES_AT_NULL,
	VIOLATION_EXPIRES_AT_TOO_LATE,
	VIOLATION_PERMISSIONS_EMPTY,
	VIOLATION_PERMISSIONS_NOT_HELD,
	VIOLATION_TOO_MANY_TOKENS,
	VIOLATION_GRACE_PERIOD_RANGE,
	NUM_VIOLATION_KINDS
} ViolationId;

typedef struct Violation
{
	ViolationId id;
	char	   *message;		/* formatted */
} Violation;

#define MAX_VIOLATIONS 8

typedef struct ApiProblem
{
	int			status;			/* HTTP status; 0 while there is no problem */
	int			sqlerrcode;		/* what a SQL caller gets */
	char	   *message;		/* the API's "detail" */
	char	   *sql_message;	/* errmsg for SQL callers when it differs, or NULL */
	char	   *sql_detail;		/* errdetail for SQL callers, or NULL */
	const char *column;			/* the property concerned, or NULL */
	bool		credential_given;	/* 401: the credential itself was bad */
	int			nviolations;
	Violation	violations[MAX_VIOLATIONS];
} ApiProblem;

extern void problem_init(ApiProblem *problem);
extern bool problem_set(ApiProblem *problem, int status, int sqlerrcode,
						const char *column, const char *fmt,...) pg_attribute_printf(5, 6);
extern void problem_set_sql_message(ApiProblem *problem, const char *fmt,...) pg_attribute_printf(2, 3);
extern void problem_set_sql_detail(ApiProblem *problem, const char *fmt,...) pg_attribute_printf(2, 3);
extern void problem_add_violation(ApiProblem *problem, ViolationId id, const char *fmt,...) pg_attribute_printf(3, 4);
extern bool problem_close_violations(ApiProblem *problem);
pg_noreturn extern void problem_raise(const ApiProblem *problem);
extern text *problem_http_body(const ApiProblem *problem);
extern void http_set_response(int status, const char *headers_json);

/* claims.c */
typedef enum ClaimsStatus
{
	CLAIMS_OK,
	CLAIMS_NO_CREDENTIAL,		/* no claims, or only PostgREST's "role" */
	CLAIMS_NOT_AN_OBJECT,
	CLAIMS_BAD_USER,
	CLAIMS_BAD_TENANT,
	CLAIMS_BAD_TOKEN_ID
} ClaimsStatus;

typedef struct CallerIdentity
{
	char	   *user_id;		/* canonical, see common/identity.h */
	char	   *tenant_id;
	int			npermissions;
	char	  **permissions;
	Datum		permissions_array;	/* the same, as text[] */
	char	   *token_id;		/* the API token behind these claims, or NULL */
} CallerIdentity;

extern ClaimsStatus claims_identity(const CallerIdentity **out, char **why);
extern bool permissions_include(int n, char *const *permissions, const char *wanted);
extern Datum permissions_array_datum(int n, char *const *permissions);

/* token.c */
typedef struct NewToken
{
	char		id[API_TOKEN_ID_LEN + 1];
	char		token[API_TOKEN_LEN + 1];
	uint8		hash[FYNN_TOKENS_HASH_LEN];
} NewToken;

extern void token_generate(NewToken *out);
extern void token_sha256(const char *data, size_t len, uint8 out[FYNN_TOKENS_HASH_LEN]);

/* store.c: a token row as stored */
typedef struct StoredToken
{
	char	   *id;
	char	   *tenant_id;
	char	   *user_id;
	text	   *description;	/* NULL when SQL NULL */
	Datum		permissions;	/* text[] */
	TimestampTz created_at;
	bool		has_expires_at;
	TimestampTz expires_at;
	bool		revoked;
	bool		has_last_used_at;
	TimestampTz last_used_at;
	char	   *parent_id;		/* NULL when none, or on a 0.1.0 table */
	bool		has_updated_at;
	TimestampTz updated_at;
	/*
	 * Set by store_find_by_hash: where the row was read, and whether it may
	 * be remembered (settled, in a table whose changes are announced)
	 */
	Oid			relid;
	bool		settled;
} StoredToken;

/* A row to insert: the secret's hash, never the secret. */
typedef struct TokenRow
{
	const char *id;
	const uint8 *hash;
	const char *tenant_id;
	const char *user_id;
	text	   *description;
	Datum		permissions;	/* text[] */
	TimestampTz created_at;
	bool		has_expires_at;
	TimestampTz expires_at;
	const char *parent_id;		/* NULL for a token created with a JWT */
} TokenRow;

typedef struct TenantPolicy
{
	bool		has_max_lifetime;
	Interval	max_lifetime;	/* added to now() as PostgreSQL adds intervals */
	int			max_live_tokens;	/* 0: none */
} TenantPolicy;

typedef struct EventRow
{
	const char *tenant_id;
	const char *user_id;
	const char *token_id;
	const char *action;			/* create, rotate, revoke, delete */
	const char *reason;			/* why a token was revoked, or NULL */
	const char *actor;			/* jwt, api_token, token_value, sql */
	const char *actor_token_id;
	const char *related_token_id;
} EventRow;

extern bool token_is_live_at(const StoredToken *token, TimestampTz now);
extern bool store_find_by_hash(const uint8 hash[FYNN_TOKENS_HASH_LEN], StoredToken *out);
extern bool store_find_by_id(const char *id, StoredToken *out);
extern bool store_lock_for_child(const char *id, StoredToken *out);
extern void store_insert_token(const TokenRow *row);
extern void store_insert_event(const EventRow *event);
extern bool store_find_policy(const char *tenant_id, TenantPolicy *out);
extern bool store_has_v2_schema(void);

/* owner_sql.c */
typedef struct OwnerSql OwnerSql;
extern void owner_sql_begin(OwnerSql **state);
extern void owner_sql_end(OwnerSql *state);
extern int	owner_sql_exec(const char *sql, int nargs, const Oid *types,
						   const Datum *values, const char *nulls, bool latest_snapshot);

/* caller.c */
typedef struct Caller
{
	const CallerIdentity *identity;
	bool		by_api_token;	/* else by a JWT (or trusted SQL claims) */
	StoredToken token;			/* by_api_token: that token, live, as stored now */
} Caller;

extern bool caller_authenticate(Caller *caller, ApiProblem *problem);
extern bool caller_require(const Caller *caller, const char *permission, ApiProblem *problem);
extern const char *caller_actor(const Caller *caller);
extern bool token_no_longer_valid(ApiProblem *problem);

/* request.c */
typedef struct CreateRequest
{
	text	   *description;	/* NULL when absent or JSON null */
	bool		has_expires_at;
	TimestampTz expires_at;
	bool		has_permissions;
	int			npermissions;
	char	  **permissions;
} CreateRequest;

typedef struct PageRequest
{
	int			page;
	int			limit;
} PageRequest;

extern bool request_read_create_body(text *body, CreateRequest *out, ApiProblem *problem);
extern bool request_read_permissions_array(ArrayType *array, CreateRequest *out, ApiProblem *problem);
extern bool request_read_page(const char *page, const char *limit, PageRequest *out, ApiProblem *problem);
extern bool request_check_page(int page, int limit, ApiProblem *problem);
extern bool request_read_json_object(text *body, Jsonb **out, ApiProblem *problem);
extern bool request_string_member(Jsonb *object, const char *key, char **out, ApiProblem *problem);
extern bool request_rfc3339(const char *s, size_t len, TimestampTz *result);

/* validate.c */
extern bool validate_new_token(const Caller *caller, CreateRequest *request,
							   const StoredToken *parent, const TenantPolicy *policy,
							   TimestampTz now, int live_tokens, ApiProblem *problem);

/* policy.c */
extern void policy_for_tenant(const char *tenant_id, TenantPolicy *out);
extern int	policy_count_live_tokens(const char *tenant_id, const char *user_id, int limit);

/* events.c */
extern void events_record(const char *action, const char *reason, const StoredToken *token,
						  const Caller *caller, const char *related_token_id);

/* triggers.c: who is changing token rows through the extension right now */
typedef struct ChangeCause
{
	const char *reason;			/* e.g. "request", "self", "leak_report" */
	const char *actor;
	const char *actor_token_id;
	const char *related_token_id;
} ChangeCause;

extern void triggers_run_as_cause(const ChangeCause *cause, void (*fn) (void *), void *arg);

/* json_out.c */
extern void json_append_rfc3339(StringInfo buf, TimestampTz ts, bool whole_seconds);
extern text *json_created_token(const NewToken *token, const CreateRequest *request);
extern text *json_token_claims(const StoredToken *stored);
extern void json_append_token_item(StringInfo buf, const StoredToken *stored);
extern text *json_token_page(const StoredToken *items, int nitems, int64 total, const PageRequest *page);

/* operations.c: the contract, shared by the SQL and the HTTP functions */
typedef struct CreatedToken
{
	text	   *answer;			/* the create answer, with the secret */
	char		id[API_TOKEN_ID_LEN + 1];
} CreatedToken;

extern bool op_create(const Caller *caller, CreateRequest *request, CreatedToken *out, ApiProblem *problem);
extern bool op_list(const Caller *caller, const PageRequest *page, text **out, ApiProblem *problem);
extern bool op_get(const Caller *caller, const char *id, text **out, ApiProblem *problem);
extern bool op_revoke(const Caller *caller, const char *id, ApiProblem *problem);
extern bool op_revoke_current(const Caller *caller, ApiProblem *problem);
extern void op_revoke_by_hash(const uint8 hash[FYNN_TOKENS_HASH_LEN]);
extern bool op_rotate(const Caller *caller, const char *id, int64 grace_us, CreatedToken *out, ApiProblem *problem);
extern bool op_check_token_text(const char *token, size_t len, uint8 hash[FYNN_TOKENS_HASH_LEN], ApiProblem *problem);

/* verify.c */
extern text *verify_claims_for_hash(const uint8 hash[FYNN_TOKENS_HASH_LEN]);

/* verify_cache.c */
extern int	fynn_tokens_verify_cache_size;
extern int	fynn_tokens_verify_cache_max_age;	/* seconds */
extern text *verify_cache_lookup(const uint8 hash[FYNN_TOKENS_HASH_LEN], TimestampTz now);
extern void verify_cache_store(const uint8 hash[FYNN_TOKENS_HASH_LEN], const StoredToken *stored,
							   const text *claims, TimestampTz now);
extern void verify_cache_reset(void);

#endif							/* FYNN_TOKENS_H */
