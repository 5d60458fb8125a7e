package storetest

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/wire"
)

var ingestTests = []subtest{
	{"heartbeat", testHeartbeat},
	{"duplicates", testDuplicates},
	{"inventory round trip", testInventoryRoundTrip},
	{"collection state of many inventories in one batch", testCollectStatesInOneBatch},
	{"inventory delta", testInventoryDelta},
	{"resync", testResync},
	{"unchanged resend", testUnchangedResend},
	{"batch order", testBatchOrder},
	{"batch atomic", testBatchAtomic},
	{"bad messages", testBadMessages},
	{"empty inventory", testEmptyInventory},
}

// Sections used across ingest tests. cpu is deliberately not canonical
// (spaces, key order) so that byte-exact storage is checked.
func osSection(t *testing.T) wire.Section {
	return section(t, inventory.SectionOS, inventory.OS{Name: "Debian GNU/Linux", Platform: "debian", Version: "12", Arch: "amd64"})
}

func hostSection(t *testing.T) wire.Section {
	return section(t, inventory.SectionHost, inventory.Host{Hostname: "from-section", Serial: "S1"})
}

var (
	cpuSection  = rawSection(inventory.SectionCPU, `{"model": "Xeon <E5>",  "cores": 4, "a": 1.50}`)
	cpuSection2 = rawSection(inventory.SectionCPU, `{"cores":8,"model":"Xeon"}`)
)

func testHeartbeat(t *testing.T, st store.Store) {
	id := enroll(t, st, "h")
	apply(t, st, []store.Message{heartbeat(id, 1, at(time.Minute))}, []store.Result{{}})
	h := getHost(t, st, id)
	if h.LastSeq != 1 {
		t.Errorf("last_seq = %d, want 1", h.LastSeq)
	}
	sameTime(t, "last_seen", h.LastSeen, at(time.Minute))
	// Sequence numbers may jump (an agent that lost messages it never sent).
	apply(t, st, []store.Message{heartbeat(id, 9, at(2*time.Minute))}, []store.Result{{}})
	if h := getHost(t, st, id); h.LastSeq != 9 {
		t.Errorf("last_seq = %d, want 9", h.LastSeq)
	}
	if doc := getInventory(t, st, id); len(doc.Sections) != 0 {
		t.Errorf("heartbeat stored sections: %v", doc.Sections)
	}
}

func testDuplicates(t *testing.T, st store.Store) {
	id := enroll(t, st, "h")
	apply(t, st, []store.Message{heartbeat(id, 3, at(time.Minute))}, []store.Result{{}})
	inv := wire.Inventory{CollectedAt: t0, Digest: digest(cpuSection), Sections: []wire.Section{cpuSection}}
	apply(t, st, []store.Message{
		heartbeat(id, 3, at(2*time.Minute)),
		heartbeat(id, 2, at(2*time.Minute)),
		invMsg(id, 1, at(2*time.Minute), inv),
		invMsg(id, 3, at(2*time.Minute), inv),
	}, []store.Result{{Duplicate: true}, {Duplicate: true}, {Duplicate: true}, {Duplicate: true}})
	h := getHost(t, st, id)
	if h.LastSeq != 3 {
		t.Errorf("last_seq = %d, want 3", h.LastSeq)
	}
	sameTime(t, "last_seen after duplicates", h.LastSeen, at(time.Minute))
	if doc := getInventory(t, st, id); len(doc.Sections) != 0 {
		t.Errorf("duplicate inventory was stored: %v", doc.Sections)
	}
	// Within one batch, a repeat of a number just applied is a duplicate.
	apply(t, st, []store.Message{
		invMsg(id, 4, at(3*time.Minute), inv),
		heartbeat(id, 4, at(4*time.Minute)),
	}, []store.Result{{}, {Duplicate: true}})
	sameTime(t, "last_seen", getHost(t, st, id).LastSeen, at(3*time.Minute))
}

