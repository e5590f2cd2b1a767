# fynn_tokens: the PostgreSQL extension (PGXS) and, beside it, the gateway.

EXTENSION = fynn_tokens
MODULE_big = fynn_tokens
OBJS = \
	common/api_token_format.o \
	common/identity.o \
	common/rfc3339.o \
	src/fynn_tokens.o \
	src/problem.o \
	src/claims.o \
	src/caller.o \
	src/token.o \
	src/request.o \
	src/validate.o \
	src/policy.o \
	src/store.o \
	src/owner_sql.o \
	src/events.o \
	src/triggers.o \
	src/json_out.o \
	src/operations.o \
	src/core_api.o \
	src/http_api.o \
	src/verify.o
DATA = $(wildcard sql/$(EXTENSION)--*.sql)

# One regression file per rule family; see test/sql/.
REGRESS = setup claims_identity permissions description_length expires_at \
	json_request token_format verify last_used security \
	permissions_subset chains listing get_and_revoke rotation policies events \
	insert_path pre_request http_api clock \
	uniqueness reinstall
REGRESS_OPTS = --inputdir=test --load-extension=pgcrypto
# Concurrency, with the isolation tester: specs in test/specs/, expected
# outputs beside the others in expected/ (test/expected links there).
ISOLATION = chain_race policy_race notify
ISOLATION_OPTS = --inputdir=test --load-extension=pgcrypto --load-extension=fynn_tokens

PG_CPPFLAGS = -I$(srcdir)/common -Wall -Wextra -Werror -Wno-unused-parameter \
	-Wno-missing-field-initializers -Wno-sign-compare
SHLIB_LINK =

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

# PGXS tracks no header dependencies: a changed header rebuilds every object.
$(OBJS): src/fynn_tokens.h src/compat.h $(wildcard common/*.h)

.PHONY: gateway gateway-install gateway-clean
all: gateway
install: gateway-install
clean: gateway-clean

gateway:
	$(MAKE) -C gateway

gateway-install: gateway
	$(MAKE) -C gateway install

gateway-clean:
	$(MAKE) -C gateway clean

# The token format shared with the gateway, under AddressSanitizer and UBSan.
.PHONY: check-unit
check-unit: test/unit/test_api_token_format
	./test/unit/test_api_token_format

test/unit/test_api_token_format: test/unit/test_api_token_format.c common/api_token_format.c common/api_token_format.h
	$(CC) -std=c99 -g -O1 -Wall -Wextra -Werror -fsanitize=address,undefined \
		-fno-omit-frame-pointer -Icommon -o $@ test/unit/test_api_token_format.c common/api_token_format.c

# Release archives for PGXN (which wants the zip) and for anyone else: the
# committed HEAD only (git archive: no build products, nothing uncommitted),
# named after META.json's version, which must equal fynn_tokens.control's
# default_version.  See docs/packaging.md, "Release checklist".
.PHONY: dist
dist:
	@set -e; \
	meta=$$(python3 -c 'import json, sys; m = json.load(open(sys.argv[1])); print(m["version"], m["provides"]["fynn_tokens"]["version"])' META.json); \
	set -- $$meta; \
	ctl=$$(sed -n "s/^default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" $(EXTENSION).control); \
	if [ "$$1" != "$$ctl" ] || [ "$$2" != "$$ctl" ]; then \
		echo "dist: META.json version $$1 (provides $$2) differs from $(EXTENSION).control default_version $$ctl" >&2; \
		exit 1; \
	fi; \
	[ -z "$$(git status --porcelain)" ] || echo "dist: warning: uncommitted changes are not in the archives (they hold HEAD)" >&2; \
	for fmt in zip tar.gz; do \
		git archive --format=$$fmt --prefix=$(EXTENSION)-$$1/ -o $(EXTENSION)-$$1.$$fmt HEAD; \
		echo "$(EXTENSION)-$$1.$$fmt"; \
	done
