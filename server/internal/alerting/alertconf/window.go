package alertconf

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/steward-project/steward/server/internal/alerting/match"
)

// MaxWindowDuration is the longest maintenance window; longer pauses are
// what silences are for.
const MaxWindowDuration = 7 * 24 * time.Hour

// MaintenanceWindow mutes the alerts its matchers select for Duration
// from Start (local time in TimeZone) on each of Days. Alerts that open
// while it is active are recorded muted and notified if they are still
// open when it ends, as with a silence.
type MaintenanceWindow struct {
	Name string
	// Matchers (matchers: ["team=db"]) select the alerts; none selects
	// every alert.
	Matchers []match.Matcher
	// Days are the weekdays the window starts on; empty means every day
	// (days: [daily]).
	Days []time.Weekday
	// Start is the local starting time, "HH:MM".
	Start string
	// Duration is how long the window lasts, in elapsed time (a window
	// over a daylight saving change still lasts Duration); at most
	// MaxWindowDuration. A window may run past midnight.
	Duration time.Duration
	// TimeZone (time_zone) is the IANA zone of Start and Days; default
	// UTC.
	TimeZone string
	Line     int

	loc *time.Location // TimeZone loaded by Parse
}

var windowKeys = []string{"name", "matchers", "days", "start", "duration", "time_zone"}

// dayNames maps "mon" and "monday" (lower case) to their weekday.
var dayNames = func() map[string]time.Weekday {
	m := map[string]time.Weekday{}
	for d := time.Sunday; d <= time.Saturday; d++ {
		full := strings.ToLower(d.String())
		m[full], m[full[:3]] = d, d
	}
	return m
}()

var clockRE = regexp.MustCompile(`^([01][0-9]|2[0-3]):([0-5][0-9])$`)

func (p *parser) windows(n *yaml.Node) []MaintenanceWindow {
	items := p.list(n, "maintenance_windows")
	var out []MaintenanceWindow
	seen := map[string]int{}
	for i, item := range items {
		what := itemName(item, "maintenance window", "maintenance_windows", i)
		f := p.fields(item, what, windowKeys)
		if f == nil {
			continue
		}
		w := MaintenanceWindow{Line: item.Line, TimeZone: "UTC", loc: time.UTC}
		w.Name = p.name(f, item, what, freeNameRE, seen)
		ms, nodes, _ := p.items(f.val("matchers"), what, "matchers")
		for j, s := range ms {
			m, err := match.Parse(s)
			if err != nil {
				p.errorf(nodes[j], "%s: %v", what, err)
				continue
			}
			w.Matchers = append(w.Matchers, m)
		}
		w.Days = p.days(f.val("days"), what)
		if v := f.val("start"); v == nil {
			p.errorf(item, "%s: start is required: the local time it starts, HH:MM", what)
		} else if s, ok := p.str(v, what, "start"); ok {
			if clockRE.MatchString(s) {
				w.Start = s
			} else {
				p.errorf(deref(v), "%s: start %q must be a time of day as HH:MM (00:00 to 23:59)", what, s)
			}
		}
		if f.val("duration") == nil {
			p.errorf(item, "%s: duration is required: how long the window lasts", what)
		} else {
			w.Duration = p.duration(f.val("duration"), what, "duration", time.Minute, 0)
			if w.Duration > MaxWindowDuration {
				p.errorf(deref(f.val("duration")), "%s: duration must be at most %v; use a silence for longer", what, MaxWindowDuration)
			}
		}
		if v := f.val("time_zone"); v != nil {
			if s, ok := p.str(v, what, "time_zone"); ok && s != "" {
				loc, err := time.LoadLocation(s)
				switch {
				case s == "Local":
					p.errorf(deref(v), "%s: time_zone Local depends on the server's machine; name the zone (e.g. Europe/Berlin)", what)
				case err != nil:
					p.errorf(deref(v), "%s: unknown time_zone %q; want an IANA name such as UTC or America/New_York", what, s)
				default:
					w.TimeZone, w.loc = s, loc
				}
			}
		}
		out = append(out, w)
	}
	return out
}

// days reads [mon, tue, ...] (full names too, any case) or [daily].
func (p *parser) days(n *yaml.Node, what string) []time.Weekday {
	names, nodes, _ := p.items(n, what, "days")
	var out []time.Weekday
	daily := false
	for i, s := range names {
		key := strings.ToLower(strings.TrimSpace(s))
		if key == "daily" {
			daily = true
			continue
		}
		d, ok := dayNames[key]
		if !ok {
			p.errorf(nodes[i], "%s: days: %q is not a day; want mon, tue, wed, thu, fri, sat, sun or daily", what, s)
			continue
		}
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	if daily {
		return nil
	}
	slices.Sort(out)
	return out
}

// location is the window's time zone; UTC when it cannot be loaded.
func (w MaintenanceWindow) location() *time.Location {
	if w.loc != nil {
		return w.loc
	}
	if loc, err := time.LoadLocation(w.TimeZone); err == nil && w.TimeZone != "" {
		return loc
	}
	return time.UTC
}

// Active reports whether t falls inside the window: after the start of
// one of its occurrences and before that start plus Duration. An
// occurrence that began on an earlier day still counts, so a Saturday
// 23:00 window of 3h is active early on Sunday.
func (w MaintenanceWindow) Active(t time.Time) bool {
	m := clockRE.FindStringSubmatch(w.Start)
	if m == nil || w.Duration <= 0 {
		return false
	}
	hour, _ := strconv.Atoi(m[1])
	minute, _ := strconv.Atoi(m[2])
	loc := w.location()
	y, mon, d := t.In(loc).Date()
	for back := 0; back <= int(w.Duration/(24*time.Hour))+1; back++ {
		// Noon, to read the weekday: midnight does not exist everywhere.
		if day := time.Date(y, mon, d-back, 12, 0, 0, 0, loc); len(w.Days) > 0 && !slices.Contains(w.Days, day.Weekday()) {
			continue
		}
		start := time.Date(y, mon, d-back, hour, minute, 0, 0, loc)
		if !t.Before(start) && t.Before(start.Add(w.Duration)) {
			return true
		}
	}
	return false
}

// Matches reports whether the window's matchers select an alert with
// these labels.
func (w MaintenanceWindow) Matches(labels map[string]string) bool {
	return match.All(w.Matchers, labels)
}

// Maintenance returns the first maintenance window that selects an alert
// with these labels and is active at t.
func (c Config) Maintenance(labels map[string]string, t time.Time) (MaintenanceWindow, bool) {
	for _, w := range c.MaintenanceWindows {
		if w.Matches(labels) && w.Active(t) {
			return w, true
		}
	}
	return MaintenanceWindow{}, false
}

// InMaintenance reports whether a maintenance window mutes an alert with
// these labels at t.
func (c Config) InMaintenance(labels map[string]string, t time.Time) bool {
	_, ok := c.Maintenance(labels, t)
	return ok
}
