/*
 * db.c
 *		libpq connection pool and the pipelined per-request transaction.
 *
 * A request borrows a connection only after its whole body has arrived, so
 * a slow client never pins a database connection.  BEGIN, the set_config
 * statement, the route's function and COMMIT go out in one pipeline: one
 * network round trip per request.  Credentials never travel as statement
 * text or parameters: a JWT is replaced by its verified claims, an API
 * token by its SHA-256.
 *
 * Every statement is prepared once per connection.  Each route has two:
 * "plain", and "guarded" for API-token requests, which skips the function
 * when the token turned out unknown (the claims statement then set empty
 * claims), so that an unknown token costs the same one round trip and no
 * error in the server log.
 */
#include "db.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"

/* How long a request waits for a free connection before answering 503. */
#define DB_ACQUIRE_TIMEOUT_MS	2000
/*
 * A connection used this recently is trusted without the idle check: it
 * saves a syscall per request under load, and a server cannot restart in
 * that window (a request on a connection that died meanwhile gets 503).
 */
#define DB_IDLE_CHECK_AFTER_MS	100
/* libpq's own connect timeout, in seconds (2 is its minimum); the URI may override it. */
#define DB_CONNECT_TIMEOUT		"2"

#define OID_TEXT	25
#define OID_BYTEA	17
#define MAX_STATEMENTS 48

typedef struct db_statement
{
	char		name[48];
	char	   *sql;
	int			nparams;
	Oid			types[4];
} db_statement;

typedef struct db_conn
{
	PGconn	   *conn;
	bool		prepared;		/* statements exist on this session */
	bool		in_use;
	long long	last_used_ms;	/* when a transaction last succeeded on it */
} db_conn;

struct db_pool
{
	pthread_mutex_t lock;
	pthread_cond_t available;	/* signalled when a slot is released */
	char	   *uri;
	int			size;
	int			timeout_s;
	db_conn    *slots;
	bool		reported_down;	/* so an outage is logged once, not per request */
	db_statement statements[MAX_STATEMENTS];
	int			nstatements;
};

/* The fixed statements; the routes' are added by add_route_statements. */
static const db_statement fixed_statements[] = {
	{"fynn_begin", "BEGIN", 0, {0}},
	{"fynn_begin_ro", "BEGIN READ ONLY", 0, {0}},
	{"fynn_commit", "COMMIT", 0, {0}},
	{"fynn_rollback", "ROLLBACK", 0, {0}},
	{"fynn_ping", "SELECT 1", 0, {0}},
	/* A JWT's verified claims ("" without a credential) and the request, transaction-local. */
	{"fynn_claims_jwt",
		"SELECT set_config('request.jwt.claims', $1, true),"
		" set_config('request.method', $2, true),"
		" set_config('request.path', $3, true),"
		" set_config('request.headers', $4, true)",
	4, {OID_TEXT, OID_TEXT, OID_TEXT, OID_TEXT}},
	/* An API token: its claims come from the database, in the same transaction. */
	{"fynn_claims_token",
		"SELECT c IS NOT NULL,"
		" set_config('request.jwt.claims', coalesce(c::text, ''), true),"
		" set_config('request.method', $2, true),"
		" set_config('request.path', $3, true),"
		" set_config('request.headers', $4, true)"
		" FROM fynn_tokens.verify_api_token_hash($1::bytea) AS c",
	4, {OID_BYTEA, OID_TEXT, OID_TEXT, OID_TEXT}},
	{"fynn_verify", "SELECT c::text FROM fynn_tokens.verify_api_token_hash($1::bytea) AS c",
	1, {OID_BYTEA}},
	{"fynn_record_use", "SELECT fynn_tokens.record_api_token_use($1::bytea)", 1, {OID_BYTEA}},
};

/* How a route's arguments appear in its call. */
static const char *
route_call_args(route_args args, int *nparams)
{
	switch (args)
	{
		case ARGS_PAGE:
			*nparams = 2;
			return "$1, $2";
		case ARGS_PATH_ID:
			*nparams = 1;
			return "$1";
		default:
			*nparams = 1;
			return "$1::json";
	}
}

