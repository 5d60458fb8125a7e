package loadgen

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/wire"
)

// TestResultsSentOnPolicySet pushes two policy sets to a connected fleet:
// each agent must answer each with one results message carrying a result
// of the asked status for every policy of the set, evaluated against the
// set's revision, naming the policy the second set dropped as removed, and
// the gateway must accept and acknowledge all of it.
func TestResultsSentOnPolicySet(t *testing.T) {
	for _, status := range []policy.Status{policy.StatusFail, policy.StatusPass} {
		t.Run(string(status), func(t *testing.T) {
			const agents = 4
			ts := newTestServer(t)
			cfg := testConfig(ts, agents)
			cfg.Duration = 3 * time.Second
			cfg.Results = string(status)
			var rev1, rev2 int64
			sentAfter := time.Now()
			pushed := make(chan struct{})
			go func() {
				defer close(pushed)
				rev1 = ts.pushPolicies(t, agents, "pol-a", "pol-b")
				ts.waitResults(t, agents)
				rev2 = ts.pushPolicies(t, agents, "pol-b", "pol-c")
			}()
			rep, err := Run(context.Background(), cfg)
			<-pushed
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			ts.waitIdle(t)
			if rep.Failed {
				t.Fatalf("run failed: %v", rep.Problems)
			}

			byHost := map[int64][]store.ResultBatch{}
			for _, b := range ts.policies.resultBatches() {
				byHost[b.HostID] = append(byHost[b.HostID], b)
			}
			if len(byHost) != agents {
				t.Fatalf("results from %d hosts, want %d", len(byHost), agents)
			}
			for host, bs := range byHost {
				if len(bs) != 2 {
					t.Fatalf("host %d sent %d results messages, want 2: %+v", host, len(bs), bs)
				}
				checkBatch(t, bs[0], rev1, status, []string{"pol-a", "pol-b"}, nil, sentAfter)
				checkBatch(t, bs[1], rev2, status, []string{"pol-b", "pol-c"}, []string{"pol-a"}, sentAfter)
			}

			res := rep.Results
			if res == nil {
				t.Fatal("report has no results section")
			}
			if res.Status != string(status) || res.Messages != 2*agents || res.Results != 4*agents ||
				res.Acked != 2*agents || res.Unacked != 0 || res.Latency.Count != 2*agents {
				t.Errorf("results report %+v", res)
			}
			if res.FirstSentAtSeconds <= 0 || res.LastSentAtSeconds < res.FirstSentAtSeconds {
				t.Errorf("results sent between %vs and %vs", res.FirstSentAtSeconds, res.LastSentAtSeconds)
			}
			// Results are kept out of the heartbeat figures.
			s := rep.Steady
			if s.Sent != s.Acked || s.Latency.Count != uint64(s.Acked) || s.UnexpectedFrames != 0 {
				t.Errorf("steady: sent %d acked %d latency samples %d unexpected %d", s.Sent, s.Acked, s.Latency.Count, s.UnexpectedFrames)
			}
			if len(s.PolicySets) != 2 || s.PolicySets[1].Agents != agents {
				t.Errorf("policy set receipts %+v", s.PolicySets)
			}
		})
	}
}

func checkBatch(t *testing.T, b store.ResultBatch, rev int64, status policy.Status, ids, removed []string, after time.Time) {
	t.Helper()
	if b.Revision != rev {
		t.Errorf("host %d: results for revision %d, want %d", b.HostID, b.Revision, rev)
	}
	var got []string
	for _, r := range b.Results {
		got = append(got, r.PolicyID)
		if r.Status != status {
			t.Errorf("host %d %s: status %s, want %s", b.HostID, r.PolicyID, r.Status, status)
		}
		if r.CheckedAt.Before(after.Add(-time.Second)) || r.CheckedAt.After(time.Now().Add(time.Second)) {
			t.Errorf("host %d %s: checked_at %v is not now", b.HostID, r.PolicyID, r.CheckedAt)
		}
		if len(r.Evidence) != 1 || r.Evidence[0].Detail == "" || r.Evidence[0].Passed != (status == policy.StatusPass) ||
			len(r.Evidence[0].Detail) > 100 || r.Error != "" {
			t.Errorf("host %d %s: evidence %+v, error %q", b.HostID, r.PolicyID, r.Evidence, r.Error)
		}
	}
	slices.Sort(got)
	if !slices.Equal(got, ids) {
		t.Errorf("host %d: results for %v, want %v", b.HostID, got, ids)
	}
	if !slices.Equal(b.Removed, removed) {
		t.Errorf("host %d: removed %v, want %v", b.HostID, b.Removed, removed)
	}
}

func TestResultsFor(t *testing.T) {
	now := time.Date(2025, 3, 1, 10, 0, 0, 0, time.FixedZone("x", 3600))
	set := policySetIDs{Revision: 7, IDs: []string{"b", "a"}}
	msg := resultsFor(set, policy.StatusFail, map[string]bool{"a": true, "z": true, "y": true}, now)
	if msg.Revision != 7 || len(msg.Results) != 2 || msg.Results[0].PolicyID != "b" || !slices.Equal(msg.Removed, []string{"y", "z"}) {
		t.Fatalf("message %+v", msg)
	}
	for _, r := range msg.Results {
		if r.Status != policy.StatusFail || !r.CheckedAt.Equal(now) || r.CheckedAt.Location() != time.UTC || r.Duration <= 0 {
			t.Errorf("result %+v", r)
		}
	}
	if msg := resultsFor(policySetIDs{Revision: 8}, policy.StatusPass, nil, now); len(msg.Results) != 0 || len(msg.Removed) != 0 {
		t.Errorf("empty set, nothing reported: %+v", msg)
	}
}

// The cheap revision read agrees with a full decode on every policy set
// frame of the protocol's golden files, and leaves every other frame to
// the full decode.
func TestPolicySetRevisionMatchesDecode(t *testing.T) {
	dir := filepath.Join("..", "..", "..", "shared", "wire", "testdata")
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("golden frames under %s: %v (found %d)", dir, err, len(files))
	}
	sets := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		frame := bytes.TrimSpace(raw)
		env, err := wire.Decode(frame)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		rev, ok := policySetRevision(frame)
		if env.Type != wire.TypePolicySet {
			if ok {
				t.Errorf("%s (%s): read as a policy set of revision %d", f, env.Type, rev)
			}
			continue
		}
		sets++
		set, err := decodePolicySet(env)
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if !ok || rev != set.Revision {
			t.Errorf("%s: cheap read gave %d, %v; decode gave %d", f, rev, ok, set.Revision)
		}
	}
	if sets < 3 {
		t.Errorf("only %d policy set frames among the golden files", sets)
	}
	for _, frame := range []string{
		`{"type":"policy_set", "payload":{"revision":3,"policies":[]}}`,
		`{"type":"policy_set","payload":{"revision":-1,"policies":[]}}`,
		`{"type":"policy_set","payload":{"revision":4`,
	} {
		if rev, ok := policySetRevision([]byte(frame)); ok {
			t.Errorf("%s: read revision %d instead of leaving it to the decoder", frame, rev)
		}
	}
}
