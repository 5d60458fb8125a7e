package runner

import (
	"crypto/ed25519"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/steward-project/steward/agent/internal/state"
	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/policysign"
	"github.com/steward-project/steward/shared/wire"
)

// heartbeat returns the next heartbeat, skipping other messages (left
// unacked).
func (fc *fakeConn) heartbeat(t *testing.T) wire.Heartbeat {
	t.Helper()
	for {
		m := fc.next(t)
		if m.env.Type != wire.TypeHeartbeat {
			continue
		}
		var hb wire.Heartbeat
		if err := wire.DecodePayload(m.env, &hb); err != nil {
			t.Fatal(err)
		}
		return hb
	}
}

func signSet(t *testing.T, key ed25519.PrivateKey, ps []policy.Policy, at time.Time, valid time.Duration) *policysign.Signature {
	t.Helper()
	sig, err := policysign.Sign(key, ps, at, at.Add(valid))
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// TestPinnedKeyRefusals: an agent that pins a policy key evaluates a set
// signed with it, and refuses an unsigned set, a set signed with another
// key, a set signed before the one it holds and an expired set, each
// reported at once in a heartbeat while the held set stays in force and on
// disk across a restart. A newer good set is accepted and clears the
// refusal.
func TestPinnedKeyRefusals(t *testing.T) {
	pub, priv, _ := policysign.GenerateKey()
	_, otherPriv, _ := policysign.GenerateKey()
	fs := newFakeServer(t)
	f := newFeed()
	a := newPolicyAgent(t, fs, f, fixtureRoot(t))
	a.cfg.PolicyKeys = []ed25519.PublicKey{pub}
	a.start(t)
	ps := loadPolicies(t, "policies.json")
	smaller := ps[:2]
	now := time.Now()

	older := signSet(t, priv, smaller, now.Add(-2*time.Minute), 24*time.Hour)
	good := signSet(t, priv, ps, now.Add(-time.Minute), 24*time.Hour)

	fc := fs.accept(t)
	fc.handshake(t, 0)
	fc.send(t, wire.TypePolicySet, 0, wire.PolicySet{Revision: 5, Policies: ps, Signature: good})
	f.give(t, doc(software))
	m, res := fc.results(t)
	if res.Revision != 5 || len(res.Results) != len(ps) {
		t.Fatalf("results of the signed set: %+v", res)
	}
	ackResults(t, fc, a, m, len(ps))

	for _, tc := range []struct {
		name string
		set  wire.PolicySet
		code string
	}{
		{"unsigned", wire.PolicySet{Revision: 6, Policies: smaller}, policysign.CodeUnsigned},
		{"other key", wire.PolicySet{Revision: 7, Policies: smaller, Signature: signSet(t, otherPriv, smaller, now, time.Hour)}, policysign.CodeBadSignature},
		{"tampered", wire.PolicySet{Revision: 8, Policies: smaller, Signature: good}, policysign.CodeContentMismatch},
		{"rollback", wire.PolicySet{Revision: 9, Policies: smaller, Signature: older}, policysign.CodeRollback},
		{"expired", wire.PolicySet{Revision: 10, Policies: smaller, Signature: signSet(t, priv, smaller, now.Add(-2*time.Hour), time.Hour)}, policysign.CodeExpired},
		// The server cannot weaken a signed set with a tailoring the
		// signature does not cover.
		{"unsigned tailoring", wire.PolicySet{Revision: 13, Policies: ps, Signature: good, Tailorings: []policy.LabelTailoring{
			{Name: "weaker", Values: map[string]map[string]string{ps[0].ID: {"x": "1"}}}}}, policysign.CodeContentMismatch},
	} {
		fc.send(t, wire.TypePolicySet, 0, tc.set)
		hb := fc.heartbeat(t)
		if r := hb.PolicyRefusal; r == nil || r.Revision != tc.set.Revision || r.Code != tc.code || r.Reason == "" || r.At.IsZero() {
			t.Fatalf("%s: heartbeat refusal %+v, want revision %d code %s", tc.name, r, tc.set.Revision, tc.code)
		}
		if err := hb.PolicyRefusal.Validate(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := a.storedPolicies(t); got.Revision != 5 || len(got.Policies) != len(ps) {
			t.Fatalf("%s: stored set is revision %d with %d policies, want the held revision 5", tc.name, got.Revision, len(got.Policies))
		}
	}

	// A restart keeps the last good set: hello names it.
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}
	a.start(t)
	fc = fs.accept(t)
	if h := fc.handshake(t, 0); h.PolicyRevision != 5 {
		t.Fatalf("restarted agent's hello has policy revision %d, want 5", h.PolicyRevision)
	}
	// A newer signed set is accepted and the refusal cleared.
	newer := signSet(t, priv, smaller, time.Now(), time.Hour)
	fc.send(t, wire.TypePolicySet, 0, wire.PolicySet{Revision: 11, Policies: smaller, Signature: newer})
	fc.send(t, wire.TypePolicySet, 0, wire.PolicySet{Revision: 12, Policies: ps})
	if hb := fc.heartbeat(t); hb.PolicyRefusal == nil || hb.PolicyRefusal.Revision != 12 {
		t.Fatalf("refusal after the unsigned set: %+v", hb.PolicyRefusal)
	}
	newest := signSet(t, priv, ps, time.Now(), time.Hour)
	fc.send(t, wire.TypePolicySet, 0, wire.PolicySet{Revision: 13, Policies: ps, Signature: newest})
	if hb := fc.heartbeat(t); hb.PolicyRefusal != nil {
		t.Fatalf("heartbeat after an accepted set still reports %+v", hb.PolicyRefusal)
	}
	if got := a.storedPolicies(t); got.Revision != 13 || got.Signature == nil {
		t.Fatalf("stored set %d signed=%v, want 13 signed", got.Revision, got.Signature != nil)
	}
}

// TestUnpinnedAgentAcceptsAnySet: without a pinned key a set is taken
// signed or not, as before signing existed, and no refusal is reported.
func TestUnpinnedAgentAcceptsAnySet(t *testing.T) {
	_, priv, _ := policysign.GenerateKey()
	fs := newFakeServer(t)
	f := newFeed()
	a := newPolicyAgent(t, fs, f, fixtureRoot(t))
	a.start(t)
	ps := loadPolicies(t, "policies.json")
	fc := fs.accept(t)
	fc.handshake(t, 0)
	expired := signSet(t, priv, ps, time.Now().Add(-2*time.Hour), time.Hour)
	fc.send(t, wire.TypePolicySet, 0, wire.PolicySet{Revision: 3, Policies: ps, Signature: expired})
	f.give(t, doc(software))
	m, res := fc.results(t)
	if res.Revision != 3 {
		t.Fatalf("results for revision %d, want 3", res.Revision)
	}
	ackResults(t, fc, a, m, len(ps))
	fc.send(t, wire.TypePolicySet, 0, wire.PolicySet{Revision: 4, Policies: ps[:1]})
	if _, res := fc.results(t); res.Revision != 4 {
		t.Fatalf("results for revision %d, want 4 (the unsigned set)", res.Revision)
	}
}

// TestPinningDropsStoredUnsignedSet: a key pinned on an agent that holds
// a set it accepted unsigned makes it start without that set.
func TestPinningDropsStoredUnsignedSet(t *testing.T) {
	pub, _, _ := policysign.GenerateKey()
	fs := newFakeServer(t)
	f := newFeed()
	a := newPolicyAgent(t, fs, f, fixtureRoot(t))
	st, err := state.Open(a.cfg.StateDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.SetPolicies(state.PolicySet{Revision: 4, Policies: loadPolicies(t, "policies.json"), SignedSerial: 77}); err != nil {
		t.Fatal(err)
	}
	a.cfg.PolicyKeys = []ed25519.PublicKey{pub}
	a.start(t)
	fc := fs.accept(t)
	if h := fc.handshake(t, 0); h.PolicyRevision != 0 {
		t.Fatalf("hello names revision %d, want 0: the unsigned set must be dropped", h.PolicyRevision)
	}
	if got := a.storedPolicies(t); len(got.Policies) != 0 || got.SignedSerial != 77 {
		t.Fatalf("stored set after pinning: %+v, want none with the serial kept", got)
	}
}

// storedPolicies reads policies.json as a restarted agent would.
func (a *testAgent) storedPolicies(t *testing.T) state.PolicySet {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(a.cfg.StateDir, state.PoliciesFile))
	if err != nil {
		t.Fatal(err)
	}
	var ps state.PolicySet
	if err := json.Unmarshal(raw, &ps); err != nil {
		t.Fatal(err)
	}
	return ps
}
