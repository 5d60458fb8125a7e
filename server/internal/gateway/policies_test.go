package gateway

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/ingest"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/wire"
)

// fakePolicies is an in-memory PolicyStore.
type fakePolicies struct {
	mu       sync.Mutex
	revision int64
	policies []store.StoredPolicy
	applied  []store.ResultBatch
}

func (f *fakePolicies) PolicyRevision(context.Context) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.revision, nil
}

func (f *fakePolicies) ListPolicies(context.Context, string, int) ([]store.StoredPolicy, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]store.StoredPolicy(nil), f.policies...), nil
}

func (f *fakePolicies) ApplyResults(_ context.Context, b []store.ResultBatch) ([]store.Transition, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied = append(f.applied, b...)
	return nil, nil
}

func newPolicyHarness(t *testing.T, fp *fakePolicies) *harness {
	t.Helper()
	st := newFakeStore()
	b := ingest.New(st, ingest.Config{})
	gw := New(Config{Store: st, Ingest: b, Policies: fp})
	return serve(t, st, b, gw)
}

func TestPolicySetAfterWelcomeAndOnChange(t *testing.T) {
	fp := &fakePolicies{revision: 3, policies: []store.StoredPolicy{
		{Policy: policy.Policy{ID: "agent-side", Title: "t", Severity: "low", Check: policy.Check{File: &policy.FileCheck{Path: "/etc/x"}}}},
		{Policy: policy.Policy{ID: "server-side", Title: "t", Severity: "low", Check: policy.Check{Expr: "true"}}, ExprOnly: true},
	}}
	h := newPolicyHarness(t, fp)
	ws, _ := h.connect(h.nodeKey())
	env := h.read(ws)
	var set wire.PolicySet
	if env.Type != wire.TypePolicySet || json.Unmarshal(env.Payload, &set) != nil {
		t.Fatalf("after welcome got %s, want policy_set", env.Type)
	}
	if set.Revision != 3 || len(set.Policies) != 1 || set.Policies[0].ID != "agent-side" {
		t.Errorf("policy set %+v: want revision 3 with the agent-side policy only", set)
	}

	fp.mu.Lock()
	fp.revision = 4
	fp.mu.Unlock()
	h.gw.PoliciesChanged(context.Background())
	env = h.read(ws)
	if env.Type != wire.TypePolicySet || json.Unmarshal(env.Payload, &set) != nil || set.Revision != 4 {
		t.Fatalf("after a change got %s revision %d, want policy_set 4", env.Type, set.Revision)
	}

	// An agent already holding the revision gets no set.
	ws2, _, err := h.dial(h.nodeKey())
	if err != nil {
		t.Fatal(err)
	}
	defer ws2.Close()
	h.send(ws2, wire.TypeHello, 0, wire.Hello{ProtocolVersions: []int{1}, PolicyRevision: 4})
	if env := h.read(ws2); env.Type != wire.TypeWelcome {
		t.Fatalf("got %s, want welcome", env.Type)
	}
	h.send(ws2, wire.TypeHeartbeat, 1, wire.Heartbeat{})
	if env := h.read(ws2); env.Type != wire.TypeAck {
		t.Fatalf("got %s, want the heartbeat's ack and no policy set", env.Type)
	}
}

func TestResultsAreCommittedThenAcked(t *testing.T) {
	fp := &fakePolicies{}
	h := newPolicyHarness(t, fp)
	ws, _ := h.connect(h.nodeKey()) // revision 0 on both sides: no policy set follows
	res := wire.Results{Revision: 1, Results: []policy.Result{{PolicyID: "p", Status: policy.StatusFail, CheckedAt: time.Now().UTC()}}}
	h.send(ws, wire.TypeResults, 5, res)
	env := h.read(ws)
	if env.Type != wire.TypeAck || env.Seq != 5 {
		t.Fatalf("got %s %d, want ack 5", env.Type, env.Seq)
	}
	fp.mu.Lock()
	defer fp.mu.Unlock()
	if len(fp.applied) != 1 || fp.applied[0].Results[0].PolicyID != "p" || fp.applied[0].Revision != 1 {
		t.Errorf("applied %+v", fp.applied)
	}
}

func TestResultsRefusedWhenInvalid(t *testing.T) {
	for name, r := range map[string]wire.Results{
		"exempt is the server's": {Results: []policy.Result{{PolicyID: "p", Status: policy.StatusExempt}}},
		"unknown status":         {Results: []policy.Result{{PolicyID: "p", Status: "maybe"}}},
		"missing policy id":      {Results: []policy.Result{{Status: policy.StatusPass}}},
	} {
		t.Run(name, func(t *testing.T) {
			fp := &fakePolicies{revision: 1}
			h := newPolicyHarness(t, fp)
			ws, _ := h.connect(h.nodeKey())
			h.read(ws) // policy set
			h.send(ws, wire.TypeResults, 1, r)
			h.expectError(ws, wire.CodeBadMessage)
			if len(fp.applied) != 0 {
				t.Error("invalid results were stored")
			}
		})
	}
	t.Run("server without policies", func(t *testing.T) {
		h := newHarness(t)
		ws, _ := h.connect(h.nodeKey())
		h.send(ws, wire.TypeResults, 1, wire.Results{})
		h.expectError(ws, wire.CodeBadMessage)
	})
}
