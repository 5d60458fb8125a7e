#!/usr/bin/env bash
# The crash test: what `make soak` and CI (after `make test`) run. It kills
# the real steward-server with SIGKILL over and over while alerts fire and
# resolve, on SQLite and on PostgreSQL, and checks that every episode was
# delivered to PagerDuty and a webhook, never paged twice; and it kills it
# 10 times while 200 agents stream inventories, and checks that every
# message the server acknowledged is stored exactly once. See
# server/internal/e2e/crash_test.go and crash_ingest_test.go.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n== %s\n' "$*"; }

step "prerequisites"
scripts/test-deps.sh

step "go test -tags soak (crash test, SQLite and PostgreSQL)"
go test -tags soak -count=1 -timeout 20m -run 'TestCrash' -v ./server/internal/e2e/

echo
echo "soak tests passed"
