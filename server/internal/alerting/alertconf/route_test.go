package alertconf

import (
	"reflect"
	"testing"
)

func TestRoute(t *testing.T) {
	c := mustParse(t, `alerting:
  receivers:
    - {name: pager, webhook: {url: https://example.com/pager}}
    - {name: am, alertmanager: {url: http://127.0.0.1:9093}}
    - {name: db, webhook: {url: https://example.com/db}}
    - {name: web, webhook: {url: https://example.com/web}}
    - {name: all, webhook: {url: https://example.com/all}}
  routes:
    # Everything goes to Alertmanager, and on.
    - receivers: [am]
      continue: true
    # Critical alerts page, and nothing further.
    - match: {severity: critical}
      receivers: [pager, am]
    # Database team, not on Windows, and on.
    - matchers: ['team=db', 'os!=windows']
      receivers: [db]
      continue: true
    # Web hosts by name (anchored: xweb-1 is not one).
    - match_re: {hostname: 'web-\d+'}
      match: {severity: [low, medium]}
      receivers: [web]
    - receivers: [all]
`)
	tests := []struct {
		name   string
		labels map[string]string
		want   []string
	}{
		{"critical stops at its route, am listed once", map[string]string{"severity": "critical", "team": "db"}, []string{"am", "pager"}},
		{"matchers and continue", map[string]string{"severity": "high", "team": "db", "os": "linux"}, []string{"am", "db", "all"}},
		{"matcher != excludes", map[string]string{"severity": "high", "team": "db", "os": "windows"}, []string{"am", "all"}},
		{"match_re and match both hold", map[string]string{"severity": "low", "hostname": "web-12"}, []string{"am", "web"}},
		{"match_re is anchored", map[string]string{"severity": "low", "hostname": "xweb-12"}, []string{"am", "all"}},
		{"match value not listed", map[string]string{"severity": "high", "hostname": "web-12"}, []string{"am", "all"}},
		{"missing label reads as empty", map[string]string{}, []string{"am", "all"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := c.Route(tc.labels); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Route(%v) = %v, want %v", tc.labels, got, tc.want)
			}
		})
	}
}

func TestRouteFirstMatchAndNone(t *testing.T) {
	c := mustParse(t, `alerting:
  receivers:
    - {name: a, webhook: {url: https://example.com/a}}
    - {name: b, webhook: {url: https://example.com/b}}
  routes:
    - match: {team: db}
      receivers: [a, a]
    - match: {team: [db, web]}
      receivers: [b]
`)
	if got := c.Route(map[string]string{"team": "db"}); !reflect.DeepEqual(got, []string{"a"}) {
		t.Errorf("first match: %v", got)
	}
	if got := c.Route(map[string]string{"team": "web"}); !reflect.DeepEqual(got, []string{"b"}) {
		t.Errorf("second route: %v", got)
	}
	if got := c.Route(map[string]string{"team": "ops"}); got != nil {
		t.Errorf("no route matches, got %v", got)
	}
	if got := (Config{}).Route(map[string]string{"team": "db"}); got != nil {
		t.Errorf("no routes, got %v", got)
	}
}
