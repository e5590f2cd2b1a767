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
#include <stdint.h>

#include "cache.h"

/* The channel fynn_tokens' trigger notifies (FYNN_TOKENS_CHANNEL in the extension). */
#define LISTENER_CHANNEL "fynn_tokens_changes"

typedef struct listener listener;

/* Starts the thread; it connects (and reconnects) on its own. NULL when the thread cannot start. */
extern listener *listener_start(const char *db_uri, cache *c);
extern void listener_stop(listener *l);

extern bool listener_is_up(listener *l);
extern uint64_t listener_reconnects(listener *l);
extern uint64_t listener_notifications(listener *l);

#endif							/* FYNN_GATEWAY_LISTENER_H */
