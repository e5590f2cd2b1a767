/*
 * main.c
 *		fynn-gateway: configuration, start-up, and clean shutdown on
 *		SIGTERM/SIGINT (everything freed, so valgrind can check for leaks).
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include <jansson.h>

#include "config.h"
#include "db.h"
#include "http.h"
#include "log.h"

/* Start-up order matters: signals are blocked before any thread exists, so only sigwait sees them. */
int
main(void)
{
	config		cfg;
	char		err[512];
	sigset_t	stop_signals;
	int			sig = 0;
	db_pool    *pool;
	http_server *server;

	if (config_load(&cfg, err, sizeof(err)) != 0)
	{
		fprintf(stderr, "fynn-gateway: configuration error: %s\n", err);
		return 1;
	}
	log_set_level(cfg.log_level);
	/* jansson seeds its hash function lazily; doing it now avoids a race between request threads. */
	json_object_seed(0);

	/* Every thread inherits this mask; the main thread then waits for the signal synchronously. */
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
	/* A client that hangs up mid-reply must not kill the process. */
	signal(SIGPIPE, SIG_IGN);

	pool = db_pool_create(cfg.db_uri, cfg.db_pool);
	if (pool == NULL)
	{
		log_error("cannot allocate the connection pool");
		config_free(&cfg);
		return 1;
	}
	server = http_start(&cfg, pool);
	if (server == NULL)
	{
		db_pool_destroy(pool);
		config_free(&cfg);
		return 1;
	}
	log_info("fynn-gateway listening on %s:%d with %d database connections",
			 cfg.server_host, cfg.server_port, cfg.db_pool);

	while (sigwait(&stop_signals, &sig) != 0)
		;
	log_info("received signal %d, shutting down", sig);

	http_stop(server);
	db_pool_destroy(pool);
	config_free(&cfg);
	log_info("stopped");
	return 0;
}
