/*
 * config.c
 *		Table-driven configuration from the environment.
 *
 * Each setting is one row: variable name, default, parser and where the
 * result goes.  Adding a setting is adding a row; every setting gets the
 * same "NAME: why it is wrong" message and exit path for free.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef bool (*config_parser) (const char *value, void *dest, char *why, size_t whylen);

typedef struct config_entry
{
	const char *name;			/* environment variable */
	const char *default_value;	/* NULL: no default */
	bool		required;		/* unset (or empty) is an error */
	config_parser parse;
	size_t		offset;			/* of the destination field in struct config */
} config_entry;

/* Strict base-10 integer in [min, max]: atoi would turn "80a" into 80. */
static bool
parse_int_range(const char *value, long min, long max, int *out)
{
	char	   *end;
	long		v;

	errno = 0;
	v = strtol(value, &end, 10);
	if (errno != 0 || end == value || *end != '\0' || v < min || v > max)
		return false;
	*out = (int) v;
	return true;
}

/* Strings are copied so the config outlives any later setenv. */
static bool
parse_string(const char *value, void *dest, char *why, size_t whylen)
{
	char	  **out = dest;

	(void) why;
	(void) whylen;
	*out = strdup(value);
	return *out != NULL;
}

/* The secret's length matters for HMAC strength, so it is checked here. */
static bool
parse_secret(const char *value, void *dest, char *why, size_t whylen)
{
	if (strlen(value) < CONFIG_MIN_SECRET_LEN)
	{
		snprintf(why, whylen, "must be at least %d characters long (got %zu)",
				 CONFIG_MIN_SECRET_LEN, strlen(value));
		return false;
	}
	return parse_string(value, dest, why, whylen);
}

/* A port outside 1..65535 would only fail later, obscurely, at bind time. */
static bool
parse_port(const char *value, void *dest, char *why, size_t whylen)
{
	if (!parse_int_range(value, 1, 65535, dest))
	{
		snprintf(why, whylen, "\"%s\" is not a port number (1-65535)", value);
		return false;
	}
	return true;
}

/* A pool of zero connections could never serve a request. */
static bool
parse_pool(const char *value, void *dest, char *why, size_t whylen)
{
	if (!parse_int_range(value, 1, CONFIG_MAX_POOL, dest))
	{
		snprintf(why, whylen, "\"%s\" is not a pool size (1-%d)", value, CONFIG_MAX_POOL);
		return false;
	}
	return true;
}

/* Shares the level names with log.c so the message and the parser agree. */
static bool
parse_log_level(const char *value, void *dest, char *why, size_t whylen)
{
	if (!log_parse_level(value, dest))
	{
		snprintf(why, whylen, "\"%s\" is not one of error, warn, info, debug", value);
		return false;
	}
	return true;
}

static const config_entry config_table[] = {
	{"PGRST_DB_URI", NULL, true, parse_string, offsetof(config, db_uri)},
	{"PGRST_JWT_SECRET", NULL, true, parse_secret, offsetof(config, jwt_secret)},
	{"PGRST_JWT_AUD", NULL, false, parse_string, offsetof(config, jwt_aud)},
	{"PGRST_SERVER_HOST", "127.0.0.1", false, parse_string, offsetof(config, server_host)},
	{"PGRST_SERVER_PORT", "3000", false, parse_port, offsetof(config, server_port)},
	{"PGRST_DB_POOL", "10", false, parse_pool, offsetof(config, db_pool)},
	{"FYNN_LOG_LEVEL", "info", false, parse_log_level, offsetof(config, log_level)},
};

/* Walks the table once; the first bad row stops start-up with its reason. */
int
config_load(config *cfg, char *err, size_t errlen)
{
	memset(cfg, 0, sizeof(*cfg));

	for (size_t i = 0; i < sizeof(config_table) / sizeof(config_table[0]); i++)
	{
		const config_entry *e = &config_table[i];
		const char *value = getenv(e->name);
		char		why[256] = "";

		if (value == NULL || value[0] == '\0')
		{
			if (e->required)
			{
				snprintf(err, errlen, "%s is not set; it is required", e->name);
				config_free(cfg);
				return -1;
			}
			value = e->default_value;
			if (value == NULL)
				continue;
		}
		if (!e->parse(value, (char *) cfg + e->offset, why, sizeof(why)))
		{
			snprintf(err, errlen, "%s: %s", e->name, why[0] ? why : "out of memory");
			config_free(cfg);
			return -1;
		}
	}
	cfg->jwt_secret_len = strlen(cfg->jwt_secret);
	return 0;
}

/* Frees the copied strings; the secret is wiped first so it leaves no trace in freed memory. */
void
config_free(config *cfg)
{
	if (cfg->jwt_secret)
	{
		volatile char *p = cfg->jwt_secret;

		while (*p)
			*p++ = '\0';
	}
	free(cfg->db_uri);
	free(cfg->jwt_secret);
	free(cfg->jwt_aud);
	free(cfg->server_host);
	memset(cfg, 0, sizeof(*cfg));
}
