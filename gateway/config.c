/*
 * config.c
 *		Table-driven configuration from the environment.
 *
 * Each setting is one row: variable name, default, parser and where the
 * result goes.  Adding a setting is adding a row; every setting gets the
 * same "NAME: why it is wrong" message and exit path for free.
 */
#include "config.h"

#include <ctype.h>
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

/* A number of seconds in [min, max], for timeouts and lifetimes. */
static bool
parse_seconds(const char *value, void *dest, char *why, size_t whylen, long min, long max)
{
	if (!parse_int_range(value, min, max, dest))
	{
		snprintf(why, whylen, "\"%s\" is not a number of seconds from %ld to %ld", value, min, max);
		return false;
	}
	return true;
}

/* FYNN_DB_TIMEOUT: 1 s to 10 minutes. */
static bool
parse_db_timeout(const char *value, void *dest, char *why, size_t whylen)
{
	return parse_seconds(value, dest, why, whylen, 1, 600);
}

/* FYNN_AUTH_JWT_LIFETIME: a minted JWT is a bearer credential, so it is short-lived by construction. */
static bool
parse_auth_jwt_lifetime(const char *value, void *dest, char *why, size_t whylen)
{
	return parse_seconds(value, dest, why, whylen, 1, CONFIG_MAX_AUTH_JWT_LIFETIME);
}

/* FYNN_CACHE_SIZE: 0 turns the cache off. */
static bool
parse_cache_size(const char *value, void *dest, char *why, size_t whylen)
{
	if (!parse_int_range(value, 0, 10000000, dest))
	{
		snprintf(why, whylen, "\"%s\" is not a number of entries (0-10000000)", value);
		return false;
	}
	return true;
}

/* FYNN_CACHE_MAX_AGE: the bound on any staleness nothing else foresaw. */
static bool
parse_cache_max_age(const char *value, void *dest, char *why, size_t whylen)
{
	return parse_seconds(value, dest, why, whylen, 1, 3600);
}

/* FYNN_MAX_CONNECTIONS: each client connection is a thread. */
static bool
parse_max_connections(const char *value, void *dest, char *why, size_t whylen)
{
	if (!parse_int_range(value, 1, 100000, dest))
	{
		snprintf(why, whylen, "\"%s\" is not a number of connections (1-100000)", value);
		return false;
	}
	return true;
}

/* FYNN_MAX_CONNECTIONS_PER_IP: 0 for none (behind a proxy every client shares its address). */
static bool
parse_max_connections_per_ip(const char *value, void *dest, char *why, size_t whylen)
{
	if (!parse_int_range(value, 0, 100000, dest))
	{
		snprintf(why, whylen, "\"%s\" is not a number of connections (0-100000)", value);
		return false;
	}
	return true;
}

/* FYNN_REQUEST_HEAD_TIMEOUT and FYNN_REQUEST_READ_TIMEOUT. */
static bool
parse_request_timeout(const char *value, void *dest, char *why, size_t whylen)
{
	return parse_seconds(value, dest, why, whylen, 1, 3600);
}

