package alertconf

import (
	"errors"
	"strings"
	"testing"
)

// TestParseErrors checks each class of problem: every line of the error
// must start with the wanted text (the full message when the text is
// ours; a prefix when the rest comes from another package), in order.
func TestParseErrors(t *testing.T) {
	t.Setenv("STEWARD_TEST_UNSET", "")
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"section not a mapping", "alerting: [1]\n",
			[]string{"steward.yaml:1: alerting must be a mapping of keys, not a list"}},
		{"unknown top key", "alerting:\n  recievers: []\n",
			[]string{"steward.yaml:2: alerting: unknown key recievers (known: external_url, receivers, routes, rules, maintenance_windows, delivery, sweep_interval)"}},
		{"key given twice", "alerting:\n  rules: []\n  rules: []\n",
			[]string{"steward.yaml:3: alerting: rules is given twice (first at line 2)"}},
		{"merge key", "alerting:\n  <<: {rules: []}\n",
			[]string{"steward.yaml:2: alerting: YAML merge keys (<<) are not supported; write the keys out"}},
		{"bad external url", "alerting:\n  external_url: steward:8080\n",
			[]string{`steward.yaml:2: alerting: external_url "steward:8080": want an absolute http:// or https:// URL`}},
		{"receivers not a list", "alerting:\n  receivers: {a: 1}\n",
			[]string{"steward.yaml:2: alerting: receivers must be a list, not a mapping"}},

		// receivers
		{"receiver without type", "alerting:\n  receivers:\n    - name: a\n",
			[]string{`steward.yaml:3: receiver "a": no receiver type; give one of alertmanager, email, pagerduty, slack, webhook`}},
		{"receiver with two types", "alerting:\n  receivers:\n    - name: a\n      webhook: {url: https://x}\n      slack: {webhook_url: https://y}\n",
			[]string{`steward.yaml:3: receiver "a": has 2 types (webhook, slack); give exactly one`}},
		{"unknown receiver type", "alerting:\n  receivers:\n    - name: a\n      opsgenie: {api_key: k}\n",
			[]string{`steward.yaml:4: receiver "a": unknown receiver type opsgenie; want one of alertmanager, email, pagerduty, slack, webhook`}},
		{"unknown receiver key", "alerting:\n  receivers:\n    - name: a\n      send_resolved: true\n      webhook: {url: https://x}\n",
			[]string{`steward.yaml:4: receiver "a": unknown key send_resolved (known: name and one of alertmanager, email, pagerduty, slack, webhook)`}},
		{"receiver without name", "alerting:\n  receivers:\n    - webhook: {url: https://x}\n",
			[]string{`steward.yaml:3: receivers[0]: name is required`}},
		{"bad receiver name", "alerting:\n  receivers:\n    - name: on call\n      webhook: {url: https://x}\n",
			[]string{`steward.yaml:3: receiver "on call": name "on call" must match`}},
		{"duplicate receiver", "alerting:\n  receivers:\n    - name: a\n      webhook: {url: https://x}\n    - name: a\n      webhook: {url: https://y}\n",
			[]string{`steward.yaml:5: receiver "a": duplicate name (first at line 3)`}},
		{"invalid receiver config", "alerting:\n  receivers:\n    - name: a\n      webhook:\n        secret: s\n",
			[]string{`steward.yaml:4: receiver "a": webhook: `}},
		{"empty receiver config", "alerting:\n  receivers:\n    - name: a\n      alertmanager:\n",
			[]string{`steward.yaml:4: receiver "a": alertmanager: `}},
		{"unknown key in receiver config", "alerting:\n  receivers:\n    - name: a\n      webhook:\n        url: https://x\n        secrte: s\n",
			[]string{`steward.yaml:6: receiver "a": webhook: unknown key secrte (known: headers, secret, url)`}},
		{"wrong type in receiver config", "alerting:\n  receivers:\n    - name: a\n      email:\n        smtp: m:25\n        from: a@b\n        to: {x: y}\n",
			[]string{`steward.yaml:7: receiver "a": email.to: cannot unmarshal !!map into []string`}},
		{"secret file missing", "alerting:\n  receivers:\n    - name: a\n      pagerduty:\n        routing_key: {file: /nonexistent/pd.key}\n",
			[]string{`steward.yaml:5: receiver "a": pagerduty.routing_key: secret file: open /nonexistent/pd.key: no such file or directory`}},
		{"secret variable unset", "alerting:\n  receivers:\n    - name: a\n      webhook: {url: https://x,\n        secret: {env: STEWARD_TEST_UNSET}}\n",
			[]string{`steward.yaml:5: receiver "a": webhook.secret: secret variable STEWARD_TEST_UNSET is not set`}},
		{"secret with unknown key", "alerting:\n  receivers:\n    - name: a\n      pagerduty:\n        routing_key: {env: X, default: y}\n",
			[]string{`steward.yaml:5: receiver "a": pagerduty.routing_key: unknown key default (known: file, env)`}},

		// routes
		{"route to a missing receiver", "alerting:\n  receivers:\n    - {name: a, webhook: {url: https://x}}\n  routes:\n    - receivers:\n        - a\n        - b\n",
			[]string{`steward.yaml:7: routes[0]: no receiver is called "b"`}},
		{"route without receivers", "alerting:\n  routes:\n    - match: {team: db}\n",
			[]string{`steward.yaml:3: routes[0]: receivers is required: the receivers the route sends to`}},
		{"route with empty receivers", "alerting:\n  routes:\n    - receivers: []\n",
			[]string{`steward.yaml:3: routes[0]: receivers is required: the receivers the route sends to`}},
		{"bad matcher", "alerting:\n  receivers:\n    - {name: a, webhook: {url: https://x}}\n  routes:\n    - receivers: [a]\n      matchers: ['team=db', 'hostname=~web-(']\n",
			[]string{`steward.yaml:6: routes[0]: matcher "hostname=~web-(": error parsing regexp`}},
		{"bad match_re", "alerting:\n  receivers:\n    - {name: a, webhook: {url: https://x}}\n  routes:\n    - receivers: [a]\n      match_re:\n        hostname: '[a-'\n",
			[]string{`steward.yaml:7: routes[0]: match_re: hostname: invalid regular expression: error parsing regexp`}},
		{"bad match label", "alerting:\n  receivers:\n    - {name: a, webhook: {url: https://x}}\n  routes:\n    - receivers: [a]\n      match: {host-name: x, team: []}\n",
			[]string{`steward.yaml:6: routes[0]: match: label name "host-name" must be letters, digits and _ and not start with a digit`,
				`steward.yaml:6: routes[0]: match: team needs at least one value`}},
		{"unknown route key", "alerting:\n  routes:\n    - reciever: a\n      receivers: [a]\n",
			[]string{`steward.yaml:3: routes[0]: unknown key reciever (known: match, match_re, matchers, receivers, continue)`,
				`steward.yaml:4: routes[0]: no receiver is called "a"`}},
		{"bad continue", "alerting:\n  receivers:\n    - {name: a, webhook: {url: https://x}}\n  routes:\n    - receivers: [a]\n      continue: yes\n",
			[]string{`steward.yaml:6: routes[0]: continue must be true or false, not the value "yes"`}},

		// rules
		{"duplicate rule", "alerting:\n  rules:\n    - {name: r, type: host_offline, after: 1m}\n    - {name: r, type: host_offline, after: 2m}\n",
			[]string{`steward.yaml:4: rule "r": duplicate name (first at line 3)`}},
		{"bad rule name", "alerting:\n  rules:\n    - {name: Host-Offline, type: host_offline, after: 1m}\n",
			[]string{`steward.yaml:3: rule "Host-Offline": name "Host-Offline" must match ^[a-z0-9][a-z0-9_-]*$ and be at most 64 characters`}},
		{"rule without type", "alerting:\n  rules:\n    - name: r\n",
			[]string{`steward.yaml:3: rule "r": type is required: one of policy_failing, inventory_change, expr, host_offline`}},
		{"unknown rule type", "alerting:\n  rules:\n    - name: r\n      type: disk_full\n",
			[]string{`steward.yaml:4: rule "r": unknown rule type "disk_full"; want one of policy_failing, inventory_change, expr, host_offline`}},
		{"unknown rule key", "alerting:\n  rules:\n    - name: r\n      type: host_offline\n      after: 1m\n      for: 5m\n",
			[]string{`steward.yaml:6: rule "r": unknown key for (known: name, type, severity, labels, summary, description, min_severity, policies, tags, statuses, kinds, subject_matches, resolve_after, expr, after)`}},
		{"field of another type", "alerting:\n  rules:\n    - name: r\n      type: policy_failing\n      after: 10m\n      expr: 'true'\n",
			[]string{`steward.yaml:5: rule "r": after does not apply to policy_failing rules (it is for host_offline rules)`,
				`steward.yaml:6: rule "r": expr does not apply to policy_failing rules (it is for expr rules)`}},
		{"bad severity", "alerting:\n  rules:\n    - {name: r, type: host_offline, after: 1m, severity: urgent}\n",
			[]string{`steward.yaml:3: rule "r": severity "urgent" is not one of info, low, medium, high, critical`}},
		{"rule labels", "alerting:\n  rules:\n    - name: r\n      type: host_offline\n      after: 1m\n      labels:\n        hostname: x\n        9lives: y\n        team: [a]\n",
			[]string{`steward.yaml:7: rule "r": labels: hostname is set by the engine; pick another name`,
				`steward.yaml:8: rule "r": labels: label name "9lives" must be letters, digits and _ and not start with a digit`,
				`steward.yaml:9: rule "r": labels: team must be a string, not a list`}},
		{"host_offline without after", "alerting:\n  rules:\n    - name: r\n      type: host_offline\n",
			[]string{`steward.yaml:3: rule "r": after is required: how long a host may go without contact`}},
		{"after too short", "alerting:\n  rules:\n    - {name: r, type: host_offline, after: 5s}\n",
			[]string{`steward.yaml:3: rule "r": after must be at least 10s`}},
		{"bad duration", "alerting:\n  rules:\n    - name: r\n      type: host_offline\n      after: 10 minutes\n",
			[]string{`steward.yaml:5: rule "r": after "10 minutes" is not a duration (write it like 90s, 10m or 1h30m)`}},
		{"policy_failing filters", "alerting:\n  rules:\n    - name: r\n      type: policy_failing\n      min_severity: severe\n      policies: [SSH_Root]\n      statuses: [fail, not_applicable]\n",
			[]string{`steward.yaml:5: rule "r": min_severity "severe" is not one of info, low, medium, high, critical`,
				`steward.yaml:6: rule "r": policies: "SSH_Root" is not a policy id (lower-case letters, digits and hyphens)`,
				`steward.yaml:7: rule "r": statuses: "not_applicable" is not one of fail, error`}},
		{"empty statuses", "alerting:\n  rules:\n    - {name: r, type: policy_failing, statuses: []}\n",
			[]string{`steward.yaml:3: rule "r": statuses must list fail, error or both`}},
		{"inventory_change without kinds", "alerting:\n  rules:\n    - name: r\n      type: inventory_change\n",
			[]string{`steward.yaml:3: rule "r": kinds is required: the change kinds that raise the alert`}},
		{"bad kinds", "alerting:\n  rules:\n    - name: r\n      type: inventory_change\n      kinds:\n        - first_inventory\n        - package_installed\n",
			[]string{`steward.yaml:6: rule "r": kinds: unknown change kind "first_inventory"; want one of software_installed,`,
				`steward.yaml:7: rule "r": kinds: unknown change kind "package_installed"; want one of software_installed,`}},
		{"bad subject_matches and resolve_after", "alerting:\n  rules:\n    - name: r\n      type: inventory_change\n      kinds: [software_installed]\n      subject_matches: 'open(ssl'\n      resolve_after: 0s\n",
			[]string{`steward.yaml:6: rule "r": subject_matches: invalid regular expression: error parsing regexp`,
				`steward.yaml:7: rule "r": resolve_after must be at least 1s`}},
		{"expr missing", "alerting:\n  rules:\n    - name: r\n      type: expr\n",
			[]string{`steward.yaml:3: rule "r": expr is required: a CEL expression over inventory`}},
		{"expr does not compile", "alerting:\n  rules:\n    - name: r\n      type: expr\n      expr: 'inventory.os.name =='\n",
			[]string{`steward.yaml:5: rule "r": expr: invalid CEL expression: at 1:`}},
		{"expr not boolean", "alerting:\n  rules:\n    - name: r\n      type: expr\n      expr: 'size(inventory)'\n",
			[]string{`steward.yaml:5: rule "r": expr: CEL expression must be boolean, is int`}},

		// maintenance windows
		{"window problems", "alerting:\n  maintenance_windows:\n    - name: w\n      matchers: ['team']\n      days: [mon, funday]\n      start: '9:00'\n      duration: 0s\n      time_zone: Mars/Olympus_Mons\n",
			[]string{`steward.yaml:4: maintenance window "w": matcher "team": want name=value`,
				`steward.yaml:5: maintenance window "w": days: "funday" is not a day; want mon, tue, wed, thu, fri, sat, sun or daily`,
				`steward.yaml:6: maintenance window "w": start "9:00" must be a time of day as HH:MM (00:00 to 23:59)`,
				`steward.yaml:7: maintenance window "w": duration must be at least 1m0s`,
				`steward.yaml:8: maintenance window "w": unknown time_zone "Mars/Olympus_Mons"; want an IANA name such as UTC or America/New_York`}},
		{"window without start and duration", "alerting:\n  maintenance_windows:\n    - name: w\n",
			[]string{`steward.yaml:3: maintenance window "w": start is required: the local time it starts, HH:MM`,
				`steward.yaml:3: maintenance window "w": duration is required: how long the window lasts`}},
		{"window too long, negative and Local", "alerting:\n  maintenance_windows:\n    - {name: w, start: '24:00', duration: 200h, time_zone: Local}\n    - {name: v, start: '00:00', duration: -1h}\n",
			[]string{`steward.yaml:3: maintenance window "w": start "24:00" must be a time of day as HH:MM (00:00 to 23:59)`,
				`steward.yaml:3: maintenance window "w": duration must be at most 168h0m0s; use a silence for longer`,
				`steward.yaml:3: maintenance window "w": time_zone Local depends on the server's machine; name the zone (e.g. Europe/Berlin)`,
				`steward.yaml:4: maintenance window "v": duration must be at least 1m0s`}},

		// delivery and sweep
		{"delivery problems", "alerting:\n  sweep_interval: 500ms\n  delivery:\n    max_attempts: 0\n    workers: many\n    backoff_base: 1m\n    backoff_max: 30s\n    retries: 3\n",
			[]string{`steward.yaml:2: alerting: sweep_interval must be at least 1s`,
				`steward.yaml:4: alerting.delivery: max_attempts must be a whole number of at least 1, not the value "0"`,
				`steward.yaml:5: alerting.delivery: workers must be a whole number of at least 1, not the value "many"`,
				`steward.yaml:7: alerting.delivery: backoff_max 30s is less than backoff_base 1m0s`,
				`steward.yaml:8: alerting.delivery: unknown key retries (known: timeout, max_attempts, backoff_base, backoff_max, workers, per_receiver, resend_interval)`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseText(t, tc.yaml)
			if err == nil {
				t.Fatalf("accepted: %+v", c)
			}
			checkLines(t, err, tc.want)
			if c.Receivers != nil || c.Rules != nil || c.File != "" {
				t.Errorf("a refused section still returned %+v", c)
			}
		})
	}
}

