/*
 * fuzz_gateway_auth.c
 *		libFuzzer harness for the gateway's credential readers (gateway/auth.c):
 *		the Authorization header, a JWT's claims, and forward-auth's subject.
 *
 * The first byte picks the mode:
 *	even: the rest is an Authorization header value: auth_check never
 *	  crashes; it accepts no JWT (nothing here is signed with the secret),
 *	  and an API token only when it is well-formed;
 *	odd: the rest is a claims document: when jansson reads an object,
 *	  auth_json_depth agrees with a recursive count (bounded here), and
 *	  auth_read_subject never crashes; a subject it accepts has identities
 *	  of 1..255 bytes with no control byte and no outer space, and
 *	  permissions a header can carry.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api_token_format.h"
#include "auth.h"
#include "log.h"

#define FAIL(...) \
	do { \
		fprintf(stderr, "fuzz_gateway_auth: " __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} while (0)

static int
depth(json_t *v, int level)
{
	int			deepest = level;
	size_t		i;
	const char *key;
	json_t	   *child;

	if (level > 40)
		return level;
	if (json_is_array(v))
		json_array_foreach(v, i, child)
		{
			int			d = depth(child, level + 1);

			if (d > deepest)
				deepest = d;
		}
	else if (json_is_object(v))
		json_object_foreach(v, key, child)
		{
			int			d = depth(child, level + 1);

			if (d > deepest)
				deepest = d;
		}
	else
		return level - 1;
	return deepest;
}

static void
check_identity(const char *s, const char *what)
{
	size_t		len = strlen(s);

	if (len == 0 || len > IDENTITY_MAX_BYTES || s[0] == ' ' || s[len - 1] == ' ')
		FAIL("%s not canonical", what);
	for (size_t i = 0; i < len; i++)
		if ((unsigned char) s[i] < 0x20 || s[i] == 0x7F)
			FAIL("%s holds a control byte", what);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static config cfg;
	char	   *text;

	if (size == 0)
		return 0;
	if (cfg.jwt_secret == NULL)
	{
		log_set_level(LOG_ERROR);
		cfg.jwt_secret = "fuzzing-secret-fuzzing-secret-fuzzing-secret";
		cfg.jwt_secret_len = strlen(cfg.jwt_secret);
		cfg.user_claim = "sub";
		cfg.tenant_claim = "tenant_id";
		cfg.permissions_claim = "permissions";
		cfg.auth_role = "fynn_api_user";
		cfg.auth_jwt_lifetime = 60;
	}
	text = malloc(size);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	if ((data[0] & 1) == 0)
	{
		auth_identity id;
		gw_reply	reply = {0};

		if (auth_check(&cfg, text, &id, &reply) == 0)
		{
			if (id.kind == AUTH_JWT)
				FAIL("accepted a JWT nobody signed");
			if (id.kind == AUTH_API_TOKEN)
			{
				const char *cred = strstr(text, "api_");

				if (cred == NULL || strlen(cred) < API_TOKEN_LEN ||
					!api_token_is_well_formed(cred, API_TOKEN_LEN))
					FAIL("accepted an API token that is not well-formed");
			}
		}
		else if (reply.status != 401 && reply.status != 500)
			FAIL("refused with status %u", reply.status);
		auth_identity_free(&id);
		reply_free(&reply);
	}
	else
	{
		json_t	   *claims = json_loadb(text, size - 1, 0, NULL);

		if (json_is_object(claims))
		{
			int			ours = auth_json_depth(claims, AUTH_MAX_CLAIMS_DEPTH);
			int			theirs = depth(claims, 1);
			auth_subject subject;
			const char *why;

			if (theirs <= AUTH_MAX_CLAIMS_DEPTH ? ours != theirs : ours <= AUTH_MAX_CLAIMS_DEPTH)
				FAIL("depth %d, but counted %d", theirs, ours);
			if (auth_read_subject(&cfg, claims, &subject, &why))
			{
				check_identity(subject.user, "user");
				check_identity(subject.tenant, "tenant");
				for (const char *p = subject.permissions; *p; p++)
					if ((unsigned char) *p < 0x20 || *p == 0x7F)
						FAIL("permissions hold a control byte");
			}
			auth_subject_free(&subject);
		}
		json_decref(claims);
	}
	free(text);
	return 0;
}
