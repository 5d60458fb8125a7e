package ingest

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/steward-project/steward/server/internal/changes"
	"github.com/steward-project/steward/server/internal/metrics"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/server/internal/store/sqlite"
	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/wire"
)

// submitWait submits msg and waits for its commit.
func submitWait(t *testing.T, b *Batcher, msg store.Message) error {
	t.Helper()
	got := make(chan error, 1)
	if err := b.Submit(context.Background(), msg, func(_ store.Result, err error) { got <- err }); err != nil {
		t.Fatal(err)
	}
	return <-got
}

func softwareInventory(t *testing.T, pkgs ...inventory.Package) *wire.Inventory {
	t.Helper()
	data, err := inventory.Canonical(inventory.Software{Packages: pkgs})
	if err != nil {
		t.Fatal(err)
	}
	sec := wire.Section{Name: inventory.SectionSoftware, Hash: inventory.Hash(data), Data: data}
	return &wire.Inventory{CollectedAt: time.Now().UTC(), Digest: inventory.Digest(map[string]string{sec.Name: sec.Hash}),
		Sections: []wire.Section{sec}}
}

// TestInventoryChangesCounted: the changes a real store records are
// counted by kind once committed; every kind has a series from the start.
func TestInventoryChangesCounted(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "steward.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	host, err := st.EnrollHost(ctx, store.NewHost{NodeKeyHash: "aa", Hostname: "h", EnrolledAt: time.Now()})
	if err != nil {
		t.Fatal(err)
	}
	m := metrics.New("test")
	b := New(st, Config{Writers: 1, Metrics: m})
	defer b.Stop()
	if n := testutil.CollectAndCount(m.InventoryChanges); n != len(changes.Kinds) {
		t.Fatalf("%d steward_inventory_changes_total series before any change, want one per kind (%d)", n, len(changes.Kinds))
	}
	curl := inventory.Package{Name: "curl", Version: "7.88.1", Arch: "amd64", Source: "dpkg"}
	htop := inventory.Package{Name: "htop", Version: "3.2.2", Arch: "amd64", Source: "dpkg"}
	jq := inventory.Package{Name: "jq", Version: "1.6", Arch: "amd64", Source: "dpkg"}
	for seq, inv := range []*wire.Inventory{
		softwareInventory(t, curl),
		softwareInventory(t, curl, htop, jq),
	} {
		msg := store.Message{HostID: host, Seq: uint64(seq + 1), Type: wire.TypeInventory, Received: time.Now(), Inventory: inv}
		if err := submitWait(t, b, msg); err != nil {
			t.Fatal(err)
		}
	}
	// A heartbeat records no change.
	if err := submitWait(t, b, store.Message{HostID: host, Seq: 3, Type: wire.TypeHeartbeat, Received: time.Now()}); err != nil {
		t.Fatal(err)
	}
	for kind, want := range map[string]float64{changes.FirstInventory: 1, changes.SoftwareInstalled: 2, changes.SoftwareRemoved: 0} {
		if got := testutil.ToFloat64(m.InventoryChanges.WithLabelValues(kind)); got != want {
			t.Errorf("steward_inventory_changes_total{kind=%q} = %v, want %v", kind, got, want)
		}
	}
}

// failingSink says it recorded changes but fails the commit.
type failingSink struct{}

func (failingSink) ApplyBatch(_ context.Context, msgs []store.Message) ([]store.Result, error) {
	res := make([]store.Result, len(msgs))
	for i := range res {
		res[i].Changes = map[string]int{changes.SoftwareInstalled: 1}
	}
	return res, errors.New("commit failed")
}

// TestInventoryChangesNotCountedWithoutCommit: a batch that did not
// commit recorded nothing, whatever its results say.
func TestInventoryChangesNotCountedWithoutCommit(t *testing.T) {
	m := metrics.New("test")
	b := New(failingSink{}, Config{Writers: 1, Metrics: m})
	defer b.Stop()
	if err := submitWait(t, b, store.Message{HostID: 1, Seq: 1, Type: wire.TypeInventory}); err == nil {
		t.Fatal("the failed commit was reported as done")
	}
	if got := testutil.ToFloat64(m.InventoryChanges.WithLabelValues(changes.SoftwareInstalled)); got != 0 {
		t.Errorf("steward_inventory_changes_total{kind=\"software_installed\"} = %v after a failed commit, want 0", got)
	}
}
