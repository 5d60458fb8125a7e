#!/usr/bin/env bash
# Finds what the tests leave in /tmp. Only names this project's tests use
# count: steward-*/stewardctl-* (os.MkdirTemp and friends) and the
# directories of t.TempDir (TestName, BenchmarkName or FuzzName followed
# by digits). Other programs on the machine use /tmp too, so only entries
# that were not there before count.
#
#   before=$(scripts/tmp-leftovers.sh list)
#   go test ./...
#   scripts/tmp-leftovers.sh check "$before"   # exit 1 naming leftovers
#
#   scripts/tmp-leftovers.sh run go test ./some/package   # both at once
set -euo pipefail

pattern='^(steward|stewardctl)[-_.]|^(Test|Benchmark|Fuzz)[A-Za-z0-9_]*[0-9]+$'

list() {
	ls -A /tmp | grep -E "$pattern" | LC_ALL=C sort || true
}

check() {
	local before=$1 after leftovers
	after=$(list)
	leftovers=$(LC_ALL=C comm -13 <(printf '%s\n' "$before") <(printf '%s\n' "$after") | sed '/^$/d')
	if [ -n "$leftovers" ]; then
		echo "the tests left these in /tmp (remove them, and clean up after the test that made them):" >&2
		printf '%s\n' "$leftovers" | sed 's|^|  /tmp/|' >&2
		return 1
	fi
}

case ${1:-} in
list) list ;;
check) check "${2:-}" ;;
run)
	shift
	before=$(list)
	"$@"
	check "$before"
	;;
*)
	echo "usage: $0 list | check BEFORE | run COMMAND..." >&2
	exit 2
	;;
esac