// testCollectStatesInOneBatch: each host's collection time and errors
// are those of its last inventory in the batch, and hosts do not take
// each other's.
func testCollectStatesInOneBatch(t *testing.T, st store.Store) {
	a, b, c := enroll(t, st, "collect-a"), enroll(t, st, "collect-b"), enroll(t, st, "collect-c")
	inv := func(collected time.Time, errs map[string]string) wire.Inventory {
		return wire.Inventory{CollectedAt: collected, Digest: digest(cpuSection), Sections: []wire.Section{cpuSection}, Errors: errs}
	}
	apply(t, st, []store.Message{
		invMsg(a, 1, at(time.Minute), inv(at(time.Minute), map[string]string{"ports": "unsupported"})),
		invMsg(b, 1, at(time.Minute), inv(at(2*time.Minute), map[string]string{"users": "timed out"})),
		invMsg(a, 2, at(3*time.Minute), inv(at(3*time.Minute), nil)),
		invMsg(c, 1, at(time.Minute), inv(at(4*time.Minute), nil)),
	}, []store.Result{{}, {}, {}, {}})
	for _, w := range []struct {
		id        int64
		collected time.Time
		errs      map[string]string
	}{
		{a, at(3 * time.Minute), nil},
		{b, at(2 * time.Minute), map[string]string{"users": "timed out"}},
		{c, at(4 * time.Minute), nil},
	} {
		doc := getInventory(t, st, w.id)
		sameTime(t, fmt.Sprintf("host %d collected_at", w.id), doc.CollectedAt, w.collected)
		if !maps.Equal(doc.Errors, w.errs) {
			t.Errorf("host %d errors = %v, want %v", w.id, doc.Errors, w.errs)
		}
	}
}

func testInventoryRoundTrip(t *testing.T, st store.Store) {
	id := enroll(t, st, "hello-name")
	secs := []wire.Section{cpuSection, osSection(t), hostSection(t)}
	apply(t, st, []store.Message{invMsg(id, 1, at(time.Minute), wire.Inventory{
		CollectedAt: at(-time.Second),
		Digest:      digest(secs...),
		Sections:    secs,
		Errors:      map[string]string{"ports": "unsupported", "users": "timed out"},
	})}, []store.Result{{}})

	doc := getInventory(t, st, id)
	if doc.HostID != id {
		t.Errorf("host_id = %d, want %d", doc.HostID, id)
	}
	sameTime(t, "collected_at", doc.CollectedAt, at(-time.Second))
	if len(doc.Sections) != len(secs) || len(doc.Hashes) != len(secs) {
		t.Errorf("got %d sections, %d hashes; want %d", len(doc.Sections), len(doc.Hashes), len(secs))
	}
	for _, s := range secs {
		if string(doc.Sections[s.Name]) != string(s.Data) {
			t.Errorf("section %s = %s, want byte-exact %s", s.Name, doc.Sections[s.Name], s.Data)
		}
		if doc.Hashes[s.Name] != s.Hash {
			t.Errorf("hash %s = %s, want %s", s.Name, doc.Hashes[s.Name], s.Hash)
		}
	}
	if want := map[string]string{"ports": "unsupported", "users": "timed out"}; !maps.Equal(doc.Errors, want) {
		t.Errorf("errors = %v, want %v", doc.Errors, want)
	}
	h := getHost(t, st, id)
	if h.Platform != "debian" || h.OSVersion != "12" || h.Hostname != "from-section" {
		t.Errorf("host after os and host sections = %+v", h)
	}
	if h.LastSeq != 1 {
		t.Errorf("last_seq = %d, want 1", h.LastSeq)
	}
	// The document must encode as JSON, sections inline.
	if _, err := json.Marshal(doc); err != nil {
		t.Errorf("encode inventory: %v", err)
	}
}

