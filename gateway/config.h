/*
 * config.h
 *		The gateway's settings, read once from the environment.
 *
 * Names follow PostgREST (PGRST_*) so one deployment's environment can
 * drive either server.
 */
#ifndef FYNN_GATEWAY_CONFIG_H
#define FYNN_GATEWAY_CONFIG_H

#include <stddef.h>

#include "log.h"

/* HS256 keys shorter than the hash output are guessable; PostgREST also asks for 32. */
#define CONFIG_MIN_SECRET_LEN	32
#define CONFIG_MAX_POOL			1000

typedef struct config
{
	char	   *db_uri;			/* PGRST_DB_URI, libpq URI or key=value string */
	char	   *jwt_secret;		/* PGRST_JWT_SECRET, raw HS256 key */
	size_t		jwt_secret_len;
	char	   *jwt_aud;		/* PGRST_JWT_AUD, NULL when not checked */
	char	   *server_host;	/* PGRST_SERVER_HOST */
	int			server_port;	/* PGRST_SERVER_PORT */
	int			db_pool;		/* PGRST_DB_POOL */
	log_level	log_level;		/* FYNN_LOG_LEVEL */
} config;

/*
 * Fills cfg from the environment.  On a missing or bad value writes a
 * message naming the variable into err and returns -1; cfg is then freed.
 */
extern int	config_load(config *cfg, char *err, size_t errlen);
extern void config_free(config *cfg);

#endif							/* FYNN_GATEWAY_CONFIG_H */