/* FYNN_REQUEST_HEADERS: comma-separated header names, stored lower-case with commas around each. */
static bool
parse_header_list(const char *value, void *dest, char *why, size_t whylen)
{
	char	  **out = dest;
	size_t		len = strlen(value);
	char	   *list = malloc(len + 3);
	size_t		n = 0;

	if (list == NULL)
		return false;
	list[n++] = ',';
	for (size_t i = 0; i < len; i++)
	{
		char		c = value[i];

		if (c == ' ' || c == '\t')
			continue;
		if (!(isalnum((unsigned char) c) || c == '-' || c == '_' || c == ','))
		{
			snprintf(why, whylen, "\"%s\" is not a comma-separated list of header names", value);
			free(list);
			return false;
		}
		list[n++] = (char) tolower((unsigned char) c);
	}
	list[n++] = ',';
	list[n] = '\0';
	*out = list;
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

/*
 * The headers passed to the database as request.headers: nothing that can
 * carry a credential (Authorization, Cookie, X-Api-Key...), since bind
 * parameters reach the server log with log_statement = all.
 */
#define DEFAULT_REQUEST_HEADERS \
	"accept,accept-language,content-length,content-type,host,origin,referer,user-agent," \
	"x-forwarded-for,x-forwarded-host,x-forwarded-proto,x-real-ip,x-request-id,traceparent,tracestate"

static const config_entry config_table[] = {
	{"PGRST_DB_URI", NULL, true, parse_string, offsetof(config, db_uri)},
	{"PGRST_JWT_SECRET", NULL, true, parse_secret, offsetof(config, jwt_secret)},
	{"PGRST_JWT_AUD", NULL, false, parse_string, offsetof(config, jwt_aud)},
	{"PGRST_SERVER_HOST", "127.0.0.1", false, parse_string, offsetof(config, server_host)},
	{"PGRST_SERVER_PORT", "3000", false, parse_port, offsetof(config, server_port)},
	{"PGRST_ADMIN_SERVER_PORT", NULL, false, parse_port, offsetof(config, admin_port)},
	{"PGRST_DB_POOL", "10", false, parse_pool, offsetof(config, db_pool)},
	{"FYNN_DB_TIMEOUT", "10", false, parse_db_timeout, offsetof(config, db_timeout)},
	{"FYNN_LOG_LEVEL", "info", false, parse_log_level, offsetof(config, log_level)},
	{"FYNN_AUTH_JWT_LIFETIME", "60", false, parse_auth_jwt_lifetime, offsetof(config, auth_jwt_lifetime)},
	{"FYNN_AUTH_ROLE", "fynn_api_user", false, parse_string, offsetof(config, auth_role)},
	{"FYNN_CACHE_SIZE", "10000", false, parse_cache_size, offsetof(config, cache_size)},
	{"FYNN_CACHE_MAX_AGE", "60", false, parse_cache_max_age, offsetof(config, cache_max_age)},
	{"FYNN_MAX_CONNECTIONS", "1000", false, parse_max_connections, offsetof(config, max_connections)},
	{"FYNN_MAX_CONNECTIONS_PER_IP", "64", false, parse_max_connections_per_ip, offsetof(config, max_connections_per_ip)},
	{"FYNN_REQUEST_HEAD_TIMEOUT", "10", false, parse_request_timeout, offsetof(config, head_timeout)},
	{"FYNN_REQUEST_READ_TIMEOUT", "30", false, parse_request_timeout, offsetof(config, read_timeout)},
	{"FYNN_REQUEST_HEADERS", DEFAULT_REQUEST_HEADERS, false, parse_header_list, offsetof(config, request_headers)},
	{"FYNN_USER_CLAIM", "sub", false, parse_string, offsetof(config, user_claim)},
	{"FYNN_TENANT_CLAIM", "tenant_id", false, parse_string, offsetof(config, tenant_claim)},
	{"FYNN_PERMISSIONS_CLAIM", "permissions", false, parse_string, offsetof(config, permissions_claim)},
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
	if (cfg->read_timeout < cfg->head_timeout)
	{
		snprintf(err, errlen, "FYNN_REQUEST_READ_TIMEOUT (%d) must not be shorter than FYNN_REQUEST_HEAD_TIMEOUT (%d)",
				 cfg->read_timeout, cfg->head_timeout);
		config_free(cfg);
		return -1;
	}
	return 0;
}

/* The list is stored as ",a,b," so a lookup is one strstr of ",name,". */
int
config_header_allowed(const config *cfg, const char *name)
{
	char		needle[130];
	int			n = snprintf(needle, sizeof(needle), ",%s,", name);

	return n > 0 && (size_t) n < sizeof(needle) && strstr(cfg->request_headers, needle) != NULL;
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
	free(cfg->auth_role);
	free(cfg->request_headers);
	free(cfg->user_claim);
	free(cfg->tenant_claim);
	free(cfg->permissions_claim);
	memset(cfg, 0, sizeof(*cfg));
}
