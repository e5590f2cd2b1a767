/*
 * http.h
 *		The libmicrohttpd server: connections and their deadlines, request
 *		heads, bodies, dispatch over the route table, replies, access log.
 */
#ifndef FYNN_GATEWAY_HTTP_H
#define FYNN_GATEWAY_HTTP_H

#include "cache.h"
#include "config.h"
#include "db.h"
#include "listener.h"

/* Requests larger than this are refused with 413 before being buffered. */
#define HTTP_MAX_BODY	(64 * 1024)

typedef struct http_server http_server;

/* Starts listening (and the admin listener when configured); NULL after logging why. */
extern http_server *http_start(const config *cfg, db_pool *pool, cache *c, listener *l);

/*
 * Stops accepting connections, lets the requests in flight finish (up to
 * grace_seconds), then stops and frees the server.
 */
extern void http_stop(http_server *server, int grace_seconds);

#endif							/* FYNN_GATEWAY_HTTP_H */
