#!/usr/bin/env bash
# The whole test suite: what `make test` and CI run.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "prerequisites"
scripts/test-deps.sh

step "gofmt"
# gofmt reads every file whatever its build tags, the soak-tagged crash
# test included.
unformatted=$(gofmt -l agent server shared dashboards installers)
if [ -n "$unformatted" ]; then
	echo "not gofmt-formatted (run gofmt -w on them):"
	echo "$unformatted"
	exit 1
fi

step "go vet"
go vet ./...
# The crash test (make soak) builds only with -tags soak.
go vet -tags soak ./server/internal/e2e/

step "cross-build the agent for windows and darwin, and vet for them"
for target in linux/arm64 linux/386 windows/amd64 windows/arm64 darwin/amd64 darwin/arm64; do
	echo "  $target"
	GOOS=${target%/*} GOARCH=${target#*/} CGO_ENABLED=0 go build -o /dev/null ./agent/cmd/steward-agent
done
echo "  windows/amd64 server and CLI"
GOOS=windows GOARCH=amd64 CGO_ENABLED=0 go build -o /dev/null ./server/cmd/steward-server ./server/cmd/stewardctl
# Tests that only make sense on Linux say so with build tags; these keep
# every other test building where it could run.
echo "  go vet of every package and its tests for windows/amd64, of the agent for darwin/arm64"
GOOS=windows GOARCH=amd64 CGO_ENABLED=0 go vet ./...
GOOS=darwin GOARCH=arm64 CGO_ENABLED=0 go vet ./agent/...

step "build"
make --no-print-directory build

# The tests must leave /tmp as they found it; see the check below.
tmp_before=$(scripts/tmp-leftovers.sh list)

step "go test (unit, store contract on SQLite and PostgreSQL, end-to-end, fuzz seeds)"
go test -count=1 -timeout 25m ./...

step "go test -race (concurrent packages)"
go test -race -count=1 -timeout 10m ./server/internal/gateway/... ./server/internal/netpoll/... ./server/internal/limits/... ./server/internal/ingest/... ./server/internal/alerting/... ./server/internal/api/... ./server/internal/fleet/... ./server/internal/cluster/... ./agent/internal/runner/... ./agent/internal/state/... ./agent/internal/service/... ./agent/internal/collect/...

step "go test -race (gateway, every agent read by a goroutine: TLS and non-Linux path)"
STEWARD_GATEWAY_READS=goroutine go test -race -count=1 -timeout 10m ./server/internal/gateway/

step "nothing left in /tmp"
scripts/tmp-leftovers.sh check "$tmp_before"

echo
echo "all tests passed"