/*
 * Two statements per route: the function's result as text, then the
 * response settings it made (the subquery runs first: OFFSET 0 keeps it
 * from being merged into the outer one).
 */
static bool
add_route_statements(db_pool *pool)
{
	for (size_t i = 0; i < route_count; i++)
	{
		const route *r = &route_table[i];
		int			nparams;
		const char *args;

		if (r->kind != ROUTE_CALL)
			continue;
		args = route_call_args(r->args, &nparams);
		for (int guarded = 0; guarded < 2; guarded++)
		{
			db_statement *st = &pool->statements[pool->nstatements];
			char		sql[512];

			if (pool->nstatements == MAX_STATEMENTS)
				return false;
			snprintf(st->name, sizeof(st->name), "fynn_%s_%s", guarded ? "guarded" : "plain", r->name);
			snprintf(sql, sizeof(sql),
					 "SELECT b, current_setting('response.status', true),"
					 " current_setting('response.headers', true)"
					 " FROM (SELECT fynn_api.%s(%s)::text AS b%s OFFSET 0) AS call",
					 r->function, args,
					 guarded ? " WHERE current_setting('request.jwt.claims', true) <> ''" : "");
			if ((st->sql = strdup(sql)) == NULL)
				return false;
			st->nparams = nparams;
			st->types[0] = st->types[1] = OID_TEXT;
			pool->nstatements++;
		}
	}
	return true;
}

/* Server notices go to our log at debug level instead of raw stderr. */
static void
notice_processor(void *arg, const char *message)
{
	(void) arg;
	log_debug("database notice: %s", message);
}

/* Logs an outage once and its end once, instead of once per request. */
static void
note_db_state(db_pool *pool, bool up, const char *reason)
{
	bool		changed;

	pthread_mutex_lock(&pool->lock);
	changed = (pool->reported_down == up);
	pool->reported_down = !up;
	pthread_mutex_unlock(&pool->lock);

	if (!changed)
		return;
	if (up)
		log_info("database connection is up");
	else
		log_warn("database unavailable: %s", reason);
}

/* URI settings win over our connect_timeout default because later keywords override earlier ones. */
static PGconn *
connect_one(const char *uri)
{
	const char *const keywords[] = {"connect_timeout", "application_name", "dbname", NULL};
	const char *const values[] = {DB_CONNECT_TIMEOUT, "fynn-gateway", uri, NULL};
	PGconn	   *conn = PQconnectdbParams(keywords, values, 1);

	/* Set at once (PQreset keeps it): libpq's default would print to raw stderr. */
	if (conn)
		PQsetNoticeProcessor(conn, notice_processor, NULL);
	return conn;
}

/* Runs a command on a fresh session, false (logged) when it fails. */
static bool
run_command(PGconn *conn, const char *sql)
{
	PGresult   *res = PQexec(conn, sql);
	bool		ok = PQresultStatus(res) == PGRES_COMMAND_OK;

	if (!ok)
		log_error("cannot run \"%s\": %s", sql, PQerrorMessage(conn));
	PQclear(res);
	return ok;
}

/*
 * Prepares every statement once per session and bounds every statement's
 * time in the server too, so a stuck request is cancelled there, not only
 * abandoned here.
 */
static bool
prepare_all(db_pool *pool, PGconn *conn)
{
	char		timeout[64];

	snprintf(timeout, sizeof(timeout), "SET statement_timeout = '%ds'", pool->timeout_s);
	if (!run_command(conn, timeout))
		return false;
	for (int i = 0; i < pool->nstatements; i++)
	{
		const db_statement *st = &pool->statements[i];
		PGresult   *res = PQprepare(conn, st->name, st->sql, st->nparams,
									st->nparams ? st->types : NULL);
		bool		ok = PQresultStatus(res) == PGRES_COMMAND_OK;

		if (!ok)
			log_error("cannot prepare %s: %s %s", st->name,
					  PQresultErrorField(res, PG_DIAG_SQLSTATE) ?: "",
					  PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) ?: PQerrorMessage(conn));
		PQclear(res);
		if (!ok)
			return false;
	}
	return true;
}

