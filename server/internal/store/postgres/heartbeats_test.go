package postgres

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/steward-project/steward/server/internal/pgtest"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/wire"
)

// TestHeartbeatBatchesMatchGeneralPath sends the same random batches of
// heartbeats (several per host, replays, sequence numbers out of order)
// through the one-statement path to one set of hosts and through the
// general transaction to a twin set, and expects the same results and
// the same last_seq and last_seen on every host after each batch.
func TestHeartbeatBatchesMatchGeneralPath(t *testing.T) {
	const hosts, rounds = 12, 60
	ctx := t.Context()
	st := openTest(t, pgtest.NewDatabase(t))
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	fast, general := make([]int64, hosts), make([]int64, hosts)
	for i := range hosts {
		for _, set := range []struct {
			ids  []int64
			name string
		}{{fast, "fast"}, {general, "general"}} {
			id, err := st.EnrollHost(ctx, store.NewHost{NodeKeyHash: fmt.Sprintf("%s-%d", set.name, i), Hostname: "h", EnrolledAt: time.Unix(0, 0)})
			if err != nil {
				t.Fatal(err)
			}
			set.ids[i] = id
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	next := make([]uint64, hosts) // highest sequence number sent per host
	for round := range rounds {
		var fastMsgs, generalMsgs []store.Message
		for range 1 + rng.IntN(3*hosts) {
			h := rng.IntN(hosts)
			seq := next[h] + 1
			switch rng.IntN(4) {
			case 0: // a replay of something already sent
				seq = uint64(rng.IntN(int(next[h]) + 1))
			case 1: // a jump, as after heartbeats the server never saw
				seq = next[h] + uint64(1+rng.IntN(5))
			}
			next[h] = max(next[h], seq)
			at := time.Unix(int64(1_000_000+round*100+len(fastMsgs)), 0).UTC()
			fastMsgs = append(fastMsgs, store.Message{HostID: fast[h], Seq: seq, Type: wire.TypeHeartbeat, Received: at})
			generalMsgs = append(generalMsgs, store.Message{HostID: general[h], Seq: seq, Type: wire.TypeHeartbeat, Received: at})
		}
		got, err := st.ApplyBatch(ctx, fastMsgs)
		if err != nil {
			t.Fatalf("round %d: one-statement path: %v", round, err)
		}
		want := make([]store.Result, len(generalMsgs))
		if err := pgx.BeginFunc(ctx, st.pool, func(tx pgx.Tx) error {
			return applyBatch(ctx, tx, st.log, generalMsgs, want)
		}); err != nil {
			t.Fatalf("round %d: general path: %v", round, err)
		}
		dups := 0
		for i := range want {
			if got[i].Duplicate != want[i].Duplicate || got[i].Resync != want[i].Resync {
				t.Fatalf("round %d, message %d (seq %d): result %+v, general path %+v", round, i, fastMsgs[i].Seq, got[i], want[i])
			}
			if got[i].Duplicate {
				dups++
			}
		}
		if dups == len(want) && round == 0 {
			t.Fatalf("round 0: every message a duplicate: the test sends nothing new")
		}
		for i := range hosts {
			f, g := hostProgress(t, st, fast[i]), hostProgress(t, st, general[i])
			if f != g {
				t.Fatalf("round %d, host %d: last_seq, last_seen %v; general path %v", round, i, f, g)
			}
		}
	}
	for i := range hosts {
		if p := hostProgress(t, st, fast[i]); p.seq == 0 {
			t.Errorf("host %d never moved: %v", i, p)
		}
	}
}

type progress struct {
	seq  int64
	seen time.Time
}

func hostProgress(t *testing.T, st *Store, id int64) progress {
	t.Helper()
	var p progress
	var seen *time.Time
	if err := st.pool.QueryRow(t.Context(), `SELECT last_seq, last_seen FROM hosts WHERE id = $1`, id).Scan(&p.seq, &seen); err != nil {
		t.Fatal(err)
	}
	p.seen = utc(seen)
	return p
}

// TestHeartbeatBatchUnknownHost: a batch naming a host that does not
// exist fails as a whole, as the general path does, and moves no host.
func TestHeartbeatBatchUnknownHost(t *testing.T) {
	ctx := t.Context()
	st := openTest(t, pgtest.NewDatabase(t))
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	id, err := st.EnrollHost(ctx, store.NewHost{NodeKeyHash: "k", Hostname: "h", EnrolledAt: time.Unix(0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Unix(5000, 0).UTC()
	_, err = st.ApplyBatch(ctx, []store.Message{
		{HostID: id, Seq: 7, Type: wire.TypeHeartbeat, Received: at},
		{HostID: id + 1000, Seq: 1, Type: wire.TypeHeartbeat, Received: at},
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("batch with an unknown host: err %v, want ErrNotFound", err)
	}
	if p := hostProgress(t, st, id); p.seq != 0 || !p.seen.IsZero() {
		t.Fatalf("known host moved by a failed batch: %v", p)
	}
	res, err := st.ApplyBatch(ctx, []store.Message{{HostID: id, Seq: 7, Type: wire.TypeHeartbeat, Received: at}})
	if err != nil || res[0].Duplicate {
		t.Fatalf("the known host's heartbeat alone: %+v, %v", res, err)
	}
	if p := hostProgress(t, st, id); p.seq != 7 || !p.seen.Equal(at) {
		t.Fatalf("after its heartbeat: %v, want 7 at %v", p, at)
	}
}

// BenchmarkHeartbeatBatch compares a batch of heartbeats alone in one
// statement (what ApplyBatch does) with the same batch in the general
// transaction (begin, lock, update, commit), at the size of a quiet
// server's batches and of a busy one's.
func BenchmarkHeartbeatBatch(b *testing.B) {
	for _, size := range []int{8, 256} {
		for _, path := range []string{"one statement", "transaction"} {
			b.Run(fmt.Sprintf("%s/%d", path, size), func(b *testing.B) {
				ctx := b.Context()
				st, err := Open(ctx, pgtest.NewDatabase(b), nil)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { st.Close() })
				if err := st.Migrate(ctx); err != nil {
					b.Fatal(err)
				}
				ids := make([]int64, size)
				for i := range ids {
					if ids[i], err = st.EnrollHost(ctx, store.NewHost{NodeKeyHash: fmt.Sprintf("k%d", i), Hostname: "h", EnrolledAt: time.Unix(0, 0)}); err != nil {
						b.Fatal(err)
					}
				}
				msgs, results := make([]store.Message, size), make([]store.Result, size)
				seq := uint64(0)
				for b.Loop() {
					seq++
					for i, id := range ids {
						msgs[i] = store.Message{HostID: id, Seq: seq, Type: wire.TypeHeartbeat, Received: time.Now()}
					}
					if path == "one statement" {
						err = st.applyHeartbeats(ctx, msgs, results)
					} else {
						err = pgx.BeginFunc(ctx, st.pool, func(tx pgx.Tx) error {
							return applyBatch(ctx, tx, st.log, msgs, results)
						})
					}
					if err != nil {
						b.Fatal(err)
					}
					if results[0].Duplicate {
						b.Fatal("a new heartbeat was taken for a duplicate")
					}
				}
				b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "msgs/s")
			})
		}
	}
}
