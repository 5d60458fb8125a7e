package loadgen

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
)

// fakePolicyStore is the policy side of the test server: revision 0 and
// no policies until a test changes them. It keeps every results batch
// agents sent and each host's current status per policy, and reports a
// transition when a status changes, as the real stores do.
type fakePolicyStore struct {
	mu       sync.Mutex
	revision int64
	policies []store.StoredPolicy
	batches  []store.ResultBatch
	current  map[int64]map[string]policy.Status
	nextID   int64
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

func (f *fakePolicyStore) ApplyResults(_ context.Context, batches []store.ResultBatch) ([]store.Transition, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.current == nil {
		f.current = map[int64]map[string]policy.Status{}
	}
	var ts []store.Transition
	for _, b := range batches {
		f.batches = append(f.batches, b)
		cur := f.current[b.HostID]
		if cur == nil {
			cur = map[string]policy.Status{}
			f.current[b.HostID] = cur
		}
		for _, id := range b.Removed {
			delete(cur, id)
		}
		for _, r := range b.Results {
			if from := cur[r.PolicyID]; from != r.Status {
				f.nextID++
				ts = append(ts, store.Transition{ID: f.nextID, HostID: b.HostID, PolicyID: r.PolicyID,
					From: from, To: r.Status, At: r.CheckedAt, Evidence: r.Evidence})
				cur[r.PolicyID] = r.Status
			}
		}
	}
	return ts, nil
}

// resultBatches copies the results batches applied so far.
func (f *fakePolicyStore) resultBatches() []store.ResultBatch {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]store.ResultBatch(nil), f.batches...)
}

// setPolicies makes ids (file checks, so the gateway pushes them) the
// policy set under the next revision and returns that revision.
func (f *fakePolicyStore) setPolicies(ids ...string) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.revision++
	f.policies = f.policies[:0]
	for _, id := range ids {
		f.policies = append(f.policies, store.StoredPolicy{Policy: policy.Policy{ID: id, Title: "t " + id, Severity: "high",
			Check: policy.Check{File: &policy.FileCheck{Path: "/etc/" + id, Exists: new(bool)}}}})
	}
	return f.revision
}

// TestPolicySetReceiptsMeasured changes the policy set while the
// simulated fleet is connected: every agent must record the new revision,
// and none of those frames may count as unexpected; with and without
// per-message deflate (--no-compression), for a set large enough to be
// sent compressed to agents that offer it, and to go through the shared
// inflate cache: its hex titles keep it above inflateCacheMin compressed.
// With --results, the agents answer the set they took from the cache.
func TestPolicySetReceiptsMeasured(t *testing.T) {
	for _, tc := range []struct {
		noCompression bool
		results       string
	}{{false, ResultsNone}, {true, ResultsNone}, {false, ResultsFail}} {
		t.Run(fmt.Sprintf("no_compression=%v/results=%s", tc.noCompression, tc.results), func(t *testing.T) {
			testPolicySetReceipts(t, tc.noCompression, tc.results)
		})
	}
}

func testPolicySetReceipts(t *testing.T, noCompression bool, results string) {
	ts := newTestServer(t)
	cfg := testConfig(ts, 10)
	cfg.Duration = 2 * time.Second
	cfg.NoCompression = noCompression
	cfg.Results = results
	go func() {
		for i := 0; i < 600 && ts.gw.Connected() < 10; i++ {
			time.Sleep(10 * time.Millisecond)
		}
		ts.policies.mu.Lock()
		ts.policies.revision = 1
		for n := range 200 {
			sum := sha256.Sum256(fmt.Appendf(nil, "title %d", n))
			ts.policies.policies = append(ts.policies.policies, store.StoredPolicy{Policy: policy.Policy{
				ID: fmt.Sprintf("p%d", n), Title: hex.EncodeToString(sum[:]), Severity: "low",
				Check: policy.Check{File: &policy.FileCheck{Path: "/etc/x", Exists: new(bool)}}}})
		}
		ts.policies.mu.Unlock()
		ts.gw.PoliciesChanged(context.Background())
		ts.gw.CheckNow(1)
	}()
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	ts.waitIdle(t)
	batches := ts.policies.resultBatches()
	switch res := rep.Results; {
	case results == ResultsNone && (len(batches) != 0 || res != nil):
		t.Errorf("without --results the agents sent %d results messages (report %+v)", len(batches), res)
	case results != ResultsNone && (len(batches) != 10 || res == nil || res.Results != 10*200 || res.Acked != 10):
		t.Errorf("%d results messages applied, report %+v; want one with 200 results from each of 10 agents", len(batches), res)
	}
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
	// The server compressed the set once and sent all ten agents the same
	// bytes: the generator inflates it once, not once per agent (readers
	// that miss while it is being inflated wait for it).
	cl := rep.Client
	switch {
	case noCompression && (cl.Inflations != 0 || cl.InflateCacheHits != 0):
		t.Errorf("without compression: %d inflations, %d cache hits", cl.Inflations, cl.InflateCacheHits)
	case !noCompression && (cl.Inflations != 1 || cl.InflateCacheHits != 9):
		t.Errorf("one set received by 10 agents: %d inflations, %d cache hits; want 1 and 9", cl.Inflations, cl.InflateCacheHits)
	}
}

// --no-compression makes every dialer leave per-message deflate out of
// its handshake; by default each offers it, as agents do.
func TestNoCompressionDialers(t *testing.T) {
	for _, off := range []bool{false, true} {
		cfg := Config{Server: "http://127.0.0.1:1", Packages: 1, Concurrency: 1, NoCompression: off}
		r, err := newRunner(cfg)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range r.dialers {
			if d.compress == off {
				t.Errorf("NoCompression %v: dialer offers compression %v", off, d.compress)
			}
		}
	}
}