/*
 * An idle connection with something to read was told goodbye (FATAL on
 * server shutdown) or closed; find out before sending a transaction on it.
 */
static bool
idle_connection_alive(PGconn *conn)
{
	for (int i = 0; i < 4; i++)
	{
		struct pollfd pfd = {.fd = PQsocket(conn),.events = POLLIN};

		if (pfd.fd < 0)
			return false;
		if (poll(&pfd, 1, 0) <= 0)
			return PQstatus(conn) == CONNECTION_OK;
		/* Readable: consume it; EOF or a read error turns the status bad. */
		if (!PQconsumeInput(conn))
			return false;
		for (PGnotify *n = PQnotifies(conn); n; n = PQnotifies(conn))
			PQfreemem(n);
	}
	return PQstatus(conn) == CONNECTION_OK;
}

/* Connects, resets or re-prepares as needed, so callers only ever see a usable session. */
static bool
ensure_ready(db_pool *pool, db_conn *c)
{
	if (c->conn != NULL && monotonic_ms() - c->last_used_ms > DB_IDLE_CHECK_AFTER_MS &&
		!idle_connection_alive(c->conn))
	{
		log_debug("resetting a broken database connection");
		PQreset(c->conn);
		c->prepared = false;
	}
	if (c->conn == NULL)
	{
		c->conn = connect_one(pool->uri);
		c->prepared = false;
	}
	if (c->conn == NULL || PQstatus(c->conn) != CONNECTION_OK)
	{
		note_db_state(pool, false, c->conn ? PQerrorMessage(c->conn) : "out of memory");
		return false;
	}
	if (!c->prepared)
	{
		if (!prepare_all(pool, c->conn))
		{
			/* A half-prepared session is useless: start over next time. */
			PQfinish(c->conn);
			c->conn = NULL;
			note_db_state(pool, false,
						  "the fynn_tokens extension is missing, older than this gateway, or not granted to its role");
			return false;
		}
		c->prepared = true;
	}
	note_db_state(pool, true, NULL);
	return true;
}

