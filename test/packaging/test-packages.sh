#!/usr/bin/env bash
# Builds the Debian packages from a clean copy of HEAD, lints them, installs
# them and tests what they installed, then purges them:
#
#   bash test/packaging/test-packages.sh
#
#  1. apt-get installs the build and test dependencies that are missing;
#  2. 'git archive HEAD' into a temp folder (nothing uncommitted gets in),
#     dpkg-buildpackage -us -uc -b, then checks of the .debs' contents;
#  3. lintian: any E: line fails, warnings are printed;
#  4. under flock /tmp/fynn-install.lock (installing the package replaces the
#     extension files that 'make install' put in /usr/lib/postgresql/15 and
#     /usr/share/postgresql/15/extension, which other suites use):
#     dpkg -i both packages, dpkg --verify, the system user, the env file's
#     mode and owner, systemd-analyze verify/security of the unit, a private
#     PostgreSQL 15 cluster (port 54390, or the next free one up to 54399) where
#     CREATE EXTENSION fynn_tokens CASCADE loads the packaged files, and the
#     packaged gateway started as its unit would start it (ExecStart=,
#     User=, the environment file's format, no new privileges, no
#     capabilities, umask 0077) answering /health, /ready and a POST, then
#     SIGTERM and exit status 0;
#  5. always, even on failure or Ctrl-C: stop the gateway and the cluster,
#     dpkg --purge both packages, delete the fynn-gateway user if this run
#     created it, 'make install' from the tree this script was started in (so
#     the machine ends with the project's own build installed again), remove
#     the temp folder.
#
# FYNN_PKG_OUT=DIR keeps a copy of the built .debs, .changes and logs there.
#
# Prints "ok - ..." / "not ok - ..." lines and ends with
# "packaging: N passed, M failed"; the exit status is non-zero on failure.
# Takes one to two minutes once the dependencies are installed.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PGBIN=/usr/lib/postgresql/15/bin
PGMAJOR=15
EXT_PKG=postgresql-$PGMAJOR-fynn-tokens
GW_PKG=fynn-gateway
GW_USER=fynn-gateway
LOCK=/tmp/fynn-install.lock

