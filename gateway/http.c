/*
 * http.c
 *		libmicrohttpd server: connections, request heads, bodies, dispatch,
 *		replies, access log.
 *
 * Thread per connection: a request thread may block on the database, and
 * with one thread per client that never stalls other clients.  A slow
 * client cannot hold its thread forever either: every connection has a
 * deadline for its request head (from the moment it opened, or finished its
 * previous request) and one for the whole request; a reaper thread shuts
 * down the socket of a connection past its deadline, and the number of
 * connections per client address is limited.  The body is read completely
 * (bounded by HTTP_MAX_BODY) before a database connection is borrowed.
 *
 * Routing is on the raw request target, never on libmicrohttpd's decoded
 * one: "/user/api-tokens%00x" must not arrive as "/user/api-tokens".
 */
#include "http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <microhttpd.h>

#include "auth.h"
#include "body.h"
#include "clock.h"
#include "errors.h"
#include "head.h"
#include "log.h"
#include "metrics.h"
#include "routes.h"

/* Header fields per request; a head with more is refused. */
#define MAX_HEAD_FIELDS 100
/* How often the reaper looks for connections past their deadline. */
#define REAPER_INTERVAL_MS 250
/* How long a revocation waits for the listener to confirm its cache heard of it. */
#define BARRIER_TIMEOUT_MS 200
/* Request-thread stacks: room for jansson's deepest parse (2048 levels), with margin. */
#define THREAD_STACK_SIZE (1024 * 1024)

typedef enum conn_phase
{
	PHASE_HEAD,					/* waiting for a request head */
	PHASE_BODY,					/* head read, body arriving */
	PHASE_PROCESSING			/* the request is being answered */
} conn_phase;

/* One client connection, known from its first byte to its close. */
typedef struct conn_state
{
	int			fd;
	conn_phase	phase;
	long long	phase_since_ms;
	long long	request_since_ms;
	struct conn_state *prev;
	struct conn_state *next;
} conn_state;

/* A listener's identity for the callbacks: the server and whether it is the admin port. */
typedef struct listener_ctx
{
	struct http_server *server;
	bool		admin;
} listener_ctx;

struct http_server
{
	struct MHD_Daemon *daemon;
	struct MHD_Daemon *admin_daemon;
	listener_ctx main_ctx;
	listener_ctx admin_ctx;
	const config *cfg;
	db_pool    *pool;
	cache	   *cache;
	listener   *listener;
	pthread_mutex_t conns_lock;
	conn_state *conns;
	pthread_t	reaper;
	atomic_bool stopping;		/* no new connections; answers say Connection: close */
	atomic_bool reaper_stop;
	atomic_int	in_flight;
};

/* The path of one token, as the contract's routes name it. */
#define TOKEN_PATH_PREFIX "/user/api-tokens/"

/* Per-request state, from the request line to the completion callback. */
typedef struct request_ctx
{
	long long	start_us;
	char	   *raw_uri;		/* the request target as sent */
	char		method[16];		/* for the access log */
	char		path[128];		/* sanitised for the access log */
	const route *route;
	char		id[ROUTE_MAX_ID_LEN + 1];
	bool		head_done;
	bool		counted_in_flight;
	bool		replied;
	bool		too_large;
	bool		has_pending;
	gw_reply	pending;		/* an early reply held back until MHD's next call */
	unsigned	status;
	char		sqlstate[6];
	auth_identity auth;
	head_framing framing;
	char	   *body;
	size_t		body_len;
	size_t		body_cap;
} request_ctx;

/* ---------------------------------------------------------- connections */

static conn_state *
conn_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *info =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return info ? (conn_state *) info->socket_context : NULL;
}

/* Moves a connection to a phase, under the lock the reaper reads it with. */
static void
conn_enter(http_server *srv, struct MHD_Connection *conn, conn_phase phase)
{
	conn_state *cs = conn_of(conn);
	long long	now = monotonic_ms();

	if (cs == NULL)
		return;
	pthread_mutex_lock(&srv->conns_lock);
	cs->phase = phase;
	cs->phase_since_ms = now;
	if (phase == PHASE_HEAD)
		cs->request_since_ms = now;
	pthread_mutex_unlock(&srv->conns_lock);
}

/* MHD tells us of every connection; we keep its socket to enforce deadlines. */
static void
notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
				  enum MHD_ConnectionNotificationCode code)
{
	http_server *srv = ((listener_ctx *) cls)->server;
	conn_state *cs = *socket_context;

