package check

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/policy"
)

func TestWriteTable(t *testing.T) {
	policies := []policy.Policy{
		{ID: "ssh-no-root-login", Title: "SSH does not allow root login", Severity: "high"},
		{ID: "a", Title: "Short", Severity: "info"},
	}
	results := []policy.Result{
		{PolicyID: "a", Status: policy.StatusError, Error: "check.command: command \"x\" refused:\nbecause"},
		{PolicyID: "ssh-no-root-login", Status: policy.StatusFail, Evidence: []policy.Evidence{
			{Check: "check.all[0].file", Passed: true, Detail: "ok"},
			{Check: "check.all[1].file", Detail: strings.Repeat("é", 200)},
			{Check: "evidence", Detail: "…[truncated] 3 more"},
		}},
	}
	var b bytes.Buffer
	if err := WriteTable(&b, policies, results); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	want := []string{
		"ID                 STATUS  SEVERITY  TITLE",
		"a                  error   info      Short",
		`    check.command: command "x" refused: because`,
		"ssh-no-root-login  fail    high      SSH does not allow root login",
	}
	if len(lines) != 6 || strings.Join(lines[:4], "\n") != strings.Join(want, "\n") {
		t.Fatalf("table:\n%s", b.String())
	}
	// The failing evidence, cut on a character boundary, then the note
	// that some was left out.
	if !strings.HasPrefix(lines[4], "    check.all[1].file: éé") || !strings.HasSuffix(lines[4], "...") || len(lines[4]) > 4+summaryWidth {
		t.Errorf("summary line %q", lines[4])
	}
	if lines[5] != "    evidence: …[truncated] 3 more" {
		t.Errorf("truncation line %q", lines[5])
	}
}

// TestWriteTableAnyFailure: a failed any lists every alternative that
// failed, as the server's results do, not only the last one evaluated.
func TestWriteTableAnyFailure(t *testing.T) {
	policies := []policy.Policy{{ID: "fw", Title: "A firewall runs", Severity: "medium"}}
	results := []policy.Result{{PolicyID: "fw", Status: policy.StatusFail, Evidence: []policy.Evidence{
		{Check: "check.any[0].service", Detail: "nftables is not running"},
		{Check: "check.any[1].service", Detail: "ufw is not installed"},
		{Check: "check.any[2].package", Detail: "firewalld is not installed"},
	}}}
	var b bytes.Buffer
	if err := WriteTable(&b, policies, results); err != nil {
		t.Fatal(err)
	}
	want := "ID  STATUS  SEVERITY  TITLE\n" +
		"fw  fail    medium    A firewall runs\n" +
		"    check.any[0].service: nftables is not running\n" +
		"    check.any[1].service: ufw is not installed\n" +
		"    check.any[2].package: firewalld is not installed\n"
	if b.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	at := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	if err := WriteJSON(&b, []policy.Result{{PolicyID: "a", Status: policy.StatusPass, CheckedAt: at, Duration: time.Millisecond,
		Evidence: []policy.Evidence{{Check: "check.expr", Passed: true, Detail: "a < b => true"}}}}); err != nil {
		t.Fatal(err)
	}
	want := `{
  "results": [
    {
      "policy_id": "a",
      "status": "pass",
      "evidence": [
        {
          "check": "check.expr",
          "passed": true,
          "detail": "a < b => true"
        }
      ],
      "checked_at": "2026-11-20T10:00:00Z",
      "duration_ns": 1000000
    }
  ]
}
`
	if b.String() != want {
		t.Errorf("json:\n%s", b.String())
	}
	b.Reset()
	if err := WriteJSON(&b, nil); err != nil || b.String() != "{\n  \"results\": []\n}\n" {
		t.Errorf("empty: %q %v", b.String(), err)
	}
	var r Report
	if err := json.Unmarshal([]byte(want), &r); err != nil || len(r.Results) != 1 {
		t.Errorf("report does not decode: %v", err)
	}
}

// hostile is evidence that tries to break out of HTML and XML.
const hostile = `<script>alert("x")</script> ]]> & 'q'`

