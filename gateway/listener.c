/*
 * listener.c
 *		LISTEN fynn_tokens_changes on a connection of its own (see the header).
 *
 * The order is what makes the cache safe: the cache is enabled only after
 * LISTEN has been acknowledged (from then on every commit that changes a
 * token is delivered here), and disabled (flushed) before anything else
 * when the connection is lost.  Notifications evict by token id; "*" (a
 * TRUNCATE) flushes.  A heartbeat query notices a server that stopped
 * answering without closing the connection (TCP keepalives too, later).
 */
#include "listener.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <stdio.h>

#include <libpq-fe.h>

#include "log.h"

/* How long to wait between connection attempts, doubling up to the maximum. */
#define RETRY_MIN_MS	100
#define RETRY_MAX_MS	2000
/* Barriers that may be awaited at once; an older one overwritten only times out. */
#define BARRIER_SLOTS	1024
/* How often the thread looks at the stop flag while idle. */
#define POLL_MS			200
/*
 * A server that stops answering without closing the connection (a hung
 * backend, a partition) delivers nothing: a query every HEARTBEAT_EVERY_MS
 * must be answered within HEARTBEAT_TIMEOUT_MS or the connection counts as
 * lost, which bounds that staleness to about 6 s instead of the keepalive's
 * 25 s.  Not less: on an overloaded 2-core machine a heartbeat took over 2 s
 * now and then, and each false alarm empties the cache when it is needed most.
 */
#define HEARTBEAT_EVERY_MS		1000
#define HEARTBEAT_TIMEOUT_MS	5000

struct listener
{
	pthread_t	thread;
	char	   *db_uri;
	cache	   *cache;
	atomic_bool stop;
	atomic_bool up;
	atomic_uint_fast64_t reconnects;
	atomic_uint_fast64_t notifications;
	pthread_mutex_t barrier_lock;
	pthread_cond_t barrier_seen;	/* broadcast when a barrier of ours arrives */
	uint64_t	barrier_issued;
	/*
	 * Arrived barriers by number modulo the size: concurrent requests commit
	 * their barriers in any order, so one arrival says nothing of another.
	 */
	uint64_t	barrier_arrived[BARRIER_SLOTS];
	char		barrier_prefix[32]; /* "barrier:<pid>:" */
	bool		server_ending;	/* the server sent FATAL: this session delivers nothing more */
};

/* Sleeps ms in small steps, returning early when asked to stop. */
static void
sleep_unless_stopped(listener *l, int ms)
{
	while (ms > 0 && !atomic_load(&l->stop))
	{
		struct timespec ts = {0, (ms < POLL_MS ? ms : POLL_MS) * 1000000L};

		nanosleep(&ts, NULL);
		ms -= POLL_MS;
	}
}

/*
 * What the server says outside a query goes to our log, not to raw stderr
 * as libpq's default would print it.  A FATAL (or PANIC) is the server
 * announcing that this session ends: from then on it will deliver no
 * notification, though the socket may stay open a while longer while the
 * backend exits, so the listener counts as lost at once.
 */
static void
notice_receiver(void *arg, const PGresult *res)
{
	listener   *l = arg;
	const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *message = PQresultErrorMessage(res);
	size_t		len = message ? strlen(message) : 0;

	if (severity && (strcmp(severity, "FATAL") == 0 || strcmp(severity, "PANIC") == 0))
		l->server_ending = true;
	log_warn("listener: the server says: %.*s", (int) (len > 0 && message[len - 1] == '\n' ? len - 1 : len),
			 message ? message : "");
}

/* Connects with keepalives and a short connect timeout; the URI's own settings win. */
static PGconn *
connect_listener(listener *l)
{
	const char *const keywords[] = {"connect_timeout", "application_name", "keepalives",
		"keepalives_idle", "keepalives_interval", "keepalives_count", "dbname", NULL};
	const char *const values[] = {"2", "fynn-gateway-listener", "1", "10", "5", "3", l->db_uri, NULL};
	PGconn	   *conn = PQconnectdbParams(keywords, values, 1);

	l->server_ending = false;
	if (conn)
		PQsetNoticeReceiver(conn, notice_receiver, l);
	return conn;
}