	if (code == MHD_CONNECTION_NOTIFY_STARTED)
	{
		const union MHD_ConnectionInfo *info =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

		cs = calloc(1, sizeof(*cs));
		if (cs == NULL)
			return;
		cs->fd = info ? info->connect_fd : -1;
		cs->phase = PHASE_HEAD;
		cs->phase_since_ms = cs->request_since_ms = monotonic_ms();
		pthread_mutex_lock(&srv->conns_lock);
		cs->next = srv->conns;
		if (srv->conns)
			srv->conns->prev = cs;
		srv->conns = cs;
		pthread_mutex_unlock(&srv->conns_lock);
		*socket_context = cs;
	}
	else if (cs != NULL)
	{
		/* MHD closes the socket after this returns: the reaper must not touch it from now on. */
		pthread_mutex_lock(&srv->conns_lock);
		if (cs->prev)
			cs->prev->next = cs->next;
		else
			srv->conns = cs->next;
		if (cs->next)
			cs->next->prev = cs->prev;
		pthread_mutex_unlock(&srv->conns_lock);
		free(cs);
		*socket_context = NULL;
	}
}

/*
 * Closes connections past their deadline: the request head within
 * head_timeout of the connection opening (or of its previous request
 * ending), head and body within read_timeout.  shutdown(2) only: MHD owns
 * the descriptor, sees the end of the stream and closes it itself.
 */
static void *
reaper_main(void *arg)
{
	http_server *srv = arg;
	const long long head_ms = (long long) srv->cfg->head_timeout * 1000;
	const long long read_ms = (long long) srv->cfg->read_timeout * 1000;

	while (!atomic_load(&srv->reaper_stop))
	{
		struct timespec ts = {0, REAPER_INTERVAL_MS * 1000000L};
		long long	now;

		nanosleep(&ts, NULL);
		now = monotonic_ms();
		pthread_mutex_lock(&srv->conns_lock);
		for (conn_state *cs = srv->conns; cs; cs = cs->next)
		{
			bool		late = (cs->phase == PHASE_HEAD && now - cs->phase_since_ms > head_ms) ||
				(cs->phase == PHASE_BODY && now - cs->request_since_ms > read_ms);

			if (late && cs->fd >= 0)
			{
				shutdown(cs->fd, SHUT_RDWR);
				cs->fd = -1;	/* once */
				metrics_count(METRIC_SLOW_CLIENTS_CLOSED);
			}
		}
		pthread_mutex_unlock(&srv->conns_lock);
	}
	return NULL;
}

/* ---------------------------------------------------------------- replies */

/* Keeps control characters from a URL out of log lines (log injection). */
static void
copy_for_log(char *dst, size_t dstlen, const char *src)
{
	size_t		i = 0;

	for (; src && *src && i + 1 < dstlen; src++, i++)
		dst[i] = isprint((unsigned char) *src) ? *src : '?';
	dst[i] = '\0';
}

/* MHD's own diagnostics go through our levelled log. */
static void
mhd_logger(void *cls, const char *fmt, va_list ap)
{
	char		buf[512];

	(void) cls;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	log_warn("http: %s", buf);
}

/* Hands a reply to MHD; the reply's memory is released either way. */
static enum MHD_Result
send_reply(http_server *srv, struct MHD_Connection *conn, request_ctx *ctx, gw_reply *reply)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (reply->status == 0)
		errors_internal(reply, "no reply was built");
	resp = MHD_create_response_from_buffer(reply->body_len, reply->body ? reply->body : (char *) "",
										   MHD_RESPMEM_MUST_COPY);
	if (resp == NULL)
	{
		reply_free(reply);
		return MHD_NO;
	}
	for (int i = 0; i < reply->nheaders; i++)
		MHD_add_response_header(resp, reply->headers[i].name, reply->headers[i].value);
	if (reply->close || atomic_load(&srv->stopping))
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");

	ret = MHD_queue_response(conn, reply->status, resp);
	MHD_destroy_response(resp);
	if (ret == MHD_YES)
	{
		ctx->replied = true;
		ctx->status = reply->status;
		memcpy(ctx->sqlstate, reply->sqlstate, sizeof(ctx->sqlstate));
	}
	reply_free(reply);
	return ret;
}

/*
 * A reply decided from the head alone.  Queued in MHD's first call, MHD
 * closes the connection (it cannot know the body was not wanted), so when
 * the request announces no body the reply waits for the next call and the
 * keep-alive connection survives.  With a body, replying now is the point:
 * the body is never read.
 */
static enum MHD_Result
send_early(http_server *srv, struct MHD_Connection *conn, request_ctx *ctx, gw_reply *reply)
{
	if (!ctx->framing.chunked && (!ctx->framing.has_length || ctx->framing.length == 0) &&
		!reply->close)
	{
		ctx->pending = *reply;
		ctx->has_pending = true;
		return MHD_YES;
	}
	return send_reply(srv, conn, ctx, reply);
}

/* A problem reply of the gateway's own. */
static enum MHD_Result
send_problem(http_server *srv, struct MHD_Connection *conn, request_ctx *ctx, unsigned status,
			 const char *detail, const char *allow, bool close)
{
	gw_reply	reply = {0};

	errors_problem(&reply, status, detail);
	if (allow && allow[0])
		reply_add_header(&reply, MHD_HTTP_HEADER_ALLOW, allow);
	reply.close = close;
	return send_early(srv, conn, ctx, &reply);
}

/* ------------------------------------------------------------ request head */

