package postgres

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steward-project/steward/server/internal/pgtest"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/wire"
)

// TestConcurrentBatchesShareNewPackages runs batches that meet the same
// new packages in different orders at once, without the retry ApplyBatch
// adds, so a deadlock fails the test instead of being hidden. Writer w's
// hosts want package groups w, w+1, ... in that order; with catalog
// inserts sorted only per section, writer 0 would hold group 0 while
// waiting for group 1, held by writer 1, and so on around. Afterwards
// every catalog row's host_count must equal its links, and every link
// must point at a host and a catalog row: the integrity the dropped
// foreign keys used to check.
func TestConcurrentBatchesShareNewPackages(t *testing.T) {
	const (
		writers   = 4
		groupSize = 30
		rounds    = 12
	)
	ctx := t.Context()
	st := openTest(t, pgtest.NewDatabase(t))
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	hosts := make([][]int64, writers)
	for w := range hosts {
		for j := range writers {
			id, err := st.EnrollHost(ctx, store.NewHost{NodeKeyHash: fmt.Sprintf("key-%d-%d", w, j), Hostname: "h", EnrolledAt: time.Unix(0, 0)})
			if err != nil {
				t.Fatal(err)
			}
			hosts[w] = append(hosts[w], id)
		}
	}
	batch := func(round, w int) []store.Message {
		var msgs []store.Message
		for j, id := range hosts[w] {
			group := (w + j) % writers
			var pkgs []inventory.Package
			for i := range groupSize {
				pkgs = append(pkgs, inventory.Package{Name: fmt.Sprintf("pkg-%d-%d-%d", round, group, i), Version: "1", Source: "dpkg"})
			}
			raw, err := inventory.Canonical(inventory.Software{Packages: pkgs})
			if err != nil {
				t.Fatal(err)
			}
			sec := wire.Section{Name: inventory.SectionSoftware, Hash: inventory.Hash(raw), Data: raw}
			inv := wire.Inventory{Digest: inventory.Digest(map[string]string{sec.Name: sec.Hash}), Sections: []wire.Section{sec}}
			msgs = append(msgs, store.Message{HostID: id, Seq: uint64(round + 1), Type: wire.TypeInventory, Received: time.Unix(int64(round), 0), Inventory: &inv})
		}
		return msgs
	}
	for round := range rounds {
		start := make(chan struct{})
		var wg sync.WaitGroup
		for w := range writers {
			msgs := batch(round, w)
			wg.Go(func() {
				<-start
				results := make([]store.Result, len(msgs))
				err := pgx.BeginFunc(ctx, st.pool, func(tx pgx.Tx) error {
					return applyBatch(ctx, tx, st.log, msgs, results)
				})
				if err != nil {
					t.Errorf("round %d, writer %d: %v", round, w, err)
				}
			})
		}
		close(start)
		wg.Wait()
	}
	var wrongCounts, orphans, links int64
	err := st.pool.QueryRow(ctx, `SELECT
		(SELECT count(*) FROM software s
			WHERE host_count <> (SELECT count(*) FROM host_software l WHERE l.software_id = s.id)),
		(SELECT count(*) FROM host_software l
			WHERE NOT EXISTS (SELECT 1 FROM hosts h WHERE h.id = l.host_id)
			OR NOT EXISTS (SELECT 1 FROM software s WHERE s.id = l.software_id)),
		(SELECT count(*) FROM host_software)`).Scan(&wrongCounts, &orphans, &links)
	if err != nil {
		t.Fatal(err)
	}
	if wrongCounts != 0 || orphans != 0 || links != writers*writers*groupSize {
		t.Errorf("%d catalog rows with a wrong host_count, %d orphaned links, %d links (want 0, 0, %d)",
			wrongCounts, orphans, links, writers*writers*groupSize)
	}
}
