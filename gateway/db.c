/*
 * db.c
 *		libpq connection pool and the pipelined per-request transaction.
 *
 * A request borrows a connection only after its whole body has arrived, so
 * a slow client never pins a database connection.  BEGIN, the set_config
 * statement, the function call and COMMIT go out in one pipeline: one
 * network round trip per request, like a prepared pgbench transaction.
 * Credentials never travel as statement text or parameters: a JWT is
 * replaced by its verified claims, an API token by its SHA-256.
 */
#include "db.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "clock.h"
#include "log.h"

/* How long a request waits for a free connection before answering 503. */
#define DB_ACQUIRE_TIMEOUT_MS	2000
/* Upper bound on one transaction's round trip: a stuck server must not hang clients. */
#define DB_QUERY_TIMEOUT_MS		10000
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
	db_conn    *slots;
	bool		reported_down;	/* so an outage is logged once, not per request */
};

typedef struct db_statement
{
	const char *name;
	const char *sql;
	int			nparams;
	Oid			types[4];
} db_statement;

/*
 * Prepared once per connection.  The claims statements set every request.*
 * setting at once, transaction-locally; the API-token variant takes its
 * claims from the database, reports whether the token was known, and
 * records the use (last_used_at, at most once a minute, kept only when the
 * request's transaction commits).
 */
static const db_statement statements[] = {
	{"fynn_begin", "BEGIN", 0, {0}},
	{"fynn_commit", "COMMIT", 0, {0}},
	{"fynn_rollback", "ROLLBACK", 0, {0}},
	{"fynn_ping", "SELECT 1", 0, {0}},
	{"fynn_claims_jwt",
		"SELECT set_config('request.jwt.claims', $1, true),"
		" set_config('request.method', $2, true),"
		" set_config('request.path', $3, true),"
		" set_config('request.headers', $4, true)",
	4, {OID_TEXT, OID_TEXT, OID_TEXT, OID_TEXT}},
	{"fynn_claims_token",
		"SELECT c IS NOT NULL,"
		" set_config('request.jwt.claims', coalesce(c::text, ''), true),"
		" set_config('request.method', $2, true),"
		" set_config('request.path', $3, true),"
		" set_config('request.headers', $4, true),"
		" CASE WHEN c IS NOT NULL THEN fynn_tokens.record_api_token_use($1::bytea) END"
		" FROM fynn_tokens.verify_api_token_hash($1::bytea) AS c",
	4, {OID_BYTEA, OID_TEXT, OID_TEXT, OID_TEXT}},
	{"fynn_create", "SELECT fynn_tokens.create_user_api_token($1::json)", 1, {0}},
	/* Unknown token: skip the call rather than let it fail, and keep the server log quiet. */
	{"fynn_create_if_claims",
		"SELECT fynn_tokens.create_user_api_token($1::json)"
		" WHERE current_setting('request.jwt.claims', true) <> ''",
	1, {0}},
};

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