/* Borrows a slot, waiting a bounded time so an exhausted pool yields 503, not a hang. */
static db_conn *
acquire(db_pool *pool)
{
	struct timespec deadline;
	db_conn    *got = NULL;
	bool		waited = false;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += DB_ACQUIRE_TIMEOUT_MS / 1000;
	deadline.tv_nsec += (DB_ACQUIRE_TIMEOUT_MS % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L)
	{
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}

	pthread_mutex_lock(&pool->lock);
	for (;;)
	{
		for (int i = 0; i < pool->size; i++)
		{
			if (!pool->slots[i].in_use)
			{
				got = &pool->slots[i];
				got->in_use = true;
				break;
			}
		}
		if (got)
			break;
		waited = true;
		if (pthread_cond_timedwait(&pool->available, &pool->lock, &deadline) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&pool->lock);
	if (waited)
		metrics_count(METRIC_POOL_WAITS);
	if (got == NULL)
	{
		metrics_count(METRIC_POOL_TIMEOUTS);
		log_warn("no database connection free within %d ms", DB_ACQUIRE_TIMEOUT_MS);
	}
	return got;
}

/* Returns a slot and wakes one waiter. */
static void
release(db_pool *pool, db_conn *c)
{
	pthread_mutex_lock(&pool->lock);
	c->in_use = false;
	pthread_cond_signal(&pool->available);
	pthread_mutex_unlock(&pool->lock);
}

/* Drops a session whose state is unknown (timeout, lost sync); the next borrower reconnects. */
static void
discard(db_conn *c)
{
	PQfinish(c->conn);
	c->conn = NULL;
	c->prepared = false;
}

/*
 * PQgetResult with a deadline: a server that stops answering without
 * closing the socket must not hold the request thread forever.
 * Sets *timed_out and returns NULL when the deadline passes.
 */
static PGresult *
get_result(PGconn *conn, long long deadline, bool *timed_out)
{
	while (PQisBusy(conn))
	{
		struct pollfd pfd = {.fd = PQsocket(conn),.events = POLLIN};
		long long	left = deadline - monotonic_ms();
		int			rc;

		if (left <= 0)
		{
			*timed_out = true;
			return NULL;
		}
		rc = poll(&pfd, 1, (int) left);
		if (rc < 0 && errno != EINTR)
			break;
		if (rc > 0 && !PQconsumeInput(conn))
			break;				/* PQgetResult below reports the failure */
	}
	return PQgetResult(conn);
}

db_pool *
db_pool_create(const char *uri, int size, int timeout_seconds)
{
	db_pool    *pool = calloc(1, sizeof(*pool));
	pthread_condattr_t attr;

	if (pool == NULL)
		return NULL;
	pool->uri = strdup(uri);
	pool->slots = calloc((size_t) size, sizeof(db_conn));
	pool->size = size;
	pool->timeout_s = timeout_seconds;
	for (size_t i = 0; i < sizeof(fixed_statements) / sizeof(fixed_statements[0]); i++)
	{
		pool->statements[pool->nstatements] = fixed_statements[i];
		pool->statements[pool->nstatements].sql = strdup(fixed_statements[i].sql);
		if (pool->statements[pool->nstatements++].sql == NULL)
			goto fail;
	}
	if (pool->uri == NULL || pool->slots == NULL || !add_route_statements(pool))
		goto fail;
	pthread_mutex_init(&pool->lock, NULL);
	/* Monotonic, so the bounded wait is not stretched by a clock change. */
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&pool->available, &attr);
	pthread_condattr_destroy(&attr);

	for (int i = 0; i < size; i++)
	{
		if (!ensure_ready(pool, &pool->slots[i]))
			break;				/* down: no point trying the others now */
	}
	return pool;

fail:
	for (int i = 0; i < pool->nstatements; i++)
		free(pool->statements[i].sql);
	free(pool->uri);
	free(pool->slots);
	free(pool);
	return NULL;
}

/* Called after the HTTP server stopped, so no slot is in use. */
void
db_pool_destroy(db_pool *pool)
{
	if (pool == NULL)
		return;
	for (int i = 0; i < pool->size; i++)
		PQfinish(pool->slots[i].conn);
	for (int i = 0; i < pool->nstatements; i++)
		free(pool->statements[i].sql);
	pthread_cond_destroy(&pool->available);
	pthread_mutex_destroy(&pool->lock);
	free(pool->slots);
	free(pool->uri);
	free(pool);
}

/* After a failed pipeline an explicit transaction stays aborted; end it before the slot is reused. */
static bool
rollback_if_needed(PGconn *conn, long long deadline)
{
	bool		timed_out = false;
	bool		ok = true;
	PGresult   *res;

	if (PQtransactionStatus(conn) != PQTRANS_INERROR)
		return true;
	if (!PQsendQueryPrepared(conn, "fynn_rollback", 0, NULL, NULL, NULL, 0))
		return false;
	while ((res = get_result(conn, deadline, &timed_out)) != NULL)
	{
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			ok = false;
		PQclear(res);
	}
	return ok && !timed_out && PQtransactionStatus(conn) == PQTRANS_IDLE;
}

/* One statement of a pipeline, and what came back for it. */
typedef struct pipeline_step
{
	const char *statement;
	int			nparams;
	const char *params[4];
	int			lengths[4];
	int			formats[4];
	PGresult   *rows;			/* PGRES_TUPLES_OK result, kept */
	PGresult   *error;			/* PGRES_FATAL_ERROR result, kept */
} pipeline_step;

typedef struct pipeline
{
	pipeline_step steps[6];
	int			nsteps;
	int			syncs_after[6];	/* a Sync follows step i when nonzero */
	bool		broken;			/* the connection's state is unknown: discard it */
	bool		timed_out;
} pipeline;

