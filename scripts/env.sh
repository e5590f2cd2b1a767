# Sourced by every script: where the private cluster lives and how to reach it.
# Everything can be overridden from the environment.
FYNN_ROOT=${FYNN_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
FYNN_RUN=${FYNN_RUN:-$FYNN_ROOT/.run}
FYNN_PGDATA=${FYNN_PGDATA:-$FYNN_RUN/pgdata}
FYNN_PGSOCK=${FYNN_PGSOCK:-$FYNN_RUN/sock}
# A Unix socket path may not exceed 107 bytes: a deep checkout gets a short
# socket folder of its own under /tmp instead.
if [ ${#FYNN_PGSOCK} -gt 80 ]; then
	FYNN_PGSOCK=/tmp/fynn_tokens-$(printf '%s' "$FYNN_PGSOCK" | md5sum | cut -c1-12)
fi
FYNN_PGPORT=${FYNN_PGPORT:-54329}
FYNN_PGBIN=${FYNN_PGBIN:-$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)}
FYNN_DB=${FYNN_DB:-fynn}

export PGHOST=$FYNN_PGSOCK PGPORT=$FYNN_PGPORT PGUSER=postgres
export FYNN_ROOT FYNN_RUN FYNN_PGDATA FYNN_PGSOCK FYNN_PGPORT FYNN_PGBIN FYNN_DB

# Runs a command as the postgres OS user: initdb and postgres refuse root.
as_postgres() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

# The clusters' ports (54320-54419) lie inside Linux's ephemeral range: an
# outgoing connection could hold one and a cluster would not start.  As
# root, keep the kernel from handing them out (until reboot; other reserved
# ranges are kept).
reserve_cluster_ports() {
	local file=/proc/sys/net/ipv4/ip_local_reserved_ports current
	[ "$(id -u)" = 0 ] && [ -w "$file" ] || return 0
	current=$(cat "$file")
	case ",$current," in *,54320-54419,*) return 0 ;; esac
	echo "${current:+$current,}54320-54419" >"$file" 2>/dev/null || true
}

