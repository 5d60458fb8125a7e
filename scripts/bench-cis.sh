#!/usr/bin/env bash
# Times the CIS Debian 12 Level 1 Server pack side by side with OpenSCAP on
# the same machine, in one run, and prints a Markdown table (see
# docs/benchmarks.md):
#   (a) OpenSCAP with the profile on this machine (slow: minutes),
#   (b) OpenSCAP with the profile inside the comparison test's Debian image,
#   (c) steward-agent check with the whole pack, here and on the image,
#   (d) the same without the policies that walk the file system (`find`
#       leaves), disabled with a generated tailoring file,
#   (e) one full-disk scan alone: the world-writable files policy, every
#       other policy disabled.
# Wall time, CPU time (user + system) and peak RSS come from
# /usr/bin/time -v; on a machine other work shares, CPU time is the steadier
# figure. Run as root after the comparison test has built its image once:
#   go test ./agent/internal/cistest -run TestCISAgreesWithOpenSCAP
#   scripts/bench-cis.sh [RUNS]        # RUNS of each steward-agent check (default 3)
# SKIP_LIVE_OSCAP=1 leaves out (a), which takes minutes; SKIP_OSCAP=1 leaves
# out (a) and (b).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
PACK=shared/policy/packs/cis-debian12-l1-server
PROFILE=xccdf_org.ssgproject.content_profile_cis_level1_server
# The datastream is reference content kept beside the repository, not in it;
# CIS_REFERENCE_DIR names another place.
REF=${CIS_REFERENCE_DIR:-$(cd .. && pwd)/shared/reference}/ssg-debian12-ds.xml.xz

[ "$(id -u)" -eq 0 ] || { echo "run as root (oscap reads root-only files; the image is entered with chroot)" >&2; exit 1; }
command -v oscap >/dev/null || { echo "install first: apt-get install -y --no-install-recommends openscap-scanner" >&2; exit 1; }
[ -f "$REF" ] || { echo "missing $REF (the ComplianceAsCode datastream beside the repository)" >&2; exit 1; }
IMAGE=$(ls -dt /var/tmp/steward-cis-oscap-scan-*/image 2>/dev/null | head -1 || true)
[ -n "$IMAGE" ] && [ -x "$IMAGE/usr/bin/oscap" ] || {
	echo "no comparison image yet: run go test ./agent/internal/cistest -run TestCISAgreesWithOpenSCAP first" >&2; exit 1; }

work=$(mktemp -d)
cleanup() { rm -rf "$work"; rm -f "$IMAGE/tmp/bench-ds.xml" "$IMAGE/tmp/bench-results.xml"; }
trap cleanup EXIT
go build -o "$work/steward-agent" ./agent/cmd/steward-agent
xz -dc "$REF" >"$work/ds.xml"
cp "$work/ds.xml" "$IMAGE/tmp/bench-ds.xml"

# The tailoring that leaves out every policy with a `find` leaf: the ids of
# policies whose YAML block holds a find: key.
{
	echo "tailoring:"
	echo "  policies:"
	awk '/^[[:space:]]*- id:/ {id=$3} /(^|[[:space:]{,-])find:/ && !/^[[:space:]]*- id:/ && id != "" {print "    " id ": {disabled: true}"; id=""}' "$PACK"/*.yaml | sort -u
} >"$work/no-scans.yaml"
scans=$(grep -c 'disabled' "$work/no-scans.yaml" || true)
# The tailoring that keeps only the world-writable files scan of /.
ONE_SCAN=cis-file-permissions-unauthorized-world-writable
{
	echo "tailoring:"
	echo "  policies:"
	awk -v keep="$ONE_SCAN" '/^[[:space:]]*- id:/ && $3 != keep {print "    " $3 ": {disabled: true}"}' "$PACK"/*.yaml | sort -u
} >"$work/one-scan.yaml"
policies=$("$work/steward-agent" check --policy "$PACK" --format json | jq ".results | length")

# timed CMD...: runs CMD under /usr/bin/time -v; prints "wall_s cpu_s rss_mib"
# (cpu_s is user plus system time).
timed() {
	local log="$work/time.$RANDOM"
	/usr/bin/time -v -o "$log" "$@" >/dev/null 2>"$work/stderr" || {
		local rc=$?
		# oscap exits 2 and steward-agent check 0 or 1 on failing rules.
		[ $rc -le 2 ] || { cat "$work/stderr" >&2; exit $rc; }
	}
	awk -F': ' '/Elapsed \(wall clock\)/ {n=split($2,p,":"); w=(n==3? p[1]*3600+p[2]*60+p[3] : p[1]*60+p[2])}
		/User time \(seconds\)/ {c+=$2} /System time \(seconds\)/ {c+=$2}
		/Maximum resident set size/ {r=$2/1024} END {printf "%.2f %.2f %.1f\n", w, c, r}' "$log"
}
# best CMD...: RUNS runs; the lowest wall time, the lowest CPU time and the
# highest RSS.
best() {
	local out="" w c r
	for _ in $(seq "$RUNS"); do out+="$(timed "$@")"$'\n'; done
	w=$(printf '%s' "$out" | awk '{print $1}' | sort -g | head -1)
	c=$(printf '%s' "$out" | awk '{print $2}' | sort -g | head -1)
	r=$(printf '%s' "$out" | awk '{print $3}' | sort -g | tail -1)
	echo "$w $c $r"
}
row() { read -r w c r <<<"$2"; printf '| %s | %s s | %s s | %s MiB |\n' "$1" "$w" "$c" "$r"; }

echo "Run of $(date -u +%Y-%m-%dT%H:%MZ) on $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); image $IMAGE; $policies policies, $scans with find leaves"
echo
echo "| what | wall | CPU (user+sys) | peak RSS |"
echo "| --- | ---: | ---: | ---: |"
row "steward-agent check, whole pack, this machine (best of $RUNS)" "$(best "$work/steward-agent" check --policy "$PACK" --format json)"
row "steward-agent check, whole pack, the image (best of $RUNS)" "$(best "$work/steward-agent" check --policy "$PACK" --root "$IMAGE" --format json)"
row "steward-agent check, without find scans, this machine (best of $RUNS)" "$(best "$work/steward-agent" check --policy "$PACK" --tailoring "$work/no-scans.yaml" --format json)"
row "steward-agent check, without find scans, the image (best of $RUNS)" "$(best "$work/steward-agent" check --policy "$PACK" --root "$IMAGE" --tailoring "$work/no-scans.yaml" --format json)"
row "steward-agent check, world-writable files scan of / alone, this machine (best of $RUNS)" "$(best "$work/steward-agent" check --policy "$PACK" --tailoring "$work/one-scan.yaml" --format json)"
[ "${SKIP_OSCAP:-}" = 1 ] && exit 0
row "oscap xccdf eval, profile, inside the image (chroot)" "$(timed chroot "$IMAGE" oscap xccdf eval --profile "$PROFILE" --results /tmp/bench-results.xml /tmp/bench-ds.xml)"
if [ "${SKIP_LIVE_OSCAP:-}" = 1 ]; then
	echo "| oscap xccdf eval, profile, this machine | skipped (SKIP_LIVE_OSCAP=1) | | |"
else
	row "oscap xccdf eval, profile, this machine" "$(timed oscap xccdf eval --profile "$PROFILE" --results "$work/live-results.xml" "$work/ds.xml")"
fi
