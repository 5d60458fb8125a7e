package compliance_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/compliance"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/server/internal/store/sqlite"
	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/wire"
)

// policyFile has two expr-only policies and one the server cannot
// evaluate (a file leaf).
const policyFile = `policies:
  - id: os-debian
    title: Runs Debian
    severity: low
    check:
      expr: inventory.os.platform == "debian"
  - id: no-telnet
    title: No telnet server
    severity: high
    platforms: [linux]
    check:
      none:
        - expr: inventory.software.packages.exists(p, p.name == "telnetd")
  - id: sshd-config
    title: sshd config exists
    severity: medium
    check:
      file: {path: /etc/ssh/sshd_config, exists: true}
`

// countingStore is the real SQLite store with ApplyResults counted and,
// while fail is set, failing.
type countingStore struct {
	*sqlite.Store
	applies atomic.Int64
	fail    atomic.Bool
}

func (s *countingStore) ApplyResults(ctx context.Context, b []store.ResultBatch) ([]store.Transition, error) {
	if s.fail.Load() {
		return nil, errors.New("database unreachable")
	}
	s.applies.Add(1)
	return s.Store.ApplyResults(ctx, b)
}

type fixture struct {
	st  *countingStore
	ev  *compliance.Evaluator
	seq map[int64]uint64

	mu          sync.Mutex
	evaluations int
}

func newFixture(t *testing.T, chunk int) *fixture {
	t.Helper()
	log := slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "steward.db"), log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	f := &fixture{st: &countingStore{Store: st}, seq: map[int64]uint64{}}
	f.ev = compliance.New(f.st, compliance.Config{Logger: log, Chunk: chunk, Retry: 50 * time.Millisecond,
		Evaluated: func(n int, _ []store.Transition) {
			f.mu.Lock()
			f.evaluations += n
			f.mu.Unlock()
		}})
	return f
}

func (f *fixture) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.ev.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func (f *fixture) applyPolicies(t *testing.T, src string) {
	t.Helper()
	ps, err := policy.Parse("test.yaml", []byte(src))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	var specs []store.PolicySpec
	for _, p := range ps {
		specs = append(specs, store.PolicySpec{Policy: p, ExprOnly: policy.ExprOnly(p)})
	}
	if _, err := f.st.ApplyPolicies(t.Context(), store.PolicyApply{Policies: specs, Actor: "test"}); err != nil {
		t.Fatal(err)
	}
}

// addHost enrolls a host and, unless platform is "", stores an inventory
// with that os platform and the given packages.
func (f *fixture) addHost(t *testing.T, name, platform string, pkgs ...string) int64 {
	t.Helper()
	id, err := f.st.EnrollHost(t.Context(), store.NewHost{NodeKeyHash: name, Hostname: name})
	if err != nil {
		t.Fatal(err)
	}
	if platform != "" {
		f.sendInventory(t, id, platform, pkgs...)
	}
	return id
}

func (f *fixture) sendInventory(t *testing.T, id int64, platform string, pkgs ...string) store.Message {
	t.Helper()
	sw := inventory.Software{}
	for _, p := range append([]string{"bash"}, pkgs...) {
		sw.Packages = append(sw.Packages, inventory.Package{Name: p, Version: "1.0", Source: "dpkg"})
	}
	var secs []wire.Section
	hashes := map[string]string{}
	for name, v := range map[string]any{"os": inventory.OS{Name: platform, Platform: platform, Arch: "amd64"}, "software": sw} {
		raw, err := inventory.Canonical(v)
		if err != nil {
			t.Fatal(err)
		}
		secs = append(secs, wire.Section{Name: name, Hash: inventory.Hash(raw), Data: raw})
		hashes[name] = inventory.Hash(raw)
	}
	f.seq[id]++
	m := store.Message{HostID: id, Seq: f.seq[id], Type: wire.TypeInventory, Received: time.Now(),
		Inventory: &wire.Inventory{CollectedAt: time.Now(), Digest: inventory.Digest(hashes), Sections: secs}}
	if _, err := f.st.ApplyBatch(t.Context(), []store.Message{m}); err != nil {
		t.Fatal(err)
	}
	return m
}