/* Subscribes; true once the server has acknowledged the LISTEN. */
static bool
subscribe(PGconn *conn)
{
	PGresult   *res = PQexec(conn, "LISTEN " LISTENER_CHANNEL);
	bool		ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!ok)
		log_warn("listener: LISTEN failed: %s", PQerrorMessage(conn));
	PQclear(res);
	return ok;
}

/* A barrier of ours has arrived: everything notified before it has been applied. */
static bool
note_barrier(listener *l, const char *payload)
{
	size_t		plen = strlen(l->barrier_prefix);
	uint64_t	n;

	if (strncmp(payload, "barrier:", 8) != 0)
		return false;
	if (strncmp(payload, l->barrier_prefix, plen) == 0)
	{
		n = strtoull(payload + plen, NULL, 10);
		pthread_mutex_lock(&l->barrier_lock);
		l->barrier_arrived[n % BARRIER_SLOTS] = n;
		pthread_cond_broadcast(&l->barrier_seen);
		pthread_mutex_unlock(&l->barrier_lock);
	}
	return true;				/* another gateway's barrier names no token either */
}

/* Delivers pending notifications to the cache; false when the connection is gone or going. */
static bool
drain(listener *l, PGconn *conn)
{
	PGnotify   *n;

	if (!PQconsumeInput(conn))
		return false;
	while ((n = PQnotifies(conn)) != NULL)
	{
		if (!note_barrier(l, n->extra))
		{
			cache_evict_token(l->cache, n->extra);
			atomic_fetch_add(&l->notifications, 1);
			log_debug("listener: token %s changed", n->extra[0] == '*' ? "*" : "(id)");
		}
		PQfreemem(n);
	}
	return PQstatus(conn) == CONNECTION_OK && !l->server_ending;
}

void
listener_next_barrier(listener *l, char *out, size_t outlen, uint64_t *number)
{
	pthread_mutex_lock(&l->barrier_lock);
	*number = ++l->barrier_issued;
	pthread_mutex_unlock(&l->barrier_lock);
	snprintf(out, outlen, "%s%llu", l->barrier_prefix, (unsigned long long) *number);
}

bool
listener_await_barrier(listener *l, uint64_t number, int timeout_ms)
{
	struct timespec deadline;
	bool		arrived;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += timeout_ms / 1000;
	deadline.tv_nsec += (long) (timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L)
	{
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&l->barrier_lock);
	while (l->barrier_arrived[number % BARRIER_SLOTS] != number && atomic_load(&l->up) &&
		   pthread_cond_timedwait(&l->barrier_seen, &l->barrier_lock, &deadline) == 0)
		;
	arrived = l->barrier_arrived[number % BARRIER_SLOTS] == number;
	pthread_mutex_unlock(&l->barrier_lock);
	return arrived;
}

/* The monotonic clock in milliseconds, for heartbeat deadlines. */
static long long
monotonic_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads the heartbeat's answer once it is complete; false when it failed. */
static bool
collect_heartbeat(PGconn *conn, bool *pending, long long sent_ms, long long *answered_ms)
{
	PGresult   *res;

	while (*pending && !PQisBusy(conn))
	{
		if ((res = PQgetResult(conn)) == NULL)
		{
			*pending = false;
			*answered_ms = monotonic_ms();
			log_debug("listener: heartbeat answered in %lld ms", *answered_ms - sent_ms);
			break;
		}
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
		{
			PQclear(res);
			return false;
		}
		PQclear(res);
	}
	return true;
}

