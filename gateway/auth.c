/*
 * auth.c
 *		Bearer credentials: HS256 JWTs (libjwt) and API tokens.
 *
 * Neither credential is ever logged or sent to the database.  A JWT is
 * reduced to its verified claims; an API token is checked for shape and
 * checksum locally (a typo costs no database call) and then reduced to its
 * SHA-256, which is what the database stores and looks up.
 */
#include "auth.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <jwt.h>
#include <openssl/evp.h>

#include "api_token_format.h"
#include "log.h"

/* Frees what auth_check allocated; safe on a zeroed identity. */
void
auth_identity_free(auth_identity *id)
{
	free(id->claims_json);
	id->claims_json = NULL;
}

/* PostgREST accepts aud as a string or an array of strings; so do we. */
static bool
audience_matches(json_t *aud, const char *expected)
{
	size_t		i;
	json_t	   *v;

	if (json_is_string(aud))
		return strcmp(json_string_value(aud), expected) == 0;
	if (json_is_array(aud))
	{
		json_array_foreach(aud, i, v)
		{
			if (json_is_string(v) && strcmp(json_string_value(v), expected) == 0)
				return true;
		}
	}
	return false;
}

/*
 * The time claims, which libjwt 1.10 does not check: exp and nbf with
 * PostgREST's 30 s leeway, iat not in the future.  Returns NULL when valid,
 * else the 401 detail.
 */
static const char *
check_time_claims(json_t *claims)
{
	double		now = (double) time(NULL);
	json_t	   *exp = json_object_get(claims, "exp");
	json_t	   *nbf = json_object_get(claims, "nbf");
	json_t	   *iat = json_object_get(claims, "iat");

	if ((exp && !json_is_number(exp)) || (nbf && !json_is_number(nbf)) ||
		(iat && !json_is_number(iat)))
		return "Invalid JWT Token";
	if (exp && now > json_number_value(exp) + AUTH_CLOCK_LEEWAY)
		return "Expired JWT Token";
	if (nbf && now + AUTH_CLOCK_LEEWAY < json_number_value(nbf))
		return "JWT Token not yet valid";
	if (iat && now + AUTH_CLOCK_LEEWAY < json_number_value(iat))
		return "JWT Token issued in the future";
	return NULL;
}

/*
 * Verifies signature (HS256 only: "none" or an asymmetric alg with our
 * secret as a "public key" must never pass) and claims; on success hands
 * back the payload JSON for request.jwt.claims.
 */
static int
check_jwt(const config *cfg, const char *token, auth_identity *id, gw_reply *reply)
{
	jwt_t	   *jwt = NULL;
	char	   *grants = NULL;
	json_t	   *claims = NULL;
	const char *problem = NULL;

	if (jwt_decode(&jwt, token, (const unsigned char *) cfg->jwt_secret,
				   (int) cfg->jwt_secret_len) != 0 || jwt == NULL)
		problem = "Invalid JWT Token";
	else if (jwt_get_alg(jwt) != JWT_ALG_HS256)
		problem = "Invalid JWT Token";
	else if ((grants = jwt_get_grants_json(jwt, NULL)) == NULL)
		problem = "Invalid JWT Token";
	else if ((claims = json_loads(grants, 0, NULL)) == NULL || !json_is_object(claims))
		problem = "Invalid JWT Token";
	else if ((problem = check_time_claims(claims)) != NULL)
		;
	else if (cfg->jwt_aud && !audience_matches(json_object_get(claims, "aud"), cfg->jwt_aud))
		problem = "JWT Token not in audience";

	json_decref(claims);
	if (jwt)
		jwt_free(jwt);
	if (problem)
	{
		free(grants);
		log_debug("rejected JWT: %s", problem);
		errors_unauthorized(reply, true, problem);
		return -1;
	}
	id->kind = AUTH_JWT;
	id->claims_json = grants;
	return 0;
}

/* Hashes the whole token so only its SHA-256 ever reaches the database. */
static int
check_api_token(const char *token, size_t len, auth_identity *id, gw_reply *reply)
{
	unsigned int mdlen = 0;

	if (!api_token_is_well_formed(token, len))
	{
		log_debug("rejected API token: bad shape or checksum");
		errors_unauthorized(reply, true, "Invalid API token");
		return -1;
	}
	if (!EVP_Digest(token, len, id->token_hash, &mdlen, EVP_sha256(), NULL) ||
		mdlen != DB_TOKEN_HASH_LEN)
	{
		errors_internal(reply, "SHA-256 failed");
		return -1;
	}
	id->kind = AUTH_API_TOKEN;
	return 0;
}

/* Splits "Bearer <credential>" (scheme case-insensitive, RFC 7235) and dispatches on the credential's prefix. */
int
auth_check(const config *cfg, const char *authorization, auth_identity *id, gw_reply *reply)
{
	const char *p = authorization;
	const char *cred;
	size_t		len;
	char	   *copy;
	int			rc;

	memset(id, 0, sizeof(*id));
	if (p == NULL)
	{
		errors_unauthorized(reply, false, "JWT Token not found");
		return -1;
	}
	while (*p == ' ' || *p == '\t')
		p++;
	if (strncasecmp(p, "Bearer", 6) != 0 || (p[6] != ' ' && p[6] != '\t'))
	{
		/* Another scheme (Basic...) is no bearer credential at all. */
		errors_unauthorized(reply, false, "JWT Token not found");
		return -1;
	}
	cred = p + 6;
	while (*cred == ' ' || *cred == '\t')
		cred++;
	len = strlen(cred);
	while (len > 0 && (cred[len - 1] == ' ' || cred[len - 1] == '\t'))
		len--;
	if (len == 0)
	{
		errors_unauthorized(reply, false, "JWT Token not found");
		return -1;
	}

	if (len >= API_TOKEN_PREFIX_LEN && memcmp(cred, API_TOKEN_PREFIX, API_TOKEN_PREFIX_LEN) == 0)
		return check_api_token(cred, len, id, reply);

	/* libjwt wants a NUL-terminated token without the trailing blanks. */
	copy = strndup(cred, len);
	if (copy == NULL)
	{
		errors_internal(reply, "out of memory");
		return -1;
	}
	rc = check_jwt(cfg, copy, id, reply);
	/* The copy is a credential: do not leave it in freed memory. */
	memset(copy, 0, len);
	free(copy);
	return rc;
}
