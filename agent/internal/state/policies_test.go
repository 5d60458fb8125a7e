package state

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/steward-project/steward/shared/policy"
)

func testSet() PolicySet {
	yes := true
	return PolicySet{Revision: 7, Policies: []policy.Policy{{
		ID: "motd", Title: "Banner", Severity: "low",
		Check: policy.Check{File: &policy.FileCheck{Path: "/etc/motd", Exists: &yes}},
	}}}
}

func TestPoliciesPersistAcrossOpen(t *testing.T) {
	dir := t.TempDir()
	d := mustOpen(t, dir)
	if got := d.Policies(); got.Revision != 0 || len(got.Policies) != 0 {
		t.Fatalf("fresh dir holds policy set %+v, want none", got)
	}
	if err := d.SetPolicies(testSet()); err != nil {
		t.Fatal(err)
	}
	acked := map[string]AckedResult{"motd": {Status: "pass", Hash: "abc"}}
	if err := d.SetAckedResults(acked); err != nil {
		t.Fatal(err)
	}

	d = mustOpen(t, dir)
	got := d.Policies()
	if got.Revision != 7 || len(got.Policies) != 1 || got.Policies[0].ID != "motd" || got.Policies[0].Check.File == nil {
		t.Fatalf("reopened policy set = %+v, want revision 7 with motd", got)
	}
	if a := d.AckedResults(); len(a) != 1 || a["motd"] != acked["motd"] {
		t.Fatalf("reopened acked results = %v, want %v", a, acked)
	}
}

func TestInvalidPoliciesFileSetAside(t *testing.T) {
	tests := []struct {
		name string
		data string
	}{
		{"not json", `{"revision": 3, "policies": [`},
		{"fails validation", `{"revision": 3, "policies": [{"id": "x", "title": "X", "severity": "low", "check": {"file": {"path": "/etc/motd", "matches": "("}}}]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, PoliciesFile), []byte(tt.data), 0o600); err != nil {
				t.Fatal(err)
			}
			d := mustOpen(t, dir)
			if got := d.Policies(); got.Revision != 0 || len(got.Policies) != 0 {
				t.Fatalf("policy set = %+v, want none", got)
			}
			if _, err := os.Stat(filepath.Join(dir, CorruptPoliciesFile)); err != nil {
				t.Fatalf("invalid file not set aside: %v", err)
			}
		})
	}
}

func TestEnrolledForgetsAckedResults(t *testing.T) {
	d := mustOpen(t, t.TempDir())
	if err := d.SetAckedResults(map[string]AckedResult{"motd": {Status: "pass"}}); err != nil {
		t.Fatal(err)
	}
	if err := d.Enrolled(2, testKey); err != nil {
		t.Fatal(err)
	}
	if a := d.AckedResults(); len(a) != 0 {
		t.Fatalf("acked results after enrolling = %v, want none: the new host has none", a)
	}
}

func TestAck(t *testing.T) {
	base := policy.Result{
		PolicyID: "p", Status: policy.StatusFail,
		Evidence:  []policy.Evidence{{Check: "check.file", Passed: false, Detail: "/etc/motd: missing"}},
		CheckedAt: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Duration: time.Millisecond,
	}
	tests := []struct {
		name   string
		change func(*policy.Result)
		same   bool
	}{
		{"time and duration ignored", func(r *policy.Result) { r.CheckedAt = r.CheckedAt.Add(time.Hour); r.Duration = time.Second }, true},
		{"status", func(r *policy.Result) { r.Status = policy.StatusPass }, false},
		{"evidence detail", func(r *policy.Result) {
			r.Evidence = []policy.Evidence{{Check: "check.file", Detail: "/etc/motd: empty"}}
		}, false},
		{"error", func(r *policy.Result) { r.Error = "timed out" }, false},
		{"parameters", func(r *policy.Result) { r.Parameters = map[string]string{"max_days": "90"} }, false},
		{"no parameters same as empty", func(r *policy.Result) { r.Parameters = map[string]string{} }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := base
			r.Evidence = append([]policy.Evidence(nil), base.Evidence...)
			tt.change(&r)
			if got := Ack(r) == Ack(base); got != tt.same {
				t.Fatalf("Ack equal = %v, want %v", got, tt.same)
			}
		})
	}
	// Parameter values changing alone (a new default) send the result
	// again.
	a, b := base, base
	a.Parameters, b.Parameters = map[string]string{"max_days": "90"}, map[string]string{"max_days": "60"}
	if Ack(a) == Ack(b) {
		t.Error("results that differ only in parameter values ack the same")
	}
	// Results without parameters keep the hash agents stored before
	// parameters were hashed, so an upgrade sends nothing again.
	if got, want := Ack(base).Hash, "c4ed7496359536e4fea12eac162d5d63b178f1439f427a3efd82e5058c9bd9b3"; got != want {
		t.Errorf("hash of a result without parameters = %s, want %s (sha256 of the error and evidence alone)", got, want)
	}
}