typedef struct head_fields
{
	head_field	fields[MAX_HEAD_FIELDS];
	size_t		n;
	bool		overflow;
} head_fields;

/* Collects header fields with their true lengths (a NUL inside shows as a length mismatch). */
static enum MHD_Result
collect_field(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
			  const char *value, size_t value_size)
{
	head_fields *h = cls;

	(void) kind;
	if (h->n == MAX_HEAD_FIELDS)
	{
		h->overflow = true;
		return MHD_NO;
	}
	h->fields[h->n].name = key;
	h->fields[h->n].name_len = key_size;
	h->fields[h->n].value = value ? value : "";
	h->fields[h->n].value_len = value ? value_size : 0;
	h->n++;
	return MHD_YES;
}

/* The first field of that name, or NULL. */
static const head_field *
field(const head_fields *h, const char *name)
{
	for (size_t i = 0; i < h->n; i++)
		if (h->fields[i].name_len == strlen(name) &&
			strncasecmp(h->fields[i].name, name, h->fields[i].name_len) == 0)
			return &h->fields[i];
	return NULL;
}

/* request.headers: the allow-listed headers, lower-cased, repeated ones joined as RFC 9110 says. */
static char *
allowed_headers_json(const config *cfg, const head_fields *h)
{
	json_t	   *obj = json_object();
	char	   *out;

	if (obj == NULL)
		return NULL;
	for (size_t i = 0; i < h->n; i++)
	{
		const head_field *f = &h->fields[i];
		char		name[128];
		json_t	   *prev;
		json_t	   *value;

		if (f->name_len >= sizeof(name))
			continue;
		for (size_t c = 0; c < f->name_len; c++)
			name[c] = (char) tolower((unsigned char) f->name[c]);
		name[f->name_len] = '\0';
		if (!config_header_allowed(cfg, name))
			continue;
		/* Not UTF-8 cannot be a JSON string: such a header is dropped, never mangled. */
		value = json_stringn(f->value, f->value_len);
		if (value == NULL)
			continue;
		prev = json_object_get(obj, name);
		if (json_is_string(prev))
		{
			size_t		len = json_string_length(prev) + 2 + f->value_len;
			char	   *joined = malloc(len + 1);

			if (joined)
			{
				memcpy(joined, json_string_value(prev), json_string_length(prev));
				memcpy(joined + json_string_length(prev), ", ", 2);
				memcpy(joined + json_string_length(prev) + 2, f->value, f->value_len);
				json_decref(value);
				value = json_stringn(joined, len);
				free(joined);
			}
		}
		if (value)
			json_object_set_new(obj, name, value);
	}
	out = json_dumps(obj, JSON_COMPACT);
	json_decref(obj);
	return out;
}

/* The path part of the raw request target. */
static char *
raw_path(const char *raw_uri)
{
	size_t		len = strcspn(raw_uri, "?#");

	return strndup(raw_uri, len);
}

/*
 * Everything decidable from the request line and headers, answered before
 * the body is read: framing, routing, credentials (locally), media type,
 * size.  Returns true when a reply was queued (or is pending).
 */
static bool
judge_head(http_server *srv, struct MHD_Connection *conn, request_ctx *ctx, bool admin,
		   const char *method, enum MHD_Result *ret)
{
	head_fields h = {0};
	const char *why;
	head_verdict verdict;
	route_match match;
	char	   *path;
	char		buf[256];

	MHD_get_connection_values_n(conn, MHD_HEADER_KIND, collect_field, &h);
	if (h.overflow)
	{
		*ret = send_problem(srv, conn, ctx, 431, "The request has too many header fields.", NULL, true);
		return true;
	}
	verdict = head_check_framing(h.fields, h.n, &ctx->framing, &why);
	if (verdict != HEAD_OK)
	{
		metrics_count(METRIC_BAD_FRAMING);
		*ret = send_problem(srv, conn, ctx, verdict == HEAD_NOT_IMPLEMENTED ? 501 : 400, why, NULL, true);
		return true;
	}

	path = raw_path(ctx->raw_uri ? ctx->raw_uri : "");
	if (path == NULL)
	{
		*ret = MHD_NO;
		return true;
	}
	route_lookup(method, path, admin, srv->admin_daemon != NULL, &match);
	free(path);
	if (match.route == NULL)
	{
		if (match.allow[0])
			*ret = send_problem(srv, conn, ctx, 405, "Method Not Allowed", match.allow, false);
		else
			*ret = send_problem(srv, conn, ctx, 404, "Not Found", NULL, false);
		return true;
	}
	ctx->route = match.route;
	memcpy(ctx->id, match.id, sizeof(ctx->id));

	if (ctx->route->kind == ROUTE_CALL || ctx->route->kind == ROUTE_AUTH)
	{
		gw_reply	reply = {0};
		const head_field *authorization = field(&h, "Authorization");

		if (authorization && strlen(authorization->value) != authorization->value_len)
		{
			*ret = send_problem(srv, conn, ctx, 400, "The Authorization header holds a NUL.", NULL, true);
			return true;
		}
		if (ctx->route->needs_credential || ctx->route->kind == ROUTE_AUTH)
		{
			if (auth_check(srv->cfg, authorization ? authorization->value : NULL, &ctx->auth, &reply) != 0)
			{
				*ret = send_early(srv, conn, ctx, &reply);
				return true;
			}
			if (ctx->auth.kind == AUTH_NONE)
			{
				errors_authentication_required(&reply);
				*ret = send_early(srv, conn, ctx, &reply);
				return true;
			}
		}
	}

	/* A body the route reads must be JSON, and declared as such. */
	if (ctx->route->kind == ROUTE_CALL && strcmp(ctx->route->method, "POST") == 0 &&
		(ctx->route->args != ARGS_ROTATE_OBJECT || ctx->framing.chunked ||
		 (ctx->framing.has_length && ctx->framing.length > 0)))
	{
		const head_field *ct = field(&h, "Content-Type");
		const char *problem = head_content_type_problem(ct ? ct->value : NULL, ct ? ct->value_len : 0,
														buf, sizeof(buf));

		if (problem)
		{
			*ret = send_problem(srv, conn, ctx, 415, problem, NULL, false);
			return true;
		}
	}
	/* A declared oversize body is refused without reading a byte of it. */
	if (ctx->framing.has_length && ctx->framing.length > HTTP_MAX_BODY)
	{
		*ret = send_problem(srv, conn, ctx, 413, "The request body must not exceed 65536 bytes.", NULL, false);
		return true;
	}
	return false;
}

