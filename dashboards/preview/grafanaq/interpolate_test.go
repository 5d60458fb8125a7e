package grafanaq

import (
	"testing"
	"time"
)

// opts makes options whose text is their value.
func opts(values ...string) []Option {
	out := make([]Option, len(values))
	for i, v := range values {
		out[i] = Option{Text: v, Value: v}
	}
	return out
}

// multiEnv has a multi-value variable "servers" with two values
// selected, as in Grafana's documentation of the formats.
func multiEnv(values ...string) *Env {
	return &Env{Vars: map[string]*VarState{
		"servers": {Name: "servers", Multi: true, Sel: Selection{Options: opts(values...), Selected: opts(values...), List: true}},
	}}
}

// TestFormatsAsDocumented checks each explicit format against the
// examples of Grafana's "Advanced variable format options".
func TestFormatsAsDocumented(t *testing.T) {
	cases := []struct {
		values []string
		in     string
		want   string
	}{
		{[]string{"test1", "test2"}, "${servers:csv}", "test1,test2"},
		{[]string{"test1", "test2"}, "${servers:distributed}", "test1,servers=test2"},
		{[]string{"test1", "test2"}, "${servers:doublequote}", `"test1","test2"`},
		{[]string{"test1", "test2"}, "${servers:glob}", "{test1,test2}"},
		{[]string{"test1", "test2"}, "${servers:json}", `["test1","test2"]`},
		{[]string{"test1", "test2"}, "${servers:lucene}", `("test1" OR "test2")`},
		{[]string{"foo()bar BAZ", "test2"}, "${servers:percentencode}", "%7Bfoo%28%29bar%20BAZ%2Ctest2%7D"},
		{[]string{"test1.", "test2"}, "${servers:pipe}", "test1.|test2"},
		{[]string{"test.1", "test2"}, "${servers:regex}", `(test\.1|test2)`},
		{[]string{"test1", "test2"}, "${servers:singlequote}", "'test1','test2'"},
		{[]string{"test'1", "test2"}, "${servers:sqlstring}", "'test''1','test2'"},
		{[]string{"test1", "test2"}, "${servers:text}", "test1 + test2"},
		{[]string{"test1", "test2"}, "${servers:queryparam}", "var-servers=test1&var-servers=test2"},
		{[]string{"test1", "test2"}, "${servers:raw}", "test1,test2"},
		{[]string{"test1", "test2"}, "[[servers:csv]]", "test1,test2"},
		{[]string{"test1", "test2"}, "${servers:nosuchformat}", "{test1,test2}"},
	}
	for _, c := range cases {
		if got := multiEnv(c.values...).Interpolate(c.in, FlavorPrometheus); got != c.want {
			t.Errorf("%v %s = %q, want %q", c.values, c.in, got, c.want)
		}
	}
}

// TestPrometheusFlavor: a plain variable is only quote-escaped; a
// multi-value or include-All one is regex escaped (with the backslash
// doubled for the PromQL string) and several values become (a|b); All
// without a custom value is every option, with one it is that value.
func TestPrometheusFlavor(t *testing.T) {
	env := &Env{Vars: map[string]*VarState{
		"plain":  {Name: "plain", Sel: Selection{Selected: opts(`a.b'c\d`)}},
		"multi1": {Name: "multi1", Multi: true, Sel: Selection{Selected: opts("1.2"), List: true}},
		"multi":  {Name: "multi", Multi: true, Sel: Selection{Selected: opts("a.b", "c|d"), List: true}},
		"all":    {Name: "all", IncludeAll: true, Sel: Selection{Options: opts("x", "y+z"), All: true}},
		"allv":   {Name: "allv", IncludeAll: true, AllValue: ".*", Sel: Selection{Options: opts("x"), All: true}},
		"incl":   {Name: "incl", IncludeAll: true, Sel: Selection{Options: opts("x", "y"), Selected: opts("v(1)")}},
	}}
	cases := map[string]string{
		`up{a="$plain"}`:           `up{a="a.b\\'c\\d"}`,
		`up{a=~"$multi1"}`:         `up{a=~"1\\.2"}`,
		`up{a=~"$multi"}`:          `up{a=~"(a\\.b|c\\|d)"}`,
		`up{a=~"${all}"}`:          `up{a=~"(x|y\\+z)"}`,
		`up{a=~"[[allv]]"}`:        `up{a=~".*"}`,
		`up{a=~"$incl"}`:           `up{a=~"v\\(1\\)"}`,
		`up{a=~"${multi:pipe}"}`:   `up{a=~"a.b|c|d"}`,
		`up{a=~"${allv:text}"}`:    `up{a=~"All"}`,
		`up{a=~"$unknown"} $1`:     `up{a=~"$unknown"} $1`,
		`sum(x{a="$plain_other"})`: `sum(x{a="$plain_other"})`,
	}
	for in, want := range cases {
		if got := env.Interpolate(in, FlavorPrometheus); got != want {
			t.Errorf("Interpolate(%s) = %s, want %s", in, got, want)
		}
	}
}

