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
