package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/wire"
)

// Counter reads a catalog row's host_count, which store.Software does not
// expose yet.
type Counter interface {
	SoftwareHostCount(ctx context.Context, softwareID int64) (int64, error)
}

// Run runs the contract. open must return a fresh, empty store and close
// it through t.Cleanup; the suite migrates it (twice, to pin that Migrate
// is idempotent). Subtests run in parallel.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	fresh := func(t *testing.T) store.Store {
		t.Helper()
		st := open(t)
		for range 2 {
			if err := st.Migrate(t.Context()); err != nil {
				t.Fatalf("migrate: %v", err)
			}
		}
		if err := st.Ping(t.Context()); err != nil {
			t.Fatalf("ping: %v", err)
		}
		return st
	}
	groups := []struct {
		name  string
		tests []subtest
	}{
		{"hosts", hostTests},
		{"ingest", ingestTests},
		{"software", softwareTests},
		{"changes", changeTests},
		{"auth", authTests},
		{"credentials", credentialTests},
		{"policies", policyTests},
		{"signing", signingTests},
		{"tailorings", tailoringTests},
		{"results", resultTests},
		{"exemptions", exemptionTests},
		{"alerts", alertTests},
		{"outbox", outboxTests},
		{"fleet", fleetTests},
		{"retention", retentionTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.run(t, fresh(t))
				})
			}
		})
	}
}

type subtest struct {
	name string
	run  func(t *testing.T, st store.Store)
}

// t0 has microsecond precision, the finest PostgreSQL keeps, so every
// backend must return it unchanged.
var t0 = time.Date(2025, 3, 4, 5, 6, 7, 891011000, time.UTC)

func at(d time.Duration) time.Time { return t0.Add(d) }

// keySeq makes node key hashes unique within the test binary.
var keySeq atomic.Int64

// enroll adds a host named hostname and returns its id.
func enroll(t *testing.T, st store.Store, hostname string) int64 {
	t.Helper()
	id, err := st.EnrollHost(t.Context(), store.NewHost{
		NodeKeyHash: fmt.Sprintf("%064x", keySeq.Add(1)),
		Hostname:    hostname,
		EnrolledAt:  t0,
	})
	if err != nil {
		t.Fatalf("enroll %q: %v", hostname, err)
	}
	return id
}

// section builds a wire section whose data is v's canonical JSON.
func section(t *testing.T, name string, v any) wire.Section {
	t.Helper()
	raw, err := inventory.Canonical(v)
	if err != nil {
		t.Fatalf("canonical %s: %v", name, err)
	}
	return rawSection(name, string(raw))
}

// rawSection builds a section from data exactly as given.
func rawSection(name, data string) wire.Section {
	return wire.Section{Name: name, Hash: inventory.Hash([]byte(data)), Data: json.RawMessage(data)}
}

// digest folds the hashes of every section the host should hold.
func digest(secs ...wire.Section) string {
	h := map[string]string{}
	for _, s := range secs {
		h[s.Name] = s.Hash
	}
	return inventory.Digest(h)
}

func heartbeat(host int64, seq uint64, received time.Time) store.Message {
	return store.Message{HostID: host, Seq: seq, Type: wire.TypeHeartbeat, Received: received}
}

func invMsg(host int64, seq uint64, received time.Time, inv wire.Inventory) store.Message {
	return store.Message{HostID: host, Seq: seq, Type: wire.TypeInventory, Received: received, Inventory: &inv}
}

// apply commits msgs and checks the results' Duplicate and Resync; the
// change counts are checked by testChangesCounted.
func apply(t *testing.T, st store.Store, msgs []store.Message, want []store.Result) {
	t.Helper()
	got, err := st.ApplyBatch(t.Context(), msgs)
	if err != nil {
		t.Fatalf("apply batch: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("apply batch: %d results, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i].Duplicate != want[i].Duplicate || got[i].Resync != want[i].Resync {
			t.Errorf("apply batch: result %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func getHost(t *testing.T, st store.Store, id int64) store.Host {
	t.Helper()
	h, err := st.GetHost(t.Context(), id)
	if err != nil {
		t.Fatalf("get host %d: %v", id, err)
	}
	return h
}

func getInventory(t *testing.T, st store.Store, id int64) store.InventoryDoc {
	t.Helper()
	doc, err := st.Inventory(t.Context(), id)
	if err != nil {
		t.Fatalf("inventory %d: %v", id, err)
	}
	return doc
}

// sameTime compares instants and insists on UTC, so JSON output does not
// depend on the backend or the machine's zone.
func sameTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if !got.Equal(want) {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
	if !got.IsZero() && got.Location() != time.UTC {
		t.Errorf("%s location = %v, want UTC", what, got.Location())
	}
}

// byNodeKey reads the host of one node key, failing the test when the
// key has none.
func byNodeKey(t *testing.T, st store.Store, key string) store.Host {
	t.Helper()
	hs, err := st.HostsByNodeKeys(t.Context(), []string{key})
	h, ok := hs[key]
	if err != nil || !ok {
		t.Fatalf("host of node key %q: %v, found %v", key, err, ok)
	}
	return h
}
