package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/retention"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/wire"
)

// interleaved is a store whose every prune batch, once done, waits for an
// ingest commit that was free to run beside it: if a batch kept ingest out
// until the whole run ended, the run would never finish.
type interleaved struct {
	store.Store
	committed <-chan struct{}
	batches   int
}

func (s *interleaved) PruneHistory(ctx context.Context, kind store.HistoryKind, before time.Time, limit int) (int64, error) {
	n, err := s.Store.PruneHistory(ctx, kind, before, limit)
	s.batches++
	select {
	case <-s.committed:
	case <-ctx.Done():
		return n, ctx.Err()
	}
	return n, err
}

func testPruneWhileIngesting(t *testing.T, st store.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	host := enroll(t, st, "h")
	const oldAudit = 300
	for i := range oldAudit {
		if err := st.AppendAudit(ctx, store.AuditEntry{At: rJan.Add(time.Duration(i) * time.Minute), Actor: "test", Action: "retention.test"}); err != nil {
			t.Fatalf("append audit: %v", err)
		}
	}
	pkgs := []wire.Section{softwareSection(t, pkgSSL11), softwareSection(t, pkgSSL13)}
	const oldInventories = 40
	for i := range oldInventories {
		sendSections(t, st, host, uint64(i+1), rJan.Add(time.Duration(i)*time.Hour), pkgs[i%2])
	}
	oldChanges := len(listChanges(t, st, store.ChangeQuery{HostID: host, Limit: 1000}))

	// Ingest commits inventories, each recording a change, for as long as
	// retention runs.
	committed, stop, ingested := make(chan struct{}), make(chan struct{}), make(chan error, 1)
	go func() {
		for seq := uint64(oldInventories + 1); ; seq++ {
			sw := pkgs[seq%2]
			now := time.Now()
			_, err := st.ApplyBatch(ctx, []store.Message{invMsg(host, seq, now,
				wire.Inventory{CollectedAt: now, Digest: digest(sw), Sections: []wire.Section{sw}})})
			if err != nil {
				cancel()
				ingested <- err
				return
			}
			select {
			case committed <- struct{}{}:
			case <-stop:
				ingested <- nil
				return
			}
		}
	}()
	w := &interleaved{Store: st, committed: committed}
	deleted, err := retention.Once(ctx, retention.Config{Store: w, BatchSize: 10, Pause: -1,
		Now:  func() time.Time { return rCutoff.Add(24 * time.Hour) },
		Keep: retention.Keep(24*time.Hour, 0, 0, 0, 24*time.Hour)})
	close(stop)
	if err := <-ingested; err != nil {
		t.Fatalf("ingest beside retention: %v", err)
	}
	if err != nil {
		t.Fatalf("retention beside ingest: %v", err)
	}
	if deleted[store.HistoryAudit] != oldAudit || deleted[store.HistoryChanges] != int64(oldChanges) {
		t.Errorf("deleted %v, want %d audit entries and %d changes", deleted, oldAudit, oldChanges)
	}
	if w.batches < oldAudit/10 {
		t.Errorf("%d batches, want at least %d", w.batches, oldAudit/10)
	}
	for _, c := range listChanges(t, st, store.ChangeQuery{HostID: host, Limit: 1000}) {
		if c.FirstSeen.Before(rCutoff) {
			t.Errorf("change %d of %v left", c.ID, c.FirstSeen)
		}
	}
}
