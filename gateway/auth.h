/*
 * auth.h
 *		Turns an Authorization header into an identity the database trusts:
 *		verified JWT claims, or the SHA-256 of a well-formed API token.
 */
#ifndef FYNN_GATEWAY_AUTH_H
#define FYNN_GATEWAY_AUTH_H

#include "config.h"
#include "db.h"
#include "errors.h"

/* JWT exp/nbf/iat tolerance in seconds, as PostgREST allows for clock skew. */
#define AUTH_CLOCK_LEEWAY	30

typedef enum auth_kind
{
	AUTH_JWT,
	AUTH_API_TOKEN
} auth_kind;

typedef struct auth_identity
{
	auth_kind	kind;
	char	   *claims_json;	/* AUTH_JWT: the verified payload (malloc'd) */
	unsigned char token_hash[DB_TOKEN_HASH_LEN];	/* AUTH_API_TOKEN */
} auth_identity;

/*
 * Checks the header without the database.  Returns 0 with id filled in, or
 * -1 with a 401 reply.  An API token's existence is checked later, in the
 * request's transaction.
 */
extern int	auth_check(const config *cfg, const char *authorization,
					   auth_identity *id, gw_reply *reply);
extern void auth_identity_free(auth_identity *id);

#endif							/* FYNN_GATEWAY_AUTH_H */
