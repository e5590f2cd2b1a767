/*
 * head.c
 *		Request-head decisions (see the header).
 */
#include "head.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* RFC 9110 section 5.6.2: tchar. */
static bool
is_token_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		(c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Case-insensitive comparison of a counted name with a C string. */
static bool
name_is(const head_field *f, const char *name)
{
	return f->name_len == strlen(name) && strncasecmp(f->name, name, f->name_len) == 0;
}

/* 1 to 19 decimal digits, nothing else: "+5", " 5", "5, 5" and "0x5" are not lengths. */
static bool
parse_length(const char *v, size_t len, unsigned long long *out)
{
	unsigned long long n = 0;

	if (len == 0 || len > 19)
		return false;
	for (size_t i = 0; i < len; i++)
	{
		if (v[i] < '0' || v[i] > '9')
			return false;
		n = n * 10 + (unsigned long long) (v[i] - '0');
	}
	*out = n;
	return true;
}

/*
 * Reads a Transfer-Encoding list: true when it is exactly one "chunked";
 * *last_is_chunked tells whether the final coding is chunked, which decides
 * between 400 (length unknowable, section 6.3) and 501 (a coding we lack).
 */
static bool
only_chunked(const char *v, size_t len, bool *last_is_chunked, int *codings)
{
	size_t		i = 0;
	bool		only = true;

	*last_is_chunked = false;
	while (i < len)
	{
		size_t		start;
		size_t		end;

		while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		if (i == len)
			break;
		start = i;
		while (i < len && v[i] != ',')
			i++;
		end = i;
		while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
			end--;
		(*codings)++;
		*last_is_chunked = (end - start == 7 && strncasecmp(v + start, "chunked", 7) == 0);
		if (!*last_is_chunked)
			only = false;
	}
	return only;
}

head_verdict
head_check_framing(const head_field *fields, size_t nfields, head_framing *framing,
				   const char **why)
{
	int			lengths = 0;
	int			credentials = 0;
	int			codings = 0;
	bool		has_te = false;
	bool		te_only_chunked = true;
	bool		te_last_chunked = false;

	memset(framing, 0, sizeof(*framing));
	*why = NULL;
	for (size_t i = 0; i < nfields; i++)
	{
		const head_field *f = &fields[i];

		if (f->name_len == 0)
			return (*why = "A header field has an empty name.", HEAD_BAD_REQUEST);
		for (size_t c = 0; c < f->name_len; c++)
			if (!is_token_char((unsigned char) f->name[c]))
				return (*why = "A header field name is not a token.", HEAD_BAD_REQUEST);
		for (size_t c = 0; c < f->value_len; c++)
			if (f->value[c] == '\0' || f->value[c] == '\r' || f->value[c] == '\n')
				return (*why = "A header field value holds a NUL, CR or LF.", HEAD_BAD_REQUEST);

		/* Which of two credentials counts is a choice another parser may make differently. */
		if (name_is(f, "Authorization") && ++credentials > 1)
			return (*why = "The request has more than one Authorization header.", HEAD_BAD_REQUEST);
		if (name_is(f, "Content-Length"))
		{
			if (++lengths > 1)
				return (*why = "The request has more than one Content-Length.", HEAD_BAD_REQUEST);
			if (!parse_length(f->value, f->value_len, &framing->length))
				return (*why = "The Content-Length is not a decimal number.", HEAD_BAD_REQUEST);
			framing->has_length = true;
		}
		else if (name_is(f, "Transfer-Encoding"))
		{
			bool		last;

			has_te = true;
			if (!only_chunked(f->value, f->value_len, &last, &codings))
				te_only_chunked = false;
			te_last_chunked = last;
		}
	}
	if (has_te)
	{
		if (framing->has_length)
			return (*why = "The request has both Content-Length and Transfer-Encoding.", HEAD_BAD_REQUEST);
		if (!te_last_chunked || codings == 0)
			return (*why = "The request's Transfer-Encoding does not end with chunked.", HEAD_BAD_REQUEST);
		if (codings > 1 && te_only_chunked)
			return (*why = "The request applies chunked more than once.", HEAD_BAD_REQUEST);
		if (!te_only_chunked)
			return (*why = "The request's transfer coding is not implemented; only chunked is.", HEAD_NOT_IMPLEMENTED);
		framing->chunked = true;
	}
	return HEAD_OK;
}

/* The header value as it may appear in a message: printable ASCII, at most 100 bytes. */
static void
printable_copy(char *dst, size_t dstlen, const char *src, size_t len)
{
	size_t		n = 0;

	for (size_t i = 0; i < len && n < 100 && n + 1 < dstlen; i++)
		dst[n++] = (src[i] >= 0x20 && src[i] < 0x7F && src[i] != '"' && src[i] != '\\') ? src[i] : '?';
	dst[n] = '\0';
}

const char *
head_content_type_problem(const char *ct, size_t len, char *buf, size_t buflen)
{
	const char *end;
	size_t		type_len;
	char		shown[101];

	if (ct == NULL)
		return "The \"Content-Type\" header must exist.";
	end = ct + len;
	while (ct < end && (*ct == ' ' || *ct == '\t'))
		ct++;
	type_len = 0;
	while (ct + type_len < end && ct[type_len] != ';')
		type_len++;
	{
		size_t		trimmed = type_len;

		while (trimmed > 0 && (ct[trimmed - 1] == ' ' || ct[trimmed - 1] == '\t'))
			trimmed--;
		if (trimmed == strlen("application/json") && strncasecmp(ct, "application/json", trimmed) == 0)
		{
			/* Parameters: only charset has a meaning for JSON, and only UTF-8 is valid. */
			const char *p = ct + type_len;
			bool		ok = true;

			while (ok && p < end)
			{
				const char *param = p + 1;
				const char *next = param;

				while (next < end && *next != ';')
					next++;
				while (param < next && (*param == ' ' || *param == '\t'))
					param++;
				if ((size_t) (next - param) >= 8 && strncasecmp(param, "charset=", 8) == 0)
				{
					const char *v = param + 8;
					const char *vend = next;

					while (vend > v && (vend[-1] == ' ' || vend[-1] == '\t'))
						vend--;
					if (vend - v >= 2 && v[0] == '"' && vend[-1] == '"')
						v++, vend--;
					ok = ((vend - v == 5 && strncasecmp(v, "utf-8", 5) == 0) ||
						  (vend - v == 4 && strncasecmp(v, "utf8", 4) == 0));
				}
				p = next;
			}
			if (ok)
				return NULL;
		}
	}
	printable_copy(shown, sizeof(shown), ct, (size_t) (end - ct));
	snprintf(buf, buflen,
			 "The content-type \"%s\" is not supported. Supported MIME types are \"application/json\".",
			 shown);
	return buf;
}