/* Adds a statement; params[0] may be a 32-byte hash sent in binary. */
static pipeline_step *
add_step(pipeline *p, const char *statement, int nparams)
{
	pipeline_step *s = &p->steps[p->nsteps++];

	memset(s, 0, sizeof(*s));
	s->statement = statement;
	s->nparams = nparams;
	return s;
}

/* A bytea parameter of 32 raw bytes. */
static void
set_hash_param(pipeline_step *s, int i, const unsigned char *hash)
{
	s->params[i] = (const char *) hash;
	s->lengths[i] = DB_TOKEN_HASH_LEN;
	s->formats[i] = 1;
}

/*
 * Sends the steps in one pipeline, reads every result, and keeps rows and
 * errors per step.  A step after a failed one in the same Sync segment is
 * reported by libpq as aborted and keeps neither.
 */
static void
run_pipeline(PGconn *conn, pipeline *p, long long deadline)
{
	int			expected_syncs = 0;

	if (!PQenterPipelineMode(conn))
	{
		p->broken = true;
		return;
	}
	for (int i = 0; i < p->nsteps; i++)
	{
		pipeline_step *s = &p->steps[i];

		if (!PQsendQueryPrepared(conn, s->statement, s->nparams, s->params, s->lengths,
								 s->formats, 0) ||
			(p->syncs_after[i] && !PQpipelineSync(conn)))
		{
			p->broken = true;
			return;
		}
		expected_syncs += p->syncs_after[i] ? 1 : 0;
	}
	for (int i = 0; i < p->nsteps && !p->broken; i++)
	{
		pipeline_step *s = &p->steps[i];
		PGresult   *res = get_result(conn, deadline, &p->timed_out);

		if (res == NULL)
		{
			p->broken = true;
			break;
		}
		switch (PQresultStatus(res))
		{
			case PGRES_TUPLES_OK:
				s->rows = res;
				break;
			case PGRES_FATAL_ERROR:
				s->error = res;
				break;
			case PGRES_COMMAND_OK:
			case PGRES_PIPELINE_ABORTED:
				PQclear(res);
				break;
			default:
				PQclear(res);
				p->broken = true;
				break;
		}
		/* The NULL that ends this statement's results. */
		if (!p->broken && (res = get_result(conn, deadline, &p->timed_out)) != NULL)
		{
			PQclear(res);
			p->broken = true;
		}
		if (!p->broken && p->syncs_after[i])
		{
			res = get_result(conn, deadline, &p->timed_out);
			if (res == NULL || PQresultStatus(res) != PGRES_PIPELINE_SYNC)
				p->broken = true;
			PQclear(res);
		}
	}
	if (!p->broken && (!PQexitPipelineMode(conn) || !rollback_if_needed(conn, deadline)))
		p->broken = true;
	(void) expected_syncs;
}

static void
free_pipeline(pipeline *p)
{
	for (int i = 0; i < p->nsteps; i++)
	{
		PQclear(p->steps[i].rows);
		PQclear(p->steps[i].error);
	}
}

/* The first error among steps [from, to), or NULL. */
static PGresult *
first_error(pipeline *p, int from, int to)
{
	for (int i = from; i < to && i < p->nsteps; i++)
		if (p->steps[i].error)
			return p->steps[i].error;
	return NULL;
}

/*
 * The answer a fynn_api function set: response.status (200 when unset),
 * response.headers (a JSON array of single-key objects, overriding the
 * default Content-Type), and the body it returned (none for 204).
 */
