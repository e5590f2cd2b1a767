/*
 * http.c
 *		libmicrohttpd server: routes, request bodies, replies, access log.
 *
 * Thread per connection: a request thread may block on the database, and
 * with one thread per client that never stalls other clients.  The body is
 * read completely (bounded by HTTP_MAX_BODY) before a database connection
 * is borrowed, so a slow client never holds one.
 */
#include "http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include <jansson.h>
#include <microhttpd.h>

#include "auth.h"
#include "errors.h"
#include "clock.h"
#include "log.h"

#define PATH_TOKENS	"/user/api-tokens"

struct http_server
{
	struct MHD_Daemon *daemon;
	const config *cfg;
	db_pool    *pool;
};

/* Per-request state, from the first header callback to the completion callback. */
typedef struct request_ctx
{
	long long	start_us;
	char		method[16];		/* for the access log */
	char		path[128];		/* sanitised for the access log */
	unsigned	status;			/* 0 until a reply is queued */
	char		sqlstate[6];
	bool		replied;
	bool		too_large;
	gw_reply	pending;		/* early reply held back until MHD's next call */
	bool		has_pending;
	auth_identity auth;
	char	   *body;
	size_t		body_len;
	size_t		body_cap;
} request_ctx;

/* Keeps control characters from a decoded URL out of log lines (log injection). */
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

/* Hands a reply to MHD; MHD owns the body from here on. */
static enum MHD_Result
send_reply(struct MHD_Connection *conn, request_ctx *ctx, gw_reply *reply)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char	   *body = reply->body;

	if (body == NULL)
	{
		/* Only out-of-memory gets here; reply with an empty 500. */
		reply->status = 500;
		body = strdup("");
		if (body == NULL)
			return MHD_NO;
	}
	resp = MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
	reply->body = NULL;
	if (resp == NULL)
	{
		free(body);
		errors_reply_free(reply);
		return MHD_NO;
	}
	if (reply->content_type)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, reply->content_type);
	if (reply->location)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, reply->location);
	if (reply->www_authenticate)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, reply->www_authenticate);
	if (reply->allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, reply->allow);

	ret = MHD_queue_response(conn, reply->status, resp);
	MHD_destroy_response(resp);
	if (ret == MHD_YES)
	{
		ctx->replied = true;
		ctx->status = reply->status;
		memcpy(ctx->sqlstate, reply->sqlstate, sizeof(ctx->sqlstate));
	}
	errors_reply_free(reply);
	return ret;
}

/*
 * A reply decided from the headers alone.  Queued in MHD's first call, MHD
 * closes the connection (it cannot know the body was not wanted), so when
 * the request announces no body the reply waits for the next call and the
 * keep-alive connection survives.  With a body, replying now is the point:
 * the body is never read.
 */
static enum MHD_Result
send_early(struct MHD_Connection *conn, request_ctx *ctx, gw_reply *reply)
{
	const char *length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
													 MHD_HTTP_HEADER_CONTENT_LENGTH);
	const char *chunked = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
													  MHD_HTTP_HEADER_TRANSFER_ENCODING);

	if (chunked == NULL && (length == NULL || strtoull(length, NULL, 10) == 0))
	{
		ctx->pending = *reply;
		ctx->has_pending = true;
		return MHD_YES;
	}
	return send_reply(conn, ctx, reply);
}

/* Problem replies of the HTTP layer, built by errors.c like every other error. */
static enum MHD_Result
send_problem(struct MHD_Connection *conn, request_ctx *ctx, unsigned status,
			 const char *detail, const char *allow, bool early)
{
	gw_reply	reply = {0};

	errors_problem(&reply, status, detail);
	reply.allow = allow;
	return early ? send_early(conn, ctx, &reply) : send_reply(conn, ctx, &reply);
}

/* Success bodies: {"status":"ok"} for probes. */
static enum MHD_Result
send_json(struct MHD_Connection *conn, request_ctx *ctx, unsigned status, const char *json)
{
	gw_reply	reply = {0};

	reply.status = status;
	reply.content_type = CONTENT_TYPE_JSON;
	reply.body = strdup(json);
	return send_early(conn, ctx, &reply);
}

/*
 * Only application/json is accepted (as the spec's framework does), with an
 * optional charset that must be UTF-8: the body goes to the database as
 * UTF-8 text.  Returns NULL when acceptable, else the 415 detail.
 */
