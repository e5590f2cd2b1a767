/*
 * fuzz_gateway_head.c
 *		libFuzzer harness for the gateway's request-head decisions
 *		(gateway/head.c, gateway/routes.c), without a socket.
 *
 * The input is "METHOD PATH\n" then "Name: value" lines.  Properties:
 *	- head_check_framing never crashes; when it says HEAD_OK there is at
 *	  most one Content-Length, no Transfer-Encoding beside it, every name
 *	  is a token, and no value holds NUL, CR or LF (checked here, again);
 *	- head_content_type_problem never crashes and, when it refuses, writes
 *	  a detail of printable ASCII without '"' or '\' (it goes into JSON);
 *	- route_lookup never crashes; a path with '%' or a control byte matches
 *	  no route; a matched {id} is a non-empty segment without '/'.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "head.h"
#include "routes.h"

#define FAIL(...) \
	do { \
		fprintf(stderr, "fuzz_gateway_head: " __VA_ARGS__); \
		fputc('\n', stderr); \
		abort(); \
	} while (0)

#define MAX_FIELDS 64

static int
is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		(c && strchr("!#$%&'*+-.^_`|~", c));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char	   *text = malloc(size + 1);
	char	   *line;
	char	   *save = NULL;
	char		method[32] = "GET";
	char	   *path = "/";
	head_field	fields[MAX_FIELDS];
	size_t		n = 0;
	head_framing framing;
	const char *why;
	char		buf[256];
	route_match match;

	memcpy(text, data, size);
	text[size] = '\0';
	line = strtok_r(text, "\n", &save);
	if (line)
	{
		char	   *space = strchr(line, ' ');

		if (space)
		{
			*space = '\0';
			snprintf(method, sizeof(method), "%s", line);
			path = space + 1;
		}
	}
	while ((line = strtok_r(NULL, "\n", &save)) != NULL && n < MAX_FIELDS)
	{
		char	   *colon = strchr(line, ':');

		if (!colon)
			continue;
		fields[n].name = line;
		fields[n].name_len = (size_t) (colon - line);
		fields[n].value = colon + 1;
		fields[n].value_len = strlen(colon + 1);
		n++;
	}

	if (head_check_framing(fields, n, &framing, &why) == HEAD_OK)
	{
		int			lengths = 0;
		int			codings = 0;

		for (size_t i = 0; i < n; i++)
		{
			for (size_t c = 0; c < fields[i].name_len; c++)
				if (!is_tchar((unsigned char) fields[i].name[c]))
					FAIL("accepted a name that is not a token");
			if (fields[i].name_len == 0)
				FAIL("accepted an empty name");
			if (memchr(fields[i].value, '\r', fields[i].value_len))
				FAIL("accepted a CR in a value");
			lengths += fields[i].name_len == 14 && strncasecmp(fields[i].name, "Content-Length", 14) == 0;
			codings += fields[i].name_len == 17 && strncasecmp(fields[i].name, "Transfer-Encoding", 17) == 0;
		}
		if (lengths > 1 || (lengths && codings))
			FAIL("accepted ambiguous framing (%d lengths, %d codings)", lengths, codings);
		if (framing.chunked && framing.has_length)
			FAIL("both chunked and a length");
	}
	else if (why == NULL)
		FAIL("refused without a reason");

	for (size_t i = 0; i < n; i++)
	{
		const char *problem = head_content_type_problem(fields[i].value, fields[i].value_len,
														buf, sizeof(buf));

		if (problem)
			for (const char *p = problem; *p; p++)
				if (*p < 0x20 || *p >= 0x7F)
					FAIL("a 415 detail with a byte JSON cannot hold unescaped");
	}

	route_lookup(method, path, n % 2, n % 3 == 0, &match);
	if (match.route)
	{
		if (strpbrk(path, "%") != NULL)
			FAIL("routed a path with a percent-escape");
		for (const char *p = path; *p; p++)
			if ((unsigned char) *p < 0x21 || (unsigned char) *p >= 0x7F)
				FAIL("routed a path with a control byte or space");
		if (strstr(match.route->pattern, "{id}") && (match.id[0] == '\0' || strchr(match.id, '/')))
			FAIL("captured an empty or multi-segment id");
	}
	free(text);
	return 0;
}
