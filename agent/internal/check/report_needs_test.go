package check

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/steward-project/steward/shared/policy"
)

// needsServerInput is a check with one decided policy and one whose
// verdict waits for an expr answer.
func needsServerInput() ReportInput {
	return ReportInput{
		Policies: []policy.Policy{
			{ID: "ssh-root", Title: "No root login", Severity: "high"},
			{ID: "os-supported", Title: "Supported release", Severity: "critical"},
		},
		Results: []policy.Result{
			{PolicyID: "os-supported", Status: policy.StatusNeedsServer,
				Evidence: []policy.Evidence{{Check: "check.all[1].expr", Detail: "awaiting the server's answer: inventory.os.major >= 12"}}},
			{PolicyID: "ssh-root", Status: policy.StatusPass, Evidence: []policy.Evidence{{Check: "check.sshd", Passed: true, Detail: "permitrootlogin no"}}},
		},
	}
}

func TestReportsListNeedsServerApart(t *testing.T) {
	in := needsServerInput()

	var js bytes.Buffer
	if err := WriteJSON(&js, in.Results); err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(js.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 1 || rep.Results[0].PolicyID != "ssh-root" || len(rep.NeedsServer) != 1 || rep.NeedsServer[0].PolicyID != "os-supported" {
		t.Errorf("json results %+v, needs_server %+v", rep.Results, rep.NeedsServer)
	}

	var table bytes.Buffer
	if err := WriteTable(&table, in.Policies, in.Results); err != nil {
		t.Fatal(err)
	}
	head, apart, ok := strings.Cut(table.String(), "\nNeeds the server (expr) (1, not counted as pass or fail):\n")
	if !ok || strings.Contains(head, "os-supported") || !strings.HasPrefix(apart, "os-supported  needs_server  critical  Supported release\n    check.all[1].expr: awaiting the server's answer: inventory.os.major >= 12\n") {
		t.Errorf("table:\n%s", table.String())
	}

	var junit bytes.Buffer
	if err := WriteJUnit(&junit, in); err != nil {
		t.Fatal(err)
	}
	if s := junit.String(); !strings.Contains(s, `failures="0" errors="0" skipped="1"`) || !strings.Contains(s, `<skipped message="Needs the server (expr): check.all[1].expr: awaiting`) {
		t.Errorf("junit:\n%s", s)
	}

	var html bytes.Buffer
	if err := WriteHTML(&html, in); err != nil {
		t.Fatal(err)
	}
	if s := html.String(); !strings.Contains(s, "Needs the server (expr), not counted (1)") || !strings.Contains(s, "100.0% (1 of 1)") {
		t.Errorf("html lacks the needs-server group or counts it in the pass rate")
	}

	if got := Tripped(in.Policies, in.Results, "info"); len(got) != 0 {
		t.Errorf("Tripped = %v; an undecided policy must not trip --fail-on", got)
	}
}
