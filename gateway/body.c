/*
 * body.c
 *		Request bodies (see the header).
 */
#include "body.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "api_token_format.h"

body_syntax
body_check_json(const char *body, size_t len)
{
	json_error_t error;
	json_t	   *parsed = json_loadb(body ? body : "", len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &error);

	if (parsed)
	{
		json_decref(parsed);
		return BODY_JSON;
	}
	/* 1e400 or a 30-digit integer is valid JSON that jansson cannot hold. */
	return json_error_code(&error) == json_error_numeric_overflow ? BODY_UNDECIDED : BODY_NOT_JSON;
}

/* A JSON string literal of s (jansson escapes it), malloc'd. */
static char *
json_quoted(const char *s)
{
	json_t	   *str = json_string(s);
	char	   *out = str ? json_dumps(str, JSON_ENCODE_ANY) : NULL;

	json_decref(str);
	return out;
}

char *
body_id_object(const char *id)
{
	char	   *quoted = json_quoted(id);
	char	   *out = NULL;
	size_t		len;

	if (quoted == NULL)
		return NULL;
	len = strlen(quoted) + sizeof("{\"id\":}");
	out = malloc(len);
	if (out)
		snprintf(out, len, "{\"id\":%s}", quoted);
	free(quoted);
	return out;
}

char *
body_rotate_object(const char *id, const char *body, size_t body_len)
{
	char	   *quoted = json_quoted(id);
	char	   *out;
	size_t		len;

	if (quoted == NULL)
		return NULL;
	if (body == NULL || body_len == 0)
	{
		body = "null";
		body_len = 4;
	}
	len = sizeof("{\"request\":,\"id\":}") + body_len + strlen(quoted);
	out = malloc(len);
	if (out)
		snprintf(out, len, "{\"request\":%.*s,\"id\":%s}", (int) body_len, body, quoted);
	free(quoted);
	return out;
}

/* Lower-case hex of SHA-256, as fynn_api.revoke_leaked_api_token reads token_sha256. */
static bool
sha256_hex(const char *data, size_t len, char out[65])
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;

	if (!EVP_Digest(data, len, digest, &dlen, EVP_sha256(), NULL) || dlen != 32)
		return false;
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", digest[i]);
	return true;
}

char *
body_leak_report(const char *body, size_t len)
{
	json_t	   *parsed = json_loadb(body ? body : "", len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);

	/* Unreadable for jansson (an out-of-range number): it may hide a token; send none of it. */
	if (parsed == NULL)
		return strdup("{}");
	json_t	   *token = json_is_object(parsed) ? json_object_get(parsed, "token") : NULL;
	char	   *out;

	if (!json_is_string(token) || json_object_get(parsed, "token_sha256") != NULL)
	{
		json_decref(parsed);
		out = malloc(len + 1);
		if (out)
		{
			memcpy(out, body ? body : "", len);
			out[len] = '\0';
		}
		return out;
	}
	if (api_token_is_well_formed(json_string_value(token), json_string_length(token)))
	{
		char		hex[65];

		out = NULL;
		if (sha256_hex(json_string_value(token), json_string_length(token), hex))
		{
			size_t		n = sizeof("{\"token_sha256\":\"\"}") + 64;

			out = malloc(n);
			if (out)
				snprintf(out, n, "{\"token_sha256\":\"%s\"}", hex);
		}
	}
	else
		out = strdup("{\"token\":\"\"}");
	json_decref(parsed);
	return out;
}
