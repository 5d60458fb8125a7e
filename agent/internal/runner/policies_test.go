package runner

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/agent/internal/state"
	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/wire"
)

// software is an inventory with openssl installed and neither telnetd nor
// curl.
var software = map[string]string{
	"software": `{"packages":[{"name":"openssl","version":"3.0.11-1","source":"deb"}]}`,
}

func loadPolicies(t *testing.T, name string) []policy.Policy {
	t.Helper()
	ps, err := policy.Load([]string{filepath.Join("testdata", name)})
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// fixtureRoot makes a file system root holding /etc/motd.
func fixtureRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc", "motd"), []byte("welcome\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// evalRec records, for each evaluation of the current set, whether it
// sent a results message.
type evalRec chan bool

func withEvalRec(r evalRec) func(*hooks) {
	return func(h *hooks) { h.evaluated = func(sent bool) { r <- sent } }
}

func (r evalRec) next(t *testing.T) bool {
	t.Helper()
	select {
	case sent := <-r:
		return sent
	case <-time.After(wait):
		t.Fatal("agent did not evaluate its policies")
		return false
	}
}

// waitStoredRevision waits until the agent has stored policy set rev.
// An inventory given before that may be evaluated against the set before
// it (none, for a new agent): an evaluation that sends nothing, which a
// test counting evaluations would take for the one it waits for.
func waitStoredRevision(t *testing.T, a *testAgent, rev uint64) {
	t.Helper()
	waitFor(t, fmt.Sprintf("policy set %d stored", rev), func() bool {
		raw, err := os.ReadFile(filepath.Join(a.cfg.StateDir, state.PoliciesFile))
		var ps state.PolicySet
		return err == nil && json.Unmarshal(raw, &ps) == nil && ps.Revision == rev
	})
}

// results returns the next results message, skipping heartbeats and
// inventories (left unacked, so no further collection starts).
func (fc *fakeConn) results(t *testing.T) (received, wire.Results) {
	t.Helper()
	for {
		m := fc.next(t)
		if m.env.Type == wire.TypeHeartbeat || m.env.Type == wire.TypeInventory {
			continue
		}
		if m.env.Type != wire.TypeResults {
			t.Fatalf("got %+v, want results", m.env)
		}
		var res wire.Results
		if err := wire.DecodePayload(m.env, &res); err != nil {
			t.Fatal(err)
		}
		return m, res
	}
}

// changedResults returns the next results message that carries results
// or removals, acknowledging on the way the ones that only report an
// evaluation that changed nothing.
func (fc *fakeConn) changedResults(t *testing.T) (received, wire.Results) {
	t.Helper()
	for {
		m, res := fc.results(t)
		if len(res.Results) > 0 || len(res.Removed) > 0 {
			return m, res
		}
		if res.EvaluatedAt.IsZero() {
			t.Fatalf("empty results message without evaluated_at: %+v", res)
		}
		fc.ack(t, m.env.Seq, false)
	}
}

// wantEvaluatedOnly checks that the next results message reports an
// evaluation that changed nothing, and acknowledges it.
func wantEvaluatedOnly(t *testing.T, fc *fakeConn, what string) wire.Results {
	t.Helper()
	m, res := fc.results(t)
	if len(res.Results) != 0 || len(res.Removed) != 0 || res.EvaluatedAt.IsZero() {
		t.Fatalf("%s: results %+v, want only evaluated_at", what, res)
	}
	fc.ack(t, m.env.Seq, false)
	return res
}

func statuses(res wire.Results) map[string]policy.Status {
	m := map[string]policy.Status{}
	for _, r := range res.Results {
		m[r.PolicyID] = r.Status
	}
	return m
}

func sameStatuses(t *testing.T, what string, got, want map[string]policy.Status) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: results %v, want %v", what, got, want)
	}
	for id, s := range want {
		if got[id] != s {
			t.Fatalf("%s: results %v, want %v", what, got, want)
		}
	}
}

// ackResults acks m and waits until the acknowledged results are on disk.
func ackResults(t *testing.T, fc *fakeConn, a *testAgent, m received, want int) {
	t.Helper()
	fc.ack(t, m.env.Seq, false)
	waitFor(t, "acked results saved", func() bool {
		return len(savedState(t, a.cfg.StateDir).AckedResults) == want
	})
}

