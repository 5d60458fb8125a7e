package gateway

import (
	"encoding/json"
	"testing"

	"github.com/steward-project/steward/server/internal/ingest"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/wire"
)

// TestExprAnswersOnlyToAgentsThatAsk: a connection whose hello asks for
// expr answers is announced to HostConnected after its welcome and policy
// set, and gets what is sent; an older agent's connection is never
// announced and gets nothing (it would close on an unknown message).
func TestExprAnswersOnlyToAgentsThatAsk(t *testing.T) {
	fp := &fakePolicies{revision: 3, policies: []store.StoredPolicy{
		{Policy: policy.Policy{ID: "mixed", Title: "t", Severity: "low", Check: policy.Check{All: []policy.Check{
			{File: &policy.FileCheck{Path: "/etc/x"}}, {Expr: "true"}}}}},
	}}
	connected := make(chan int64, 4)
	st := newFakeStore()
	b := ingest.New(st, ingest.Config{})
	gw := New(Config{Store: st, Ingest: b, Policies: fp, HostConnected: func(id int64) { connected <- id }})
	h := serve(t, st, b, gw)

	// An older agent: no expr_answers in its hello.
	old, _ := h.connect(h.nodeKey())
	if env := h.read(old); env.Type != wire.TypePolicySet {
		t.Fatalf("got %s, want policy_set", env.Type)
	}

	ws, _, err := h.dial(h.nodeKey())
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	h.send(ws, wire.TypeHello, 0, wire.Hello{ProtocolVersions: []int{1}, Hostname: "new", ExprAnswers: true})
	for _, want := range []string{wire.TypeWelcome, wire.TypePolicySet} {
		if env := h.read(ws); env.Type != want {
			t.Fatalf("got %s, want %s", env.Type, want)
		}
	}
	id := <-connected
	select {
	case other := <-connected:
		t.Fatalf("host %d announced too; only %d asked for answers", other, id)
	default:
	}
	const oldID = 1 // enrolled first (the fake store numbers from 1)
	if id != 2 {
		t.Fatalf("announced host %d, want 2", id)
	}
	if gw.IsConnected(oldID) || gw.SendExprAnswers(oldID, wire.ExprAnswers{Revision: 3}) {
		t.Errorf("the older agent's connection takes answers")
	}
	if !gw.IsConnected(id) {
		t.Fatal("the new agent's connection does not take answers")
	}
	a := wire.ExprAnswers{Revision: 3, Answers: map[string]map[string]policy.ExprAnswer{
		"mixed": {"check.all[1].expr": {Value: true, Detail: "true => true"}}}}
	if !gw.SendExprAnswers(id, a) {
		t.Fatal("SendExprAnswers to a connected agent reported false")
	}
	env := h.read(ws)
	var got wire.ExprAnswers
	if env.Type != wire.TypeExprAnswers || json.Unmarshal(env.Payload, &got) != nil ||
		got.Revision != 3 || got.Answers["mixed"]["check.all[1].expr"] != a.Answers["mixed"]["check.all[1].expr"] {
		t.Fatalf("got %s %s, want the answers", env.Type, env.Payload)
	}

	// Nothing reached the older agent: its next frame is its heartbeat's ack.
	h.send(old, wire.TypeHeartbeat, 1, wire.Heartbeat{})
	if env := h.read(old); env.Type != wire.TypeAck {
		t.Fatalf("older agent got %s, want the heartbeat's ack", env.Type)
	}
}
