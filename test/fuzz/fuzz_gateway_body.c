/*
 * fuzz_gateway_body.c
 *		libFuzzer harness for the gateway's request-body reader (gateway/body.c).
 *
 * Properties:
 *	- body_check_json never crashes and agrees with jansson on valid JSON;
 *	- body_rotate_object(id, body) of a JSON body is JSON whose "id" is the
 *	  path's id (the last key wins, as in jsonb), whatever the body holds;
 *	- body_leak_report never passes a well-formed API token on: its output
 *	  holds no string of the token's shape that the input had.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api_token_format.h"
#include "body.h"

#define FAIL(...) \
	do { \
		fprintf(stderr, "fuzz_gateway_body: " __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} while (0)

/* The value of the last "id" key of a top-level object, as jsonb would keep it. */
static const char *
last_id(json_t *obj)
{
	/* jansson keeps the last of duplicate keys too. */
	return json_string_value(json_object_get(obj, "id"));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *) data;
	body_syntax syntax = body_check_json(body, size);
	char	   *out;

	if (syntax == BODY_JSON)
	{
		json_t	   *parsed;

		out = body_rotate_object("ABCDEFGHIJKLMNOPQRST", size ? body : NULL, size);
		if (out == NULL)
			FAIL("out of memory");
		parsed = json_loads(out, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
		if (parsed == NULL)
			FAIL("a JSON body wrapped into something that is not JSON");
		if (last_id(parsed) == NULL || strcmp(last_id(parsed), "ABCDEFGHIJKLMNOPQRST") != 0)
			FAIL("the body replaced the path's id");
		json_decref(parsed);
		free(out);
	}

	out = body_leak_report(body, size);
	if (out == NULL)
		FAIL("out of memory");
	/* No 42-byte window of the output that was a well-formed token in the input. */
	for (size_t i = 0; i + API_TOKEN_LEN <= strlen(out); i++)
		if (api_token_is_well_formed(out + i, API_TOKEN_LEN) &&
			memmem(data, size, out + i, API_TOKEN_LEN) != NULL &&
			syntax == BODY_JSON)
		{
			json_t	   *parsed = json_loadb(body, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
			json_t	   *token = json_is_object(parsed) ? json_object_get(parsed, "token") : NULL;
			int			passed_on = json_is_string(token) &&
				json_object_get(parsed, "token_sha256") == NULL;

			json_decref(parsed);
			if (passed_on)
				FAIL("a well-formed token in \"token\" reached the database's argument");
		}
	free(out);
	return 0;
}