func newPolicyAgent(t *testing.T, fs *fakeServer, f *feed, root string) *testAgent {
	t.Helper()
	a := newTestAgent(t, fs, f)
	a.cfg.Root = root
	a.cfg.CheckInterval = time.Hour // no scheduled evaluation during a test
	return a
}

func TestPolicyLifecycle(t *testing.T) {
	fs := newFakeServer(t)
	f := newFeed()
	root := fixtureRoot(t)
	a := newPolicyAgent(t, fs, f, root)
	evals := make(evalRec, 64)
	a.start(t, withEvalRec(evals))
	ps := loadPolicies(t, "policies.json")

	fc := fs.accept(t)
	if h := fc.handshake(t, 0); h.PolicyRevision != 0 {
		t.Fatalf("fresh agent's hello has policy revision %d, want 0", h.PolicyRevision)
	}
	fc.send(t, wire.TypePolicySet, 0, wire.PolicySet{Revision: 5, Policies: ps})
	waitStoredRevision(t, a, 5)
	f.give(t, doc(software))

	m, res := fc.results(t)
	if res.Revision != 5 || len(res.Removed) != 0 {
		t.Fatalf("first results: revision %d removed %v, want 5 and none", res.Revision, res.Removed)
	}
	sameStatuses(t, "first evaluation", statuses(res), map[string]policy.Status{
		"motd-present": policy.StatusPass,
		"no-telnet":    policy.StatusPass,
		"has-curl":     policy.StatusFail,
		"gated":        policy.StatusNotApplicable,
	})
	for _, r := range res.Results {
		if len(r.Evidence) == 0 && r.Status != policy.StatusNotApplicable {
			t.Errorf("%s: %s without evidence", r.PolicyID, r.Status)
		}
	}
	if !evals.next(t) {
		t.Fatal("the evaluation that sent results reported nothing sent")
	}
	ackResults(t, fc, a, m, 4)

	if res.EvaluatedAt.IsZero() {
		t.Error("first results carry no evaluated_at")
	}

	// Nothing changed: the evaluation sends no result, only when it ran,
	// so the server knows the host was checked.
	fc.send(t, wire.TypeCheckNow, 0, wire.CheckNow{})
	if !evals.next(t) {
		t.Fatal("check_now with nothing changed did not report the evaluation")
	}
	if again := wantEvaluatedOnly(t, fc, "check_now with nothing changed"); !again.EvaluatedAt.After(res.EvaluatedAt) {
		t.Errorf("evaluated_at %v not after the first evaluation's %v", again.EvaluatedAt, res.EvaluatedAt)
	}

	// One result changes: it alone is sent.
	if err := os.Remove(filepath.Join(root, "etc", "motd")); err != nil {
		t.Fatal(err)
	}
	fc.send(t, wire.TypeCheckNow, 0, wire.CheckNow{})
	m, res = fc.results(t)
	sameStatuses(t, "after removing /etc/motd", statuses(res), map[string]policy.Status{"motd-present": policy.StatusFail})
	if len(res.Removed) != 0 {
		t.Fatalf("removed %v, want none", res.Removed)
	}
	evals.next(t)
	ackResults(t, fc, a, m, 4)

	// A policy leaves the set: it goes in removed, nothing else is sent.
	smaller := slices.DeleteFunc(slices.Clone(ps), func(p policy.Policy) bool { return p.ID == "gated" })
	fc.send(t, wire.TypePolicySet, 0, wire.PolicySet{Revision: 6, Policies: smaller})
	m, res = fc.results(t)
	if res.Revision != 6 || len(res.Results) != 0 || !slices.Equal(res.Removed, []string{"gated"}) {
		t.Fatalf("after removing a policy: %+v, want revision 6, no results, removed [gated]", res)
	}
	evals.next(t)
	ackResults(t, fc, a, m, 3)

	// An invalid set (a bad regex) is refused: had it been adopted, the
	// new policy's result would be sent.
	bad := append(slices.Clone(smaller), policy.Policy{
		ID: "bad-regex", Title: "Bad", Severity: "low",
		Check: policy.Check{File: &policy.FileCheck{Path: "/etc/motd", Matches: "("}},
	})
	fc.send(t, wire.TypePolicySet, 0, wire.PolicySet{Revision: 7, Policies: bad})
	fc.send(t, wire.TypeCheckNow, 0, wire.CheckNow{})
	evals.next(t)
	if res := wantEvaluatedOnly(t, fc, "an evaluation after the invalid set"); res.Revision != 6 {
		t.Fatalf("evaluated revision %d after the invalid set, want the kept 6", res.Revision)
	}
	if !strings.Contains(a.logs.String(), "policy set refused") {
		t.Fatalf("refusal not logged:\n%s", a.logs)
	}

	// A set using a key this agent does not know (as a newer server
	// would send to an older agent) is refused too: decoding would drop
	// the key, and the policy would then be judged without its condition.
	known, err := json.Marshal(smaller)
	if err != nil {
		t.Fatal(err)
	}
	newer := `[{"id":"newer-key","title":"Newer","severity":"low","check":{"file":{"path":"/etc/motd","exists":true,"acl_max":"u::rw-"}}},` + string(known[1:])
	fc.send(t, wire.TypePolicySet, 0, json.RawMessage(`{"revision":8,"policies":`+newer+`}`))
	fc.send(t, wire.TypeCheckNow, 0, wire.CheckNow{})
	evals.next(t)
	if res := wantEvaluatedOnly(t, fc, "an evaluation after the set with an unknown key"); res.Revision != 6 {
		t.Fatalf("evaluated revision %d after a set with an unknown key, want the kept 6", res.Revision)
	}
	if !strings.Contains(a.logs.String(), "acl_max: unknown field") {
		t.Fatalf("refusal does not name the unknown key:\n%s", a.logs)
	}

	// A restart keeps the set and its revision.
	if err := a.stop(t); err != nil {
		t.Fatal(err)
	}
	st, err := state.Open(a.cfg.StateDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := st.Policies(); got.Revision != 6 || len(got.Policies) != 3 {
		t.Fatalf("stored set: revision %d with %d policies, want 6 with 3", got.Revision, len(got.Policies))
	}
	a.start(t, withEvalRec(evals))
	fc = fs.accept(t)
	if h := fc.handshake(t, 0); h.PolicyRevision != 6 {
		t.Fatalf("restarted agent's hello has policy revision %d, want 6", h.PolicyRevision)
	}
	f.give(t, doc(software))
	evals.next(t)
	wantEvaluatedOnly(t, fc, "a restarted agent's first evaluation (its results were acknowledged before)")
}

func TestUnackedResultsResentAfterReconnect(t *testing.T) {
	fs := newFakeServer(t)
	f := newFeed()
	a := newPolicyAgent(t, fs, f, fixtureRoot(t))
	a.start(t)
	ps := loadPolicies(t, "policies.json")

	fc := fs.accept(t)
	fc.handshake(t, 0)
	fc.send(t, wire.TypePolicySet, 0, wire.PolicySet{Revision: 1, Policies: ps})
	f.give(t, doc(software))
	_, first := fc.results(t)
	_ = fc.ws.Close() // no ack

	fc = fs.accept(t)
	if h := fc.handshake(t, 0); h.PolicyRevision != 1 {
		t.Fatalf("hello policy revision %d, want 1", h.PolicyRevision)
	}
	f.give(t, doc(software))
	m, again := fc.results(t)
	sameStatuses(t, "resent", statuses(again), statuses(first))
	ackResults(t, fc, a, m, len(ps))
}

func TestCommandLeavesNeedAllowCommands(t *testing.T) {
	cmd := []policy.Policy{{
		ID: "runs", Title: "A command runs", Severity: "low",
		// The test binary itself, running no tests: present everywhere.
		Check: policy.Check{Command: &policy.CommandCheck{Run: []string{os.Args[0], "-test.run=^$"}, ExitCode: new(0)}},
	}}
	tests := []struct {
		name  string
		allow bool
		want  policy.Status
	}{
		{"refused by default", false, policy.StatusError},
		{"allowed by local config", true, policy.StatusPass},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newFakeServer(t)
			f := newFeed()
			a := newPolicyAgent(t, fs, f, "")
			a.cfg.AllowCommands = tt.allow
			a.start(t)
			fc := fs.accept(t)
			fc.handshake(t, 0)
			fc.send(t, wire.TypePolicySet, 0, wire.PolicySet{Revision: 1, Policies: cmd})
			f.give(t, doc(software))
			_, res := fc.results(t)
			if len(res.Results) != 1 || res.Results[0].Status != tt.want {
				t.Fatalf("results %+v, want one %s", res.Results, tt.want)
			}
			if !tt.allow && !strings.Contains(res.Results[0].Error, policy.ErrCommandsDisabled.Error()) {
				t.Fatalf("error %q does not say commands are disabled", res.Results[0].Error)
			}
		})
	}
}

