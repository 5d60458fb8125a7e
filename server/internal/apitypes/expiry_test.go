package apitypes

import (
	"strings"
	"testing"
	"time"
)

func TestCredentialExpiry(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 0, 0, 0, time.FixedZone("CET", 3600))
	for _, tc := range []struct {
		in    string
		force bool
		want  time.Time
		err   string
	}{
		{in: "", want: time.Time{}},
		{in: "90d", want: now.Add(90 * 24 * time.Hour).UTC()},
		{in: "720h", want: now.Add(720 * time.Hour).UTC()},
		{in: "2027-01-01", want: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{in: "2027-01-01T12:00:00+02:00", want: time.Date(2027, 1, 1, 10, 0, 0, 0, time.UTC)},
		{in: "2028-01-01", err: "more than a year away"},
		{in: "2028-01-01", force: true, want: time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC)},
		{in: "400d", err: "--force"},
		{in: "2020-01-01", err: "not in the future"},
		{in: "0d", err: "not in the future"},
		{in: "-3d", err: "not a date"},
		{in: "soon", err: "not a date"},
		{in: "1y", err: "not a date"},
	} {
		got, err := CredentialExpiry(tc.in, now, tc.force)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: %v, %v; want an error with %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || !got.Equal(tc.want) || got.Location() != time.UTC && !got.IsZero() {
			t.Errorf("%q: %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}
