package runner

import (
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/wire"
)

// TestTailoringFollowsLabels: the agent evaluates with the values of the
// tailorings its host's labels select, from the welcome's labels and then
// from each labels message, and reports the values with each result.
func TestTailoringFollowsLabels(t *testing.T) {
	fs := newFakeServer(t)
	f := newFeed()
	root := fixtureRoot(t)
	if err := os.WriteFile(filepath.Join(root, "etc", "login.defs"), []byte("PASS_MAX_DAYS 120\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := newPolicyAgent(t, fs, f, root)
	a.start(t)
	fc := fs.accept(t)
	fc.hello(t)
	fc.send(t, wire.TypeWelcome, 0, wire.Welcome{ProtocolVersion: 1, HostID: 1, ServerTime: time.Now(),
		InventoryInterval: wire.Duration(time.Hour), HeartbeatInterval: wire.Duration(30 * time.Second),
		Labels: map[string]string{"env": "prod"}})
	fc.send(t, wire.TypePolicySet, 0, wire.PolicySet{Revision: 1,
		Policies: []policy.Policy{{ID: "password-max-days", Title: "Passwords expire", Severity: policy.SeverityMedium,
			Parameters: map[string]policy.Parameter{"max_days": {Default: "365"}},
			Check:      policy.Check{LoginDefs: &policy.LoginDefsCheck{Key: "PASS_MAX_DAYS", ValueTest: policy.ValueTest{Max: "${max_days}"}}}}},
		Tailorings: []policy.LabelTailoring{
			{Name: "prod", Selector: map[string]string{"env": "prod"}, Values: map[string]map[string]string{"password-max-days": {"max_days": "90"}}},
			// A policy the set no longer holds is ignored, not fatal.
			{Name: "stale", Values: map[string]map[string]string{"deleted-policy": {"x": "1"}}},
		}})
	f.give(t, doc(software))

	want := func(what string, status policy.Status, maxDays string) {
		t.Helper()
		m, res := fc.changedResults(t)
		if len(res.Results) != 1 || res.Results[0].Status != status ||
			!maps.Equal(res.Results[0].Parameters, map[string]string{"max_days": maxDays}) {
			t.Fatalf("%s: results %+v, want %s with max_days %s", what, res.Results, status, maxDays)
		}
		ackResults(t, fc, a, m, 1)
	}
	want("labelled env=prod in the welcome", policy.StatusFail, "90")

	fc.send(t, wire.TypeLabels, 0, wire.Labels{Labels: map[string]string{"env": "dev"}})
	want("relabelled env=dev", policy.StatusPass, "365")

	fc.send(t, wire.TypeLabels, 0, wire.Labels{Labels: map[string]string{"env": "prod", "team": "db"}})
	want("relabelled env=prod again", policy.StatusFail, "90")
}