static void
reply_from_function(gw_reply *reply, PGresult *rows)
{
	const char *status = PQgetvalue(rows, 0, 1);
	const char *headers = PQgetvalue(rows, 0, 2);
	char	   *end;
	long		code = 200;
	json_t	   *list;

	if (!PQgetisnull(rows, 0, 1) && status[0] != '\0')
	{
		code = strtol(status, &end, 10);
		if (*end != '\0' || code < 100 || code > 599)
		{
			errors_internal(reply, "a fynn_api function set an invalid response.status");
			return;
		}
	}
	reply_free(reply);
	reply->status = (unsigned) code;
	reply_add_header(reply, "Content-Type", CONTENT_TYPE_JSON);
	/* Assigned apart: json_is_array() is a macro that evaluates its argument twice. */
	list = PQgetisnull(rows, 0, 2) || headers[0] == '\0' ? NULL : json_loads(headers, 0, NULL);
	if (json_is_array(list))
	{
		size_t		i;
		json_t	   *item;

		json_array_foreach(list, i, item)
		{
			const char *name;
			json_t	   *value;

			json_object_foreach(item, name, value)
			{
				if (json_is_string(value))
					reply_add_header(reply, name, json_string_value(value));
			}
		}
	}
	json_decref(list);
	if (code != 204 && !PQgetisnull(rows, 0, 0))
		reply_set_body(reply, PQgetvalue(rows, 0, 0), (size_t) PQgetlength(rows, 0, 0));
}

/* Borrows a ready connection, or fills reply with 503. */
static db_conn *
borrow(db_pool *pool, gw_reply *reply)
{
	db_conn    *c = acquire(pool);

	if (c == NULL)
	{
		errors_unavailable(reply);
		return NULL;
	}
	if (!ensure_ready(pool, c))
	{
		release(pool, c);
		errors_unavailable(reply);
		return NULL;
	}
	return c;
}

/* Returns a connection after a pipeline, discarding it when its state is unknown. */
static void
give_back(db_pool *pool, db_conn *c, pipeline *p, gw_reply *reply)
{
	if (p->timed_out)
		log_error("database did not answer within %d s; dropping the connection", pool->timeout_s);
	if (p->broken || p->timed_out || PQstatus(c->conn) != CONNECTION_OK)
	{
		if (PQstatus(c->conn) == CONNECTION_BAD)
			note_db_state(pool, false, PQerrorMessage(c->conn));
		discard(c);
		if (reply)
		{
			if (p->timed_out)
				errors_timeout(reply);
			else
				errors_unavailable(reply);
		}
	}
	else
		c->last_used_ms = monotonic_ms();
	release(pool, c);
}

void
db_call_route(db_pool *pool, const db_call *call, gw_reply *reply)
{
	db_conn    *c;
	pipeline	p = {0};
	pipeline_step *s;
	char		route_statement[64];
	int			claims_step;
	int			route_step;
	PGresult   *error;
	bool		by_token = call->token_hash != NULL;

	if ((c = borrow(pool, reply)) == NULL)
		return;

	add_step(&p, call->route->read_only ? "fynn_begin_ro" : "fynn_begin", 0);
	claims_step = p.nsteps;
	s = add_step(&p, by_token ? "fynn_claims_token" : "fynn_claims_jwt", 4);
	if (by_token)
		set_hash_param(s, 0, call->token_hash);
	else
		s->params[0] = call->claims_json ? call->claims_json : "";
	s->params[1] = call->method;
	s->params[2] = call->path;
	s->params[3] = call->headers_json;

	route_step = p.nsteps;
	snprintf(route_statement, sizeof(route_statement), "fynn_%s_%s",
			 by_token ? "guarded" : "plain", call->route->name);
	s = add_step(&p, route_statement, call->route->args == ARGS_PAGE ? 2 : 1);
	s->params[0] = call->args[0];
	s->params[1] = call->args[1];
	add_step(&p, "fynn_commit", 0);
	p.syncs_after[p.nsteps - 1] = 1;
	if (by_token)
	{
		/* The use is recorded after the request's own transaction, which may be read-only. */
		s = add_step(&p, "fynn_record_use", 1);
		set_hash_param(s, 0, call->token_hash);
		p.syncs_after[p.nsteps - 1] = 1;
	}

	run_pipeline(c->conn, &p, monotonic_ms() + (long long) (pool->timeout_s + 2) * 1000);

	if (p.broken || p.timed_out || PQstatus(c->conn) != CONNECTION_OK)
		give_back(pool, c, &p, reply);
	else
	{
		if ((error = first_error(&p, 0, route_step + 2)) != NULL)
			errors_from_pgresult(reply, error, c->conn);
		else if (by_token && !(p.steps[claims_step].rows &&
							   PQntuples(p.steps[claims_step].rows) == 1 &&
							   PQgetvalue(p.steps[claims_step].rows, 0, 0)[0] == 't'))
			errors_unauthorized(reply, true, "Invalid API token");
		else if (p.steps[route_step].rows == NULL || PQntuples(p.steps[route_step].rows) != 1)
			errors_internal(reply, "a fynn_api function returned no row");
		else
			reply_from_function(reply, p.steps[route_step].rows);
		if (p.nsteps > route_step + 2 && p.steps[route_step + 2].error)
			log_debug("recording an API token's use failed: %s",
					  PQresultErrorField(p.steps[route_step + 2].error, PG_DIAG_MESSAGE_PRIMARY) ?: "");
		give_back(pool, c, &p, NULL);
	}
	free_pipeline(&p);
}

