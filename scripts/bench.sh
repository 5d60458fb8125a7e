#!/usr/bin/env bash
# make bench: the server's scale benchmarks at a reduced size that
# finishes in under 10 minutes on a 2-core machine. Each step prints one
# Markdown row; docs/benchmarks.md gives the full-size commands and the
# figures of record. Run as root on Debian 12 (PostgreSQL 15 installed).
#   scripts/bench.sh                    # 1,000 agents, 2,000 hosts for queries
#   BENCH_AGENTS=5000 BENCH_HOSTS=20000 scripts/bench.sh   # the full size
set -euo pipefail
cd "$(dirname "$0")/.."
AGENTS=${BENCH_AGENTS:-1000}
PACKAGES=${BENCH_PACKAGES:-500}
HOSTS=${BENCH_HOSTS:-2000}
STEADY=${BENCH_STEADY:-30s}

command -v python3 >/dev/null || { echo "python3 is needed to read loadgen's reports: apt-get install -y python3" >&2; exit 1; }
make --no-print-directory build >/dev/null

work=$(mktemp -d "${TMPDIR:-/tmp}/steward-bench.XXXXXX")
chmod 755 "$work"
server_pid=
cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
	scripts/pg-throwaway.sh stop "$work/pg" >/dev/null 2>&1 || true
	rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
dsn=$(scripts/pg-throwaway.sh start "$work/pg" "$(free_port)")
listen=127.0.0.1:$(free_port)
bin/steward-server serve --db "$dsn" --data-dir "$work/data" --listen "$listen" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 600); do
	curl -fsS "http://$listen/readyz" >/dev/null 2>&1 && break
	kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
	sleep 0.1
done
loadgen() { bin/steward-loadgen --server "http://$listen" --enroll-secret-file "$work/data/enroll-secret" \
	--packages "$PACKAGES" --state "$work/fleet.json" --quiet -o json "$@"; }
ctl() { bin/stewardctl --server "http://$listen" --token-file "$work/data/admin-token" "$@"; }

echo "| what | scale | measured |"
echo "| --- | --- | --- |"

# 1. Enroll storm, then steady heartbeats at 1/s from every agent.
loadgen --agents "$AGENTS" --duration "$STEADY" --heartbeat 1s >"$work/storm.json"
python3 - "$work/storm.json" "$AGENTS" "$PACKAGES" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1])); n, p = sys.argv[2], sys.argv[3]
c, s, srv = r["connect"], r["steady"], r["server_metrics"]
fail = sum(c["failures"].values()) + sum(r["enroll"]["failures"].values())
print(f"| enroll storm, every inventory acked | {n} agents × {p} packages, PostgreSQL | {c['duration_seconds']:.1f} s, {fail} failures |")
print(f"| steady heartbeats | {n} agents at 1/s | {s['acked_per_second']:.0f} msg/s acked, send→ack p99 {s['latency']['p99_ms']:.1f} ms |")
if srv.get("scraped"):
    print(f"| server RSS per connected agent | {n} agents, after the storm | {srv['rss_per_agent_bytes']/1024:.1f} KiB |")
EOF

# 2. A burst of policy applies (one revision per file) while the fleet
# stays connected: how many revisions reached the agents, and when the
# last agent held the final one.
loadgen --agents "$AGENTS" --duration 40s --heartbeat 1s >"$work/burst.json" &
lg=$!
sleep 15 # the reconnected fleet settles into its steady phase
for f in shared/policy/baseline/*.yaml; do ctl policies apply -f "$f" >/dev/null; done
wait "$lg"
final=$(curl -fsS -H "Authorization: Bearer $(cat "$work/data/admin-token")" "http://$listen/api/v1/policies?limit=1" |
	python3 -c 'import json,sys; print(json.load(sys.stdin)["revision"])')
python3 - "$work/burst.json" "$AGENTS" "$final" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1])); n, final = int(sys.argv[2]), int(sys.argv[3])
sets = r["steady"].get("policy_sets") or []
last = [p for p in sets if p["revision"] == final]
got = last[0]["agents"] if last else 0
spread = (last[0]["last_at_seconds"] - last[0]["first_at_seconds"]) if last else float("nan")
revs = ",".join(str(p["revision"]) for p in sets)
# The phase's p99 dilutes the seconds of the push; the worst 5 s of sends shows them.
worst = max((w["p99_ms"] for w in r["steady"].get("latency_by_window") or []), default=float("nan"))
print(f"| policy burst: 6 applies | {n} agents | revisions delivered: {revs or 'none'}; final revision {final} held by {got} of {n} agents, first to last {spread:.2f} s; heartbeat p99 {r['steady']['latency']['p99_ms']:.1f} ms, worst 5 s of sends p99 {worst:.1f} ms |")
EOF

# 3. Read queries at HOSTS hosts × 500 packages × 60 policies, through
# the API handlers (p95 of each request kind), on a throwaway database of
# their own that the benchmark seeds.
STEWARD_BENCH_HOSTS=$HOSTS go test ./server/internal/store/postgres/ \
	-run '^$' -bench BenchmarkQueries -benchtime 50x -count 1 >"$work/queries.txt" 2>&1 || { cat "$work/queries.txt" >&2; exit 1; }
python3 - "$work/queries.txt" "$HOSTS" <<'EOF'
import re, sys
worst = None
for line in open(sys.argv[1]):
    m = re.match(r"BenchmarkQueries/(\S+?)(-\d+)?\s.*?([\d.]+) p95-ms", line)
    if m:
        name, p95 = m.group(1), float(m.group(3))
        if worst is None or p95 > worst[1]:
            worst = (name, p95)
        print(f"| query {name.replace('_', ' ')} | {sys.argv[2]} hosts | p95 {p95:.1f} ms |")
if worst is None:
    sys.exit("no p95-ms figures in the query benchmark's output")
EOF