/* Prepares every statement once per session; names are fixed so the hot path only binds. */
static bool
prepare_all(PGconn *conn)
{
	for (size_t i = 0; i < sizeof(statements) / sizeof(statements[0]); i++)
	{
		const db_statement *st = &statements[i];
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
		if (!prepare_all(c->conn))
		{
			/* A half-prepared session is useless: start over next time. */
			PQfinish(c->conn);
			c->conn = NULL;
			note_db_state(pool, false,
						  "the fynn_tokens extension is missing, or older than this gateway");
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
		if (pthread_cond_timedwait(&pool->available, &pool->lock, &deadline) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&pool->lock);
	if (got == NULL)
		log_warn("no database connection free within %d ms", DB_ACQUIRE_TIMEOUT_MS);
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

/* Creates the pool; a database that is down now is only logged, requests retry. */
db_pool *
db_pool_create(const char *uri, int size)
{
	db_pool    *pool = calloc(1, sizeof(*pool));
	pthread_condattr_t attr;

	if (pool == NULL)
		return NULL;
	pool->uri = strdup(uri);
	pool->slots = calloc((size_t) size, sizeof(db_conn));
	pool->size = size;
	if (pool->uri == NULL || pool->slots == NULL)
	{
		free(pool->uri);
		free(pool->slots);
		free(pool);
		return NULL;
	}
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
}

/* Called after the HTTP server stopped, so no slot is in use. */
void
db_pool_destroy(db_pool *pool)
{
	if (pool == NULL)
		return;
	for (int i = 0; i < pool->size; i++)
		PQfinish(pool->slots[i].conn);
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

/*
 * The request's transaction in one round trip:
 *   BEGIN; set_config(...request.*...); create_user_api_token($1); COMMIT; Sync
 * Results come back in order; the first error wins and the rest of the
 * pipeline is reported as aborted by libpq.
 */
int
db_create_token(db_pool *pool, const db_call *call, char **body_out, gw_reply *reply)
{
	db_conn    *c;
	PGconn	   *conn;
	long long	deadline;
	bool		timed_out = false;
	bool		broken = false;
	bool		token_known = true;
	PGresult   *error = NULL;
	char	   *body = NULL;
	int			rc = -1;
	const char *claims_params[4];
	int			claims_lengths[4] = {0, 0, 0, 0};
	int			claims_formats[4] = {0, 0, 0, 0};
	const char *create_params[1] = {call->body};

	*body_out = NULL;
	c = acquire(pool);
	if (c == NULL)
	{
		errors_unavailable(reply);
		return -1;
	}
	if (!ensure_ready(pool, c))
	{
		release(pool, c);
		errors_unavailable(reply);
		return -1;
	}
	conn = c->conn;
	deadline = monotonic_ms() + DB_QUERY_TIMEOUT_MS;

	if (call->token_hash)
	{
		claims_params[0] = (const char *) call->token_hash;
		claims_lengths[0] = DB_TOKEN_HASH_LEN;
		claims_formats[0] = 1;	/* binary bytea: 32 raw bytes */
	}
	else
		claims_params[0] = call->claims_json;
	claims_params[1] = call->method;
	claims_params[2] = call->path;
	claims_params[3] = call->headers_json;

	if (!PQenterPipelineMode(conn) ||
		!PQsendQueryPrepared(conn, "fynn_begin", 0, NULL, NULL, NULL, 0) ||
		!PQsendQueryPrepared(conn, call->token_hash ? "fynn_claims_token" : "fynn_claims_jwt",
							 4, claims_params, claims_lengths, claims_formats, 0) ||
		!PQsendQueryPrepared(conn, call->token_hash ? "fynn_create_if_claims" : "fynn_create",
							 1, create_params, NULL, NULL, 0) ||
		!PQsendQueryPrepared(conn, "fynn_commit", 0, NULL, NULL, NULL, 0) ||
		!PQpipelineSync(conn))
	{
		broken = true;
		goto done;
	}

	/* Four statements, each ending with a NULL result, then the sync marker. */
	for (int step = 0; step < 4 && !broken; step++)
	{
		PGresult   *res = get_result(conn, deadline, &timed_out);

		if (res == NULL)
		{
			broken = true;
			break;
		}
		switch (PQresultStatus(res))
		{
			case PGRES_TUPLES_OK:
				if (step == 1 && call->token_hash)
					token_known = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
				else if (step == 2 && PQntuples(res) == 1 && !PQgetisnull(res, 0, 0))
					body = strdup(PQgetvalue(res, 0, 0));
				PQclear(res);
				break;
			case PGRES_COMMAND_OK:
			case PGRES_PIPELINE_ABORTED:
				PQclear(res);
				break;
			case PGRES_FATAL_ERROR:
				if (error == NULL)
					error = res;
				else
					PQclear(res);
				break;
			default:
				PQclear(res);
				broken = true;
				break;
		}
		if (broken)
			break;
		/* The NULL that ends this statement's results. */
		res = get_result(conn, deadline, &timed_out);
		if (res != NULL)
		{
			PQclear(res);
			broken = true;
		}
	}
	if (!broken)
	{
		PGresult   *res = get_result(conn, deadline, &timed_out);

		if (res == NULL || PQresultStatus(res) != PGRES_PIPELINE_SYNC)
			broken = true;
		PQclear(res);
	}
	if (!broken && (!PQexitPipelineMode(conn) || !rollback_if_needed(conn, deadline)))
		broken = true;

done:
	if (timed_out)
		log_error("database did not answer within %d ms; dropping the connection",
				  DB_QUERY_TIMEOUT_MS);

	if (broken || timed_out || PQstatus(conn) != CONNECTION_OK)
	{
		/* The error result of a lost connection carries no SQLSTATE: 503 either way. */
		if (PQstatus(conn) == CONNECTION_BAD)
			note_db_state(pool, false, PQerrorMessage(conn));
		else if (error && !timed_out)
			log_error("database pipeline out of sync after an error");
		discard(c);
		errors_unavailable(reply);
	}
	else if (!token_known)
		errors_unauthorized(reply, true, "Invalid API token");
	else if (error)
		errors_from_pgresult(reply, error, conn);
	else if (body == NULL)
		errors_internal(reply, "create_user_api_token returned no row or NULL");
	else
	{
		*body_out = body;
		body = NULL;
		rc = 0;
	}
	if (c->conn && !broken && !timed_out)
		c->last_used_ms = monotonic_ms();
	PQclear(error);
	free(body);
	release(pool, c);
	return rc;
}

/* /ready asks the database itself, through the same pool the requests use. */
bool
db_ping(db_pool *pool)
{
	db_conn    *c = acquire(pool);
	bool		ok = false;
	bool		timed_out = false;
	PGresult   *res;

	if (c == NULL)
		return false;
	if (ensure_ready(pool, c) &&
		PQsendQueryPrepared(c->conn, "fynn_ping", 0, NULL, NULL, NULL, 0))
	{
		long long	deadline = monotonic_ms() + DB_ACQUIRE_TIMEOUT_MS;

		while ((res = get_result(c->conn, deadline, &timed_out)) != NULL)
		{
			if (PQresultStatus(res) == PGRES_TUPLES_OK)
				ok = true;
			PQclear(res);
		}
		if (timed_out || PQstatus(c->conn) != CONNECTION_OK)
		{
			ok = false;
			discard(c);
		}
	}
	release(pool, c);
	return ok;
}