static const char *
content_type_problem(const char *ct, char *buf, size_t buflen)
{
	const char *semi;
	size_t		len;

	if (ct == NULL)
		return "The \"Content-Type\" header must exist.";
	while (*ct == ' ' || *ct == '\t')
		ct++;
	semi = strchr(ct, ';');
	len = semi ? (size_t) (semi - ct) : strlen(ct);
	while (len > 0 && (ct[len - 1] == ' ' || ct[len - 1] == '\t'))
		len--;
	if (len == strlen("application/json") && strncasecmp(ct, "application/json", len) == 0)
	{
		/* Parameters: only charset has a meaning for JSON, and only UTF-8 is valid. */
		for (const char *p = semi; p != NULL; p = strchr(p + 1, ';'))
		{
			const char *q = p + 1;

			while (*q == ' ' || *q == '\t')
				q++;
			if (strncasecmp(q, "charset=", 8) == 0)
			{
				q += 8;
				if (*q == '"')
					q++;
				if (strncasecmp(q, "utf-8", 5) == 0)
					q += 5;
				else if (strncasecmp(q, "utf8", 4) == 0)
					q += 4;
				else
					goto unsupported;
				/* "utf-8x" is another charset, not UTF-8. */
				if (*q != '\0' && *q != '"' && *q != ';' && *q != ' ' && *q != '\t')
					goto unsupported;
			}
		}
		return NULL;
	}
unsupported:
	snprintf(buf, buflen,
			 "The content-type \"%.*s\" is not supported. Supported MIME types are \"application/json\".",
			 (int) (strlen(ct) > 100 ? 100 : strlen(ct)), ct);
	return buf;
}

/* Collects request headers for request.headers, as PostgREST does. */
static enum MHD_Result
collect_header(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	json_t	   *obj = cls;
	char		name[128];
	size_t		i;
	json_t	   *prev;

	(void) kind;
	for (i = 0; key[i] && i + 1 < sizeof(name); i++)
		name[i] = (char) tolower((unsigned char) key[i]);
	name[i] = '\0';
	/* Credentials stay out of the database, and so out of its logs. */
	if (strcmp(name, "authorization") == 0 || strcmp(name, "cookie") == 0 ||
		strcmp(name, "proxy-authorization") == 0)
		return MHD_YES;
	if (value == NULL)
		value = "";
	prev = json_object_get(obj, name);
	if (json_is_string(prev))
	{
		/* Repeated header: RFC 9110 combines the field values with commas. */
		size_t		len = json_string_length(prev) + 2 + strlen(value);
		char	   *joined = malloc(len + 1);

		if (joined)
		{
			snprintf(joined, len + 1, "%s, %s", json_string_value(prev), value);
			json_object_set_new(obj, name, json_string(joined));
			free(joined);
		}
	}
	else
	{
		json_t	   *s = json_string(value);

		/* Not UTF-8: cannot be a JSON string, and no function needs it. */
		if (s)
			json_object_set_new(obj, name, s);
	}
	return MHD_YES;
}

/* The last callback of a POST: validate the body, then one database transaction. */
static enum MHD_Result
finish_create(http_server *srv, struct MHD_Connection *conn, request_ctx *ctx)
{
	gw_reply	reply = {0};
	json_t	   *parsed;
	json_t	   *headers;
	char	   *headers_json;
	char	   *result = NULL;
	db_call		call = {0};

	if (ctx->too_large)
		return send_problem(conn, ctx, 413, "The request body must not exceed 65536 bytes.", NULL, false);

	/* Syntax is checked here, as PostgREST parses bodies itself; types and values are the extension's. */
	parsed = json_loadb(ctx->body ? ctx->body : "", ctx->body_len,
						JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
	if (parsed == NULL)
		return send_problem(conn, ctx, 400, "Syntax error", NULL, false);
	json_decref(parsed);

	headers = json_object();
	if (headers)
		MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, headers);
	headers_json = headers ? json_dumps(headers, JSON_COMPACT) : NULL;
	json_decref(headers);
	if (headers_json == NULL)
	{
		errors_internal(&reply, "out of memory building request.headers");
		return send_reply(conn, ctx, &reply);
	}

	call.claims_json = ctx->auth.kind == AUTH_JWT ? ctx->auth.claims_json : NULL;
	call.token_hash = ctx->auth.kind == AUTH_API_TOKEN ? ctx->auth.token_hash : NULL;
	call.method = "POST";
	call.path = PATH_TOKENS;
	call.headers_json = headers_json;
	call.body = ctx->body;

	if (db_create_token(srv->pool, &call, &result, &reply) == 0)
	{
		json_t	   *created = json_loads(result, JSON_DECODE_ANY, NULL);
		const char *id = json_string_value(json_object_get(created, "id"));

		reply.status = 201;
		reply.content_type = CONTENT_TYPE_JSON;
		reply.body = result;	/* verbatim, as the extension produced it */
		if (id)
		{
			size_t		len = strlen(PATH_TOKENS) + 1 + strlen(id) + 1;

			reply.location = malloc(len);
			if (reply.location)
				snprintf(reply.location, len, "%s/%s", PATH_TOKENS, id);
		}
		else
			log_error("create_user_api_token returned no \"id\"; 201 sent without Location");
		json_decref(created);
	}
	free(headers_json);
	return send_reply(conn, ctx, &reply);
}

/*
 * Everything decidable from the request line and headers, answered before
 * the body is read: routing, credentials (locally), Content-Type, size.
 * Returns true when a reply was queued.
 */
