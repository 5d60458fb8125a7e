package check

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

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
