#!/usr/bin/env bash
# Starts a throwaway PostgreSQL 15 cluster for trying Steward on PostgreSQL
# or for benchmarks, and prints its URL. Not for production.
#   scripts/pg-throwaway.sh start [DIR] [PORT]   (default /tmp/steward-pg, 55432)
#   scripts/pg-throwaway.sh stop  [DIR]
set -euo pipefail
BIN=/usr/lib/postgresql/15/bin
cmd=${1:-start}
DIR=${2:-/tmp/steward-pg}
PORT=${3:-55432}
# The settings docs/scaling.md ("PostgreSQL settings") gives for a server
# taking an enroll storm; fsync stays on, as in production.
SETTINGS="-c max_connections=300 -c shared_buffers=1GB -c temp_buffers=32MB \
-c max_wal_size=8GB -c min_wal_size=1GB -c wal_compression=lz4 -c wal_buffers=64MB \
-c checkpoint_timeout=15min -c checkpoint_completion_target=0.9"
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
[ -x "$BIN/initdb" ] || { echo "PostgreSQL 15 not found: apt-get install -y postgresql-15" >&2; exit 1; }
case $cmd in
start)
	if [ ! -d "$DIR/data" ]; then
		mkdir -p "$DIR"
		[ "$(id -u)" -eq 0 ] && chown postgres: "$DIR"
		as_pg "$BIN/initdb" -D "$DIR/data" -U postgres -A trust --no-sync >/dev/null
	fi
	if ! as_pg "$BIN/pg_ctl" -D "$DIR/data" status >/dev/null 2>&1; then
		as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/postgres.log" -w start -o \
			"-p $PORT -c listen_addresses=127.0.0.1 -c unix_socket_directories=$DIR $SETTINGS" >/dev/null
	fi
	as_pg "$BIN/psql" -h 127.0.0.1 -p "$PORT" -U postgres -qc "CREATE DATABASE steward" 2>/dev/null || true
	echo "postgres://postgres@127.0.0.1:$PORT/steward?sslmode=disable"
	;;
stop)
	as_pg "$BIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null
	echo "stopped; remove $DIR to delete the data"
	;;
*)
	echo "usage: $0 start|stop [DIR] [PORT]" >&2
	exit 2
	;;
esac