static bool
early_reply(http_server *srv, struct MHD_Connection *conn, request_ctx *ctx,
			const char *url, const char *method, enum MHD_Result *ret)
{
	gw_reply	reply = {0};
	char		buf[192];
	const char *problem;
	const char *length;

	if (strcmp(url, "/health") == 0 || strcmp(url, "/ready") == 0)
	{
		if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
			*ret = send_problem(conn, ctx, 405, "Method Not Allowed (Allow: GET)", "GET", true);
		else if (strcmp(url, "/health") == 0 || db_ping(srv->pool))
			*ret = send_json(conn, ctx, 200, "{\"status\":\"ok\"}");
		else
		{
			errors_unavailable(&reply);
			*ret = send_early(conn, ctx, &reply);
		}
		return true;
	}
	if (strcmp(url, PATH_TOKENS) != 0)
	{
		*ret = send_problem(conn, ctx, 404, "Not Found", NULL, true);
		return true;
	}
	if (strcmp(method, "POST") != 0)
	{
		*ret = send_problem(conn, ctx, 405, "Method Not Allowed (Allow: POST)", "POST", true);
		return true;
	}

	if (auth_check(srv->cfg,
				   MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION),
				   &ctx->auth, &reply) != 0)
	{
		*ret = send_early(conn, ctx, &reply);
		return true;
	}

	problem = content_type_problem(MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
															   MHD_HTTP_HEADER_CONTENT_TYPE),
								   buf, sizeof(buf));
	if (problem)
	{
		*ret = send_problem(conn, ctx, 415, problem, NULL, true);
		return true;
	}

	/* A declared oversize body is refused without reading a byte of it. */
	length = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (length && strtoull(length, NULL, 10) > HTTP_MAX_BODY)
	{
		*ret = send_problem(conn, ctx, 413, "The request body must not exceed 65536 bytes.", NULL, true);
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

/* MHD's access handler: called once for headers, once per body chunk, once at the end. */
static enum MHD_Result
handle_request(void *cls, struct MHD_Connection *conn, const char *url,
			   const char *method, const char *version, const char *upload_data,
			   size_t *upload_data_size, void **con_cls)
{
	http_server *srv = cls;
	request_ctx *ctx = *con_cls;
	enum MHD_Result ret = MHD_YES;

	(void) version;
	if (ctx == NULL)
	{
		ctx = calloc(1, sizeof(*ctx));
		if (ctx == NULL)
			return MHD_NO;
		ctx->start_us = monotonic_us();
		copy_for_log(ctx->method, sizeof(ctx->method), method);
		copy_for_log(ctx->path, sizeof(ctx->path), url);
		*con_cls = ctx;
		if (early_reply(srv, conn, ctx, url, method, &ret))
			return ret;
		return MHD_YES;			/* wait for the body */
	}
	if (ctx->has_pending)
	{
		ctx->has_pending = false;
		return send_reply(conn, ctx, &ctx->pending);
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
	return finish_create(srv, conn, ctx);
}

/* One access-log line per request, then the request's memory is released. */
static void
request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
				  enum MHD_RequestTerminationCode toe)
{
	request_ctx *ctx = *con_cls;

	(void) cls;
	(void) conn;
	if (ctx == NULL)
		return;
	log_info("%s %s %u %.1fms%s%s%s", ctx->method, ctx->path, ctx->status,
			 (double) (monotonic_us() - ctx->start_us) / 1000.0,
			 ctx->sqlstate[0] ? " sqlstate=" : "", ctx->sqlstate,
			 toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection aborted)");
	auth_identity_free(&ctx->auth);
	errors_reply_free(&ctx->pending);
	free(ctx->body);
	free(ctx);
	*con_cls = NULL;
}

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

/* Starts the daemon with its own listening thread and one thread per client connection. */
http_server *
http_start(const config *cfg, db_pool *pool)
{
	http_server *srv = calloc(1, sizeof(*srv));
	struct sockaddr_storage addr;
	socklen_t	addrlen = 0;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
		MHD_USE_AUTO | MHD_USE_ERROR_LOG;

	if (srv == NULL)
		return NULL;
	srv->cfg = cfg;
	srv->pool = pool;
	if (!resolve_host(cfg->server_host, cfg->server_port, &addr, &addrlen))
	{
		free(srv);
		return NULL;
	}
	if (addr.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;

	srv->daemon = MHD_start_daemon(flags, (uint16_t) cfg->server_port,
								   NULL, NULL,
								   handle_request, srv,
	/* First, so that even option errors reach our log. */
								   MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL,
								   MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
								   MHD_OPTION_NOTIFY_COMPLETED, request_completed, srv,
	/* Idle keep-alive clients must not keep their threads forever. */
								   MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) 30,
								   MHD_OPTION_CONNECTION_LIMIT, (unsigned int) 512,
	/* Small stacks keep RSS low with many client threads; jansson's parser is the deepest user. */
								   MHD_OPTION_THREAD_STACK_SIZE, (size_t) (512 * 1024),
								   MHD_OPTION_END);
	if (srv->daemon == NULL)
	{
		log_error("cannot listen on %s:%d", cfg->server_host, cfg->server_port);
		free(srv);
		return NULL;
	}
	return srv;
}

/* MHD_stop_daemon joins every connection thread, so nothing touches the pool afterwards. */
void
http_stop(http_server *srv)
{
	if (srv == NULL)
		return;
	MHD_stop_daemon(srv->daemon);
	free(srv);
}