bool
db_verify_token(db_pool *pool, const unsigned char hash[DB_TOKEN_HASH_LEN], char **claims_out,
				gw_reply *reply)
{
	db_conn    *c;
	pipeline	p = {0};
	bool		ok = false;

	*claims_out = NULL;
	metrics_count(METRIC_DB_VERIFY_CALLS);
	if ((c = borrow(pool, reply)) == NULL)
		return false;
	set_hash_param(add_step(&p, "fynn_verify", 1), 0, hash);
	p.syncs_after[0] = 1;
	/* Its own Sync: a failure to record (say, on a standby) cannot undo the answer. */
	set_hash_param(add_step(&p, "fynn_record_use", 1), 0, hash);
	p.syncs_after[1] = 1;
	run_pipeline(c->conn, &p, monotonic_ms() + (long long) (pool->timeout_s + 2) * 1000);
	if (p.broken || p.timed_out || PQstatus(c->conn) != CONNECTION_OK)
		give_back(pool, c, &p, reply);
	else
	{
		if (p.steps[0].error)
			errors_from_pgresult(reply, p.steps[0].error, c->conn);
		else if (p.steps[0].rows && PQntuples(p.steps[0].rows) == 1)
		{
			ok = true;
			if (!PQgetisnull(p.steps[0].rows, 0, 0) &&
				(*claims_out = strdup(PQgetvalue(p.steps[0].rows, 0, 0))) == NULL)
			{
				ok = false;
				errors_internal(reply, "out of memory");
			}
		}
		else
			errors_internal(reply, "verify_api_token_hash returned no row");
		give_back(pool, c, &p, NULL);
	}
	free_pipeline(&p);
	return ok;
}

void
db_record_use(db_pool *pool, const unsigned char hash[DB_TOKEN_HASH_LEN])
{
	gw_reply	ignored = {0};
	db_conn    *c = borrow(pool, &ignored);
	pipeline	p = {0};

	reply_free(&ignored);
	if (c == NULL)
		return;
	set_hash_param(add_step(&p, "fynn_record_use", 1), 0, hash);
	p.syncs_after[0] = 1;
	run_pipeline(c->conn, &p, monotonic_ms() + (long long) (pool->timeout_s + 2) * 1000);
	give_back(pool, c, &p, NULL);
	free_pipeline(&p);
}

/* /ready asks the database itself, through the same pool the requests use. */
bool
db_ping(db_pool *pool)
{
	gw_reply	ignored = {0};
	db_conn    *c = borrow(pool, &ignored);
	pipeline	p = {0};
	bool		ok;

	reply_free(&ignored);
	if (c == NULL)
		return false;
	add_step(&p, "fynn_ping", 0);
	p.syncs_after[0] = 1;
	run_pipeline(c->conn, &p, monotonic_ms() + DB_ACQUIRE_TIMEOUT_MS);
	ok = !p.broken && !p.timed_out && p.steps[0].rows != NULL;
	give_back(pool, c, &p, NULL);
	free_pipeline(&p);
	return ok;
}