/* Appends a body chunk, giving up (without buffering) once past the limit. */
static void
append_body(request_ctx *ctx, const char *data, size_t size)
{
	if (ctx->too_large)
		return;
	if (ctx->body_len + size > HTTP_MAX_BODY)
	{
		ctx->too_large = true;
		free(ctx->body);
		ctx->body = NULL;
		ctx->body_len = ctx->body_cap = 0;
		return;
	}
	if (ctx->body_len + size + 1 > ctx->body_cap)
	{
		size_t		cap = ctx->body_cap ? ctx->body_cap : 1024;
		char	   *grown;

		while (cap < ctx->body_len + size + 1)
			cap *= 2;
		grown = realloc(ctx->body, cap);
		if (grown == NULL)
		{
			/* Treat as too large: the reply is a clean 413 rather than a crash. */
			ctx->too_large = true;
			return;
		}
		ctx->body = grown;
		ctx->body_cap = cap;
	}
	memcpy(ctx->body + ctx->body_len, data, size);
	ctx->body_len += size;
	ctx->body[ctx->body_len] = '\0';
}

/* --------------------------------------------------------------- handlers */

/* page and limit from the query string, as text for the function to judge. */
typedef struct page_args
{
	char	   *page;
	char	   *limit;
} page_args;

static enum MHD_Result
collect_page_arg(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
				 const char *value, size_t value_size)
{
	page_args  *a = cls;
	char	  **slot = NULL;

	(void) kind;
	if (key_size == 4 && strncmp(key, "page", 4) == 0)
		slot = &a->page;
	else if (key_size == 5 && strncmp(key, "limit", 5) == 0)
		slot = &a->limit;
	if (slot && *slot == NULL)
	{
		/* A NUL inside cannot be text: pass what every number check refuses. */
		if (value == NULL || strlen(value) != value_size)
			*slot = strdup("");
		else
			*slot = strdup(value);
	}
	return MHD_YES;
}

/* The request head's fields again, for request.headers. */
static char *
request_headers_json(http_server *srv, struct MHD_Connection *conn)
{
	head_fields h = {0};

	MHD_get_connection_values_n(conn, MHD_HEADER_KIND, collect_field, &h);
	return allowed_headers_json(srv->cfg, &h);
}

