/*
 * fynn_tokens.h
 *		Declarations shared by the extension's C files, one file per concern:
 *
 *	claims.c	who is calling: identity and permissions from request.jwt.claims
 *	token.c		secrets: random id and token, SHA-256
 *	request.c	input: the JSON body and its RFC 3339 dates
 *	validate.c	the length and date rules, reported as violations
 *	store.c		the api_token table: insert and lookup
 *	json_out.c	the JSON answers
 *	create.c	create_user_api_token, the SQL entry points
 *	verify.c	verify_api_token, the SQL entry points
 */
#ifndef FYNN_TOKENS_H
#define FYNN_TOKENS_H

#include "postgres.h"

#include "datatype/timestamp.h"
#include "lib/stringinfo.h"

#include "api_token_format.h"

#define FYNN_TOKENS_SCHEMA			"fynn_tokens"
#define FYNN_TOKENS_WRITE_PERMISSION	"user:api-token:write"
#define FYNN_TOKENS_HASH_LEN		32	/* SHA-256 */
#define FYNN_TOKENS_DESCRIPTION_MIN	3
#define FYNN_TOKENS_DESCRIPTION_MAX	255

/* GUCs naming the claims, defined in fynn_tokens.c. */
extern char *fynn_tokens_user_claim;
extern char *fynn_tokens_tenant_claim;
extern char *fynn_tokens_permissions_claim;

/* claims.c */
typedef struct CallerIdentity
{
	char	   *user_id;
	char	   *tenant_id;
	int			npermissions;
	char	  **permissions;
	Datum		permissions_array;	/* the same, as text[] for the table */
	bool		can_create_token;
} CallerIdentity;

extern const CallerIdentity *claims_identity_or_null(void);
extern const CallerIdentity *claims_require_identity(void);

/* token.c */
typedef struct NewToken
{
	char		id[API_TOKEN_ID_LEN + 1];
	char		token[API_TOKEN_LEN + 1];
	uint8		hash[FYNN_TOKENS_HASH_LEN];
} NewToken;

extern void token_generate(NewToken *out);
extern void token_sha256(const char *data, size_t len, uint8 out[FYNN_TOKENS_HASH_LEN]);

/* request.c */
typedef struct TokenRequest
{
	text	   *description;	/* NULL when absent or JSON null */
	bool		has_expires_at;
	TimestampTz expires_at;
} TokenRequest;

extern void request_parse_json(text *body, TokenRequest *out);
extern bool rfc3339_parse(const char *s, TimestampTz *result);

/* validate.c */
extern void validate_token_request(const TokenRequest *request);

/* store.c */
typedef struct StoredToken
{
	char	   *id;
	char	   *user_id;
	char	   *tenant_id;
	Datum		permissions;	/* text[] */
} StoredToken;

extern void store_insert_token(const NewToken *token, const CallerIdentity *caller,
							   const TokenRequest *request);
extern bool store_find_valid_token(const uint8 hash[FYNN_TOKENS_HASH_LEN],
								   StoredToken *out);

/* json_out.c */
extern void json_append_rfc3339(StringInfo buf, TimestampTz ts);
extern text *json_created_token(const NewToken *token, const TokenRequest *request);
extern text *json_token_claims(const StoredToken *stored);

#endif							/* FYNN_TOKENS_H */
