/*
 * http.h
 *		The libmicrohttpd server: routing, body limits, replies, access log.
 */
#ifndef FYNN_GATEWAY_HTTP_H
#define FYNN_GATEWAY_HTTP_H

#include "config.h"
#include "db.h"

/* Requests larger than this are refused with 413 before being buffered. */
#define HTTP_MAX_BODY	(64 * 1024)

typedef struct http_server http_server;

/* Starts listening; NULL (after logging why) when the address cannot be used. */
extern http_server *http_start(const config *cfg, db_pool *pool);

/* Stops accepting, waits for in-flight requests, frees the server. */
extern void http_stop(http_server *server);

#endif							/* FYNN_GATEWAY_HTTP_H */
