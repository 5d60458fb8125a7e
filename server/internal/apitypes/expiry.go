package apitypes

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// MaxExpiry is how far ahead a credential's expiry may be without being
// forced: one that outlives a year is more often a typo than a plan.
const MaxExpiry = 366 * 24 * time.Hour

// ParseExpiry reads an expiry as people type it: an RFC 3339 time, a date
// (2027-01-01, midnight UTC), or a duration ahead of now, either a Go
// duration (720h) or whole days (90d). The result is in UTC.
func ParseExpiry(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t.UTC(), nil
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 {
			return time.Time{}, fmt.Errorf("%q is not a date (2027-01-01), an RFC 3339 time or a duration such as 90d or 720h", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil || d < 0 {
			return time.Time{}, fmt.Errorf("%q is not a date (2027-01-01), an RFC 3339 time or a duration such as 90d or 720h", s)
		}
	}
	return now.Add(d).UTC(), nil
}

// CredentialExpiry reads a token's or enroll secret's expiry with
// ParseExpiry ("" is none) and refuses one in the past, or more than
// MaxExpiry ahead unless force.
func CredentialExpiry(s string, now time.Time, force bool) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	at, err := ParseExpiry(s, now)
	if err != nil {
		return time.Time{}, err
	}
	if !at.After(now) {
		return time.Time{}, fmt.Errorf("%q is not in the future", s)
	}
	if at.Sub(now) > MaxExpiry && !force {
		return time.Time{}, fmt.Errorf("%q is more than a year away (add --force if you mean it)", s)
	}
	return at, nil
}