// reportFixture is a fixed result set covering every status, with
// policies from two files, for the JUnit and HTML writers.
func reportFixture() ReportInput {
	at := time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC)
	policies := []policy.Policy{
		{ID: "ssh-root-login", Title: "SSH refuses root login", Severity: "critical", Tags: []string{"ssh", "cis"},
			Rationale:  "Root logins cannot be traced to a person.",
			References: map[string][]string{"cis": {"5.1.20"}, "ssg": {"xccdf_org.ssgproject.content_rule_sshd_disable_root_login"}}, Remediation: "Set PermitRootLogin no in /etc/ssh/sshd_config."},
		{ID: "pass-max-days", Title: "Passwords expire within 365 days", Severity: "medium"},
		{ID: "auditd-running", Title: "auditd runs", Severity: "high"},
		{ID: "tmp-nodev", Title: "/tmp is mounted nodev", Severity: "low"},
		{ID: "motd-perms", Title: "/etc/motd is not world writable", Severity: "high"},
		{ID: "windows-defender", Title: "Defender runs", Severity: "critical", Platforms: []string{"windows"}},
		{ID: "cron-perms", Title: "cron directories are private", Severity: "info"},
	}
	res := func(id string, s policy.Status, ev ...policy.Evidence) policy.Result {
		return policy.Result{PolicyID: id, Status: s, Evidence: ev, CheckedAt: at, Duration: 1500 * time.Microsecond}
	}
	results := []policy.Result{ // sorted by id, as EvaluateAll returns them
		res("auditd-running", policy.StatusError),
		res("cron-perms", policy.StatusExempt, policy.Evidence{Check: "exemption", Detail: "accepted risk until 2027-01-01"}),
		res("motd-perms", policy.StatusPass, policy.Evidence{Check: "check.file", Passed: true, Detail: "/etc/motd mode 0644 <= 0664"}),
		res("pass-max-days", policy.StatusFail, policy.Evidence{Check: "check.login_defs", Detail: "PASS_MAX_DAYS 99999 (/etc/login.defs:165) > 365"}),
		res("ssh-root-login", policy.StatusFail,
			policy.Evidence{Check: "check.all[0].file", Passed: true, Detail: "/etc/ssh/sshd_config exists"},
			policy.Evidence{Check: "check.all[1].sshd", Detail: "PermitRootLogin yes (/etc/ssh/sshd_config:33) " + hostile}),
		res("tmp-nodev", policy.StatusPass, policy.Evidence{Check: "check.mount", Passed: true, Detail: "/tmp nodev"}),
		res("windows-defender", policy.StatusNotApplicable, policy.Evidence{Check: "platforms", Detail: "host platform linux is not in [windows]"}),
	}
	results[3].Parameters = map[string]string{"max_days": "365", "account": "<root>"}
	results[0].Error = "check.command: command \"pidof\" refused: commands are disabled"
	results[0].Evidence = []policy.Evidence{{Check: "check.command", Detail: `command "pidof" refused: commands are disabled`}}
	return ReportInput{
		Info: ReportInfo{Hostname: "web-01", OS: "Debian GNU/Linux 12 (bookworm)", Kernel: "6.1.0-28-amd64", Arch: "x86_64",
			CheckedAt: at, Sources: []string{"packs/cis-debian12.yaml", "local"}, AgentVersion: "1.2.3", FailOn: "high"},
		Policies: policies,
		Results:  results,
		Source: map[string]string{
			"ssh-root-login": "packs/cis-debian12.yaml", "pass-max-days": "packs/cis-debian12.yaml",
			"auditd-running": "packs/cis-debian12.yaml", "tmp-nodev": "packs/cis-debian12.yaml",
			"motd-perms": "local/site.yml", "windows-defender": "local/site.yml", "cron-perms": "local/site.yml",
		},
	}
}

// wantOrder is reportFixture's report order: failures by severity, then
// errors, passes by severity, not_applicable, exempt.
var wantOrder = []string{"ssh-root-login", "pass-max-days", "auditd-running", "motd-perms", "tmp-nodev", "windows-defender", "cron-perms"}

func TestReportRowsOrder(t *testing.T) {
	var got []string
	for _, r := range reportFixture().rows() {
		got = append(got, r.Policy.ID)
	}
	if strings.Join(got, " ") != strings.Join(wantOrder, " ") {
		t.Errorf("order %v, want %v", got, wantOrder)
	}
}

func TestTripped(t *testing.T) {
	in := reportFixture()
	for _, c := range []struct {
		min  string
		want string
	}{
		{"critical", "ssh-root-login"},
		{"high", "auditd-running ssh-root-login"}, // the error counts; motd-perms passed
		{"medium", "auditd-running pass-max-days ssh-root-login"},
		{"info", "auditd-running pass-max-days ssh-root-login"}, // exempt and not_applicable never trip
	} {
		if got := strings.Join(Tripped(in.Policies, in.Results, c.min), " "); got != c.want {
			t.Errorf("--fail-on %s: %q, want %q", c.min, got, c.want)
		}
	}
	if ValidSeverity("severe") || !ValidSeverity("info") {
		t.Error("ValidSeverity")
	}
}

func TestHostFacts(t *testing.T) {
	doc := inventory.Document{Sections: map[string]json.RawMessage{
		inventory.SectionHost: json.RawMessage(`{"hostname":"web-01"}`),
		inventory.SectionOS:   json.RawMessage(`{"name":"Debian GNU/Linux","platform":"debian","version":"12","kernel":"6.1.0","arch":"x86_64"}`),
	}}
	info := HostFacts(doc)
	if info.Hostname != "web-01" || info.OS != "Debian GNU/Linux 12" || info.Kernel != "6.1.0" || info.Arch != "x86_64" {
		t.Errorf("%+v", info)
	}
	// A broken or missing section leaves the fields empty, no panic.
	doc.Sections[inventory.SectionOS] = json.RawMessage(`[`)
	delete(doc.Sections, inventory.SectionHost)
	if info := HostFacts(doc); info.Hostname != "" || info.OS != "" || info.Kernel != "" || info.Arch != "" {
		t.Errorf("%+v", info)
	}
}
