#!/usr/bin/env bash
# Manages the project's private PostgreSQL cluster under .run/:
#   pg-cluster.sh start    initdb on first use, start, create the database
#   pg-cluster.sh stop     fast shutdown
#   pg-cluster.sh restart  stop then start (tests use it under the gateway)
#   pg-cluster.sh psql ... psql on the project database as superuser
set -euo pipefail
. "$(dirname "$0")/env.sh"

prepare_dirs() {
	mkdir -p "$FYNN_RUN" "$FYNN_PGSOCK"
	if [ "$(id -u)" = 0 ]; then
		chown postgres:postgres "$FYNN_RUN" "$FYNN_PGSOCK"
		as_postgres test -x "$FYNN_RUN" ||
			die "the postgres user cannot reach $FYNN_RUN (a parent folder is closed to it); set FYNN_RUN to a folder it can"
	fi
}

init_cluster() {
	[ -f "$FYNN_PGDATA/PG_VERSION" ] && return
	log "initdb in $FYNN_PGDATA"
	as_postgres "$FYNN_PGBIN/initdb" -D "$FYNN_PGDATA" -U postgres \
		--auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >/dev/null
	cat >>"$FYNN_PGDATA/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $FYNN_PGPORT
unix_socket_directories = '$FYNN_PGSOCK'
shared_buffers = 256MB
max_connections = 100
logging_collector = off
CONF
}

start_cluster() {
	reserve_cluster_ports
	prepare_dirs
	init_cluster
	if as_postgres "$FYNN_PGBIN/pg_ctl" -D "$FYNN_PGDATA" status >/dev/null 2>&1; then
		log "cluster already running on port $FYNN_PGPORT"
	else
		as_postgres "$FYNN_PGBIN/pg_ctl" -D "$FYNN_PGDATA" -l "$FYNN_RUN/postgresql.log" \
			-w -t 60 start >/dev/null
		log "cluster started on port $FYNN_PGPORT (socket $FYNN_PGSOCK)"
	fi
	psql -X -q -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$FYNN_DB'" | grep -q 1 ||
		psql -X -q -d postgres -c "CREATE DATABASE $FYNN_DB"
}

stop_cluster() {
	if [ -f "$FYNN_PGDATA/PG_VERSION" ] &&
		as_postgres "$FYNN_PGBIN/pg_ctl" -D "$FYNN_PGDATA" status >/dev/null 2>&1; then
		as_postgres "$FYNN_PGBIN/pg_ctl" -D "$FYNN_PGDATA" -m fast -w stop >/dev/null
		log "cluster stopped"
	fi
}

case "${1:-}" in
	start) start_cluster ;;
	stop) stop_cluster ;;
	restart) stop_cluster; start_cluster ;;
	psql) shift; exec psql -X -d "$FYNN_DB" "$@" ;;
	*) die "usage: $0 start|stop|restart|psql [args]" ;;
esac