/* A route that runs a fynn_api function: its arguments, then one transaction. */
static enum MHD_Result
handle_call(http_server *srv, struct MHD_Connection *conn, request_ctx *ctx, const char *method)
{
	gw_reply	reply = {0};
	db_call		call = {0};
	page_args	page = {0};
	char	   *arg = NULL;
	char	   *headers_json;
	char	   *path;
	const route *r = ctx->route;
	const char *body = ctx->body ? ctx->body : "";
	char		barrier[64];
	uint64_t	barrier_number = 0;

	if (ctx->too_large)
		return send_problem(srv, conn, ctx, 413, "The request body must not exceed 65536 bytes.", NULL, false);

	/* A body the route reads is checked here, as PostgREST parses bodies itself. */
	if (r->args == ARGS_BODY || r->args == ARGS_LEAK_REPORT ||
		(r->args == ARGS_ROTATE_OBJECT && ctx->body_len > 0))
	{
		body_syntax syntax = body_check_json(body, ctx->body_len);

		if (syntax == BODY_NOT_JSON || (syntax == BODY_UNDECIDED && r->args == ARGS_LEAK_REPORT))
			return send_problem(srv, conn, ctx, 400, "Syntax error", NULL, false);
	}
	switch (r->args)
	{
		case ARGS_BODY:
			call.args[0] = body;
			break;
		case ARGS_LEAK_REPORT:
			arg = body_leak_report(body, ctx->body_len);
			call.args[0] = arg;
			break;
		case ARGS_PAGE:
			MHD_get_connection_values_n(conn, MHD_GET_ARGUMENT_KIND, collect_page_arg, &page);
			call.args[0] = page.page;
			call.args[1] = page.limit;
			break;
		case ARGS_PATH_ID:
			call.args[0] = ctx->id;
			break;
		case ARGS_ID_OBJECT:
			arg = body_id_object(ctx->id);
			call.args[0] = arg;
			break;
		case ARGS_ROTATE_OBJECT:
			arg = body_rotate_object(ctx->id, ctx->body_len > 0 ? body : NULL, ctx->body_len);
			call.args[0] = arg;
			break;
		case ARGS_EMPTY_OBJECT:
			call.args[0] = "{}";
			break;
	}
	headers_json = request_headers_json(srv, conn);
	path = raw_path(ctx->raw_uri);
	if (headers_json == NULL || path == NULL ||
		((r->args == ARGS_LEAK_REPORT || r->args == ARGS_ID_OBJECT || r->args == ARGS_ROTATE_OBJECT) &&
		 arg == NULL))
		errors_internal(&reply, "out of memory building the request");
	else
	{
		call.route = r;
		call.method = method;
		call.path = path;
		call.headers_json = headers_json;
		if (ctx->auth.kind == AUTH_API_TOKEN)
			call.token_hash = ctx->auth.token_hash;
		else
			call.claims_json = ctx->auth.kind == AUTH_JWT ? ctx->auth.claims_json : "";
		/* Revocations through this gateway hold in its cache before the client hears 2xx. */
		if (r->revokes && listener_is_up(srv->listener))
		{
			listener_next_barrier(srv->listener, barrier, sizeof(barrier), &barrier_number);
			call.barrier = barrier;
		}
		db_call_route(srv->pool, &call, &reply);
		if (call.barrier && reply.status >= 200 && reply.status < 300 &&
			!listener_await_barrier(srv->listener, barrier_number, BARRIER_TIMEOUT_MS))
		{
			/* Which tokens a cascade reached is unknown here: forget them all rather than outlive one. */
			log_warn("the change listener did not confirm a revocation within %d ms; emptying the verify cache",
					 BARRIER_TIMEOUT_MS);
			cache_evict_token(srv->cache, "*");
		}
	}
	free(arg);
	free(page.page);
	free(page.limit);
	free(headers_json);
	free(path);
	return send_reply(srv, conn, ctx, &reply);
}

/* Microseconds since the Unix epoch, the scale the cache and the claims' exp use. */
static long long
epoch_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * An API token's claims for forward-auth: from the cache while the listener
 * is subscribed and the entry is fresh, else from the database (and then
 * cached, unless a change was announced meanwhile).  Records the token's
 * use at most once a minute.  Returns a parsed claims object, or NULL with
 * reply filled.
 */
static json_t *
api_token_claims(http_server *srv, const unsigned char *hash, char **jwt, long long *jwt_exp,
				 gw_reply *reply)
{
	cache_hit	hit;
	long long	now_us = epoch_us();
	json_t	   *claims;

	*jwt = NULL;
	if (cache_get(srv->cache, hash, now_us, monotonic_ms(), &hit))
	{
		claims = json_loads(hit.claims_json, 0, NULL);
		if (hit.record_due)
		{
			db_record_use(srv->pool, hash);
			cache_mark_recorded(srv->cache, hash, monotonic_ms());
		}
		*jwt = hit.jwt;
		*jwt_exp = hit.jwt_exp;
		hit.jwt = NULL;
		cache_hit_free(&hit);
	}
	else
	{
		uint64_t	generation = cache_generation(srv->cache);
		char	   *text;
		json_t	   *exp;

		if (!db_verify_token(srv->pool, hash, &text, reply))
			return NULL;
		if (text == NULL)
		{
			errors_unauthorized(reply, true, "Invalid API token");
			return NULL;
		}
		claims = json_loads(text, 0, NULL);
		exp = json_object_get(claims, "exp");
		if (json_is_string(json_object_get(claims, "token_id")))
			cache_put(srv->cache, hash, json_string_value(json_object_get(claims, "token_id")), text,
					  json_is_integer(exp), json_is_integer(exp) ? json_integer_value(exp) * 1000000 : 0,
					  generation, monotonic_ms());
		free(text);
	}
	if (!json_is_object(claims))
	{
		json_decref(claims);
		errors_internal(reply, "the database's claims are not a JSON object");
		return NULL;
	}
	return claims;
}

/* The route table's row of that name (for a contract call forward-auth makes itself). */
static const route *
route_named(const char *name)
{
	for (size_t i = 0; i < route_count; i++)
		if (strcmp(route_table[i].name, name) == 0)
			return &route_table[i];
	return NULL;
}