func TestEvaluationTriggers(t *testing.T) {
	withCurl := map[string]string{
		"software": `{"packages":[{"name":"curl","version":"7.88.1-10","source":"deb"}]}`,
	}
	tests := []struct {
		name          string
		checkInterval time.Duration
		// change alters the machine or its inventory without check_now.
		change func(t *testing.T, root string, fc *fakeConn, inv received, f *feed)
		want   map[string]policy.Status
	}{
		{
			name:          "schedule",
			checkInterval: 5 * time.Millisecond,
			change: func(t *testing.T, root string, _ *fakeConn, _ received, _ *feed) {
				if err := os.Remove(filepath.Join(root, "etc", "motd")); err != nil {
					t.Fatal(err)
				}
			},
			want: map[string]policy.Status{"motd-present": policy.StatusFail},
		},
		{
			name:          "new inventory",
			checkInterval: time.Hour,
			change: func(t *testing.T, _ string, fc *fakeConn, inv received, f *feed) {
				fc.ack(t, inv.env.Seq, false) // lets the next collection start
				f.give(t, doc(withCurl))
			},
			want: map[string]policy.Status{"has-curl": policy.StatusPass},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newFakeServer(t)
			f := newFeed()
			root := fixtureRoot(t)
			a := newPolicyAgent(t, fs, f, root)
			a.cfg.CheckInterval = tt.checkInterval
			a.start(t)
			fc := fs.accept(t)
			fc.handshake(t, 0)
			fc.send(t, wire.TypePolicySet, 0, wire.PolicySet{Revision: 1, Policies: loadPolicies(t, "policies.json")})
			f.give(t, doc(software))
			inv, _ := fc.inventory(t)
			m, _ := fc.results(t)
			ackResults(t, fc, a, m, 4)

			tt.change(t, root, fc, inv, f)
			_, res := fc.changedResults(t)
			sameStatuses(t, tt.name, statuses(res), tt.want)
		})
	}
}