func testInventoryDelta(t *testing.T, st store.Store) {
	id := enroll(t, st, "h")
	osSec, hostSec := osSection(t), hostSection(t)
	apply(t, st, []store.Message{invMsg(id, 1, at(time.Minute), wire.Inventory{
		CollectedAt: t0, Digest: digest(cpuSection, osSec, hostSec),
		Sections: []wire.Section{cpuSection, osSec, hostSec},
		Errors:   map[string]string{"ports": "unsupported"},
	})}, []store.Result{{}})

	// Unchanged: hashes only travel in the digest; errors are replaced.
	apply(t, st, []store.Message{invMsg(id, 2, at(2*time.Minute), wire.Inventory{
		CollectedAt: at(time.Hour), Digest: digest(cpuSection, osSec, hostSec),
	})}, []store.Result{{}})
	doc := getInventory(t, st, id)
	sameTime(t, "collected_at", doc.CollectedAt, at(time.Hour))
	if len(doc.Errors) != 0 {
		t.Errorf("errors after a message without errors = %v, want none", doc.Errors)
	}
	if len(doc.Sections) != 3 {
		t.Errorf("sections = %d, want 3", len(doc.Sections))
	}

	// One section changed, one removed.
	apply(t, st, []store.Message{invMsg(id, 3, at(3*time.Minute), wire.Inventory{
		CollectedAt: at(2 * time.Hour), Digest: digest(cpuSection2, hostSec),
		Sections: []wire.Section{cpuSection2}, Removed: []string{inventory.SectionOS},
	})}, []store.Result{{}})
	doc = getInventory(t, st, id)
	want := map[string]string{inventory.SectionCPU: cpuSection2.Hash, inventory.SectionHost: hostSec.Hash}
	if !maps.Equal(doc.Hashes, want) {
		t.Errorf("hashes = %v, want %v", doc.Hashes, want)
	}
	if string(doc.Sections[inventory.SectionCPU]) != string(cpuSection2.Data) {
		t.Errorf("cpu = %s, want %s", doc.Sections[inventory.SectionCPU], cpuSection2.Data)
	}
	if _, ok := doc.Sections[inventory.SectionOS]; ok {
		t.Error("removed os section is still stored")
	}
}

func testResync(t *testing.T, st store.Store) {
	id := enroll(t, st, "h")
	// A hash-only inventory for sections the server never got.
	apply(t, st, []store.Message{invMsg(id, 1, at(time.Minute), wire.Inventory{
		CollectedAt: t0, Digest: digest(cpuSection),
	})}, []store.Result{{Resync: true}})
	if h := getHost(t, st, id); h.LastSeq != 1 {
		t.Errorf("a resync message is still applied: last_seq = %d, want 1", h.LastSeq)
	}
	// The full resend matches.
	apply(t, st, []store.Message{invMsg(id, 2, at(time.Minute), wire.Inventory{
		CollectedAt: t0, Digest: digest(cpuSection), Sections: []wire.Section{cpuSection},
	})}, []store.Result{{}})
	// A digest naming a section the server does not hold: the sent
	// section is stored anyway, and a resync asked for.
	osSec := osSection(t)
	apply(t, st, []store.Message{invMsg(id, 3, at(time.Minute), wire.Inventory{
		CollectedAt: t0, Digest: digest(cpuSection, osSec, hostSection(t)), Sections: []wire.Section{osSec},
	})}, []store.Result{{Resync: true}})
	if doc := getInventory(t, st, id); doc.Hashes[inventory.SectionOS] != osSec.Hash {
		t.Errorf("os section not stored on resync: %v", doc.Hashes)
	}
}

func testUnchangedResend(t *testing.T, st store.Store) {
	id := enroll(t, st, "h")
	secs := []wire.Section{cpuSection, osSection(t), softwareSection(t, pkgA1, pkgB)}
	inv := wire.Inventory{CollectedAt: t0, Digest: digest(secs...), Sections: secs}
	apply(t, st, []store.Message{invMsg(id, 1, at(time.Minute), inv)}, []store.Result{{}})
	apply(t, st, []store.Message{invMsg(id, 2, at(time.Hour), inv)}, []store.Result{{}})
	doc := getInventory(t, st, id)
	if len(doc.Sections) != 3 {
		t.Errorf("sections = %d, want 3", len(doc.Sections))
	}
	checkCounts(t, st, map[string]int64{"openssl": 1, "curl": 1})
}

