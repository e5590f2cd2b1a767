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
	json_t	   *parsed;

	/*
	 * JSON text never holds a raw NUL byte, yet jansson takes one after a
	 * value ({"token":true<NUL>}), and the body then travels as a C string,
	 * cut there (found by fuzz_gateway_body).
	 */
	if (body != NULL && memchr(body, '\0', len) != NULL)
		return BODY_NOT_JSON;
	parsed = json_loadb(body ? body : "", len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &error);
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

/*
 * Whether the JSON text holds a \u0000 escape in any string (key or value).
 * jansson keeps such strings (JSON_ALLOW_NUL); jsonb cannot, and the
 * contract answers the whole body with 400 "Syntax error".  A linear scan
 * of text already known to be JSON: no recursion on client data.
 */
static bool
holds_nul_escape(const char *text, size_t len)
{
	bool		in_string = false;

	for (size_t i = 0; i < len; i++)
	{
		if (!in_string)
			in_string = (text[i] == '"');
		else if (text[i] == '"')
			in_string = false;
		else if (text[i] == '\\' && i + 1 < len)
		{
			if (text[i + 1] == 'u' && i + 5 < len && memcmp(text + i + 2, "0000", 4) == 0)
				return true;
			i++;				/* the escaped character, a backslash or quote included */
		}
	}
	return false;
}

/* 64 lower-case hex digits: what the function reads as token_sha256, and no secret. */
static bool
is_sha256_hex(json_t *value)
{
	const char *s = json_string_value(value);

	return json_string_length(value) == 64 && strspn(s, "0123456789abcdef") == 64;
}

/*
 * The value of a member with the client's bytes taken out but its JSON type
 * kept, so the function gives the same 400 ("... must be "string",
 * "array" given."): numbers and booleans as they are, a string as "", an
 * array or object empty.  New reference, or NULL when out of memory.
 */
static json_t *
same_type_without_secret(json_t *value)
{
	if (json_is_string(value))
		return json_string("");
	if (json_is_array(value))
		return json_array();
	if (json_is_object(value))
		return json_object();
	return json_incref(value);
}

/* {"<key>": value} as text, stealing value; NULL when out of memory. */
static char *
one_member(const char *key, json_t *value)
{
	json_t	   *obj = json_object();
	char	   *out = NULL;

	if (obj && value && json_object_set_new(obj, key, value) == 0)
		out = json_dumps(obj, JSON_COMPACT);
	else
		json_decref(value);
	json_decref(obj);
	return out;
}

char *
body_leak_report(const char *body, size_t len)
{
	json_t	   *parsed = json_loadb(body ? body : "", len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	json_t	   *sha;
	json_t	   *token;
	char	   *out;

	/* Unreadable for jansson (an out-of-range number): it may hide a token; send none of it. */
	if (parsed == NULL)
		return strdup("{}");
	if (holds_nul_escape(body, len))
		out = strdup("{\"\":\"\\u0000\"}");
	else if (!json_is_object(parsed))
		out = strdup("[]");		/* "The input data is misformatted." */
	else if ((sha = json_object_get(parsed, "token_sha256")) != NULL && !json_is_null(sha))
	{
		/* The function reads token_sha256 first and then never looks at token. */
		if (json_is_string(sha) && is_sha256_hex(sha))
			out = one_member("token_sha256", json_incref(sha));
		else
			out = one_member("token_sha256", same_type_without_secret(sha));
	}
	else if ((token = json_object_get(parsed, "token")) == NULL || json_is_null(token))
		out = strdup("{}");		/* "The \"token\" attribute is required." */
	else if (!json_is_string(token))
		out = one_member("token", same_type_without_secret(token));
	else if (api_token_is_well_formed(json_string_value(token), json_string_length(token)))
	{
		char		hex[65];

		out = NULL;
		if (sha256_hex(json_string_value(token), json_string_length(token), hex))
			out = one_member("token_sha256", json_string(hex));
	}
	else
		out = strdup("{\"token\":\"\"}");	/* malformed: the same 400, and no near-miss of a real token */
	json_decref(parsed);
	return out;
}
