/*
 * listener.h
 *		The dedicated connection that LISTENs for token changes and evicts
 *		them from the verify cache.  The cache is used only while this
 *		connection is subscribed; when it drops, the cache is flushed and
 *		disabled until the listener has subscribed again.
 */
#ifndef FYNN_GATEWAY_LISTENER_H
#define FYNN_GATEWAY_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache.h"

/* The channel fynn_tokens' trigger notifies (FYNN_TOKENS_CHANNEL in the extension). */
#define LISTENER_CHANNEL "fynn_tokens_changes"

typedef struct listener listener;

/* Starts the thread; it connects (and reconnects) on its own. NULL when the thread cannot start. */
extern listener *listener_start(const char *db_uri, cache *c);
extern void listener_stop(listener *l);

/*
 * Barriers make the gateway's own revocations read-your-writes for its
 * cache: after a revoking request commits, the gateway notifies a marker
 * of its own on the same channel; NOTIFYs reach a listener in commit
 * order, so once the marker has arrived, so has every change it follows.
 * listener_next_barrier gives a fresh marker ("barrier:<pid>:<n>");
 * listener_await_barrier waits (at most timeout_ms) until it has arrived.
 */
extern void listener_next_barrier(listener *l, char *out, size_t outlen, uint64_t *number);
extern bool listener_await_barrier(listener *l, uint64_t number, int timeout_ms);

extern bool listener_is_up(listener *l);
extern uint64_t listener_reconnects(listener *l);
extern uint64_t listener_notifications(listener *l);

#endif							/* FYNN_GATEWAY_LISTENER_H */
