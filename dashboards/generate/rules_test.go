package generate

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The Prometheus rules in dashboards/prometheus: promtool checks and
// tests them, every alert has a test that fires it and one that does not,
// and the recording rules are exactly those docs/metrics.md names.

const rulesDir = "../prometheus"

// promtool returns the path of promtool, failing the test with the
// command that installs it when it is missing.
func promtool(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("promtool"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/bin/promtool"); err == nil {
		return "/usr/bin/promtool"
	}
	t.Fatal("promtool not found: the Prometheus rules cannot be checked; install it with `apt-get install prometheus` (Debian) or put promtool on PATH")
	return ""
}

type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Record      string            `yaml:"record"`
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

type rules struct {
	files     []string
	recording []string
	alerting  []string
	exprs     map[string]string // rule name -> expression
	parsed    []ruleFile
}

func loadRules(t *testing.T) rules {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(rulesDir, "*.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatalf("no rule files in %s", rulesDir)
	}
	sort.Strings(files)
	r := rules{files: files, exprs: map[string]string{}}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var rf ruleFile
		if err := yaml.Unmarshal(data, &rf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		r.parsed = append(r.parsed, rf)
		for _, g := range rf.Groups {
			for _, rule := range g.Rules {
				switch {
				case rule.Record != "":
					r.recording = append(r.recording, rule.Record)
					r.exprs[rule.Record] = rule.Expr
				case rule.Alert != "":
					r.alerting = append(r.alerting, rule.Alert)
					r.exprs[rule.Alert] = rule.Expr
				}
			}
		}
	}
	return r
}

// TestPromtoolCheckRules runs `promtool check rules` on every rule file.
func TestPromtoolCheckRules(t *testing.T) {
	bin := promtool(t)
	r := loadRules(t)
	out, err := exec.Command(bin, append([]string{"check", "rules"}, r.files...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules: %v\n%s", err, out)
	}
}

// TestPromtoolTestRules runs `promtool test rules` on every test file.
func TestPromtoolTestRules(t *testing.T) {
	bin := promtool(t)
	tests, err := filepath.Glob(filepath.Join(rulesDir, "tests", "*.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(tests) == 0 {
		t.Fatal("no promtool tests in dashboards/prometheus/tests")
	}
	out, err := exec.Command(bin, append([]string{"test", "rules"}, tests...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool test rules: %v\n%s", err, out)
	}
	if strings.Count(string(out), "SUCCESS") != len(tests) {
		t.Fatalf("promtool test rules did not report success for each of %d files:\n%s", len(tests), out)
	}
}

// TestAlertsLabelledAndAnnotated: a severity Alertmanager can route on,
// and a summary and a description for whoever is paged.
func TestAlertsLabelledAndAnnotated(t *testing.T) {
	r := loadRules(t)
	if len(r.alerting) == 0 {
		t.Fatal("no alerting rules")
	}
	for _, rf := range r.parsed {
		for _, g := range rf.Groups {
			for _, rule := range g.Rules {
				if rule.Alert == "" {
					continue
				}
				if s := rule.Labels["severity"]; s != "critical" && s != "warning" {
					t.Errorf("%s: severity %q, want critical or warning", rule.Alert, s)
				}
				for _, a := range []string{"summary", "description"} {
					if strings.TrimSpace(rule.Annotations[a]) == "" {
						t.Errorf("%s: no %s annotation", rule.Alert, a)
					}
				}
			}
		}
	}
	// What the monitoring of Steward must cover.
	for _, want := range []string{"StewardServerDown", "StewardAgentsDisappearing", "StewardIngestFailing",
		"StewardNotificationsDeadLettered", "StewardDatabaseDown", "StewardDatabasePoolSaturated",
		"StewardTLSCertificateExpiring", "StewardNotificationsFailing"} {
		if !slices.Contains(r.alerting, want) {
			t.Errorf("alert %s is missing", want)
		}
	}
}

// TestEveryAlertTested: each alert has a promtool case where it fires and
// one where it stays quiet.
func TestEveryAlertTested(t *testing.T) {
	r := loadRules(t)
	tests, err := filepath.Glob(filepath.Join(rulesDir, "tests", "*.yml"))
	if err != nil {
		t.Fatal(err)
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, f := range tests {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var tf struct {
			Tests []struct {
				AlertRuleTest []struct {
					Alertname string `yaml:"alertname"`
					ExpAlerts []any  `yaml:"exp_alerts"`
				} `yaml:"alert_rule_test"`
			} `yaml:"tests"`
		}
		if err := yaml.Unmarshal(data, &tf); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		for _, tc := range tf.Tests {
			for _, a := range tc.AlertRuleTest {
				if len(a.ExpAlerts) > 0 {
					fires[a.Alertname] = true
				} else {
					quiet[a.Alertname] = true
				}
			}
		}
	}
	for _, a := range r.alerting {
		if !fires[a] {
			t.Errorf("alert %s has no promtool test where it fires", a)
		}
		if !quiet[a] {
			t.Errorf("alert %s has no promtool test where it stays quiet", a)
		}
	}
}

// TestRecordingRulesMatchDocs: the recording rules are exactly the rows
// of the table in docs/metrics.md, whose names are fixed.
func TestRecordingRulesMatchDocs(t *testing.T) {
	data, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(data), "## Recording rules")
	if !ok {
		t.Fatal(`docs/metrics.md has no "## Recording rules" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var documented []string
	row := regexp.MustCompile("(?m)^\\| `([a-z_:0-9]+)` \\|")
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		documented = append(documented, m[1])
	}
	if len(documented) == 0 {
		t.Fatal("no rules found in the table of docs/metrics.md")
	}
	got := slices.Clone(loadRules(t).recording)
	slices.Sort(got)
	slices.Sort(documented)
	if !slices.Equal(got, documented) {
		t.Errorf("recording rules %q\ndocs/metrics.md lists %q", got, documented)
	}
}

// TestRuleMetricsExist: the rules query series the server exports (or
// other rules), so a renamed metric breaks this test, not an alert.
func TestRuleMetricsExist(t *testing.T) {
	known := knownMetrics(t)
	r := loadRules(t)
	for _, name := range r.recording {
		known[name] = true
	}
	names := make([]string, 0, len(r.exprs))
	for n := range r.exprs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, rule := range names {
		series := promNames(r.exprs[rule])
		if len(series) == 0 {
			t.Errorf("%s: no series found in %q", rule, r.exprs[rule])
		}
		for _, s := range series {
			if !known[s] {
				t.Errorf("%s queries %s, which the server does not export", rule, s)
			}
		}
	}
}
