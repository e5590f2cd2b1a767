/*
 * main.c
 *		fynn-gateway: configuration, start-up, and a graceful shutdown on
 *		SIGTERM/SIGINT: no new connections, requests in flight answered,
 *		everything freed (so valgrind can check for leaks), exit 0.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

#include <jansson.h>

#include "cache.h"
#include "config.h"
#include "db.h"
#include "http.h"
#include "listener.h"
#include "log.h"

/* How long requests in flight may take to finish after SIGTERM. */
#define SHUTDOWN_GRACE_SECONDS 30

/* Every connection is a socket and a thread: let the soft descriptor limit reach the hard one. */
static void
raise_descriptor_limit(int wanted)
{
	struct rlimit lim;

	if (getrlimit(RLIMIT_NOFILE, &lim) != 0)
		return;
	if (lim.rlim_cur < (rlim_t) wanted + 64 && lim.rlim_cur < lim.rlim_max)
	{
		lim.rlim_cur = lim.rlim_max;
		(void) setrlimit(RLIMIT_NOFILE, &lim);
	}
}

/* Start-up order matters: signals are blocked before any thread exists, so only sigwait sees them. */
int
main(void)
{
	config		cfg;
	char		err[512];
	sigset_t	stop_signals;
	int			sig = 0;
	db_pool    *pool;
	cache	   *verify_cache;
	listener   *changes = NULL;
	http_server *server;

	if (config_load(&cfg, err, sizeof(err)) != 0)
	{
		fprintf(stderr, "fynn-gateway: configuration error: %s\n", err);
		return 1;
	}
	log_set_level(cfg.log_level);
	/* jansson seeds its hash function lazily; doing it now avoids a race between request threads. */
	json_object_seed(0);
	raise_descriptor_limit(cfg.max_connections);

	/* Every thread inherits this mask; the main thread then waits for the signal synchronously. */
	sigemptyset(&stop_signals);
	sigaddset(&stop_signals, SIGTERM);
	sigaddset(&stop_signals, SIGINT);
	pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
	/* A client that hangs up mid-reply must not kill the process. */
	signal(SIGPIPE, SIG_IGN);

	pool = db_pool_create(cfg.db_uri, cfg.db_pool, cfg.db_timeout);
	verify_cache = cache_create(cfg.cache_size, cfg.cache_max_age);
	if (pool == NULL || verify_cache == NULL)
	{
		log_error("cannot allocate the connection pool or the verify cache");
		db_pool_destroy(pool);
		cache_destroy(verify_cache);
		config_free(&cfg);
		return 1;
	}
	/* Without a cache there is nothing to keep fresh: no listener connection either. */
	if (cfg.cache_size > 0 && (changes = listener_start(cfg.db_uri, verify_cache)) == NULL)
		log_warn("cannot start the change listener; the verify cache stays off");
	server = http_start(&cfg, pool, verify_cache, changes);
	if (server == NULL)
	{
		listener_stop(changes);
		db_pool_destroy(pool);
		cache_destroy(verify_cache);
		config_free(&cfg);
		return 1;
	}
	log_info("fynn-gateway listening on %s:%d%s with %d database connections, verify cache of %d",
			 cfg.server_host, cfg.server_port, cfg.admin_port ? " (admin on its own port)" : "",
			 cfg.db_pool, cfg.cache_size);

	while (sigwait(&stop_signals, &sig) != 0)
		;
	log_info("received signal %d, finishing requests in flight", sig);

	http_stop(server, SHUTDOWN_GRACE_SECONDS);
	listener_stop(changes);
	db_pool_destroy(pool);
	cache_destroy(verify_cache);
	config_free(&cfg);
	log_info("stopped");
	return 0;
}
