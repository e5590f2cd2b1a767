#!/usr/bin/env bash
# The PostgreSQL versions the extension supports, and where each one lives.
#   pg-versions.sh list                  the supported versions, one a line
#   pg-versions.sh name VERSION          the full name of a version ("16" -> 16.2)
#   pg-versions.sh bindir VERSION        its bin folder, building it first when missing
#   pg-versions.sh pg_config VERSION     its pg_config, likewise
#   pg-versions.sh private-install VERSION DEST
#                                        copies the installation into DEST (a
#                                        PostgreSQL install is relocatable) and
#                                        prints the copy's pg_config
# VERSION is a full name (15, 16.2, 17beta2, 18.3) or a major version (16).
#
# 15 is Debian's package; the others are built from the source tarballs in
# ../shared/postgres (beside this repository, as CI clones it) into
# /opt/fynn-pg/VERSION by that folder's build.sh, once per machine (~5 min).
# FYNN_PG_SHARED and FYNN_PG_PREFIX override both places.
set -euo pipefail
. "$(dirname "$0")/env.sh"

SUPPORTED=(15 16.2 17beta2 18.3)
FYNN_PG_SHARED=${FYNN_PG_SHARED:-$FYNN_ROOT/../shared/postgres}
FYNN_PG_PREFIX=${FYNN_PG_PREFIX:-/opt/fynn-pg}

# The supported version a full name or a major version names.
version_name() {
	local v
	for v in "${SUPPORTED[@]}"; do
		if [ "$1" = "$v" ] || [ "$1" = "${v%%[.a-z]*}" ]; then
			echo "$v"; return 0
		fi
	done
	die "unsupported PostgreSQL version '$1' (supported: ${SUPPORTED[*]})"
}

# The bin folder of an installed version; builds the version when it is missing.
version_bindir() {
	local v prefix
	v=$(version_name "$1")
	if [ "$v" = 15 ]; then
		[ -x /usr/lib/postgresql/15/bin/postgres ] && [ -x /usr/lib/postgresql/15/bin/pg_config ] ||
			die "PostgreSQL 15 is not installed: run scripts/install-deps.sh"
		echo /usr/lib/postgresql/15/bin
		return
	fi
	prefix=$FYNN_PG_PREFIX/$v
	if [ -x "$FYNN_PG_SHARED/build.sh" ]; then
		# build.sh does nothing when the prefix holds this build; the lock keeps
		# two checkouts of one machine from building into one prefix at once.
		mkdir -p "$FYNN_PG_PREFIX"
		flock "$FYNN_PG_PREFIX/.build-$v.lock" "$FYNN_PG_SHARED/build.sh" "$v" "$prefix" >&2 ||
			die "building PostgreSQL $v failed"
	elif [ ! -f "$prefix/.built-from" ]; then
		die "PostgreSQL $v is not built in $prefix and $FYNN_PG_SHARED/build.sh is missing"
	fi
	[ -x "$prefix/bin/pg_config" ] || die "no pg_config in $prefix/bin"
	echo "$prefix/bin"
}

# The path common to two absolute folders, ending at a folder boundary.
common_dir() {
	local a=$1/ b=$2/ common=
	while [ -n "$a" ] && [ "${a%%/*}" = "${b%%/*}" ]; do
		common+=${a%%/*}/; a=${a#*/}; b=${b#*/}
	done
	echo "${common%/}"
}

# Copies what a server and PGXS write or run from (bin, share, pkglib) into
# DEST at the same relative places, and links the headers, so that
# "make install" with the copy's pg_config touches nothing shared: other
# checkouts' clusters keep loading their own build of the extension.
private_install() {
	local bindir sharedir pkglibdir includedir base d
	local pg_config
	pg_config="$(version_bindir "$1")/pg_config"
	local dest=$2
	bindir=$("$pg_config" --bindir)
	sharedir=$("$pg_config" --sharedir)
	pkglibdir=$("$pg_config" --pkglibdir)
	includedir=$("$pg_config" --includedir)
	base=$(common_dir "$(common_dir "$bindir" "$sharedir")" "$pkglibdir")
	[ -n "$base" ] || die "cannot relocate $pg_config: no folder common to its bin, share and lib"
	rm -rf "$dest"
	for d in "$bindir" "$sharedir" "$pkglibdir"; do
		mkdir -p "$(dirname "$dest${d#"$base"}")"
		cp -a "$d" "$dest${d#"$base"}"
	done
	mkdir -p "$(dirname "$dest${includedir#"$base"}")"
	ln -sfn "$includedir" "$dest${includedir#"$base"}"
	local copy=$dest${bindir#"$base"}/pg_config
	[ "$("$copy" --sharedir)" = "$dest${sharedir#"$base"}" ] ||
		die "the copy of $pg_config in $dest does not relocate (its sharedir is $("$copy" --sharedir))"
	echo "$copy"
}

case "${1:-}" in
	list) printf '%s\n' "${SUPPORTED[@]}" ;;
	name) version_name "${2:?usage: $0 name VERSION}" ;;
	bindir) version_bindir "${2:?usage: $0 bindir VERSION}" ;;
	pg_config) echo "$(version_bindir "${2:?usage: $0 pg_config VERSION}")/pg_config" ;;
	private-install) private_install "${2:?usage: $0 private-install VERSION DEST}" "${3:?usage: $0 private-install VERSION DEST}" ;;
	*) die "usage: $0 list|name|bindir|pg_config|private-install VERSION [DEST]" ;;
esac
