package loadgen

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
)

// Server metrics the report reads.
const (
	metricRSS       = "process_resident_memory_bytes"
	metricConnected = "steward_agents_connected"
	// metricIngest is the server's receive-to-commit histogram: what the
	// "p99 receive-to-commit" target is about. The loadgen's own
	// send-to-ack latency adds the network and the ack's way back.
	metricIngest = "steward_ingest_duration_seconds"
	// metricNotificationDelay is outbox row written to delivered, by
	// event: the delivery part of result-to-notification latency.
	metricNotificationDelay = "steward_notification_delay_seconds"
)

// samples maps a series, as written in the exposition (name and labels,
// e.g. `x_bucket{le="0.25"}`), to its value.
type samples map[string]float64

// scrape fetches the server's /metrics.
func (r *runner) scrape(ctx context.Context) (samples, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.cfg.Server+"/metrics", nil)
	if err != nil {
		return nil, fmt.Errorf("scrape metrics: %w", err)
	}
	resp, err := r.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("scrape metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape metrics: %s", resp.Status)
	}
	m, err := parseMetrics(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("scrape metrics: %w", err)
	}
	return m, nil
}

// parseMetrics reads the Prometheus text exposition format.
func parseMetrics(r io.Reader) (samples, error) {
	out := samples{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		// Label values may hold spaces; the value follows the labels.
		split := strings.LastIndexByte(line, '}') + 1
		if split == 0 {
			split = strings.IndexByte(line, ' ')
		}
		if split <= 0 {
			return nil, fmt.Errorf("malformed line %q", line)
		}
		fields := strings.Fields(line[split:]) // value, then an optional timestamp
		if len(fields) == 0 {
			return nil, fmt.Errorf("malformed line %q", line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("metric %s: %w", line[:split], err)
		}
		out[line[:split]] = v
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// need reports the names that are missing.
func (m samples) need(names ...string) error {
	var missing []string
	for _, n := range names {
		if _, ok := m[n]; !ok {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("metrics missing: %s", strings.Join(missing, ", "))
	}
	return nil
}

// bucketCounts is one histogram series: cumulative counts by upper bound.
type bucketCounts struct {
	le     []float64 // sorted, the last is +Inf
	counts []float64
	count  float64
}

// buckets extracts the series of histogram name with labels (as exposed,
// `event="trigger"`, without le; "" for an unlabelled histogram), or nil
// if the server does not export it.
func (m samples) buckets(name, labels string) *bucketCounts {
	prefix := name + `_bucket{le="`
	countKey := name + "_count"
	if labels != "" {
		prefix = name + "_bucket{" + labels + `,le="`
		countKey = name + "_count{" + labels + "}"
	}
	type b struct{ le, n float64 }
	var bs []b
	for k, v := range m {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		le, err := strconv.ParseFloat(strings.TrimSuffix(rest, `"}`), 64)
		if err != nil {
			continue
		}
		bs = append(bs, b{le, v})
	}
	if len(bs) == 0 {
		return nil
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].le < bs[j].le })
	h := &bucketCounts{count: m[countKey]}
	for _, x := range bs {
		h.le = append(h.le, x.le)
		h.counts = append(h.counts, x.n)
	}
	return h
}

// minus is what was observed since before; both come from one server, so
// their buckets match. A server restart in between shows as nonsense
// (negative counts) and yields an empty result.
func (h *bucketCounts) minus(before *bucketCounts) *bucketCounts {
	d := &bucketCounts{le: h.le, counts: make([]float64, len(h.counts)), count: h.count - before.count}
	if len(before.counts) != len(h.counts) || d.count < 0 {
		return &bucketCounts{}
	}
	for i := range h.counts {
		d.counts[i] = h.counts[i] - before.counts[i]
	}
	return d
}

// quantile returns the upper bound of the bucket holding quantile q: the
// figure to hold against a target that is itself a bucket bound (250 ms).
// It returns 0 without observations and -1 when q lies above the largest
// finite bucket.
func (h *bucketCounts) quantile(q float64) float64 {
	if h.count <= 0 {
		return 0
	}
	rank := q * h.count
	for i, c := range h.counts {
		if c >= rank {
			if math.IsInf(h.le[i], 1) {
				return -1
			}
			return h.le[i]
		}
	}
	return -1
}
