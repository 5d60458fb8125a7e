package gateway

import (
	"context"
	"encoding/json"
	"maps"
	"sync"
	"testing"

	"github.com/steward-project/steward/server/internal/ingest"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/wire"
)

// fakeTailoredPolicies adds tailorings and host labels to fakePolicies.
type fakeTailoredPolicies struct {
	*fakePolicies
	mu         sync.Mutex
	tailorings []store.StoredTailoring
	labels     map[int64]map[string]string
}

func (f *fakeTailoredPolicies) ListTailorings(context.Context) ([]store.StoredTailoring, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]store.StoredTailoring(nil), f.tailorings...), nil
}

func (f *fakeTailoredPolicies) HostsLabels(_ context.Context, ids []int64) (map[int64]map[string]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[int64]map[string]string{}
	for _, id := range ids {
		out[id] = maps.Clone(f.labels[id])
	}
	return out, nil
}

// TestLabelsAndTailoringsReachTheAgent: the welcome carries the host's
// labels, the policy set its tailorings, and a label change reaches the
// connected agent as a labels message.
func TestLabelsAndTailoringsReachTheAgent(t *testing.T) {
	prod := policy.LabelTailoring{Name: "prod", Selector: map[string]string{"env": "prod"},
		Values: map[string]map[string]string{"agent-side": {"max": "90"}}}
	fp := &fakeTailoredPolicies{
		fakePolicies: &fakePolicies{revision: 2, policies: []store.StoredPolicy{
			{Policy: policy.Policy{ID: "agent-side", Title: "t", Severity: "low", Check: policy.Check{File: &policy.FileCheck{Path: "/etc/x"}}}},
		}},
		tailorings: []store.StoredTailoring{{Tailoring: prod, UpdatedRevision: 2}},
		labels:     map[int64]map[string]string{},
	}
	st := newFakeStore()
	b := ingest.New(st, ingest.Config{})
	gw := New(Config{Store: st, Ingest: b, Policies: fp})
	h := serve(t, st, b, gw)
	key := h.nodeKey()
	hostID := int64(len(h.st.hosts))
	fp.mu.Lock()
	fp.labels[hostID] = map[string]string{"env": "prod"}
	fp.mu.Unlock()

	ws, _, err := h.dial(key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	h.send(ws, wire.TypeHello, 0, wire.Hello{ProtocolVersions: []int{1}, Hostname: "web-1", Labels: true})
	var welcome wire.Welcome
	if env := h.read(ws); env.Type != wire.TypeWelcome || json.Unmarshal(env.Payload, &welcome) != nil {
		t.Fatalf("got %s, want welcome", env.Type)
	}
	if !maps.Equal(welcome.Labels, map[string]string{"env": "prod"}) {
		t.Errorf("welcome labels %v, want env=prod", welcome.Labels)
	}
	env := h.read(ws)
	var set wire.PolicySet
	if env.Type != wire.TypePolicySet || json.Unmarshal(env.Payload, &set) != nil {
		t.Fatalf("after welcome got %s, want policy_set", env.Type)
	}
	if len(set.Tailorings) != 1 || set.Tailorings[0].Name != "prod" || set.Tailorings[0].Values["agent-side"]["max"] != "90" {
		t.Errorf("policy set tailorings %+v", set.Tailorings)
	}

	h.gw.HostLabelsChanged(hostID, map[string]string{"env": "dev"})
	env = h.read(ws)
	var l wire.Labels
	if env.Type != wire.TypeLabels || json.Unmarshal(env.Payload, &l) != nil || !maps.Equal(l.Labels, map[string]string{"env": "dev"}) {
		t.Fatalf("after a label change got %s %s, want labels env=dev", env.Type, env.Payload)
	}
	h.gw.HostLabelsChanged(hostID, nil)
	env = h.read(ws)
	if env.Type != wire.TypeLabels || string(env.Payload) != `{"labels":{}}` {
		t.Fatalf("after removing every label got %s %s, want empty labels", env.Type, env.Payload)
	}
	// A host not connected here: nothing to do, nothing fails.
	h.gw.HostLabelsChanged(hostID+100, map[string]string{"env": "prod"})

	// An agent that did not say it takes labels messages (an older one,
	// which would close on one) still gets its labels in the welcome, and
	// no labels message.
	ws.Close()
	old, welcome := h.connect(key)
	if !maps.Equal(welcome.Labels, map[string]string{"env": "prod"}) {
		t.Errorf("older agent's welcome labels %v", welcome.Labels)
	}
	if env := h.read(old); env.Type != wire.TypePolicySet {
		t.Fatalf("got %s, want policy_set", env.Type)
	}
	h.gw.HostLabelsChanged(hostID, map[string]string{"env": "dev"})
	h.send(old, wire.TypeHeartbeat, 1, wire.Heartbeat{})
	if env := h.read(old); env.Type != wire.TypeAck {
		t.Fatalf("older agent got %s, want only the heartbeat's ack", env.Type)
	}
}