/*
 * A JWT that names an API token (token_id: a JWT minted here, or claims
 * from verify_api_token) is honoured only while that token is live and
 * still the same user's and tenant's, as the extension honours such claims
 * (src/caller.c): a revocation holds for it the moment it commits, as it
 * does for the token itself.  The cache answers by id under the same
 * eviction rules; else the database, through the contract's own identity
 * check (get_user_api_token: 401 when the token is no longer valid).
 * False with reply filled when the JWT is refused or the database fails.
 */
static bool
jwt_token_live(http_server *srv, request_ctx *ctx, const auth_subject *subject, gw_reply *reply)
{
	cache_hit	hit;
	const route *get = route_named("get");
	db_call		call = {0};
	gw_reply	answer = {0};
	char		path[sizeof(TOKEN_PATH_PREFIX) + sizeof(subject->token_id)];

	if (cache_get_by_id(srv->cache, subject->token_id, epoch_us(), monotonic_ms(), &hit))
	{
		json_t	   *cached = json_loads(hit.claims_json, 0, NULL);
		auth_subject owner;
		const char *why;
		bool		known = cached && auth_read_subject(srv->cfg, cached, &owner, &why);
		bool		same = known && strcmp(owner.user, subject->user) == 0 &&
			strcmp(owner.tenant, subject->tenant) == 0;

		if (known)
			auth_subject_free(&owner);
		json_decref(cached);
		cache_hit_free(&hit);
		if (same)
			return true;
		if (known)
		{
			errors_unauthorized(reply, true, "The API token has been revoked or has expired.");
			return false;
		}
	}
	if (get == NULL)
	{
		errors_internal(reply, "no route to check an API token by id");
		return false;
	}
	metrics_count(METRIC_DB_VERIFY_CALLS);
	snprintf(path, sizeof(path), "%s%s", TOKEN_PATH_PREFIX, subject->token_id);
	call.route = get;
	call.args[0] = subject->token_id;
	call.claims_json = ctx->auth.claims_json;
	call.method = "GET";
	call.path = path;
	call.headers_json = "{}";
	db_call_route(srv->pool, &call, &answer);
	if (answer.status == 401 || answer.status >= 500)
	{
		*reply = answer;
		return false;
	}
	reply_free(&answer);
	return true;
}

/*
 * GET /auth, forward-auth for nginx auth_request, Traefik ForwardAuth and
 * Envoy ext_authz: 200 with who the credential names and a short-lived
 * JWT for PostgREST (X-Fynn-Jwt), or 401.
 */
static enum MHD_Result
handle_auth(http_server *srv, struct MHD_Connection *conn, request_ctx *ctx)
{
	gw_reply	reply = {0};
	json_t	   *claims;
	char	   *jwt = NULL;
	long long	jwt_exp = 0;
	long long	now = epoch_us() / 1000000;
	auth_subject subject;
	const char *why = NULL;

	if (ctx->auth.kind == AUTH_API_TOKEN)
		claims = api_token_claims(srv, ctx->auth.token_hash, &jwt, &jwt_exp, &reply);
	else
		claims = json_incref(ctx->auth.claims);
	if (claims == NULL)
		return send_reply(srv, conn, ctx, &reply);

	if (!auth_read_subject(srv->cfg, claims, &subject, &why))
		errors_unauthorized(&reply, true, why);
	else if (ctx->auth.kind == AUTH_JWT && subject.token_id[0] &&
			 !jwt_token_live(srv, ctx, &subject, &reply))
		auth_subject_free(&subject);
	else
	{
		json_t	   *exp = json_object_get(claims, "exp");
		long long	not_after = json_is_number(exp) ? (long long) json_number_value(exp) : 0;

		/* A minted JWT is reused while it has more than half its life left. */
		if (jwt == NULL || jwt_exp - now < srv->cfg->auth_jwt_lifetime / 2)
		{
			free(jwt);
			jwt = auth_mint_jwt(srv->cfg, claims, now, not_after, &jwt_exp);
			if (jwt && ctx->auth.kind == AUTH_API_TOKEN)
				cache_keep_jwt(srv->cache, ctx->auth.token_hash, jwt, jwt_exp);
		}
		if (jwt == NULL)
			errors_internal(&reply, "cannot sign the forward-auth JWT");
		else
		{
			reply.status = 200;
			reply_add_header(&reply, "X-Fynn-User", subject.user);
			reply_add_header(&reply, "X-Fynn-Tenant", subject.tenant);
			reply_add_header(&reply, "X-Fynn-Permissions", subject.permissions);
			if (subject.token_id[0])
				reply_add_header(&reply, "X-Fynn-Token-Id", subject.token_id);
			reply_add_header(&reply, "X-Fynn-Jwt", jwt);
			reply_add_header(&reply, "Cache-Control", "no-store");
		}
		auth_subject_free(&subject);
	}
	free(jwt);
	json_decref(claims);
	return send_reply(srv, conn, ctx, &reply);
}

