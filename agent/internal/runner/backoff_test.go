package runner

import (
	"testing"
	"time"
)

func TestBackoffBounds(t *testing.T) {
	cases := []struct {
		n     int
		limit time.Duration
	}{
		{0, time.Second},
		{1, 2 * time.Second},
		{2, 4 * time.Second},
		{5, 32 * time.Second},
		{8, 256 * time.Second},
		{9, 5 * time.Minute},
		{30, 5 * time.Minute},
		{1000, 5 * time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.limit.String(), func(t *testing.T) {
			if got := backoff(tc.n, 0); got != 0 {
				t.Errorf("backoff(%d, 0) = %v, want 0: full jitter starts at zero", tc.n, got)
			}
			if got := backoff(tc.n, 0.5); got != tc.limit/2 {
				t.Errorf("backoff(%d, 0.5) = %v, want %v", tc.n, got, tc.limit/2)
			}
			// The largest value rand.Float64 can return.
			if got := backoff(tc.n, 1-1.0/(1<<53)); got > tc.limit || got < tc.limit-time.Microsecond {
				t.Errorf("backoff(%d, ~1) = %v, want just under %v", tc.n, got, tc.limit)
			}
		})
	}
}

func TestJitterWithinTenPercent(t *testing.T) {
	const d = time.Hour
	for _, r := range []float64{0, 0.25, 0.5, 0.999999} {
		got := jitter(d, r)
		if got < d*9/10 || got > d*11/10 {
			t.Errorf("jitter(1h, %v) = %v, outside ±10%%", r, got)
		}
	}
	if got := jitter(d, 0.5); got != d {
		t.Errorf("jitter(1h, 0.5) = %v, want 1h at the middle", got)
	}
}

func TestPickInterval(t *testing.T) {
	cases := []struct {
		name                string
		local, server, want time.Duration
	}{
		{"local override wins", 5 * time.Millisecond, time.Hour, 5 * time.Millisecond},
		{"server value", 0, 2 * time.Hour, 2 * time.Hour},
		{"server value clamped", 0, time.Millisecond, minServerInterval},
		{"default", 0, 0, time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := pickInterval(tc.local, tc.server, time.Minute); got != tc.want {
				t.Errorf("pickInterval = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestSpreadRetry(t *testing.T) {
	d := 30 * time.Second
	if got := spreadRetry(d, 0); got != d {
		t.Errorf("spreadRetry(30s, 0) = %v, want 30s: never sooner than asked", got)
	}
	if got := spreadRetry(d, 0.5); got != 45*time.Second {
		t.Errorf("spreadRetry(30s, 0.5) = %v, want 45s (factor 1.5)", got)
	}
	// The largest value rand.Float64 can return: just under twice the hint.
	if got := spreadRetry(d, 1-1.0/(1<<53)); got >= 2*d || got < 2*d-time.Microsecond {
		t.Errorf("spreadRetry(30s, ~1) = %v, want just under 60s", got)
	}
	if got := spreadRetry(0, 0.7); got != 0 {
		t.Errorf("no hint: %v, want 0", got)
	}
	// A fleet told the same hint comes back spread over the whole next
	// window [30s, 60s).
	seen := map[time.Duration]bool{}
	for i := range 100 {
		w := spreadRetry(d, float64(i)/100)
		if w < d || w >= 2*d {
			t.Fatalf("spreadRetry(30s, %v) = %v, outside [30s, 60s)", float64(i)/100, w)
		}
		seen[w.Round(time.Second)] = true
	}
	if len(seen) < 25 {
		t.Errorf("100 agents came back at only %d distinct seconds, want the 30 s window used", len(seen))
	}
}
