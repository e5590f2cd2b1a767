/*
 * routes.c
 *		The route table and its matcher.  Adding a route is adding a row.
 */
#include "routes.h"

#include <stdio.h>
#include <string.h>

#define TOKENS "/user/api-tokens"

const route route_table[] = {
	/* "current" before "{id}": the literal segment wins. */
	{"DELETE", TOKENS "/current", ROUTE_CALL, ON_MAIN, "revoke_current_api_token", ARGS_EMPTY_OBJECT, true, false, CACHE_FLUSH, "revoke_current"},
	{"POST", TOKENS, ROUTE_CALL, ON_MAIN, "create_user_api_token", ARGS_BODY, true, false, CACHE_UNAFFECTED, "create"},
	{"GET", TOKENS, ROUTE_CALL, ON_MAIN, "list_user_api_tokens", ARGS_PAGE, true, true, CACHE_UNAFFECTED, "list"},
	{"GET", TOKENS "/{id}", ROUTE_CALL, ON_MAIN, "get_user_api_token", ARGS_PATH_ID, true, true, CACHE_UNAFFECTED, "get"},
	{"DELETE", TOKENS "/{id}", ROUTE_CALL, ON_MAIN, "revoke_user_api_token", ARGS_ID_OBJECT, true, false, CACHE_FLUSH, "revoke"},
	{"POST", TOKENS "/{id}/rotate", ROUTE_CALL, ON_MAIN, "rotate_user_api_token", ARGS_ROTATE_OBJECT, true, false, CACHE_FLUSH, "rotate"},
	{"POST", "/api-tokens/revoke", ROUTE_CALL, ON_MAIN, "revoke_leaked_api_token", ARGS_LEAK_REPORT, false, false, CACHE_EVICT_REPORTED, "revoke_leaked"},
	/* Forward-auth proxies send the client's own method. */
	{NULL, "/auth", ROUTE_AUTH, ON_MAIN, NULL, ARGS_BODY, false, true, CACHE_UNAFFECTED, "auth"},
	{"GET", "/health", ROUTE_HEALTH, ON_MAIN, NULL, ARGS_BODY, false, true, CACHE_UNAFFECTED, "health"},
	{"GET", "/live", ROUTE_LIVE, ON_ADMIN, NULL, ARGS_BODY, false, true, CACHE_UNAFFECTED, "live"},
	{"GET", "/ready", ROUTE_READY, ON_ADMIN, NULL, ARGS_BODY, false, true, CACHE_UNAFFECTED, "ready"},
	{"GET", "/metrics", ROUTE_METRICS, ON_ADMIN, NULL, ARGS_BODY, false, true, CACHE_UNAFFECTED, "metrics"},
};

const size_t route_count = sizeof(route_table) / sizeof(route_table[0]);

/* RFC 3986 pchar minus percent-escapes (which no route needs) and ':' '@' kept. */
static bool
plain_path_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		strchr("-._~!$&'()*+,;=:@/", c) != NULL;
}

/* Matches one pattern against the path; captures {id} into id. */
static bool
pattern_matches(const char *pattern, const char *path, char *id)
{
	const char *p = pattern;
	const char *s = path;

	id[0] = '\0';
	while (*p)
	{
		if (strncmp(p, "{id}", 4) == 0)
		{
			size_t		len = strcspn(s, "/");

			if (len == 0 || len > ROUTE_MAX_ID_LEN)
				return false;
			memcpy(id, s, len);
			id[len] = '\0';
			s += len;
			p += 4;
			continue;
		}
		if (*p != *s)
			return false;
		p++;
		s++;
	}
	return *s == '\0';
}

/* HEAD is a GET without the body, as HTTP defines it. */
static bool
method_matches(const char *route_method, const char *method)
{
	return route_method == NULL || strcmp(route_method, method) == 0 ||
		(strcmp(route_method, "GET") == 0 && strcmp(method, "HEAD") == 0);
}

/* Whether the route is served on this listener. */
static bool
listener_serves(const route *r, bool admin_listener, bool has_admin_listener)
{
	if (r->listener == ON_BOTH)
		return true;
	if (r->listener == ON_ADMIN)
		return admin_listener || !has_admin_listener;
	return !admin_listener;
}

void
route_lookup(const char *method, const char *path, bool admin_listener,
			 bool has_admin_listener, route_match *out)
{
	char		id[ROUTE_MAX_ID_LEN + 1];
	size_t		allow_len = 0;

	memset(out, 0, sizeof(*out));
	for (const char *c = path; *c; c++)
		if (!plain_path_char((unsigned char) *c))
			return;
	for (size_t i = 0; i < route_count; i++)
	{
		const route *r = &route_table[i];

		if (!listener_serves(r, admin_listener, has_admin_listener) ||
			!pattern_matches(r->pattern, path, id))
			continue;
		if (method_matches(r->method, method))
		{
			out->route = r;
			memcpy(out->id, id, sizeof(out->id));
			return;
		}
		/* The path exists under another method: remember it for Allow (once each). */
		if (r->method && strstr(out->allow, r->method) == NULL)
		{
			int			n = snprintf(out->allow + allow_len, sizeof(out->allow) - allow_len,
									 "%s%s", allow_len ? ", " : "", r->method);

			if (n > 0 && (size_t) n < sizeof(out->allow) - allow_len)
				allow_len += (size_t) n;
		}
	}
}