func testBatchOrder(t *testing.T, st store.Store) {
	id := enroll(t, st, "h")
	osSec := osSection(t)
	apply(t, st, []store.Message{
		invMsg(id, 1, at(time.Minute), wire.Inventory{CollectedAt: t0, Digest: digest(cpuSection, osSec),
			Sections: []wire.Section{cpuSection, osSec}}),
		heartbeat(id, 2, at(2*time.Minute)),
		invMsg(id, 3, at(3*time.Minute), wire.Inventory{CollectedAt: at(time.Hour), Digest: digest(osSec),
			Removed: []string{inventory.SectionCPU}}),
		invMsg(id, 3, at(4*time.Minute), wire.Inventory{CollectedAt: t0, Digest: digest(cpuSection, osSec),
			Sections: []wire.Section{cpuSection}}),
	}, []store.Result{{}, {}, {}, {Duplicate: true}})
	doc := getInventory(t, st, id)
	if want := map[string]string{inventory.SectionOS: osSec.Hash}; !maps.Equal(doc.Hashes, want) {
		t.Errorf("hashes = %v, want %v", doc.Hashes, want)
	}
	h := getHost(t, st, id)
	if h.LastSeq != 3 {
		t.Errorf("last_seq = %d, want 3", h.LastSeq)
	}
	sameTime(t, "last_seen", h.LastSeen, at(3*time.Minute))
}

func testBatchAtomic(t *testing.T, st store.Store) {
	id := enroll(t, st, "h")
	apply(t, st, []store.Message{heartbeat(id, 1, at(time.Minute))}, []store.Result{{}})
	sw := softwareSection(t, pkgA1)
	_, err := st.ApplyBatch(t.Context(), []store.Message{
		heartbeat(id, 2, at(2*time.Minute)),
		invMsg(id, 3, at(2*time.Minute), wire.Inventory{CollectedAt: t0, Digest: digest(cpuSection, sw),
			Sections: []wire.Section{cpuSection, sw}}),
		heartbeat(id+1000, 1, at(2*time.Minute)),
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("batch naming an unknown host: err = %v, want ErrNotFound", err)
	}
	h := getHost(t, st, id)
	if h.LastSeq != 1 {
		t.Errorf("last_seq = %d after a failed batch, want 1", h.LastSeq)
	}
	sameTime(t, "last_seen after a failed batch", h.LastSeen, at(time.Minute))
	if doc := getInventory(t, st, id); len(doc.Sections) != 0 {
		t.Errorf("failed batch stored sections: %v", doc.Hashes)
	}
	if hits := search(t, st, store.SoftwareQuery{Name: pkgA1.Name}); len(hits) != 0 {
		t.Errorf("failed batch linked software: %+v", hits)
	}
	// The same messages without the bad one go through afterwards.
	apply(t, st, []store.Message{heartbeat(id, 2, at(2*time.Minute))}, []store.Result{{}})
}

func testBadMessages(t *testing.T, st store.Store) {
	id := enroll(t, st, "h")
	res, err := st.ApplyBatch(t.Context(), nil)
	if err != nil || len(res) != 0 {
		t.Errorf("empty batch = %v, %v; want no results, no error", res, err)
	}
	// Hash-consistent but not UTF-8: the store can neither keep the bytes
	// (PostgreSQL text) nor repair them (the hash), so it refuses.
	latin1 := rawSection(inventory.SectionCPU, "{\"model\":\"caf\xe9\"}")
	for name, m := range map[string]store.Message{
		"unknown type":          {HostID: id, Seq: 1, Type: "policy", Received: t0},
		"inventory without doc": {HostID: id, Seq: 1, Type: wire.TypeInventory, Received: t0},
		"sequence out of range": heartbeat(id, 1<<63, t0),
		"invalid utf-8 section": invMsg(id, 1, t0, wire.Inventory{CollectedAt: t0, Digest: digest(latin1),
			Sections: []wire.Section{latin1}}),
	} {
		if _, err := st.ApplyBatch(t.Context(), []store.Message{m}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if h := getHost(t, st, id); h.LastSeq != 0 {
		t.Errorf("last_seq = %d after rejected messages, want 0", h.LastSeq)
	}
}

func testEmptyInventory(t *testing.T, st store.Store) {
	id := enroll(t, st, "h")
	doc := getInventory(t, st, id)
	if doc.HostID != id || doc.Sections == nil || doc.Hashes == nil || len(doc.Sections)+len(doc.Hashes)+len(doc.Errors) != 0 {
		t.Errorf("inventory of a new host = %+v, want empty maps", doc)
	}
	sameTime(t, "collected_at", doc.CollectedAt, time.Time{})
}
