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
	src/verify.o \
	src/verify_cache.o
DATA = $(wildcard sql/$(EXTENSION)--*.sql)

# One regression file per rule family; see test/sql/.
REGRESS = setup claims_identity permissions description_length expires_at \
	json_request token_format verify last_used security \
	permissions_subset chains listing get_and_revoke rotation policies events \
	insert_path pre_request http_api clock verify_cache \
	uniqueness reinstall
REGRESS_OPTS = --inputdir=test --load-extension=pgcrypto
# Concurrency, with the isolation tester: specs in test/specs/, expected
# outputs beside the others in expected/ (test/expected links there).
ISOLATION = chain_race policy_race notify verify_cache_sessions
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

# Unit tests of common/ (plain C shared with the gateway), one binary per
# file, under AddressSanitizer and UBSan with recovery off, so undefined
# behaviour fails the run instead of printing a line and passing.  clang when
# installed: its UBSan also flags arithmetic on NULL pointers, which gcc's
# does not.  test/unit/run-unit.sh prints every "ok"/"not ok" line and
# "unit: N passed, M failed".  A new test: add its name to UNIT_TESTS and
# its common/ sources to a line below.
UNIT_TESTS = test_api_token_format test_rfc3339 test_identity test_token_clock
UNIT_BINS = $(addprefix test/unit/,$(UNIT_TESTS))
UNIT_CC ?= $(shell command -v clang >/dev/null 2>&1 && echo clang || echo $(CC))
UNIT_CFLAGS = -std=c99 -g -O1 -Wall -Wextra -Werror \
	-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

test/unit/test_api_token_format: common/api_token_format.c
test/unit/test_rfc3339: common/rfc3339.c
test/unit/test_identity: common/identity.c
test/unit/test_token_clock:

$(UNIT_BINS): test/unit/%: test/unit/%.c test/unit/unit.h $(wildcard common/*.h)
	$(UNIT_CC) $(UNIT_CFLAGS) -Icommon -o $@ $< $(filter common/%.c,$^)

EXTRA_CLEAN += $(UNIT_BINS)

.PHONY: check-unit
check-unit: $(UNIT_BINS)
	@sh test/unit/run-unit.sh $(UNIT_BINS)

# libFuzzer harnesses of common/ (needs clang): FUZZ_SECONDS each, on a
# scratch copy of the seed corpus.  A long campaign: see test/fuzz/run-fuzz.sh.
FUZZ_SECONDS ?= 30
EXTRA_CLEAN += test/fuzz/build

.PHONY: fuzz
fuzz:
	sh test/fuzz/run-fuzz.sh $(FUZZ_SECONDS)

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
