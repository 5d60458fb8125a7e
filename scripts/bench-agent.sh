#!/usr/bin/env bash
# Measures steward-agent's inventory cost and idle memory side by side with
# the peers Debian packages: FusionInventory agent, OCS Inventory agent,
# Zabbix agent 2 and node_exporter. Prints a Markdown table; see
# docs/benchmarks.md. Run as root on Debian 12 (it installs the peers).
#   scripts/bench-agent.sh [RUNS] [IDLE_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-10}
IDLE=${2:-60}
PEERS=(fusioninventory-agent ocsinventory-agent zabbix-agent2 prometheus-node-exporter)

missing=()
for p in "${PEERS[@]}"; do dpkg-query -W -f '${db:Status-Abbrev}' "$p" 2>/dev/null | grep -q '^ii' || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
	[ "$(id -u)" -eq 0 ] || { echo "install first: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2; exit 1; }
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
make --no-print-directory build >/dev/null

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# median of a column of numbers on stdin
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

# one_shot NAME CMD...: runs CMD RUNS times in a row under one timer (a
# single run of steward-agent is below /usr/bin/time's 10 ms resolution)
# and prints the mean wall and CPU time per run and the largest peak RSS.
one_shot() {
	local name=$1; shift
	local total rss=0 r
	total=$( { /usr/bin/time -f '%e %U %S' bash -c 'for _ in $(seq '"$RUNS"'); do "$@" >/dev/null 2>&1; done' _ "$@"; } 2>&1 | tail -1)
	for _ in 1 2 3; do
		/usr/bin/time -o "$work/rss" -f '%M' "$@" >/dev/null 2>&1
		r=$(tail -1 "$work/rss")
		[ "$r" -gt "$rss" ] && rss=$r
	done
	echo "$total" | awk -v n="$RUNS" -v name="$name" -v rss="$rss" \
		'{printf "| %s | %.3f s | %.3f CPU-s | %.1f MiB |\n", name, $1/n, ($2+$3)/n, rss/1024}'
}

echo "machine: $(nproc) cores, $(dpkg-query -W | wc -l) dpkg packages, $(date -u +%FT%TZ)"
echo
echo "Full inventory, mean of $RUNS runs (peak RSS: largest of 3 runs):"
echo
echo "| agent | wall | CPU | peak RSS |"
echo "| --- | --- | --- | --- |"
one_shot steward-agent bin/steward-agent inventory
one_shot fusioninventory-agent fusioninventory-inventory
mkdir -p "$work/ocs"
one_shot ocsinventory-agent ocsinventory-agent --local="$work/ocs"

# Idle memory: each long-running agent left alone for IDLE seconds.
rss_of() {
	if [ -r "/proc/$1/status" ]; then
		awk '/^VmRSS/ {printf "%.1f MiB", $2/1024}' "/proc/$1/status"
	else
		echo "exited early: $(tail -2 "$2" | tr '\n' ' ')"
	fi
}
# port prints a free loopback port below 32768 (Zabbix refuses higher ones).
port() {
	python3 -c '
import random, socket
while True:
    s = socket.socket(); p = random.randint(20000, 32767)
    try: s.bind(("127.0.0.1", p)); print(p); break
    except OSError: pass
    finally: s.close()'
}

sport=$(port)
bin/steward-server serve --listen "127.0.0.1:$sport" --data-dir "$work/data" --db "sqlite://$work/data/steward.db" >"$work/server.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/data/enroll-secret" ] && break; sleep 0.1; done
bin/steward-agent run --server "http://127.0.0.1:$sport" --enroll-secret-file "$work/data/enroll-secret" --state-dir "$work/agent" >"$work/agent.log" 2>&1 &
steward=$!; pids+=($steward)

zport=$(port)
cat > "$work/zabbix.conf" <<CONF
Server=127.0.0.1
ServerActive=
ListenIP=127.0.0.1
ListenPort=$zport
LogType=console
Hostname=bench
PidFile=$work/zabbix.pid
ControlSocket=$work/zabbix.sock
CONF
zabbix_agent2 -c "$work/zabbix.conf" >"$work/zabbix.log" 2>&1 </dev/null &
zabbix=$!; pids+=($zabbix)

nport=$(port)
prometheus-node-exporter --web.listen-address="127.0.0.1:$nport" >"$work/node.log" 2>&1 &
node=$!; pids+=($node)

sleep 5
steward_cpu0=$(awk '{print $14+$15}' "/proc/$steward/stat")
sleep "$IDLE"
# node_exporter is scraped once, as Prometheus would, before it is read.
curl -fsS "http://127.0.0.1:$nport/metrics" >/dev/null
steward_cpu1=$(awk '{print $14+$15}' "/proc/$steward/stat")
ticks=$(getconf CLK_TCK)
echo
echo "Idle, after $IDLE s:"
echo
echo "| agent | RSS |"
echo "| --- | --- |"
printf '| steward-agent (connected, default schedule) | %s |\n' "$(rss_of $steward "$work/agent.log")"
printf '| zabbix_agent2 | %s |\n' "$(rss_of $zabbix "$work/zabbix.log")"
printf '| node_exporter (after one scrape) | %s |\n' "$(rss_of $node "$work/node.log")"
echo
awk -v a="$steward_cpu0" -v b="$steward_cpu1" -v t="$ticks" -v s="$IDLE" \
	'BEGIN {printf "steward-agent idle CPU: %d clock ticks (1/%d s each) in %d s = %.3f %% of one core\n", b-a, t, s, 100*(b-a)/t/s}'