/* Serves one subscribed connection until it fails, stops answering, or the gateway stops. */
static void
serve(listener *l, PGconn *conn)
{
	bool		pending = false;
	long long	sent_ms = 0;
	long long	answered_ms = monotonic_ms();

	while (!atomic_load(&l->stop))
	{
		struct pollfd pfd = {.fd = PQsocket(conn),.events = POLLIN};
		long long	now = monotonic_ms();
		int			rc;

		if (!pending && now - answered_ms >= HEARTBEAT_EVERY_MS)
		{
			if (!PQsendQuery(conn, "SELECT 1"))
				return;
			pending = true;
			sent_ms = now;
		}
		else if (pending && now - sent_ms > HEARTBEAT_TIMEOUT_MS)
		{
			log_warn("listener: the server did not answer within %d ms; treating the connection as lost",
					 HEARTBEAT_TIMEOUT_MS);
			return;
		}
		rc = poll(&pfd, 1, POLL_MS);
		if (rc < 0 && errno != EINTR)
			return;
		if (rc > 0 && !drain(l, conn))
			return;
		if (!collect_heartbeat(conn, &pending, sent_ms, &answered_ms))
			return;
	}
}

static void *
listener_main(void *arg)
{
	listener   *l = arg;
	int			retry_ms = RETRY_MIN_MS;

	while (!atomic_load(&l->stop))
	{
		PGconn	   *conn = connect_listener(l);

		if (PQstatus(conn) == CONNECTION_OK && subscribe(conn))
		{
			cache_set_listening(l->cache, true);
			atomic_store(&l->up, true);
			log_info("listener: subscribed to %s; verify cache enabled", LISTENER_CHANNEL);
			retry_ms = RETRY_MIN_MS;
			serve(l, conn);
			/* Down: stop trusting the cache before anything else. */
			cache_set_listening(l->cache, false);
			atomic_store(&l->up, false);
			pthread_mutex_lock(&l->barrier_lock);
			pthread_cond_broadcast(&l->barrier_seen);	/* nobody waits for a listener that is gone */
			pthread_mutex_unlock(&l->barrier_lock);
			if (!atomic_load(&l->stop))
				log_warn("listener: connection lost; verify cache disabled until it is back");
		}
		else if (!atomic_load(&l->stop))
			log_debug("listener: cannot connect: %s", PQerrorMessage(conn));
		PQfinish(conn);
		if (atomic_load(&l->stop))
			break;
		atomic_fetch_add(&l->reconnects, 1);
		sleep_unless_stopped(l, retry_ms);
		retry_ms = retry_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : retry_ms * 2;
	}
	return NULL;
}

listener *
listener_start(const char *db_uri, cache *c)
{
	listener   *l = calloc(1, sizeof(*l));

	if (l == NULL || (l->db_uri = strdup(db_uri)) == NULL)
	{
		free(l);
		return NULL;
	}
	l->cache = c;
	snprintf(l->barrier_prefix, sizeof(l->barrier_prefix), "barrier:%ld:", (long) getpid());
	pthread_mutex_init(&l->barrier_lock, NULL);
	{
		pthread_condattr_t attr;

		pthread_condattr_init(&attr);
		pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
		pthread_cond_init(&l->barrier_seen, &attr);
		pthread_condattr_destroy(&attr);
	}
	if (pthread_create(&l->thread, NULL, listener_main, l) != 0)
	{
		free(l->db_uri);
		free(l);
		return NULL;
	}
	return l;
}

void
listener_stop(listener *l)
{
	if (l == NULL)
		return;
	atomic_store(&l->stop, true);
	pthread_join(l->thread, NULL);
	pthread_cond_destroy(&l->barrier_seen);
	pthread_mutex_destroy(&l->barrier_lock);
	free(l->db_uri);
	free(l);
}

bool
listener_is_up(listener *l)
{
	return l != NULL && atomic_load(&l->up);
}

uint64_t
listener_reconnects(listener *l)
{
	return l ? atomic_load(&l->reconnects) : 0;
}

uint64_t
listener_notifications(listener *l)
{
	return l ? atomic_load(&l->notifications) : 0;
}
