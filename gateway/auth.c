/*
 * auth.c
 *		Bearer credentials: HS256 JWTs (libjwt verifies them) and API tokens.
 *
 * Neither credential is ever logged or sent to the database.  A JWT is
 * reduced to its verified claims, passed on as the very bytes that were
 * signed (never re-serialised: jansson's dump recurses, and a signed claim
 * nested 1,700 arrays deep once overflowed a thread's stack); the parsed
 * claims must nest at most AUTH_MAX_CLAIMS_DEPTH deep.  An API token is
 * checked for shape and checksum locally (a typo costs no database call)
 * and reduced to its SHA-256, which is what the database stores.
 */
#include "auth.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jwt.h>
#include <openssl/evp.h>

#include "api_token_format.h"
#include "log.h"

/* Frees what auth_check allocated; safe on a zeroed identity. */
void
auth_identity_free(auth_identity *id)
{
	if (id->claims_json)
	{
		memset(id->claims_json, 0, strlen(id->claims_json));
		free(id->claims_json);
	}
	json_decref(id->claims);
	id->claims_json = NULL;
	id->claims = NULL;
}

/*
 * Depth-first over arrays and objects with an explicit stack of at most
 * limit frames: no recursion on client data, whatever its shape.  Returns
 * the depth, or limit + 1 as soon as it is exceeded.
 */
int
auth_json_depth(json_t *value, int limit)
{
	struct frame
	{
		json_t	   *container;
		size_t		index;		/* arrays */
		void	   *iter;		/* objects */
	}			stack[AUTH_MAX_CLAIMS_DEPTH + 1];
	int			top = 0;
	int			deepest;

	if (!json_is_array(value) && !json_is_object(value))
		return 0;
	if (limit > AUTH_MAX_CLAIMS_DEPTH)
		limit = AUTH_MAX_CLAIMS_DEPTH;
	if (limit < 1)
		return limit + 1;
	stack[0].container = value;
	stack[0].index = 0;
	stack[0].iter = json_is_object(value) ? json_object_iter(value) : NULL;
	top = 1;
	deepest = 1;
	while (top > 0)
	{
		struct frame *f = &stack[top - 1];
		json_t	   *child = NULL;

		if (json_is_array(f->container))
		{
			if (f->index < json_array_size(f->container))
				child = json_array_get(f->container, f->index++);
		}
		else if (f->iter)
		{
			child = json_object_iter_value(f->iter);
			f->iter = json_object_iter_next(f->container, f->iter);
		}
		if (child == NULL)
		{
			top--;
			continue;
		}
		if (!json_is_array(child) && !json_is_object(child))
			continue;
		if (top + 1 > limit)
			return limit + 1;
		stack[top].container = child;
		stack[top].index = 0;
		stack[top].iter = json_is_object(child) ? json_object_iter(child) : NULL;
		top++;
		if (top > deepest)
			deepest = top;
	}
	return deepest;
}

/* base64url (no padding) to bytes, through OpenSSL's decoder; NUL-terminated, malloc'd. */
static char *
base64url_decode(const char *in, size_t len, size_t *outlen)
{
	size_t		padded = (len + 3) / 4 * 4;
	unsigned char *std = malloc(padded + 1);
	unsigned char *out;
	int			n;

	if (std == NULL)
		return NULL;
	for (size_t i = 0; i < len; i++)
		std[i] = in[i] == '-' ? '+' : in[i] == '_' ? '/' : (unsigned char) in[i];
	for (size_t i = len; i < padded; i++)
		std[i] = '=';
	out = malloc(padded / 4 * 3 + 1);
	n = out ? EVP_DecodeBlock(out, std, (int) padded) : -1;
	free(std);
	if (n < 0)
	{
		free(out);
		return NULL;
	}
	/* EVP_DecodeBlock counts padding as zero bytes: take them off again. */
	n -= (int) (padded - len);
	if (n < 0)
	{
		free(out);
		return NULL;
	}
	out[n] = '\0';
	*outlen = (size_t) n;
	return (char *) out;
}

