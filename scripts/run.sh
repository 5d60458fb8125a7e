#!/usr/bin/env bash
# Starts steward-server on 127.0.0.1:8080 with its data in ./data and one
# agent for this machine, then waits; Ctrl-C stops both.
#
# Environment: STEWARD_LISTEN=HOST:PORT listens there (as the server's own
# variable does); PORT=N changes only the port (make run PORT=9090); DB
# and CONFIG as in the Makefile; DATA=DIR and BIN=DIR move the data
# directory and where the binaries are taken from.
set -euo pipefail
cd "$(dirname "$0")/.."

DATA=${DATA:-./data}
BIN=${BIN:-bin}
DB=${DB:-sqlite://$DATA/steward.db}
LISTEN=${STEWARD_LISTEN:-127.0.0.1:8080}
if [ -n "${PORT:-}" ]; then
	case $PORT in
	*[!0-9]*) echo "PORT=$PORT is not a port number" >&2; exit 2 ;;
	esac
	LISTEN=${LISTEN%:*}:$PORT
fi
# Clients reach a wildcard address through the loopback.
host=${LISTEN%:*}
case $host in
"" | 0.0.0.0 | "[::]") URL=http://127.0.0.1:${LISTEN##*:} ;;
*) URL=http://$LISTEN ;;
esac
mkdir -p "$DATA"

pids=()
stop() {
	trap - INT TERM EXIT
	echo
	echo "stopping..."
	for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	echo "stopped"
}
trap stop INT TERM EXIT

server_args=(--listen "$LISTEN" --db "$DB" --data-dir "$DATA")
if [ -n "${CONFIG:-}" ]; then server_args+=(--config "$CONFIG"); fi
"$BIN/steward-server" serve "${server_args[@]}" &
pids+=($!)

for _ in $(seq 1 100); do
	if curl -fsS "$URL/readyz" >/dev/null 2>&1; then break; fi
	if ! kill -0 "${pids[0]}" 2>/dev/null; then echo "steward-server exited; see the messages above" >&2; exit 1; fi
	sleep 0.1
done
curl -fsS "$URL/readyz" >/dev/null || { echo "steward-server did not become ready at $URL" >&2; exit 1; }

"$BIN/steward-agent" run --server "$URL" --enroll-secret-file "$DATA/enroll-secret" --state-dir "$DATA/agent" &
pids+=($!)

cat <<MSG

Steward is running.
  API:         $URL/api/v1/hosts   (OpenAPI: docs/openapi.yaml)
  Metrics:     $URL/metrics
  Health:      $URL/healthz  $URL/readyz
  Admin token: $DATA/admin-token
  Enroll secret for more agents: $DATA/enroll-secret

In another terminal:
  export STEWARD_SERVER=$URL
  export STEWARD_TOKEN_FILE=$(cd "$DATA" && pwd)/admin-token
  bin/stewardctl hosts list
  bin/stewardctl software search bash
  bin/stewardctl alerts list

Press Ctrl-C to stop.
MSG
wait -n "${pids[@]}" || true