passed=0
failed=0
ok() { passed=$((passed + 1)); printf 'ok - %s\n' "$*"; }
not_ok() { failed=$((failed + 1)); printf 'not ok - %s\n' "$*"; }
note() { printf '# %s\n' "$*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; fi; }
# A step the rest depends on: on failure the run ends (through the cleanup).
require() { local what=$1; shift; if "$@"; then ok "$what"; else not_ok "$what"; exit 1; fi; }
# quiet LOG CMD...: runs CMD with its output in LOG.  (Never redirect a
# check or require call itself: its ok line, and on exit the whole cleanup,
# would go there too.)
# On failure it shows the end of LOG.
quiet() {
	local log=$1 rc=0
	shift
	"$@" >"$log" 2>&1 || rc=$?
	[ "$rc" = 0 ] || tail -30 "$log" | sed 's/^/#   /'
	return "$rc"
}

[ "$(id -u)" = 0 ] || { not_ok "must run as root (installs packages)"; echo "packaging: 0 passed, 1 failed"; exit 1; }

TMP=$(mktemp -d /tmp/fynn-pkg.XXXXXX)
chmod 0755 "$TMP" # the postgres user reaches its cluster folder inside
BUILD=$TMP/build
SRC=$BUILD/fynn-tokens
PGDATA=$TMP/pgdata
PGSOCK=$TMP/sock
started_at=$(date +%s)

# ---------------------------------------------------------------- cleanup
installed_pkgs=0 # 1 once this run may have changed the installed packages
user_existed=1
cluster_started=0
gw_pid=
torn_down=0
pre_hashes=

# Everything this run changed on the machine is undone here, whatever failed.
teardown() {
	[ "$torn_down" = 1 ] && return
	torn_down=1
	if [ -n "$gw_pid" ] && kill -0 "$gw_pid" 2>/dev/null; then
		kill -TERM "$gw_pid" 2>/dev/null
		wait "$gw_pid" 2>/dev/null
	fi
	gw_pid=
	if [ "$cluster_started" = 1 ]; then
		runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" -m fast -w stop >/dev/null 2>&1 ||
			not_ok "stop the private cluster"
		cluster_started=0
	fi
	if [ "$installed_pkgs" = 1 ]; then
		local present=()
		for p in "$EXT_PKG" "$GW_PKG"; do
			dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qv '^not-installed$' && present+=("$p")
		done
		if [ ${#present[@]} = 0 ] || dpkg --purge "${present[@]}" >"$TMP/purge.log" 2>&1; then
			ok "dpkg --purge $EXT_PKG $GW_PKG"
		else
			not_ok "dpkg --purge (see below)"
			cat "$TMP/purge.log"
		fi
		local left=()
		for f in /etc/fynn-gateway /usr/bin/fynn-gateway /lib/systemd/system/fynn-gateway.service \
			/usr/lib/systemd/system/fynn-gateway.service /usr/lib/sysusers.d/fynn-gateway.conf; do
			[ -e "$f" ] && left+=("$f")
		done
		check "purge left no file of the gateway package${left[*]:+ (left: ${left[*]})}" test ${#left[@]} = 0
		# Debian keeps system users on purge (files may still belong to them);
		# a test run leaves none behind that it created.
		if [ "$user_existed" = 0 ] && getent passwd "$GW_USER" >/dev/null; then
			userdel "$GW_USER" >/dev/null 2>&1
			getent group "$GW_USER" >/dev/null && groupdel "$GW_USER" >/dev/null 2>&1
			check "user and group $GW_USER created by this run deleted" \
				sh -c "! getent passwd $GW_USER >/dev/null && ! getent group $GW_USER >/dev/null"
		fi
		# Back to the project's own build in the extension folders.
		if make -s -C "$ROOT" install >"$TMP/make-install.log" 2>&1; then
			ok "make install from $ROOT (the project's build is installed again)"
			local post_hashes
			post_hashes=$(extension_hashes)
			if [ -n "$pre_hashes" ] && [ "$pre_hashes" != "$post_hashes" ]; then
				note "the extension installed before this run differed from $ROOT's build, which replaced it"
			fi
		else
			not_ok "make install from $ROOT (see below)"
			tail -20 "$TMP/make-install.log"
		fi
		installed_pkgs=0
	fi
	# The lock is held by fd 9 until the process exits.
	cd / && rm -rf "$TMP"
}

on_exit() {
	teardown
	note "took $(($(date +%s) - started_at)) s"
	echo "packaging: $passed passed, $failed failed"
	if [ "$failed" = 0 ] && [ "$passed" -gt 0 ]; then exit 0; else exit 1; fi
}
trap on_exit EXIT
trap 'not_ok "interrupted"; exit 130' INT TERM HUP

# Hashes of the extension's files as installed, to tell whether this run
# replaced someone's installed build by $ROOT's.
extension_hashes() {
	sha256sum /usr/lib/postgresql/$PGMAJOR/lib/fynn_tokens.so \
		/usr/share/postgresql/$PGMAJOR/extension/fynn_tokens*.control \
		/usr/share/postgresql/$PGMAJOR/extension/fynn_tokens--*.sql 2>/dev/null
}

# ---------------------------------------------------------------- 1. dependencies
deps=(build-essential debhelper dpkg-dev fakeroot lintian pkg-config postgresql-server-dev-all
	libmicrohttpd-dev libjwt-dev libjansson-dev libpq-dev libssl-dev
	postgresql-$PGMAJOR systemd curl openssl python3 git)
missing=()
for p in "${deps[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	note "installing: ${missing[*]}"
	apt-get update -qq >/dev/null 2>&1
	require "apt-get install ${missing[*]}" \
		quiet "$TMP/apt.log" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
	ok "build and test dependencies present"
fi

# ---------------------------------------------------------------- 2. build
head=$(git -C "$ROOT" rev-parse --short HEAD)
note "building HEAD $head of $ROOT"
[ -z "$(git -C "$ROOT" status --porcelain)" ] || note "uncommitted changes in $ROOT are not in the packages (git archive HEAD)"
mkdir -p "$SRC"
require "git archive HEAD into a clean folder" \
	sh -c "git -C '$ROOT' archive HEAD | tar -x -C '$SRC'"
cd "$SRC" || exit 1
require "build dependencies satisfied (dpkg-checkbuilddeps)" dpkg-checkbuilddeps
require "pg_buildext checkcontrol: debian/control matches control.in" sh -c 'pg_buildext checkcontrol >/dev/null'
build_start=$(date +%s)
if dpkg-buildpackage -us -uc -b >"$BUILD/build.log" 2>&1; then
	ok "dpkg-buildpackage -us -uc -b ($(($(date +%s) - build_start)) s)"
else
	not_ok "dpkg-buildpackage -us -uc -b; the end of its log:"
	tail -40 "$BUILD/build.log"
	exit 1
fi
cd "$BUILD" || exit 1
version=$(dpkg-parsechangelog -l "$SRC/debian/changelog" -S Version)
arch=$(dpkg --print-architecture)
ext_deb=$BUILD/${EXT_PKG}_${version}_${arch}.deb
gw_deb=$BUILD/${GW_PKG}_${version}_${arch}.deb
changes=$BUILD/fynn-tokens_${version}_${arch}.changes
require "built ${ext_deb##*/} and ${gw_deb##*/}" test -s "$ext_deb" -a -s "$gw_deb" -a -s "$changes"

# The .debs' contents.
dpkg-deb -c "$ext_deb" | awk '{print $1, $2, $6}' | sed 's#^\(.*\) \./#\1 /#' >"$BUILD/ext.contents"
dpkg-deb -c "$gw_deb" | awk '{print $1, $2, $6}' | sed 's#^\(.*\) \./#\1 /#' >"$BUILD/gw.contents"
want=(/usr/lib/postgresql/$PGMAJOR/lib/fynn_tokens.so /usr/share/postgresql/$PGMAJOR/extension/fynn_tokens.control)
for f in "$SRC"/sql/fynn_tokens--*.sql; do want+=("/usr/share/postgresql/$PGMAJOR/extension/${f##*/}"); done
lacking=()
for f in "${want[@]}"; do grep -q " $f\$" "$BUILD/ext.contents" || lacking+=("$f"); done
check "$EXT_PKG holds the .so, the control file and all $((${#want[@]} - 2)) sql/fynn_tokens--*.sql${lacking[*]:+ (lacks: ${lacking[*]})}" test ${#lacking[@]} = 0
check "$GW_PKG holds /usr/bin/fynn-gateway, the unit and the sysusers file" \
	sh -c "grep -q ' /usr/bin/fynn-gateway\$' '$BUILD/gw.contents' &&
		grep -Eq ' (/usr)?/lib/systemd/system/fynn-gateway.service\$' '$BUILD/gw.contents' &&
		grep -q ' /usr/lib/sysusers.d/fynn-gateway.conf\$' '$BUILD/gw.contents'"
check "$GW_PKG ships /etc/fynn-gateway/fynn-gateway.env with mode 0640" \
	grep -q '^-rw-r----- root/root /etc/fynn-gateway/fynn-gateway.env$' "$BUILD/gw.contents"
check "$GW_PKG marks the env file as a conffile" \
	sh -c "dpkg-deb --ctrl-tarfile '$gw_deb' | tar -xO ./conffiles | grep -qx /etc/fynn-gateway/fynn-gateway.env"
ext_depends=$(dpkg-deb -f "$ext_deb" Depends)
note "$EXT_PKG Depends: $ext_depends"
check "$EXT_PKG depends on postgresql-$PGMAJOR (pgcrypto ships in it)" grep -Eq "(^|, )postgresql-$PGMAJOR( |,|$)" <<<"$ext_depends"
gw_depends=$(dpkg-deb -f "$gw_deb" Depends)
note "$GW_PKG Depends: $gw_depends"
check "$GW_PKG depends on the libraries it links (shlibs)" \
	sh -c "for l in libmicrohttpd12 libpq5 libjwt0 libjansson4 libssl3; do echo '$gw_depends' | grep -q \"\$l\" || exit 1; done"

# Hardening of the packaged gateway binary (dpkg-buildflags hardening=+all).
mkdir -p "$BUILD/gw-unpacked"
dpkg-deb -x "$gw_deb" "$BUILD/gw-unpacked"
gw_bin=$BUILD/gw-unpacked/usr/bin/fynn-gateway
check "fynn-gateway is PIE, full RELRO (BIND_NOW) and uses the stack protector and _FORTIFY_SOURCE" \
	sh -c "readelf -h '$gw_bin' | grep -q 'Type:.*DYN' &&
		readelf -l '$gw_bin' | grep -q GNU_RELRO &&
		readelf -d '$gw_bin' | grep -Eq 'BIND_NOW|FLAGS.*NOW' &&
		readelf -W --dyn-syms '$gw_bin' | grep -q __stack_chk_fail &&
		readelf -W --dyn-syms '$gw_bin' | grep -v __stack_chk | grep -Eq '__[a-z0-9_]+_chk'"

# ---------------------------------------------------------------- 3. lintian
lintian --pedantic "$changes" >"$BUILD/lintian.log" 2>&1
lintian_rc=$?
if [ -n "${FYNN_PKG_OUT:-}" ]; then
	mkdir -p "$FYNN_PKG_OUT" && cp "$BUILD"/*.deb "$BUILD"/*.changes "$BUILD"/*.buildinfo "$BUILD"/*.log "$FYNN_PKG_OUT"/ &&
		note "copied the packages and logs to $FYNN_PKG_OUT"
fi
grep -E '^[WIP]: ' "$BUILD/lintian.log" | sed 's/^/#   /'
errors=$(grep -c '^E: ' "$BUILD/lintian.log")
if [ "$errors" = 0 ] && [ "$lintian_rc" -lt 2 ]; then
	ok "lintian: no errors ($(grep -c '^W: ' "$BUILD/lintian.log") warnings, shown above)"
else
	not_ok "lintian: $errors errors (exit $lintian_rc)"
	grep -E '^E: |^[^WIPN]' "$BUILD/lintian.log"
fi

# ---------------------------------------------------------------- 4. install and test, under the lock
exec 9>"$LOCK"
if ! flock -w 1800 9; then
	not_ok "could not take $LOCK within 30 minutes"
	exit 1
fi
ok "took $LOCK"

for p in "$EXT_PKG" "$GW_PKG"; do
	if dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null | grep -qv '^not-installed$'; then
		not_ok "$p is already installed: this test needs a machine without it (dpkg --purge $p)"
		exit 1
	fi
done
getent passwd "$GW_USER" >/dev/null || user_existed=0
pre_hashes=$(extension_hashes)
dpkg-query -W -f='${Package}\n' | sort >"$TMP/packages.before"

installed_pkgs=1
if dpkg -i "$ext_deb" "$gw_deb" >"$TMP/dpkg-i.log" 2>&1; then
	ok "dpkg -i ${ext_deb##*/} ${gw_deb##*/}"
else
	note "dpkg -i failed, resolving dependencies with apt-get -f install"
	if env DEBIAN_FRONTEND=noninteractive apt-get -f install -y -qq >>"$TMP/dpkg-i.log" 2>&1; then
		ok "dpkg -i + apt-get -f install"
	else
		not_ok "dpkg -i / apt-get -f install:"
		cat "$TMP/dpkg-i.log"
		exit 1
	fi
fi
for p in "$EXT_PKG" "$GW_PKG"; do
	require "$p is installed and configured" \
		sh -c "dpkg-query -W -f='\${db:Status-Abbrev}' $p | grep -q '^ii'"
done
dpkg-query -W -f='${Package}\n' | sort | comm -13 "$TMP/packages.before" - | grep -vx -e "$EXT_PKG" -e "$GW_PKG" >"$TMP/packages.pulled"
[ -s "$TMP/packages.pulled" ] && note "apt-get pulled in (kept after the purge): $(tr '\n' ' ' <"$TMP/packages.pulled")"
check "dpkg --verify: the installed files are the packaged ones" dpkg --verify "$EXT_PKG" "$GW_PKG"

pkglibdir=$("$PGBIN/pg_config" --pkglibdir)
sharedir=$("$PGBIN/pg_config" --sharedir)
so=$pkglibdir/fynn_tokens.so
check "dpkg -S: $so belongs to $EXT_PKG" sh -c "dpkg -S '$so' | grep -q '^$EXT_PKG: '"
owned_ok=1
for f in "$sharedir"/extension/fynn_tokens.control "$sharedir"/extension/fynn_tokens--*.sql; do
	dpkg -S "$f" 2>/dev/null | grep -q "^$EXT_PKG: " || { owned_ok=0; note "not from the package: $f"; }
done
check "dpkg -S: fynn_tokens.control and every fynn_tokens--*.sql in $sharedir/extension belong to $EXT_PKG" test "$owned_ok" = 1

# The system user and the env file.
pw=$(getent passwd "$GW_USER")
check "system user $GW_USER exists (uid < 1000, shell nologin): $pw" \
	sh -c "[ -n '$pw' ] && [ \$(echo '$pw' | cut -d: -f3) -lt 1000 ] && echo '$pw' | cut -d: -f7 | grep -q nologin"
check "group $GW_USER exists" sh -c "getent group $GW_USER >/dev/null"
envfile_stat=$(stat -c '%a %U %G' /etc/fynn-gateway/fynn-gateway.env 2>&1)
check "/etc/fynn-gateway/fynn-gateway.env is 640 root $GW_USER (is: $envfile_stat)" test "$envfile_stat" = "640 root $GW_USER"
check "the shipped env file sets nothing (every PGRST_* line commented, no secret)" \
	sh -c "! grep -Ev '^[[:space:]]*(#|\$)' /etc/fynn-gateway/fynn-gateway.env"

# The unit: systemd is not PID 1 here, so read the file, not 'systemctl cat'.
unit=
for d in /lib/systemd/system /usr/lib/systemd/system; do
	[ -f "$d/fynn-gateway.service" ] && { unit=$d/fynn-gateway.service; break; }
done
require "unit file installed ($unit)" test -n "$unit"
# systemd-analyze verify works without systemd as PID 1 (it loads the unit
# into a private manager); it exits 0 after merely warning about an unknown
# key or a bad value, so any output counts as a failure.  A missing
# ExecStart binary makes it exit 1 silently; SYSTEMD_LOG_LEVEL=debug tells why.
verify_out=$(systemd-analyze verify "$unit" 2>&1)
verify_rc=$?
if [ "$verify_rc" = 0 ] && [ -z "$verify_out" ]; then
	ok "systemd-analyze verify $unit: clean"
else
	not_ok "systemd-analyze verify $unit (exit $verify_rc): $verify_out"
	SYSTEMD_LOG_LEVEL=debug systemd-analyze verify "$unit" 2>&1 | grep -E 'fynn-gateway|rror' | grep -v '^\s' | tail -10
fi
exposure=$(systemd-analyze security --offline=yes "$unit" 2>/dev/null | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
check "systemd-analyze security --offline: exposure ${exposure:-?} (< 3.0)" \
	sh -c "[ -n '$exposure' ] && awk 'BEGIN { exit !($exposure < 3.0) }'"
settings=(User=$GW_USER Group=$GW_USER EnvironmentFile=/etc/fynn-gateway/fynn-gateway.env
	Restart=on-failure NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes
	PrivateDevices=yes ProtectKernelTunables=yes ProtectKernelModules=yes ProtectKernelLogs=yes
	ProtectControlGroups=yes "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX" RestrictNamespaces=yes
	LockPersonality=yes MemoryDenyWriteExecute=yes RestrictRealtime=yes RestrictSUIDSGID=yes
	SystemCallArchitectures=native SystemCallFilter=@system-service CapabilityBoundingSet=
	AmbientCapabilities= UMask=0077)
absent=()
for s in "${settings[@]}"; do grep -qxF -- "$s" "$unit" || absent+=("$s"); done
check "unit has ${#settings[@]} required settings${absent[*]:+ (lacks: ${absent[*]})}" test ${#absent[@]} = 0
docs=()
docs_missing=()
for d in $(sed -n 's#^Documentation=##p' "$unit"); do
	case $d in file://*) docs+=("${d#file://}"); [ -f "${d#file://}" ] || docs_missing+=("$d") ;; esac
done
check "the unit's Documentation= files exist (${docs[*]})" test ${#docs[@]} -gt 0 -a ${#docs_missing[@]} = 0
check "unit installed but not enabled (it cannot start before the env file is filled in)" \
	test ! -e /etc/systemd/system/multi-user.target.wants/fynn-gateway.service

# ---------------------------------------------------------------- the private cluster
pgport=
for p in $(seq 54390 54399); do
	if ! ss -Hltn "sport = :$p" | grep -q . && [ ! -e "/tmp/.s.PGSQL.$p" ]; then pgport=$p; break; fi
done
require "a free port for the cluster (${pgport:-none in 54390..54399})" test -n "$pgport"
mkdir -p "$PGDATA" "$PGSOCK"
chown postgres:postgres "$PGDATA" "$PGSOCK"
require "initdb (PostgreSQL $PGMAJOR, as postgres)" \
	quiet "$TMP/initdb.log" runuser -u postgres -- "$PGBIN/initdb" -D "$PGDATA" -U postgres --auth-local=trust \
	--auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8
cat >>"$PGDATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $pgport
unix_socket_directories = '$PGSOCK'
shared_buffers = 32MB
max_connections = 20
CONF
cluster_started=1
if quiet "$TMP/pg_ctl.log" runuser -u postgres -- "$PGBIN/pg_ctl" -D "$PGDATA" -l "$PGDATA/postgresql.log" -w -t 60 start; then
	ok "cluster started on port $pgport"
else
	not_ok "cluster did not start:"
	sed 's/^/#   /' "$PGDATA/postgresql.log"
	exit 1
fi
psql_su() { runuser -u postgres -- "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PGSOCK" -p "$pgport" -U postgres "$@"; }
require "database fynn_pkg created" psql_su -d postgres -c "CREATE DATABASE fynn_pkg"

# The project's own script makes the extension and the gateway's role with
# the documented grants (HEAD's copy, from the build folder).
db_password=$(openssl rand -hex 16)
require "CREATE EXTENSION fynn_tokens CASCADE and role fynn_gateway (scripts/gateway-role.sh)" \
	quiet "$TMP/gateway-role.log" env FYNN_PGSOCK="$PGSOCK" FYNN_PGPORT="$pgport" FYNN_RUN="$TMP" FYNN_GATEWAY_DB_PASSWORD="$db_password" \
	"$SRC/scripts/gateway-role.sh" fynn_pkg
ctl_version=$(sed -n "s/^default_version[[:space:]]*=[[:space:]]*'\([^']*\)'.*/\1/p" "$sharedir/extension/fynn_tokens.control")
ext_version=$(psql_su -d fynn_pkg -tAc "SELECT extversion FROM pg_extension WHERE extname = 'fynn_tokens'")
check "extension version $ext_version is the packaged control file's default_version ($ctl_version)" \
	test -n "$ext_version" -a "$ext_version" = "$ctl_version"
check "pgcrypto came with CASCADE" test "$(psql_su -d fynn_pkg -tAc "SELECT count(*) FROM pg_extension WHERE extname = 'pgcrypto'")" = 1
# The backend maps the packaged library: /proc/self/maps of the backend
# after a call into the C code.
maps=$(psql_su -d fynn_pkg -tA <<'SQL'
SELECT fynn_tokens.verify_api_token('api_not-a-token') IS NULL \g /dev/null
SELECT pg_read_file('/proc/self/maps');
SQL
)
check "the backend runs $so (from $EXT_PKG)" grep -q " $so\$" <<<"$maps"
roundtrip=$(psql_su -d fynn_pkg -tA <<'SQL'
BEGIN;
SELECT set_config('request.jwt.claims', '{"sub":"pkg-user","tenant_id":"pkg-tenant","permissions":["user:api-token:write"]}', true) \g /dev/null
SELECT fynn_tokens.create_user_api_token('packaging test', NULL)->>'token' AS token \gset
COMMIT;
SELECT fynn_tokens.verify_api_token(:'token')->>'sub';
SQL
)
check "create_user_api_token then verify_api_token round trip in SQL (sub: $roundtrip)" test "$roundtrip" = pkg-user

# ---------------------------------------------------------------- the gateway, as the unit runs it
unit_value() { sed -n "s/^$1=//p" "$unit" | tail -1; }
exec_start=$(unit_value ExecStart | sed 's/^[-@:+!]*//')
env_file=$(unit_value EnvironmentFile | sed 's/^-//')
run_user=$(unit_value User)
run_group=$(unit_value Group)
run_umask=$(unit_value UMask)
note "unit: ExecStart=$exec_start EnvironmentFile=$env_file User=$run_user Group=$run_group UMask=$run_umask"
read -r -a exec_argv <<<"$exec_start"
check "ExecStart runs ${exec_argv[0]} from $GW_PKG" sh -c "dpkg -S '${exec_argv[0]}' | grep -q '^$GW_PKG: '"
check "EnvironmentFile is the packaged conffile" test "$env_file" = /etc/fynn-gateway/fynn-gateway.env

gw_port=
for p in $(seq 54391 54399); do
	[ "$p" = "$pgport" ] && continue
	ss -Hltn "sport = :$p" | grep -q . || { gw_port=$p; break; }
done
require "a free port for the gateway (${gw_port:-none})" test -n "$gw_port"
jwt_secret=$(openssl rand -base64 60 | tr -dc 'A-Za-z0-9' | head -c 40)
test_env=$TMP/gateway.env
(umask 077 && cat >"$test_env") <<ENV
# What an operator writes into $env_file, for this test's cluster.
PGRST_DB_URI=postgresql://fynn_gateway:$db_password@127.0.0.1:$pgport/fynn_pkg
PGRST_JWT_SECRET=$jwt_secret
PGRST_SERVER_HOST=127.0.0.1
PGRST_SERVER_PORT=$gw_port
PGRST_DB_POOL=2
FYNN_LOG_LEVEL=info
ENV
check "test env file: 40-character PGRST_JWT_SECRET" test ${#jwt_secret} = 40
# systemd reads EnvironmentFile as KEY=value lines, skipping comments and
# blank lines, and gives the service only those plus its own PATH; the
# service runs as User=/Group= in / with the unit's umask, no new privileges
# and an empty capability bounding set.
mapfile -t env_assignments < <(grep -Ev '^[[:space:]]*(#|$)' "$test_env")
(
	cd / && umask "$run_umask" &&
		exec setpriv --reuid="$run_user" --regid="$run_group" --init-groups --no-new-privs \
			--inh-caps=-all --bounding-set=-all \
			env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin "${env_assignments[@]}" "${exec_argv[@]}"
) >"$TMP/gateway.log" 2>&1 &
gw_pid=$!
answered=0
for _ in $(seq 100); do
	kill -0 "$gw_pid" 2>/dev/null || break
	curl -s -o /dev/null "http://127.0.0.1:$gw_port/health" && { answered=1; break; }
	sleep 0.1
done
check "gateway started and listening on 127.0.0.1:$gw_port" test "$answered" = 1
status=$(sed -n 's/^\(Uid\|NoNewPrivs\|CapBnd\|CapEff\):[[:space:]]*//p' "/proc/$gw_pid/status" 2>/dev/null | awk '{print $1}' | tr '\n' ' ')
uid=$(id -u "$run_user" 2>/dev/null)
check "gateway process runs ${exec_argv[0]} as $run_user (uid $uid), no new privileges, no capabilities (Uid CapEff CapBnd NoNewPrivs: $status)" \
	sh -c "[ \"\$(readlink /proc/$gw_pid/exe)\" = '${exec_argv[0]}' ] && [ '$status' = '$uid 0000000000000000 0000000000000000 1 ' ]"
http_status() { curl -s -o "$TMP/body" -w '%{http_code}' "$@"; }
for path in /health /ready; do
	code=
	for _ in $(seq 50); do
		code=$(http_status "http://127.0.0.1:$gw_port$path")
		[ "$code" = 200 ] && break
		sleep 0.1
	done
	check "GET $path answers 200 (got $code: $(head -c 80 "$TMP/body" 2>/dev/null))" test "$code" = 200
done
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
now=$(date +%s)
jwt_head=$(printf '{"alg":"HS256","typ":"JWT"}' | b64url)
jwt_body=$(printf '{"sub":"pkg-user","tenant_id":"pkg-tenant","permissions":["user:api-token:write"],"iat":%d,"exp":%d}' "$now" $((now + 300)) | b64url)
jwt_sig=$(printf '%s.%s' "$jwt_head" "$jwt_body" | openssl dgst -sha256 -hmac "$jwt_secret" -binary | b64url)
code=$(http_status -X POST "http://127.0.0.1:$gw_port/user/api-tokens" -H 'Content-Type: application/json' \
	-H "Authorization: Bearer $jwt_head.$jwt_body.$jwt_sig" --data '{"description":"from the packaged gateway","expiresAt":null}')
check "POST /user/api-tokens with a JWT answers 201 with a token (got $code)" \
	sh -c "[ '$code' = 201 ] && grep -q '\"token\":\"api_' '$TMP/body'"
if kill -0 "$gw_pid" 2>/dev/null; then
	kill -TERM "$gw_pid"
	wait "$gw_pid"
	gw_rc=$?
	gw_pid=
	check "gateway exits 0 on SIGTERM (exit $gw_rc)" test "$gw_rc" = 0
else
	wait "$gw_pid"
	not_ok "gateway had exited before SIGTERM (exit $?)"
	gw_pid=
fi
[ "$failed" = 0 ] || { note "gateway log:"; sed 's/^/#   /' "$TMP/gateway.log"; }

# ---------------------------------------------------------------- 5. purge and restore
teardown