func checkLines(t *testing.T, err error, want []string) {
	t.Helper()
	got := strings.Split(err.Error(), "\n")
	if len(got) != len(want) {
		t.Fatalf("got %d problems, want %d:\n%s", len(got), len(want), err)
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("problem %d:\n got %s\nwant %s...", i, got[i], want[i])
		}
	}
}

// TestParseReportsEverything gives one problem of each part in one file:
// all are reported, in file order, each a *Problem.
func TestParseReportsEverything(t *testing.T) {
	_, err := parseText(t, `alerting:
  maintenance_windows:
    - {name: w, start: '25:00', duration: 1h}
  rules:
    - {name: r, type: host_offline}
    - {name: r, type: expr, expr: 'nope('}
  routes:
    - receivers: [pager]
  receivers:
    - name: hook
      webhook: {url: https://x, secret: {file: /nonexistent/s}}
    - name: pager
      opsgenie: {}
  delivery: {workers: 0}
`)
	if err == nil {
		t.Fatal("accepted")
	}
	checkLines(t, err, []string{
		`steward.yaml:3: maintenance window "w": start "25:00"`,
		`steward.yaml:5: rule "r": after is required`,
		`steward.yaml:6: rule "r": duplicate name (first at line 5)`,
		`steward.yaml:6: rule "r": expr: invalid CEL expression`,
		`steward.yaml:11: receiver "hook": webhook.secret: secret file: open /nonexistent/s`,
		`steward.yaml:13: receiver "pager": unknown receiver type opsgenie`,
		`steward.yaml:14: alerting.delivery: workers must be a whole number of at least 1`,
	})
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) || len(joined.Unwrap()) != 7 {
		t.Fatalf("error is not a join of 7: %T", err)
	}
	for _, e := range joined.Unwrap() {
		var p *Problem
		if !errors.As(e, &p) || p.File != "steward.yaml" || p.Line == 0 {
			t.Errorf("%v is not a *Problem with a line", e)
		}
	}
}