/* /health, /live, /ready, /metrics. */
static enum MHD_Result
handle_probe(http_server *srv, struct MHD_Connection *conn, request_ctx *ctx)
{
	gw_reply	reply = {0};

	if (ctx->route->kind == ROUTE_METRICS)
	{
		char	   *text = metrics_render(srv->cache, srv->listener);

		if (text == NULL)
			errors_internal(&reply, "cannot render metrics");
		else
		{
			reply.status = 200;
			reply.body = text;
			reply.body_len = strlen(text);
			reply_add_header(&reply, "Content-Type", CONTENT_TYPE_METRICS);
		}
	}
	else if (ctx->route->kind == ROUTE_READY && !db_ping(srv->pool))
		errors_unavailable(&reply);
	else
	{
		reply.status = 200;
		reply_set_body(&reply, "{\"status\":\"ok\"}", 15);
		reply_add_header(&reply, "Content-Type", CONTENT_TYPE_JSON);
	}
	return send_early(srv, conn, ctx, &reply);
}

/* MHD's access handler: called once for the head, once per body chunk, once at the end. */
static enum MHD_Result
handle_request(void *cls, struct MHD_Connection *conn, const char *url,
			   const char *method, const char *version, const char *upload_data,
			   size_t *upload_data_size, void **con_cls)
{
	listener_ctx *lctx = cls;
	http_server *srv = lctx->server;
	request_ctx *ctx = *con_cls;
	enum MHD_Result ret = MHD_YES;

	(void) url;
	(void) version;
	if (ctx == NULL)
		return MHD_NO;			/* the request-line callback failed to allocate */
	if (!ctx->head_done)
	{
		ctx->head_done = true;
		copy_for_log(ctx->method, sizeof(ctx->method), method);
		conn_enter(srv, conn, PHASE_BODY);
		atomic_fetch_add(&srv->in_flight, 1);
		ctx->counted_in_flight = true;
		if (judge_head(srv, conn, ctx, lctx->admin, method, &ret))
			return ret;
		if (ctx->route->kind != ROUTE_CALL && ctx->route->kind != ROUTE_AUTH)
			return handle_probe(srv, conn, ctx);
		return MHD_YES;			/* wait for the body */
	}
	if (ctx->has_pending)
	{
		ctx->has_pending = false;
		return send_reply(srv, conn, ctx, &ctx->pending);
	}
	if (ctx->replied)
	{
		/* Already answered early: drain and drop whatever body still arrives. */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size > 0)
	{
		append_body(ctx, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	conn_enter(srv, conn, PHASE_PROCESSING);
	if (ctx->route->kind == ROUTE_AUTH)
		return handle_auth(srv, conn, ctx);
	return handle_call(srv, conn, ctx, method);
}

/* The request line has arrived: the raw target is kept for routing. */
static void *
uri_logger(void *cls, const char *uri, struct MHD_Connection *conn)
{
	request_ctx *ctx = calloc(1, sizeof(*ctx));

	(void) cls;
	(void) conn;
	if (ctx == NULL)
		return NULL;
	ctx->start_us = monotonic_us();
	ctx->raw_uri = strdup(uri ? uri : "");
	/* The path only: a query string is the client's to fill, and not the log's to keep. */
	if (ctx->raw_uri)
	{
		char		path[sizeof(ctx->path)];

		snprintf(path, sizeof(path), "%.*s", (int) strcspn(ctx->raw_uri, "?#"), ctx->raw_uri);
		copy_for_log(ctx->path, sizeof(ctx->path), path);
	}
	return ctx;
}

/* One access-log line and metrics per request, then the request's memory is released. */
static void
request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
				  enum MHD_RequestTerminationCode toe)
{
	http_server *srv = ((listener_ctx *) cls)->server;
	request_ctx *ctx = *con_cls;
	double		seconds;

	if (ctx == NULL)
		return;
	seconds = (double) (monotonic_us() - ctx->start_us) / 1e6;
	if (ctx->head_done)
	{
		log_info("%s %s %u %.1fms%s%s%s", ctx->method, ctx->path, ctx->status, seconds * 1000.0,
				 ctx->sqlstate[0] ? " sqlstate=" : "", ctx->sqlstate,
				 toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection aborted)");
		metrics_request(ctx->route ? ctx->route->name : NULL, ctx->status, seconds);
	}
	if (ctx->counted_in_flight)
		atomic_fetch_sub(&srv->in_flight, 1);
	conn_enter(srv, conn, PHASE_HEAD);
	auth_identity_free(&ctx->auth);
	reply_free(&ctx->pending);
	free(ctx->raw_uri);
	free(ctx->body);
	free(ctx);
	*con_cls = NULL;
}

/* -------------------------------------------------------------- lifecycle */

/* Resolves PGRST_SERVER_HOST (PostgREST's "*4"/"*6" wildcards included) to a socket address. */
static bool
resolve_host(const char *host, int port, struct sockaddr_storage *out, socklen_t *outlen)
{
	struct addrinfo hints = {0};
	struct addrinfo *res = NULL;
	char		portstr[8];
	int			rc;

	if (strcmp(host, "*") == 0 || strcmp(host, "*4") == 0 || strcmp(host, "!4") == 0)
		host = "0.0.0.0";
	else if (strcmp(host, "*6") == 0 || strcmp(host, "!6") == 0)
		host = "::";
	snprintf(portstr, sizeof(portstr), "%d", port);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	rc = getaddrinfo(host, portstr, &hints, &res);
	if (rc != 0 || res == NULL)
	{
		log_error("PGRST_SERVER_HOST: cannot resolve \"%s\": %s", host, gai_strerror(rc));
		return false;
	}
	memcpy(out, res->ai_addr, res->ai_addrlen);
	*outlen = res->ai_addrlen;
	freeaddrinfo(res);
	return true;
}

/* One daemon on one port: a thread per connection, with every limit set. */
static struct MHD_Daemon *
start_daemon(http_server *srv, listener_ctx *lctx, int port)
{
	struct sockaddr_storage addr;
	socklen_t	addrlen = 0;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
		MHD_USE_AUTO | MHD_USE_ERROR_LOG | MHD_USE_ITC;
	struct MHD_Daemon *d;

	if (!resolve_host(srv->cfg->server_host, port, &addr, &addrlen))
		return NULL;
	if (addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	d = MHD_start_daemon(flags, (uint16_t) port, NULL, NULL,
						 handle_request, lctx,
	/* First, so that even option errors reach our log. */
						 MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL,
						 MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
						 MHD_OPTION_URI_LOG_CALLBACK, uri_logger, lctx,
						 MHD_OPTION_NOTIFY_COMPLETED, request_completed, lctx,
						 MHD_OPTION_NOTIFY_CONNECTION, notify_connection, lctx,
	/* The reaper enforces the real deadlines; this only ends connections nobody watches. */
						 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) (srv->cfg->read_timeout + 5),
						 MHD_OPTION_CONNECTION_LIMIT, (unsigned int) srv->cfg->max_connections,
						 MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int) srv->cfg->max_connections_per_ip,
						 MHD_OPTION_THREAD_STACK_SIZE, (size_t) THREAD_STACK_SIZE,
						 MHD_OPTION_END);
	if (d == NULL)
		log_error("cannot listen on %s:%d", srv->cfg->server_host, port);
	return d;
}

