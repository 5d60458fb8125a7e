package loadgen

import (
	"math"
	"os"
	"strings"
	"testing"
)

func TestParseMetrics(t *testing.T) {
	m := readMetrics(t, "testdata/metrics.txt")
	if err := m.need(metricRSS, metricConnected); err != nil {
		t.Fatal(err)
	}
	if m[metricRSS] != 734003200 || m[metricConnected] != 20000 {
		t.Errorf("rss %v connected %v", m[metricRSS], m[metricConnected])
	}
	if m[`steward_build_info{goversion="go1.26.8",version="dev build"}`] != 1 {
		t.Errorf("label value with a space misparsed: %v", m)
	}
	if err := m.need("steward_missing"); err == nil || !strings.Contains(err.Error(), "steward_missing") {
		t.Errorf("need: %v", err)
	}
	for _, bad := range []string{"process_resident_memory_bytes x\n", "lonely\n", `x{le="1"}` + "\n"} {
		if _, err := parseMetrics(strings.NewReader(bad)); err == nil {
			t.Errorf("parseMetrics(%q) accepted it", bad)
		}
	}
}

func TestIngestQuantile(t *testing.T) {
	after := readMetrics(t, "testdata/metrics.txt").buckets(metricIngest, "")
	if after == nil || after.count != 1000 || len(after.le) != 13 {
		t.Fatalf("buckets %+v", after)
	}
	// Before the steady phase the server had committed 500 messages, all
	// within 25 ms; the 500 since are spread from 25 ms to 1 s.
	before := &bucketCounts{le: after.le, count: 500,
		counts: []float64{100, 200, 300, 400, 500, 500, 500, 500, 500, 500, 500, 500, 500}}
	tests := []struct {
		name string
		h    *bucketCounts
		q    float64
		want float64
	}{
		{"whole history p99", after, 0.99, 1},
		{"whole history p50", after, 0.5, 0.025},
		{"whole history p80 on a bucket bound", after, 0.8, 0.25},
		{"steady phase p50", after.minus(before), 0.5, 0.25},
		{"steady phase p20", after.minus(before), 0.2, 0.05},
		{"nothing observed", after.minus(after), 0.99, 0},
		{"server restarted", before.minus(after), 0.99, 0},
		{"above the largest bucket", &bucketCounts{le: []float64{1, math.Inf(1)}, counts: []float64{1, 10}, count: 10}, 0.99, -1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.h.quantile(tc.q); got != tc.want {
				t.Errorf("quantile(%v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
}

// TestNotificationDelayDelta reads the labelled trigger series of the
// server's notification delay histogram, as it changed over a run.
func TestNotificationDelayDelta(t *testing.T) {
	after := readMetrics(t, "testdata/metrics.txt")
	if h := after.buckets(metricNotificationDelay, `event="trigger"`); h == nil || h.count != 1000 || len(h.le) != 4 {
		t.Fatalf("trigger buckets %+v", h)
	}
	// Nothing was delivered before the run: the series did not exist yet.
	d := delta(samples{}, after, metricNotificationDelay, `event="trigger"`)
	if d == nil || d.count != 1000 || d.quantile(0.5) != 0.1 || d.quantile(0.99) != 1 || d.quantile(0.999) != -1 {
		t.Errorf("delta from nothing %+v", d)
	}
	// 500 fast ones were delivered before the run.
	before := samples{}
	for k, v := range after {
		if strings.HasPrefix(k, metricNotificationDelay) && strings.Contains(k, `event="trigger"`) {
			before[k] = min(v, 500)
		}
	}
	if d := delta(before, after, metricNotificationDelay, `event="trigger"`); d == nil || d.count != 500 || d.quantile(0.5) != 1 {
		t.Errorf("delta over the run %+v", d)
	}
	if delta(nil, after, metricNotificationDelay, `event="trigger"`) != nil || delta(samples{}, after, metricIngest, "") != nil {
		t.Error("a delta without a first scrape")
	}
}

func readMetrics(t *testing.T, path string) samples {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	m, err := parseMetrics(f)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestProcessMemory(t *testing.T) {
	rss, peak := processMemory("testdata/proc-status.txt")
	if rss != 524288<<10 || peak != 612348<<10 {
		t.Errorf("rss %d peak %d", rss, peak)
	}
	if rss, peak := processMemory("testdata/no-such-file"); rss != 0 || peak != 0 {
		t.Errorf("missing file: rss %d peak %d", rss, peak)
	}
}

func TestEphemeralPorts(t *testing.T) {
	if n := ephemeralPorts("testdata/ip_local_port_range"); n != 28232 {
		t.Errorf("ephemeralPorts = %d, want 28232", n)
	}
	if n := ephemeralPorts("testdata/no-such-file"); n != 0 {
		t.Errorf("missing file: %d", n)
	}
}

func TestLimitWarnings(t *testing.T) {
	r := &runner{cfg: Config{Agents: 1 << 30, Concurrency: 10}}
	rep := &Report{}
	r.checkLimits(rep)
	if rep.Client.OpenFilesLimit == 0 || rep.Client.OpenFilesLimit != rep.Client.OpenFilesHard {
		t.Errorf("open files limit %d, hard %d: soft not raised to hard", rep.Client.OpenFilesLimit, rep.Client.OpenFilesHard)
	}
	text := strings.Join(rep.Warnings, "\n")
	if !strings.Contains(text, "open files limit") {
		t.Errorf("no open files warning for 2^30 agents: %q", text)
	}
	if rep.Client.EphemeralPorts == 0 {
		t.Error("ephemeral port range not read from /proc")
	}
	if !strings.Contains(text, "--source-ips") {
		t.Errorf("no ephemeral port warning for 2^30 agents: %q", text)
	}
}
