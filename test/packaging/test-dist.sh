#!/usr/bin/env bash
# Tests 'make dist' (the PGXN zip and the tar.gz) on a scratch copy of HEAD,
# so no archive and no junk lands in the work tree:
#   - with META.json's version equal to fynn_tokens.control's default_version
#     the archives hold the control file, every sql/fynn_tokens--*.sql,
#     META.json, and nothing that is not committed (build products and .run*
#     folders planted in the scratch tree must stay out);
#   - with the two versions different, 'make dist' refuses.
# HEAD is tested as it is; when its two versions differ (the release bump is
# pending), the refusal is checked on HEAD itself and the contents on a
# scratch commit whose META.json carries the control file's version.
# Prints "ok - ..." / "not ok - ..." and ends with "dist: N passed, M failed".
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
passed=0
failed=0
ok() { passed=$((passed + 1)); printf 'ok - %s\n' "$*"; }
not_ok() { failed=$((failed + 1)); printf 'not ok - %s\n' "$*"; }
note() { printf '# %s\n' "$*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }
finish() { echo "dist: $passed passed, $failed failed"; [ "$failed" = 0 ]; }

TMP=$(mktemp -d /tmp/fynn-dist.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
TREE=$TMP/tree

meta_versions() { # prints "version provides-version" of META.json in $1
	python3 -c 'import json, sys; m = json.load(open(sys.argv[1])); print(m["version"], m["provides"]["fynn_tokens"]["version"])' "$1/META.json"
}
control_version() {
	sed -n "s/^default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" "$1/fynn_tokens.control"
}
set_meta_version() { # $1 tree, $2 version: both version fields
	python3 - "$1/META.json" "$2" <<'PY'
import json, sys
path, version = sys.argv[1], sys.argv[2]
meta = json.load(open(path))
meta["version"] = version
meta["provides"]["fynn_tokens"]["version"] = version
with open(path, "w") as f:
    json.dump(meta, f, indent=3)
    f.write("\n")
PY
}
commit_all() { git -C "$TREE" add -A && git -C "$TREE" -c user.name=test -c user.email=test@example.org commit -q -m "$1"; }

# A scratch repository holding exactly HEAD's files.
mkdir -p "$TREE"
git -C "$ROOT" archive HEAD | tar -x -C "$TREE" || { not_ok "snapshot of HEAD"; finish; exit 1; }
git -C "$TREE" init -q && commit_all "snapshot of $(git -C "$ROOT" rev-parse --short HEAD)" ||
	{ not_ok "scratch repository"; finish; exit 1; }
note "HEAD $(git -C "$ROOT" rev-parse --short HEAD) of $ROOT"
git -C "$ROOT" diff --quiet HEAD -- || note "uncommitted changes in $ROOT are not tested (make dist archives HEAD)"

read -r meta_version provides_version < <(meta_versions "$TREE")
ctl_version=$(control_version "$TREE")
note "META.json version $meta_version (provides $provides_version), fynn_tokens.control default_version $ctl_version"
[ -n "$ctl_version" ] && [ -n "$meta_version" ] || { not_ok "versions readable"; finish; exit 1; }

# The refusal: on HEAD when it is inconsistent, else on a scratch commit that
# makes it so.
expect_refusal() { # $1: what
	local out rc=0
	out=$(make -s -C "$TREE" dist 2>&1) || rc=$?
	if [ "$rc" != 0 ] && grep -q 'differs from fynn_tokens.control default_version' <<<"$out" &&
		! ls "$TREE"/fynn_tokens-*.zip "$TREE"/fynn_tokens-*.tar.gz >/dev/null 2>&1; then
		ok "make dist refuses $1"
	else
		not_ok "make dist refuses $1 (exit $rc: $out)"
	fi
}
if [ "$meta_version" != "$ctl_version" ] || [ "$provides_version" != "$ctl_version" ]; then
	expect_refusal "HEAD, whose META.json ($meta_version) and control file ($ctl_version) disagree"
	note "HEAD is not releasable until the versions agree (docs/packaging.md, release checklist);"
	note "the archive contents are checked on a scratch commit with META.json at $ctl_version"
	set_meta_version "$TREE" "$ctl_version" && commit_all "test: META.json at $ctl_version"
else
	git -C "$TREE" branch -q consistent
	set_meta_version "$TREE" 9.9.9 && commit_all "test: META.json disagrees"
	expect_refusal "a commit whose META.json says 9.9.9 and control file $ctl_version"
	git -C "$TREE" checkout -q consistent
fi
version=$ctl_version

# Junk that a work tree has and an archive must not: build products, the
# suites' clusters, an uncommitted file.
mkdir -p "$TREE/.run-test/pgdata" "$TREE/results"
touch "$TREE/.run-test/pgdata/PG_VERSION" "$TREE/src/junk.o" "$TREE/fynn_tokens.so" \
	"$TREE/src/junk.bc" "$TREE/gateway/fynn-gateway" "$TREE/results/x.out" "$TREE/uncommitted.txt"

out=$(make -s -C "$TREE" dist 2>&1)
rc=$?
zip=$TREE/fynn_tokens-$version.zip
tgz=$TREE/fynn_tokens-$version.tar.gz
check "make dist builds fynn_tokens-$version.zip and .tar.gz" test "$rc" = 0 -a -s "$zip" -a -s "$tgz"
[ "$rc" = 0 ] || printf '%s\n' "$out"
check "make dist warns that uncommitted changes are left out" grep -q 'uncommitted changes are not in the archives' <<<"$out"

# What must be in each archive: HEAD's control file, META.json, README.md,
# Makefile and every install/upgrade script, under fynn_tokens-VERSION/.
expected=(fynn_tokens.control META.json README.md Makefile)
while IFS= read -r f; do expected+=("$f"); done < <(git -C "$TREE" ls-files 'sql/fynn_tokens--*.sql')
note "expected sql scripts: $(printf '%s ' "${expected[@]:4}")"

check_archive() { # $1 label, $2 file listing
	local label=$1 list=$2 prefix="fynn_tokens-$version/" missing=() bad f
	for f in "${expected[@]}"; do
		grep -qxF -- "$prefix$f" "$list" || missing+=("$f")
	done
	if [ ${#missing[@]} = 0 ]; then ok "$label lists ${#expected[@]} required files"; else not_ok "$label lacks: ${missing[*]}"; fi
	bad=$(grep -vF -- "$prefix" "$list" | head -3)
	check "$label: every entry is under $prefix" test -z "$bad"
	bad=$(grep -E '(^|/)\.run[^/]*(/|$)|\.(o|so|bc|zip|tar\.gz)$|/gateway/fynn-gateway$|/results/|/uncommitted\.txt$|/regression\.(diffs|out)$|/test/unit/test_api_token_format$' "$list" | head -5)
	check "$label: no .run*, build products or uncommitted files${bad:+ (found: $bad)}" test -z "$bad"
	local committed
	committed=$(git -C "$TREE" ls-files | wc -l)
	check "$label: exactly HEAD's $committed files" test "$(grep -cv '/$' "$list")" = "$committed"
}
if [ "$rc" = 0 ]; then
	python3 -c 'import sys, zipfile; print("\n".join(zipfile.ZipFile(sys.argv[1]).namelist()))' "$zip" >"$TMP/zip.list"
	tar -tzf "$tgz" >"$TMP/tgz.list"
	check_archive zip "$TMP/zip.list"
	check_archive tar.gz "$TMP/tgz.list"
	mkdir -p "$TMP/unzip"
	python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$zip" "$TMP/unzip"
	read -r v pv < <(meta_versions "$TMP/unzip/fynn_tokens-$version")
	check "zip's META.json says $version (PGXN reads it)" test "$v" = "$version" -a "$pv" = "$version"
fi

finish
