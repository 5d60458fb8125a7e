package alertconf

import (
	"testing"
	"time"
	_ "time/tzdata" // America/New_York on machines without a zone database

	"github.com/steward-project/steward/server/internal/alerting/match"
)

func utc(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestWindowActive(t *testing.T) {
	c := mustParse(t, `alerting:
  maintenance_windows:
    - {name: nightly, start: "02:00", duration: 1h}
    - {name: saturday-night, days: [sat], start: "23:00", duration: 3h}
    - {name: weekend, days: [fri], start: "18:00", duration: 60h}
    - {name: ny-morning, days: [mon], start: "09:00", duration: 2h, time_zone: America/New_York}
    - {name: ny-dst, days: [sun], start: "01:00", duration: 3h, time_zone: America/New_York}
    - {name: daily-list, days: [daily], start: "12:00", duration: 1m}
`)
	w := map[string]MaintenanceWindow{}
	for _, x := range c.MaintenanceWindows {
		w[x.Name] = x
	}
	// 2025-03-08 is a Saturday; New York moves to daylight time at
	// 02:00 on Sunday 2025-03-09.
	tests := []struct {
		window string
		at     time.Time
		want   bool
	}{
		{"nightly", utc("2025-03-05 01:59"), false},
		{"nightly", utc("2025-03-05 02:00"), true},
		{"nightly", utc("2025-03-05 02:59"), true},
		{"nightly", utc("2025-03-05 03:00"), false},

		{"saturday-night", utc("2025-03-08 22:59"), false},
		{"saturday-night", utc("2025-03-08 23:00"), true},
		{"saturday-night", utc("2025-03-09 01:00"), true}, // Sunday, crossed midnight
		{"saturday-night", utc("2025-03-09 01:59"), true},
		{"saturday-night", utc("2025-03-09 02:00"), false},
		{"saturday-night", utc("2025-03-07 23:30"), false}, // Friday
		{"saturday-night", utc("2025-03-10 00:30"), false}, // Monday

		{"weekend", utc("2025-03-07 17:59"), false},
		{"weekend", utc("2025-03-07 18:00"), true},
		{"weekend", utc("2025-03-09 12:00"), true}, // two days on
		{"weekend", utc("2025-03-10 05:59"), true},
		{"weekend", utc("2025-03-10 06:00"), false},

		// Monday 2025-03-03: New York is on EST (UTC-5), 09:00 is 14:00 UTC.
		{"ny-morning", utc("2025-03-03 13:59"), false},
		{"ny-morning", utc("2025-03-03 14:00"), true},
		{"ny-morning", utc("2025-03-03 15:59"), true},
		{"ny-morning", utc("2025-03-03 16:00"), false},
		// Monday 2025-03-10: EDT (UTC-4), 09:00 is 13:00 UTC.
		{"ny-morning", utc("2025-03-10 13:00"), true},
		{"ny-morning", utc("2025-03-10 12:59"), false},
		{"ny-morning", utc("2025-03-10 15:00"), false},

		// Sunday 2025-03-09 01:00 EST is 06:00 UTC; three elapsed hours
		// end at 09:00 UTC (05:00 EDT), across the change.
		{"ny-dst", utc("2025-03-09 05:59"), false},
		{"ny-dst", utc("2025-03-09 06:00"), true},
		{"ny-dst", utc("2025-03-09 08:59"), true},
		{"ny-dst", utc("2025-03-09 09:00"), false},

		{"daily-list", utc("2025-03-04 12:00"), true},
		{"daily-list", utc("2025-03-08 12:00"), true},
		{"daily-list", utc("2025-03-08 12:01"), false},
	}
	for _, tc := range tests {
		if got := w[tc.window].Active(tc.at); got != tc.want {
			t.Errorf("%s.Active(%s UTC, %s) = %v, want %v", tc.window, tc.at.Format("2006-01-02 15:04"), tc.at.Weekday(), got, tc.want)
		}
		// The instant is what counts, not the zone it is given in.
		if got := w[tc.window].Active(tc.at.In(time.FixedZone("X", 7*3600))); got != tc.want {
			t.Errorf("%s.Active(%s in UTC+7) = %v, want %v", tc.window, tc.at, got, tc.want)
		}
	}
	if w["ny-morning"].TimeZone != "America/New_York" || w["nightly"].TimeZone != "UTC" || w["daily-list"].Days != nil {
		t.Errorf("zones %q %q, days %v", w["ny-morning"].TimeZone, w["nightly"].TimeZone, w["daily-list"].Days)
	}
}

func TestWindowBuiltInCode(t *testing.T) {
	w := MaintenanceWindow{Days: []time.Weekday{time.Monday}, Start: "09:00", Duration: time.Hour, TimeZone: "America/New_York"}
	if !w.Active(utc("2025-03-03 14:30")) || w.Active(utc("2025-03-03 09:30")) {
		t.Error("a window built in code does not load its zone")
	}
	if (MaintenanceWindow{Start: "9am", Duration: time.Hour}).Active(utc("2025-03-03 09:30")) {
		t.Error("a bad start is active")
	}
}

func TestInMaintenance(t *testing.T) {
	c := mustParse(t, `alerting:
  maintenance_windows:
    - name: db-patching
      matchers: ['team=db', 'severity!=critical']
      days: [tue]
      start: "22:00"
      duration: 4h
    - name: lab
      matchers: ['hostname=~lab-.*']
      start: "00:00"
      duration: 12h
`)
	tuesday := utc("2025-03-04 23:00")
	tests := []struct {
		labels map[string]string
		at     time.Time
		want   string
	}{
		{map[string]string{"team": "db", "severity": "high"}, tuesday, "db-patching"},
		{map[string]string{"team": "db", "severity": "high"}, utc("2025-03-05 01:30"), "db-patching"},
		{map[string]string{"team": "db", "severity": "critical"}, tuesday, ""},
		{map[string]string{"team": "web", "severity": "high"}, tuesday, ""},
		{map[string]string{"team": "db", "severity": "high"}, utc("2025-03-05 23:00"), ""},
		{map[string]string{"hostname": "lab-3"}, utc("2025-03-05 11:59"), "lab"},
		{map[string]string{"hostname": "lab-3"}, utc("2025-03-05 12:00"), ""},
	}
	for _, tc := range tests {
		got, ok := c.Maintenance(tc.labels, tc.at)
		if got.Name != tc.want || ok != (tc.want != "") || c.InMaintenance(tc.labels, tc.at) != ok {
			t.Errorf("Maintenance(%v, %s) = %q, %v; want %q", tc.labels, tc.at, got.Name, ok, tc.want)
		}
	}
	m, _ := match.Parse("team=db")
	if !(MaintenanceWindow{Matchers: []match.Matcher{m}}).Matches(map[string]string{"team": "db"}) {
		t.Error("Matches")
	}
}