/* One dot-separated segment of the compact JWT, decoded and parsed as a JSON object. */
static json_t *
decode_segment(const char *token, int index, char **text_out)
{
	const char *start = token;
	const char *end;
	size_t		len;
	char	   *text;
	json_t	   *parsed;

	for (int i = 0; i < index; i++)
	{
		start = strchr(start, '.');
		if (start == NULL)
			return NULL;
		start++;
	}
	end = strchr(start, '.');
	if (end == NULL)
		end = start + strlen(start);
	text = base64url_decode(start, (size_t) (end - start), &len);
	if (text == NULL)
		return NULL;
	parsed = json_loadb(text, len, 0, NULL);
	if (!json_is_object(parsed) || strlen(text) != len)
	{
		json_decref(parsed);
		free(text);
		return NULL;
	}
	if (text_out)
		*text_out = text;
	else
		free(text);
	return parsed;
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
 * PostgREST's 30 s leeway, iat not more than that in the future.  Returns
 * NULL when valid, else the 401 detail.
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
 * Verifies the signature (HS256 only: "none", or an asymmetric alg with our
 * secret as a "public key", must never pass), refuses a "crit" header (RFC
 * 7515 section 4.1.11: we understand no extension), bounds the claims'
 * depth, and checks time and audience.
 */
static int
check_jwt(const config *cfg, const char *token, auth_identity *id, gw_reply *reply)
{
	jwt_t	   *jwt = NULL;
	json_t	   *header = NULL;
	json_t	   *claims = NULL;
	char	   *claims_text = NULL;
	const char *problem = NULL;

	if (jwt_decode(&jwt, token, (const unsigned char *) cfg->jwt_secret,
				   (int) cfg->jwt_secret_len) != 0 || jwt == NULL ||
		jwt_get_alg(jwt) != JWT_ALG_HS256)
		problem = "Invalid JWT Token";
	else if ((header = decode_segment(token, 0, NULL)) == NULL ||
			 json_object_get(header, "crit") != NULL)
		problem = "Invalid JWT Token";
	else if ((claims = decode_segment(token, 1, &claims_text)) == NULL ||
			 auth_json_depth(claims, AUTH_MAX_CLAIMS_DEPTH) > AUTH_MAX_CLAIMS_DEPTH)
		problem = "Invalid JWT Token";
	else if ((problem = check_time_claims(claims)) != NULL)
		;
	else if (cfg->jwt_aud && !audience_matches(json_object_get(claims, "aud"), cfg->jwt_aud))
		problem = "JWT Token not in audience";

	if (jwt)
		jwt_free(jwt);
	json_decref(header);
	if (problem)
	{
		json_decref(claims);
		free(claims_text);
		log_debug("rejected JWT: %s", problem);
		errors_unauthorized(reply, true, problem);
		return -1;
	}
	id->kind = AUTH_JWT;
	id->claims = claims;
	id->claims_json = claims_text;
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
		mdlen != AUTH_HASH_LEN)
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
	id->kind = AUTH_NONE;
	if (p == NULL)
		return 0;
	while (*p == ' ' || *p == '\t')
		p++;
	if (strncasecmp(p, "Bearer", 6) != 0 || (p[6] != ' ' && p[6] != '\t'))
		return 0;				/* another scheme (Basic...) is no bearer credential at all */
	cred = p + 6;
	while (*cred == ' ' || *cred == '\t')
		cred++;
	len = strlen(cred);
	while (len > 0 && (cred[len - 1] == ' ' || cred[len - 1] == '\t'))
		len--;
	if (len == 0)
		return 0;

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

/* A claim as a canonical identity: a valid string as is, an integral number in plain decimal. */
static bool
read_identity(json_t *value, char out[IDENTITY_MAX_BYTES + 1])
{
	if (json_is_string(value))
	{
		size_t		len = json_string_length(value);

		if (identity_check_string(json_string_value(value), len) != IDENTITY_OK)
			return false;
		memcpy(out, json_string_value(value), len);
		out[len] = '\0';
		return true;
	}
	if (json_is_integer(value) || json_is_real(value))
	{
		char		text[64];
		size_t		len;
		double		d = json_number_value(value);

		if (json_is_integer(value))
			snprintf(text, sizeof(text), "%" JSON_INTEGER_FORMAT, json_integer_value(value));
		else if (d == floor(d) && fabs(d) <= 9007199254740992.0)	/* 2^53: exact in a double */
			snprintf(text, sizeof(text), "%.0f", d);
		else
			return false;
		return identity_canonical_number(text, strlen(text), out, &len) == IDENTITY_OK;
	}
	return false;
}

/* Appends a permission to a space-separated list (malloc'd, grows). */
static bool
append_permission(char **list, size_t *len, const char *perm, size_t plen)
{
	char	   *grown;

	if (plen == 0)
		return true;
	for (size_t i = 0; i < plen; i++)
		if ((unsigned char) perm[i] <= 0x20 || perm[i] == 0x7F)
			return true;		/* not a permission name a header can carry */
	grown = realloc(*list, *len + plen + 2);
	if (grown == NULL)
		return false;
	*list = grown;
	if (*len > 0)
		(*list)[(*len)++] = ' ';
	memcpy(*list + *len, perm, plen);
	*len += plen;
	(*list)[*len] = '\0';
	return true;
}

bool
auth_read_subject(const config *cfg, json_t *claims, auth_subject *out, const char **why)
{
	json_t	   *perms = json_object_get(claims, cfg->permissions_claim);
	json_t	   *token_id = json_object_get(claims, "token_id");
	size_t		len = 0;

	memset(out, 0, sizeof(*out));
	if (!read_identity(json_object_get(claims, cfg->user_claim), out->user))
		return (*why = "The credential names no valid user.", false);
	if (!read_identity(json_object_get(claims, cfg->tenant_claim), out->tenant))
		return (*why = "The credential names no valid tenant.", false);
	if (token_id)
	{
		if (!json_is_string(token_id) ||
			!api_token_id_is_well_formed(json_string_value(token_id), json_string_length(token_id)))
			return (*why = "The credential names no valid token.", false);
		memcpy(out->token_id, json_string_value(token_id), API_TOKEN_ID_LEN + 1);
	}
	out->permissions = strdup("");
	if (out->permissions == NULL)
		return (*why = "out of memory", false);
	if (perms == NULL)
		perms = json_object_get(claims, "scope");
	if (json_is_array(perms))
	{
		size_t		i;
		json_t	   *p;

		json_array_foreach(perms, i, p)
		{
			if (json_is_string(p) &&
				!append_permission(&out->permissions, &len, json_string_value(p), json_string_length(p)))
				return (*why = "out of memory", false);
		}
	}
	else if (json_is_string(perms))
	{
		const char *s = json_string_value(perms);
		const char *end = s + json_string_length(perms);

		while (s < end)
		{
			const char *space = memchr(s, ' ', (size_t) (end - s));
			const char *stop = space ? space : end;

			if (!append_permission(&out->permissions, &len, s, (size_t) (stop - s)))
				return (*why = "out of memory", false);
			s = stop + 1;
		}
	}
	return true;
}

void
auth_subject_free(auth_subject *subject)
{
	free(subject->permissions);
	subject->permissions = NULL;
}

char *
auth_mint_jwt(const config *cfg, json_t *claims, long long now, long long not_after,
			  long long *exp_out)
{
	json_t	   *minted = json_deep_copy(claims);
	long long	exp = now + cfg->auth_jwt_lifetime;
	char	   *grants = NULL;
	char	   *out = NULL;
	jwt_t	   *jwt = NULL;

	if (minted == NULL)
		return NULL;
	if (not_after > 0 && not_after < exp)
		exp = not_after;
	if (!json_is_string(json_object_get(minted, "role")))
		json_object_set_new(minted, "role", json_string(cfg->auth_role));
	/* An upstream that checks the audience (PGRST_JWT_AUD, PostgREST's jwt-aud) must accept it. */
	if (cfg->jwt_aud && json_object_get(minted, "aud") == NULL)
		json_object_set_new(minted, "aud", json_string(cfg->jwt_aud));
	json_object_set_new(minted, "iat", json_integer(now));
	json_object_set_new(minted, "exp", json_integer(exp));
	/* The claims are shallow (AUTH_MAX_CLAIMS_DEPTH, or the database's own): dumping them is bounded. */
	grants = json_dumps(minted, JSON_COMPACT);
	if (grants && jwt_new(&jwt) == 0 &&
		jwt_add_grants_json(jwt, grants) == 0 &&
		jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *) cfg->jwt_secret,
					(int) cfg->jwt_secret_len) == 0)
		out = jwt_encode_str(jwt);
	if (jwt)
		jwt_free(jwt);
	free(grants);
	json_decref(minted);
	*exp_out = exp;
	return out;
}
