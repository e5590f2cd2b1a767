/*
 * metrics.c
 *		Prometheus text exposition (see the header).  Route and status are
 *		fixed sets, so requests are a fixed matrix of atomic counters: no
 *		lock on the request path.
 */
#include "metrics.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "routes.h"

static const unsigned statuses[] = {200, 201, 202, 204, 400, 401, 403, 404, 405, 413, 415,
422, 431, 500, 501, 503, 504};
#define NUM_STATUSES (sizeof(statuses) / sizeof(statuses[0]))
/* The last route slot counts requests that matched no route. */
#define MAX_ROUTES 32

static const double buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define NUM_BUCKETS (sizeof(buckets) / sizeof(buckets[0]))

static atomic_uint_fast64_t requests[MAX_ROUTES + 1][NUM_STATUSES + 1];
static atomic_uint_fast64_t latency[NUM_BUCKETS + 1];
static atomic_uint_fast64_t latency_sum_us;
static atomic_uint_fast64_t latency_count;
static atomic_uint_fast64_t counters[NUM_METRIC_COUNTERS];

static const char *const counter_names[NUM_METRIC_COUNTERS][2] = {
	[METRIC_POOL_WAITS] = {"fynn_gateway_pool_waits_total", "Requests that waited for a free database connection."},
	[METRIC_POOL_TIMEOUTS] = {"fynn_gateway_pool_timeouts_total", "Requests that found no free database connection in time (503)."},
	[METRIC_DB_UNAVAILABLE] = {"fynn_gateway_db_unavailable_total", "Requests answered 503 because the database could not be reached."},
	[METRIC_DB_ERRORS] = {"fynn_gateway_db_errors_total", "Statements that failed with an error (not a contract answer)."},
	[METRIC_DB_TIMEOUTS] = {"fynn_gateway_db_timeouts_total", "Requests past FYNN_DB_TIMEOUT (504)."},
	[METRIC_DB_VERIFY_CALLS] = {"fynn_gateway_db_verify_calls_total", "API tokens verified in the database by forward-auth (cache misses)."},
	[METRIC_SLOW_CLIENTS_CLOSED] = {"fynn_gateway_slow_clients_closed_total", "Connections closed for sending a request too slowly."},
	[METRIC_BAD_FRAMING] = {"fynn_gateway_bad_framing_total", "Requests refused for ambiguous or unsupported framing."},
};

void
metrics_count(metric_counter which)
{
	atomic_fetch_add(&counters[which], 1);
}

/* The route's slot in the matrix: its row in the route table. */
static size_t
route_slot(const char *route_name)
{
	for (size_t i = 0; route_name && i < route_count && i < MAX_ROUTES; i++)
		if (strcmp(route_table[i].name, route_name) == 0)
			return i;
	return MAX_ROUTES;
}

static size_t
status_slot(unsigned status)
{
	for (size_t i = 0; i < NUM_STATUSES; i++)
		if (statuses[i] == status)
			return i;
	return NUM_STATUSES;
}

void
metrics_request(const char *route, unsigned status, double seconds)
{
	size_t		b;

	atomic_fetch_add(&requests[route_slot(route)][status_slot(status)], 1);
	for (b = 0; b < NUM_BUCKETS && seconds > buckets[b]; b++)
		;
	atomic_fetch_add(&latency[b], 1);
	atomic_fetch_add(&latency_sum_us, (uint_fast64_t) (seconds * 1e6));
	atomic_fetch_add(&latency_count, 1);
}

/* A growing text buffer. */
typedef struct text
{
	char	   *data;
	size_t		len;
	size_t		cap;
	int			failed;
} text;

static void
appendf(text *t, const char *fmt,...)
{
	va_list		ap;
	int			n;

	if (t->failed)
		return;
	for (;;)
	{
		va_start(ap, fmt);
		n = vsnprintf(t->data ? t->data + t->len : NULL, t->data ? t->cap - t->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0)
		{
			t->failed = 1;
			return;
		}
		if (t->data && (size_t) n < t->cap - t->len)
		{
			t->len += (size_t) n;
			return;
		}
		{
			size_t		cap = t->cap ? t->cap * 2 : 4096;
			char	   *grown;

			while (cap < t->len + (size_t) n + 1)
				cap *= 2;
			grown = realloc(t->data, cap);
			if (grown == NULL)
			{
				t->failed = 1;
				return;
			}
			t->data = grown;
			t->cap = cap;
		}
	}
}

