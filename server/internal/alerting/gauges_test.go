package alerting

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/steward-project/steward/server/internal/alerting/alertconf"
)

// TestCountersPrecreated checks that every configured rule and receiver
// has its counters at zero before anything happens, and that a reload
// adds those of new rules, so the first alert shows in increase().
func TestCountersPrecreated(t *testing.T) {
	hook := newHook(t)
	conf := testConfig([]alertconf.Receiver{hook.receiver("ops")}, failingRule)
	f := newFixture(t, conf)
	// failingRule takes the failing policy's severity, medium and up:
	// three severities x opened, resolved, unmuted.
	if n := testutil.CollectAndCount(f.m.AlertTransitions); n != 9 {
		t.Errorf("steward_alert_transitions_total has %d series before any alert, want 9", n)
	}
	if got := testutil.ToFloat64(f.m.AlertTransitions.WithLabelValues("policy-failing", "critical", "opened")); got != 0 {
		t.Errorf("opened = %v, want 0", got)
	}
	if n := testutil.CollectAndCount(f.m.Notifications); n != 4 {
		t.Errorf("steward_notifications_total has %d series, want 4 (sent, failed, dead, skipped)", n)
	}
	offline := alertconf.Rule{Name: "offline", Type: "host_offline", Severity: "high"}
	if err := f.engine.Reload(testConfig(conf.Receivers, failingRule, offline)); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(f.m.AlertTransitions); n != 12 {
		t.Errorf("after adding a rule: %d series, want 12", n)
	}
}
