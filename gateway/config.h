/*
 * config.h
 *		The gateway's settings, read once from the environment.
 *
 * Names follow PostgREST (PGRST_*) where PostgREST has the setting, so one
 * deployment's environment can drive either server; the gateway's own
 * settings are FYNN_*.
 */
#ifndef FYNN_GATEWAY_CONFIG_H
#define FYNN_GATEWAY_CONFIG_H

#include <stddef.h>

#include "log.h"

/* HS256 keys shorter than the hash output are guessable; PostgREST also asks for 32. */
#define CONFIG_MIN_SECRET_LEN	32
#define CONFIG_MAX_POOL			1000
/* A minted forward-auth JWT never lives longer than this (seconds). */
#define CONFIG_MAX_AUTH_JWT_LIFETIME 300

typedef struct config
{
	char	   *db_uri;			/* PGRST_DB_URI, libpq URI or key=value string */
	char	   *jwt_secret;		/* PGRST_JWT_SECRET, raw HS256 key */
	size_t		jwt_secret_len;
	char	   *jwt_aud;		/* PGRST_JWT_AUD, NULL when not checked */
	char	   *server_host;	/* PGRST_SERVER_HOST */
	int			server_port;	/* PGRST_SERVER_PORT */
	int			admin_port;		/* PGRST_ADMIN_SERVER_PORT, 0: probes on the main port */
	int			db_pool;		/* PGRST_DB_POOL */
	int			db_timeout;		/* FYNN_DB_TIMEOUT, seconds a request may spend in the database */
	log_level	log_level;		/* FYNN_LOG_LEVEL */
	int			auth_jwt_lifetime;	/* FYNN_AUTH_JWT_LIFETIME, seconds, 1..300 */
	char	   *auth_role;		/* FYNN_AUTH_ROLE, "role" of JWTs minted for API tokens */
	int			cache_size;		/* FYNN_CACHE_SIZE, entries; 0 disables the cache */
	int			cache_max_age;	/* FYNN_CACHE_MAX_AGE, seconds an entry may be trusted */
	int			max_connections;	/* FYNN_MAX_CONNECTIONS */
	int			max_connections_per_ip; /* FYNN_MAX_CONNECTIONS_PER_IP, 0: no limit */
	int			head_timeout;	/* FYNN_REQUEST_HEAD_TIMEOUT, seconds to send a request head */
	int			read_timeout;	/* FYNN_REQUEST_READ_TIMEOUT, seconds to send head and body */
	char	   *request_headers;	/* FYNN_REQUEST_HEADERS, the allow-list for request.headers */
	char	   *user_claim;		/* FYNN_USER_CLAIM, as fynn_tokens.user_claim */
	char	   *tenant_claim;	/* FYNN_TENANT_CLAIM, as fynn_tokens.tenant_claim */
	char	   *permissions_claim;	/* FYNN_PERMISSIONS_CLAIM, as fynn_tokens.permissions_claim */
} config;

/*
 * Fills cfg from the environment.  On a missing or bad value writes a
 * message naming the variable into err and returns -1; cfg is then freed.
 */
extern int	config_load(config *cfg, char *err, size_t errlen);
extern void config_free(config *cfg);

/* True when name (lower-case) is on the request.headers allow-list. */
extern int	config_header_allowed(const config *cfg, const char *name);

#endif							/* FYNN_GATEWAY_CONFIG_H */
