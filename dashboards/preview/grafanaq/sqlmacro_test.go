package grafanaq

import (
	"strings"
	"testing"
	"time"
)

// TestSQLMacrosAsDocumented checks the expansions against the examples
// in Grafana's PostgreSQL data source documentation, whose time range is
// 2017-04-21T05:01:17Z to 2017-04-21T05:06:17Z.
func TestSQLMacrosAsDocumented(t *testing.T) {
	from := time.Date(2017, 4, 21, 5, 1, 17, 0, time.UTC)
	to := from.Add(5 * time.Minute)
	cases := map[string]string{
		"$__time(dateColumn)":                     `dateColumn AS "time"`,
		"$__timeEpoch(dateColumn)":                `extract(epoch from dateColumn) as "time"`,
		"$__timeFilter(dateColumn)":               "dateColumn BETWEEN '2017-04-21T05:01:17Z' AND '2017-04-21T05:06:17Z'",
		"$__timeFrom()":                           "'2017-04-21T05:01:17Z'",
		"$__timeTo()":                             "'2017-04-21T05:06:17Z'",
		"$__timeGroup(dateColumn,'5m')":           "floor(extract(epoch from dateColumn)/300)*300",
		"$__timeGroup(dateColumn,'5m', 0)":        "floor(extract(epoch from dateColumn)/300)*300",
		"$__timeGroup(dateColumn,'5m', NULL)":     "floor(extract(epoch from dateColumn)/300)*300",
		"$__timeGroup(dateColumn,'5m', previous)": "floor(extract(epoch from dateColumn)/300)*300",
		"$__timeGroupAlias(dateColumn,'5m')":      `floor(extract(epoch from dateColumn)/300)*300 AS "time"`,
		"$__unixEpochFilter(dateColumn)":          "dateColumn >= 1492750877 AND dateColumn <= 1492751177",
		"$__unixEpochFrom()":                      "1492750877",
		"$__unixEpochTo()":                        "1492751177",
		"$__unixEpochGroup(dateColumn,'5m')":      "floor((dateColumn)/300)*300",
		"$__unixEpochGroupAlias(dateColumn,'5m')": `floor((dateColumn)/300)*300 AS "time"`,
		"$__unixEpochNanoFilter(dateColumn)":      "dateColumn >= 1492750877000000000 AND dateColumn <= 1492751177000000000",
		"$__interval $__interval_ms":              "20s 20000",
		"$__timeGroup(at, $__interval)":           "floor(extract(epoch from at)/20)*20",
		"$__timeGroup(at, 500ms)":                 "floor(extract(epoch from at)/0.5)*0.5",
	}
	for in, want := range cases {
		got, err := ExpandSQLMacros(in, from, to, 20*time.Second)
		if err != nil || got != want {
			t.Errorf("ExpandSQLMacros(%s) = %q, %v; want %q", in, got, err, want)
		}
	}
}

func TestSQLMacroErrors(t *testing.T) {
	now := time.Now()
	for in, want := range map[string]string{
		"$__timeFilters(at)":           "undefined macro $__timeFilters",
		"$__timeGroup(at)":             "needs a time column, an interval",
		"$__timeGroup(at, 'often')":    "not a duration",
		"$__timeGroup(at, '1m', zero)": "fill",
		"$__timeFilter()":              "needs a time column",
	} {
		_, err := ExpandSQLMacros(in, now, now, time.Second)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ExpandSQLMacros(%s) error %v, want one saying %q", in, err, want)
		}
	}
}

// TestSQLQuery: variables are interpolated with SQL quoting before the
// macros are expanded, as the frontend does before the backend.
func TestSQLQuery(t *testing.T) {
	from := time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)
	env := &Env{From: from, To: from.Add(time.Hour), Interval: time.Minute, Vars: map[string]*VarState{
		"policy": {Name: "policy", Multi: true, IncludeAll: true, Sel: Selection{Options: opts("ssh-root", "fw"), All: true}},
	}}
	got, err := env.SQLQuery(`SELECT $__timeGroupAlias(at, $__interval), count(*) FROM result_transitions ` +
		`WHERE $__timeFilter(at) AND policy_id IN ($policy) GROUP BY 1 ORDER BY 1`)
	want := `SELECT floor(extract(epoch from at)/60)*60 AS "time", count(*) FROM result_transitions ` +
		`WHERE at BETWEEN '2024-05-01T00:00:00Z' AND '2024-05-01T01:00:00Z' AND policy_id IN ('ssh-root','fw') GROUP BY 1 ORDER BY 1`
	if err != nil || got != want {
		t.Errorf("SQLQuery =\n%s, %v\nwant\n%s", got, err, want)
	}
}
