package loadgen

import (
	"math/rand/v2"
	"sort"
	"sync"
	"testing"
	"time"
)

func TestHistogramPercentiles(t *testing.T) {
	us := time.Microsecond
	tests := []struct {
		name    string
		samples func(record func(time.Duration))
		q       float64
		want    time.Duration
		tol     float64 // relative tolerance; 0 means exact
	}{
		{"small values are exact: median of 1..100µs", seq(1, 100, us), 0.5, 50 * us, 0},
		{"small values are exact: p99 of 1..100µs", seq(1, 100, us), 0.99, 99 * us, 0},
		{"p0 is the minimum", seq(1, 100, us), 0, 1 * us, 0},
		{"p100 is the maximum", seq(1, 10000, us), 1, 10000 * us, 0},
		{"median of 1..10000µs", seq(1, 10000, us), 0.5, 5000 * us, 0.008},
		{"p95 of 1..10000µs", seq(1, 10000, us), 0.95, 9500 * us, 0.008},
		{"p99 of 1..10000µs", seq(1, 10000, us), 0.99, 9900 * us, 0.008},
		{"p99 of milliseconds to seconds", seq(1, 1000, time.Millisecond), 0.99, 990 * time.Millisecond, 0.008},
		{"one outlier does not move the median", func(r func(time.Duration)) {
			for range 99 {
				r(2 * time.Millisecond)
			}
			r(time.Minute)
		}, 0.5, 2 * time.Millisecond, 0.008},
		{"the outlier is the p100", func(r func(time.Duration)) {
			for range 99 {
				r(2 * time.Millisecond)
			}
			r(time.Minute)
		}, 1, time.Minute, 0},
		{"negative counts as zero", func(r func(time.Duration)) { r(-time.Second) }, 0.5, 0, 0},
		{"sub-microsecond rounds down to zero", func(r func(time.Duration)) { r(999 * time.Nanosecond) }, 0.5, 0, 0},
		{"beyond the range is capped", func(r func(time.Duration)) { r(100 * 24 * time.Hour) }, 1, maxValue * us, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var h Histogram
			tc.samples(h.Record)
			got := h.Percentile(tc.q)
			diff := float64(got-tc.want) / float64(max(tc.want, 1))
			if diff < 0 || diff > tc.tol {
				// Percentiles round up to the top of a bucket, never down.
				t.Errorf("Percentile(%v) = %v, want %v (+%.1f%%)", tc.q, got, tc.want, tc.tol*100)
			}
		})
	}
}

func seq(from, to int, unit time.Duration) func(func(time.Duration)) {
	return func(record func(time.Duration)) {
		// Shuffled, so order of recording cannot matter.
		vs := rand.Perm(to - from + 1)
		for _, v := range vs {
			record(time.Duration(v+from) * unit)
		}
	}
}

func TestHistogramAgainstSortedSamples(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h Histogram
	samples := make([]time.Duration, 200000)
	for i := range samples {
		// Log-normal-ish latencies from 50µs to several seconds.
		samples[i] = time.Duration(float64(time.Millisecond) * rng.ExpFloat64() * rng.ExpFloat64() * 20)
		h.Record(samples[i])
	}
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	for _, q := range []float64{0.5, 0.9, 0.95, 0.99, 0.999} {
		exact := samples[int(q*float64(len(samples)))-1].Truncate(time.Microsecond)
		got := h.Percentile(q)
		if got < exact || float64(got-exact) > 0.008*float64(exact)+float64(time.Microsecond) {
			t.Errorf("p%v = %v, exact %v", q*100, got, exact)
		}
	}
	if h.Max() != samples[len(samples)-1].Truncate(time.Microsecond) {
		t.Errorf("Max() = %v, want %v", h.Max(), samples[len(samples)-1])
	}
	if h.Count() != uint64(len(samples)) {
		t.Errorf("Count() = %d", h.Count())
	}
}