// TestPostgresFlavor: multi-value and include-All variables become
// quoted literals joined by commas; a plain variable's quotes are
// doubled, without quoting it.
func TestPostgresFlavor(t *testing.T) {
	env := &Env{Vars: map[string]*VarState{
		"plain": {Name: "plain", Sel: Selection{Selected: opts("O'Brien")}},
		"multi": {Name: "multi", Multi: true, Sel: Selection{Selected: opts("a", "b'c"), List: true}},
		"one":   {Name: "one", Multi: true, Sel: Selection{Selected: opts("a"), List: true}},
		"all":   {Name: "all", IncludeAll: true, Multi: true, Sel: Selection{Options: opts("x", "y"), All: true, List: true}},
		"allv":  {Name: "allv", IncludeAll: true, AllValue: "%", Sel: Selection{Options: opts("x"), All: true}},
		"incl":  {Name: "incl", IncludeAll: true, Sel: Selection{Options: opts("x"), Selected: opts("x")}},
	}}
	cases := map[string]string{
		"WHERE name = '$plain'":           "WHERE name = 'O''Brien'",
		"WHERE p IN ($multi)":             "WHERE p IN ('a','b''c')",
		"WHERE p IN ($one)":               "WHERE p IN ('a')",
		"WHERE p IN (${all})":             "WHERE p IN ('x','y')",
		"WHERE p LIKE '$allv'":            "WHERE p LIKE '%'",
		"WHERE p = $incl":                 "WHERE p = 'x'",
		"WHERE p IN (${multi:csv})":       "WHERE p IN (a,b'c)",
		"WHERE p = '${plain:raw}'":        "WHERE p = 'O'Brien'",
		"WHERE p IN (${multi:sqlstring})": "WHERE p IN ('a','b''c')",
	}
	for in, want := range cases {
		if got := env.Interpolate(in, FlavorPostgres); got != want {
			t.Errorf("Interpolate(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestBuiltins(t *testing.T) {
	from := time.Date(2017, 4, 21, 5, 1, 17, 0, time.UTC)
	env := &Env{From: from, To: from.Add(5 * time.Minute), Interval: 30 * time.Second, RateInterval: 2 * time.Minute,
		DashboardUID: "fleet", DashboardTitle: "Fleet"}
	cases := map[string]string{
		"rate(x[$__rate_interval])":       "rate(x[2m])",
		"rate(x[${__rate_interval}])":     "rate(x[2m])",
		"avg_over_time(x[$__interval])":   "avg_over_time(x[30s])",
		"[[__interval]]":                  "30s",
		"$__interval_ms":                  "30000",
		"$__rate_interval_ms":             "120000",
		"increase(x[$__range])":           "increase(x[300s])",
		"$__range_s $__range_ms":          "300 300000",
		"$__from ${__to}":                 "1492750877000 1492751177000",
		"${__from:date:iso}":              "2017-04-21T05:01:17.000Z",
		"${__from:date:seconds}":          "1492750877",
		"${__from:date}":                  "2017-04-21T05:01:17.000Z",
		"$__dashboard ${__dashboard.uid}": "Fleet fleet",
	}
	for in, want := range cases {
		if got := env.Interpolate(in, FlavorPrometheus); got != want {
			t.Errorf("Interpolate(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestTitleText(t *testing.T) {
	env := &Env{Vars: map[string]*VarState{
		"os":  {Name: "os", Multi: true, Sel: Selection{Selected: []Option{{Text: "Debian", Value: "debian"}, {Text: "Ubuntu", Value: "ubuntu"}}, List: true}},
		"all": {Name: "all", IncludeAll: true, Sel: Selection{Options: opts("a"), All: true}},
	}}
	if got := env.Interpolate("Hosts ($os, $all)", FlavorText); got != "Hosts (Debian + Ubuntu, All)" {
		t.Errorf("title = %q", got)
	}
}

func TestNames(t *testing.T) {
	got := Names(`sum(x{a=~"$os", b="${policy:regex}"}[$__rate_interval]) [[os]] $severity`)
	want := []string{"os", "policy", "severity"}
	if len(got) != len(want) {
		t.Fatalf("Names = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Names = %v, want %v", got, want)
		}
	}
}

func TestIntervals(t *testing.T) {
	for d, want := range map[time.Duration]string{
		500 * time.Microsecond: "1ms", 1500 * time.Millisecond: "1s", 90 * time.Second: "1m",
		2 * time.Hour: "2h", 49 * time.Hour: "2d", 400 * 24 * time.Hour: "1y",
	} {
		if got := FormatInterval(d); got != want {
			t.Errorf("FormatInterval(%v) = %s, want %s", d, got, want)
		}
	}
	for s, want := range map[string]time.Duration{
		"'5m'": 5 * time.Minute, "1d": 24 * time.Hour, "1w": 7 * 24 * time.Hour, "1h30m": 90 * time.Minute, "250ms": 250 * time.Millisecond,
	} {
		if got, err := ParseInterval(s); err != nil || got != want {
			t.Errorf("ParseInterval(%s) = %v, %v; want %v", s, got, err, want)
		}
	}
	if _, err := ParseInterval("five"); err == nil {
		t.Error("ParseInterval(five) succeeded")
	}
	if got := AutoInterval(time.Hour, 1000, time.Second); got != 5*time.Second {
		t.Errorf("AutoInterval(1h, 1000) = %v, want 5s (3.6s rounded up)", got)
	}
	if got := RateInterval(15*time.Second, 15*time.Second); got != time.Minute {
		t.Errorf("RateInterval(15s, 15s) = %v, want 1m", got)
	}
	now := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
	if got, err := ParseRelativeTime("now-6h", now); err != nil || !got.Equal(now.Add(-6*time.Hour)) {
		t.Errorf("now-6h = %v, %v", got, err)
	}
}