http_server *
http_start(const config *cfg, db_pool *pool, cache *c, listener *l)
{
	http_server *srv = calloc(1, sizeof(*srv));

	if (srv == NULL)
		return NULL;
	srv->cfg = cfg;
	srv->pool = pool;
	srv->cache = c;
	srv->listener = l;
	srv->main_ctx.server = srv;
	srv->admin_ctx.server = srv;
	srv->admin_ctx.admin = true;
	pthread_mutex_init(&srv->conns_lock, NULL);
	if ((srv->daemon = start_daemon(srv, &srv->main_ctx, cfg->server_port)) == NULL ||
		(cfg->admin_port && (srv->admin_daemon = start_daemon(srv, &srv->admin_ctx, cfg->admin_port)) == NULL) ||
		pthread_create(&srv->reaper, NULL, reaper_main, srv) != 0)
	{
		if (srv->daemon)
			MHD_stop_daemon(srv->daemon);
		if (srv->admin_daemon)
			MHD_stop_daemon(srv->admin_daemon);
		pthread_mutex_destroy(&srv->conns_lock);
		free(srv);
		return NULL;
	}
	return srv;
}

/*
 * Graceful: the listening sockets close at once, requests already in
 * flight are answered (with Connection: close), and only then are the
 * daemons stopped, which closes idle keep-alive connections.
 */
void
http_stop(http_server *srv, int grace_seconds)
{
	long long	deadline = monotonic_ms() + (long long) grace_seconds * 1000;
	MHD_socket	fd;

	if (srv == NULL)
		return;
	atomic_store(&srv->stopping, true);
	if ((fd = MHD_quiesce_daemon(srv->daemon)) != MHD_INVALID_SOCKET)
		close(fd);
	if (srv->admin_daemon && (fd = MHD_quiesce_daemon(srv->admin_daemon)) != MHD_INVALID_SOCKET)
		close(fd);
	while (atomic_load(&srv->in_flight) > 0 && monotonic_ms() < deadline)
	{
		struct timespec ts = {0, 10 * 1000000L};

		nanosleep(&ts, NULL);
	}
	if (atomic_load(&srv->in_flight) > 0)
		log_warn("%d requests still in flight after %d s; stopping anyway",
				 atomic_load(&srv->in_flight), grace_seconds);
	atomic_store(&srv->reaper_stop, true);
	pthread_join(srv->reaper, NULL);
	MHD_stop_daemon(srv->daemon);
	if (srv->admin_daemon)
		MHD_stop_daemon(srv->admin_daemon);
	pthread_mutex_destroy(&srv->conns_lock);
	free(srv);
}