func TestHistogramConcurrentRecord(t *testing.T) {
	var h Histogram
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 10000 {
				h.Record(time.Duration(g*10000+i) * time.Microsecond)
			}
		}()
	}
	wg.Wait()
	if h.Count() != 80000 || h.Max() != 79999*time.Microsecond {
		t.Fatalf("count %d max %v", h.Count(), h.Max())
	}
	if mean := h.Mean(); mean != 39999*time.Microsecond {
		t.Errorf("Mean() = %v, want 39.999ms", mean)
	}
}

func TestHistogramEmpty(t *testing.T) {
	var h Histogram
	if h.Percentile(0.99) != 0 || h.Max() != 0 || h.Mean() != 0 || h.Count() != 0 {
		t.Fatal("empty histogram reports samples")
	}
}

func TestBucketsCoverEveryValue(t *testing.T) {
	// Every bucket's top maps back to the bucket, and the next value to
	// the next bucket: no gaps, no overlaps.
	for i := 0; i < numBuckets-1 && bucketTop(i) < maxValue; i++ {
		top := bucketTop(i)
		if bucketOf(top) != i || bucketOf(top+1) != i+1 {
			t.Fatalf("bucket %d: top %d maps to %d, top+1 to %d", i, top, bucketOf(top), bucketOf(top+1))
		}
	}
	if b := bucketOf(maxValue); b >= numBuckets {
		t.Fatalf("maxValue lands in bucket %d of %d", b, numBuckets)
	}
}

func TestWindowsSplitBySendTime(t *testing.T) {
	var ws windows
	// Window 0 (0-5 s): fast; window 2 (10-15 s): one slow send among fast.
	for i := range 100 {
		ws.record(time.Duration(i)*10*time.Millisecond, 2*time.Millisecond)
	}
	ws.record(11*time.Second, 3*time.Millisecond)
	ws.record(12*time.Second, 900*time.Millisecond)
	ws.record(-time.Second, time.Second)           // before the run: not kept
	ws.record(maxWindows*windowWidth, time.Second) // past the last window: not kept
	got := ws.snapshot()
	if len(got) != 2 {
		t.Fatalf("windows %+v, want 2 (0 s and 10 s)", got)
	}
	if got[0].FromSeconds != 0 || got[0].Count != 100 || got[0].MaxMs > 2.1 {
		t.Errorf("first window %+v, want 100 sends from 0 s, max 2 ms", got[0])
	}
	if got[1].FromSeconds != 10 || got[1].Count != 2 || got[1].MaxMs < 899 || got[1].MaxMs > 901 {
		t.Errorf("second window %+v, want 2 sends from 10 s, max 900 ms", got[1])
	}
	w, ok := worstWindow(got, 0)
	if !ok || w.FromSeconds != 10 {
		t.Errorf("worst window %+v %v, want the one from 10 s", w, ok)
	}
	if _, ok := worstWindow(got[:1], 0); ok {
		t.Error("one window reported as a worst window")
	}
	// Windows that began before the warm-up ended are not measured ones:
	// the slow window at 10 s is then the only candidate and no worst
	// window is named; with a third, later window it is the worst.
	if w, ok := worstWindow(got, 5); ok {
		t.Errorf("worst window %+v named from one measured window", w)
	}
	later := append(got, WindowLatency{FromSeconds: 15, Count: 5, P99Ms: 3, MaxMs: 3})
	if w, ok := worstWindow(later, 5); !ok || w.FromSeconds != 10 {
		t.Errorf("worst window after 5 s %+v %v, want the one from 10 s", w, ok)
	}
	slowWarmup := append([]WindowLatency{{FromSeconds: 0, Count: 9, P99Ms: 5000, MaxMs: 5000}}, later[1:]...)
	if w, ok := worstWindow(slowWarmup, 5); !ok || w.FromSeconds != 10 {
		t.Errorf("worst window %+v %v: a slow warm-up window was named", w, ok)
	}
}
