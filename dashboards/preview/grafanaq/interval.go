package grafanaq

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

const (
	day  = 24 * time.Hour
	week = 7 * day
	year = 365 * day
)

// FormatInterval writes a duration in the largest whole unit Grafana
// uses for $__interval: "1y", "2d", "3h", "5m", "15s", "500ms" (rounded
// down; anything below a millisecond is "1ms").
func FormatInterval(d time.Duration) string {
	switch {
	case d >= year:
		return fmt.Sprintf("%dy", d/year)
	case d >= day:
		return fmt.Sprintf("%dd", d/day)
	case d >= time.Hour:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d >= time.Minute:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d >= time.Second:
		return fmt.Sprintf("%ds", d/time.Second)
	case d >= time.Millisecond:
		return fmt.Sprintf("%dms", d/time.Millisecond)
	}
	return "1ms"
}

var intervalRE = regexp.MustCompile(`^(\d+(?:\.\d+)?)(ms|s|m|h|d|w|M|y)$`)

// ParseInterval reads an interval as Grafana writes them: a number and
// one of ms, s, m, h, d, w, M (30 days) or y, or a Go duration such as
// "1h30m". Surrounding single quotes are ignored, as in the macros'
// '5m'.
func ParseInterval(s string) (time.Duration, error) {
	s = strings.Trim(strings.TrimSpace(s), "'")
	if m := intervalRE.FindStringSubmatch(s); m != nil {
		n, err := strconv.ParseFloat(m[1], 64)
		if err != nil {
			return 0, fmt.Errorf("interval %q: %w", s, err)
		}
		unit := map[string]time.Duration{"ms": time.Millisecond, "s": time.Second, "m": time.Minute,
			"h": time.Hour, "d": day, "w": week, "M": 30 * day, "y": year}[m[2]]
		return time.Duration(n * float64(unit)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("interval %q: not a duration", s)
	}
	return d, nil
}

// niceSteps are the intervals RoundInterval rounds up to.
var niceSteps = []time.Duration{
	time.Millisecond, 10 * time.Millisecond, 20 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 200 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2 * time.Second, 5 * time.Second, 10 * time.Second, 15 * time.Second, 20 * time.Second,
	30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute,
	20 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 3 * time.Hour, 6 * time.Hour,
	12 * time.Hour, day, week, 30 * day, year,
}

// RoundInterval rounds an automatic interval up to a step a person would
// choose (1s, 2s, 5s, 10s, 15s, 30s, 1m, ...), as Grafana rounds the
// interval it derives from the time range and the panel's width.
func RoundInterval(d time.Duration) time.Duration {
	for _, s := range niceSteps {
		if d <= s {
			return s
		}
	}
	return d
}

// AutoInterval is the interval Grafana gives a panel: the time range
// divided by the points the panel can show, rounded, and at least
// minInterval.
func AutoInterval(rng time.Duration, maxDataPoints int, minInterval time.Duration) time.Duration {
	if maxDataPoints <= 0 {
		maxDataPoints = 1000
	}
	iv := RoundInterval(rng / time.Duration(maxDataPoints))
	if iv < minInterval {
		iv = minInterval
	}
	return iv
}

// RateInterval is Grafana's $__rate_interval for a query interval and
// the data source's scrape interval: max(interval + scrape, 4 × scrape).
func RateInterval(interval, scrape time.Duration) time.Duration {
	return max(interval+scrape, 4*scrape)
}

var relTimeRE = regexp.MustCompile(`^now(?:-(\d+)(ms|s|m|h|d|w|M|y))?(?:/[smhdwMy])?$`)

// ParseRelativeTime reads a dashboard time such as "now-6h" or "now"
// against now (a rounding suffix such as "/d" is ignored), or an RFC 3339
// or epoch-milliseconds absolute time.
func ParseRelativeTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if m := relTimeRE.FindStringSubmatch(s); m != nil {
		if m[1] == "" {
			return now, nil
		}
		d, err := ParseInterval(m[1] + m[2])
		if err != nil {
			return time.Time{}, err
		}
		return now.Add(-d), nil
	}
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.UnixMilli(ms), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("time %q: not now-N<unit>, RFC 3339 or epoch milliseconds", s)
}
