/*
 * metrics.h
 *		Counters for /metrics in Prometheus' text format: requests by route
 *		and status, a latency histogram, the cache, the listener, the pool
 *		and database errors.  Lock-free counters; rendering reads them.
 */
#ifndef FYNN_GATEWAY_METRICS_H
#define FYNN_GATEWAY_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "cache.h"
#include "listener.h"

typedef enum metric_counter
{
	METRIC_POOL_WAITS,			/* a request waited for a free connection */
	METRIC_POOL_TIMEOUTS,		/* and gave up: 503 */
	METRIC_DB_UNAVAILABLE,		/* the database could not be reached */
	METRIC_DB_ERRORS,			/* a statement failed (not a contract answer) */
	METRIC_DB_TIMEOUTS,			/* past FYNN_DB_TIMEOUT: 504 */
	METRIC_DB_VERIFY_CALLS,		/* forward-auth asked the database about a token */
	METRIC_SLOW_CLIENTS_CLOSED, /* connections closed past the head or read deadline */
	METRIC_BAD_FRAMING,			/* requests refused for ambiguous framing */
	NUM_METRIC_COUNTERS
} metric_counter;

extern void metrics_count(metric_counter which);

/* One finished request: route name (NULL: none matched), status, duration. */
extern void metrics_request(const char *route, unsigned status, double seconds);

/* Renders everything (malloc'd text). */
extern char *metrics_render(cache *c, listener *l);

#endif							/* FYNN_GATEWAY_METRICS_H */
