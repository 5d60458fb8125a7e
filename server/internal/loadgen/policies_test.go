package loadgen

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
)

// fakePolicyStore is the policy side of the test server: revision 0 and
// no policies until a test changes them.
type fakePolicyStore struct {
	mu       sync.Mutex
	revision int64
	policies []store.StoredPolicy
}

func (f *fakePolicyStore) PolicyRevision(context.Context) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.revision, nil
}

func (f *fakePolicyStore) ListPolicies(context.Context, string, int) ([]store.StoredPolicy, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]store.StoredPolicy(nil), f.policies...), nil
}

func (f *fakePolicyStore) ApplyResults(context.Context, []store.ResultBatch) ([]store.Transition, error) {
	return nil, nil
}

// TestPolicySetReceiptsMeasured changes the policy set while the
// simulated fleet is connected: every agent must record the new revision,
// and none of those frames may count as unexpected.
func TestPolicySetReceiptsMeasured(t *testing.T) {
	ts := newTestServer(t)
	cfg := testConfig(ts, 10)
	cfg.Duration = 2 * time.Second
	go func() {
		for i := 0; i < 600 && ts.gw.Connected() < 10; i++ {
			time.Sleep(10 * time.Millisecond)
		}
		ts.policies.mu.Lock()
		ts.policies.revision = 1
		ts.policies.policies = []store.StoredPolicy{{Policy: policy.Policy{ID: "p", Title: "t", Severity: "low",
			Check: policy.Check{File: &policy.FileCheck{Path: "/etc/x", Exists: new(bool)}}}}}
		ts.policies.mu.Unlock()
		ts.gw.PoliciesChanged(context.Background())
		ts.gw.CheckNow(1)
	}()
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	ts.waitIdle(t)
	st := rep.Steady
	if len(st.PolicySets) != 1 || st.PolicySets[0].Revision != 1 || st.PolicySets[0].Agents != 10 {
		t.Fatalf("policy set receipts %+v, want revision 1 at all 10 agents", st.PolicySets)
	}
	if p := st.PolicySets[0]; p.LastAtSeconds < p.FirstAtSeconds || p.FirstAtSeconds <= 0 {
		t.Errorf("receipt times out of order: %+v", p)
	}
	if st.CheckNows != 1 {
		t.Errorf("check_now frames %d, want 1", st.CheckNows)
	}
	if st.UnexpectedFrames != 0 || rep.Failed {
		t.Errorf("unexpected frames %d, problems %v", st.UnexpectedFrames, rep.Problems)
	}
}