func TestLargeResultsSplitAcrossMessages(t *testing.T) {
	fs := newFakeServer(t)
	f := newFeed()
	a := newPolicyAgent(t, fs, f, fixtureRoot(t))
	evals := make(evalRec, 64)
	// A budget of one byte lets one result through per message.
	a.start(t, withEvalRec(evals), func(h *hooks) { h.resultsBudget = 1 })
	ps := loadPolicies(t, "policies.json")

	fc := fs.accept(t)
	fc.handshake(t, 0)
	fc.send(t, wire.TypePolicySet, 0, wire.PolicySet{Revision: 1, Policies: ps})
	waitStoredRevision(t, a, 1)
	f.give(t, doc(software))
	seen := map[string]bool{}
	for i := range ps {
		m, res := fc.results(t)
		if len(res.Results) != 1 {
			t.Fatalf("message %d carries %d results, want 1", i, len(res.Results))
		}
		seen[res.Results[0].PolicyID] = true
		ackResults(t, fc, a, m, i+1)
	}
	if len(seen) != len(ps) {
		t.Fatalf("results for %v, want one for each of %d policies", seen, len(ps))
	}
	evals.next(t) // the evaluation that sent the first message
	fc.send(t, wire.TypeCheckNow, 0, wire.CheckNow{})
	evals.next(t)
	wantEvaluatedOnly(t, fc, "check_now after every result was acknowledged")
}