// statuses renders a host's results as "policy status".
func (f *fixture) statuses(t *testing.T, id int64) []string {
	t.Helper()
	rs, err := f.st.HostResults(t.Context(), id, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	out := []string{}
	for _, r := range rs {
		out = append(out, r.PolicyID+" "+string(r.Status))
	}
	return out
}

func (f *fixture) waitStatuses(t *testing.T, id int64, want ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := f.statuses(t, id)
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("host %d results %q, want %q", id, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestStartEvaluatesEveryHost(t *testing.T) {
	f := newFixture(t, 2)
	f.applyPolicies(t, policyFile)
	deb := f.addHost(t, "deb", "debian")
	telnet := f.addHost(t, "telnet", "debian", "telnetd")
	rocky := f.addHost(t, "rocky", "rocky")
	bare := f.addHost(t, "bare", "") // enrolled, no inventory yet
	win := f.addHost(t, "win", "windows")
	f.run(t)

	f.waitStatuses(t, deb, "no-telnet pass", "os-debian pass")
	f.waitStatuses(t, telnet, "no-telnet fail", "os-debian pass")
	f.waitStatuses(t, rocky, "no-telnet pass", "os-debian fail")
	f.waitStatuses(t, win, "no-telnet not_applicable", "os-debian fail")
	if got := f.statuses(t, bare); len(got) != 0 {
		t.Errorf("a host without inventory has results %q", got)
	}
	rs, err := f.st.PolicyResults(t.Context(), store.ResultQuery{PolicyID: "no-telnet", Status: policy.StatusFail})
	if err != nil || len(rs) != 1 {
		t.Fatalf("failing no-telnet = %+v, %v", rs, err)
	}
	if len(rs[0].Evidence) == 0 || rs[0].PolicyRevision != 1 {
		t.Errorf("failing result has no evidence or the wrong revision: %+v", rs[0])
	}
	// 4 hosts with inventory, chunks of 2: at least 2 transactions.
	if n := f.st.applies.Load(); n < 2 {
		t.Errorf("%d ApplyResults calls for 4 hosts in chunks of 2", n)
	}
}

func TestInventoryChangeReevaluates(t *testing.T) {
	f := newFixture(t, 100)
	f.applyPolicies(t, policyFile)
	host := f.addHost(t, "h", "debian")
	f.run(t)
	f.waitStatuses(t, host, "no-telnet pass", "os-debian pass")

	m := f.sendInventory(t, host, "debian", "telnetd")
	f.ev.Committed([]store.Message{m}, []store.Result{{}})
	f.waitStatuses(t, host, "no-telnet fail", "os-debian pass")
	rs, err := f.st.HostResults(t.Context(), host, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if rs[0].Since.Before(rs[1].Since) {
		t.Errorf("no-telnet failing since %v, before the first evaluation at %v", rs[0].Since, rs[1].Since)
	}
}

func TestCommittedIgnoresWhatCannotChangeResults(t *testing.T) {
	f := newFixture(t, 100)
	f.applyPolicies(t, policyFile)
	host := f.addHost(t, "h", "debian")
	f.run(t)
	f.waitStatuses(t, host, "no-telnet pass", "os-debian pass")
	before := f.st.applies.Load()

	// The inventory changes in the store, but the ingest hook only hears
	// of messages that cannot have changed it.
	m := f.sendInventory(t, host, "debian", "telnetd")
	hashOnly := m
	hashOnly.Inventory = &wire.Inventory{Digest: m.Inventory.Digest}
	f.ev.Committed([]store.Message{
		{HostID: host, Seq: 9, Type: wire.TypeHeartbeat},
		hashOnly,
		m, // a duplicate, per its result
	}, []store.Result{{}, {}, {Duplicate: true}})
	time.Sleep(300 * time.Millisecond)
	if n := f.st.applies.Load(); n != before {
		t.Errorf("%d evaluations after heartbeats, hash-only inventories and duplicates", n-before)
	}
	if got := f.statuses(t, host); !slices.Equal(got, []string{"no-telnet pass", "os-debian pass"}) {
		t.Errorf("results changed: %q", got)
	}
}

func TestPoliciesChangedUsesTheNewSet(t *testing.T) {
	f := newFixture(t, 100)
	f.applyPolicies(t, policyFile)
	host := f.addHost(t, "h", "debian")
	f.run(t)
	f.waitStatuses(t, host, "no-telnet pass", "os-debian pass")

	f.applyPolicies(t, strings.Replace(policyFile, `== "debian"`, `== "rocky"`, 1))
	f.ev.PoliciesChanged()
	f.waitStatuses(t, host, "no-telnet pass", "os-debian fail")
	rs, _ := f.st.HostResults(t.Context(), host, time.Now())
	if rs[1].PolicyRevision != 2 {
		t.Errorf("os-debian result at revision %d, want 2", rs[1].PolicyRevision)
	}
}

func TestFailedRoundIsRetried(t *testing.T) {
	f := newFixture(t, 100)
	f.applyPolicies(t, policyFile)
	host := f.addHost(t, "h", "debian")
	f.st.fail.Store(true)
	f.run(t)
	time.Sleep(200 * time.Millisecond) // several failed rounds
	if got := f.statuses(t, host); len(got) != 0 {
		t.Fatalf("results stored while the store fails: %q", got)
	}
	f.st.fail.Store(false)
	f.waitStatuses(t, host, "no-telnet pass", "os-debian pass")
}

func TestLargeFleetInChunks(t *testing.T) {
	f := newFixture(t, 7)
	f.applyPolicies(t, policyFile)
	var ids []int64
	for i := range 30 {
		ids = append(ids, f.addHost(t, fmt.Sprintf("h%02d", i), "debian"))
	}
	f.run(t)
	for _, id := range ids {
		f.waitStatuses(t, id, "no-telnet pass", "os-debian pass")
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.evaluations != 60 {
		t.Errorf("%d evaluations, want 30 hosts x 2 expr-only policies", f.evaluations)
	}
	if n := f.st.applies.Load(); n != 5 {
		t.Errorf("%d ApplyResults calls, want 5 chunks of at most 7 hosts", n)
	}
}