char *
metrics_render(cache *c, listener *l)
{
	text		t = {0};
	cache_stats stats = {0};
	uint_fast64_t cumulative = 0;

	appendf(&t, "# HELP fynn_gateway_requests_total Requests answered, by route and status.\n"
			"# TYPE fynn_gateway_requests_total counter\n");
	for (size_t r = 0; r <= MAX_ROUTES; r++)
		for (size_t s = 0; s <= NUM_STATUSES; s++)
		{
			uint_fast64_t n = atomic_load(&requests[r][s]);

			if (n == 0)
				continue;
			appendf(&t, "fynn_gateway_requests_total{route=\"%s\",status=\"%s%u\"} %llu\n",
					r < route_count && r < MAX_ROUTES ? route_table[r].name : "none",
					s < NUM_STATUSES ? "" : "other", s < NUM_STATUSES ? statuses[s] : 0,
					(unsigned long long) n);
		}

	appendf(&t, "# HELP fynn_gateway_request_duration_seconds Time from request head to response.\n"
			"# TYPE fynn_gateway_request_duration_seconds histogram\n");
	for (size_t b = 0; b < NUM_BUCKETS; b++)
	{
		cumulative += atomic_load(&latency[b]);
		appendf(&t, "fynn_gateway_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
				buckets[b], (unsigned long long) cumulative);
	}
	cumulative += atomic_load(&latency[NUM_BUCKETS]);
	appendf(&t, "fynn_gateway_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
			"fynn_gateway_request_duration_seconds_sum %.6f\n"
			"fynn_gateway_request_duration_seconds_count %llu\n",
			(unsigned long long) cumulative,
			(double) atomic_load(&latency_sum_us) / 1e6,
			(unsigned long long) atomic_load(&latency_count));

	if (c)
		cache_get_stats(c, &stats);
	appendf(&t, "# HELP fynn_gateway_cache_hits_total API tokens answered from the verify cache.\n"
			"# TYPE fynn_gateway_cache_hits_total counter\nfynn_gateway_cache_hits_total %llu\n"
			"# HELP fynn_gateway_cache_misses_total API tokens not in the verify cache.\n"
			"# TYPE fynn_gateway_cache_misses_total counter\nfynn_gateway_cache_misses_total %llu\n"
			"# HELP fynn_gateway_cache_evictions_total Entries dropped: notified changes, flushes, age, LRU.\n"
			"# TYPE fynn_gateway_cache_evictions_total counter\nfynn_gateway_cache_evictions_total %llu\n"
			"# HELP fynn_gateway_cache_entries Entries in the verify cache.\n"
			"# TYPE fynn_gateway_cache_entries gauge\nfynn_gateway_cache_entries %llu\n",
			(unsigned long long) stats.hits, (unsigned long long) stats.misses,
			(unsigned long long) stats.evictions, (unsigned long long) stats.entries);
	appendf(&t, "# HELP fynn_gateway_listener_up 1 while subscribed to token changes (the cache is in use).\n"
			"# TYPE fynn_gateway_listener_up gauge\nfynn_gateway_listener_up %d\n"
			"# HELP fynn_gateway_listener_reconnects_total Times the listener connection was (re)opened after a failure.\n"
			"# TYPE fynn_gateway_listener_reconnects_total counter\nfynn_gateway_listener_reconnects_total %llu\n"
			"# HELP fynn_gateway_listener_notifications_total Token changes received.\n"
			"# TYPE fynn_gateway_listener_notifications_total counter\nfynn_gateway_listener_notifications_total %llu\n",
			listener_is_up(l) ? 1 : 0, (unsigned long long) listener_reconnects(l),
			(unsigned long long) listener_notifications(l));
	for (int i = 0; i < NUM_METRIC_COUNTERS; i++)
		appendf(&t, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n",
				counter_names[i][0], counter_names[i][1], counter_names[i][0], counter_names[i][0],
				(unsigned long long) atomic_load(&counters[i]));
	if (t.failed)
	{
		free(t.data);
		return NULL;
	}
	return t.data;
}
