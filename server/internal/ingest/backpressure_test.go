package ingest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/steward-project/steward/server/internal/store"
)

// outcome collects what Done reported for each message, by sequence
// number.
type outcome struct {
	mu   sync.Mutex
	errs map[uint64]error
	all  chan struct{} // closed when want outcomes arrived
	want int
}

func newOutcome(want int) *outcome {
	return &outcome{errs: make(map[uint64]error), all: make(chan struct{}), want: want}
}

func (o *outcome) done(seq uint64) Done {
	return func(_ store.Result, err error) {
		o.mu.Lock()
		defer o.mu.Unlock()
		if _, dup := o.errs[seq]; dup {
			panic(fmt.Sprintf("done called twice for seq %d", seq))
		}
		o.errs[seq] = err
		if len(o.errs) == o.want {
			close(o.all)
		}
	}
}

func (o *outcome) wait(t *testing.T) map[uint64]error {
	t.Helper()
	<-o.all
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.errs
}

// netDownSink fails every batch as a dropped connection does, counting
// the attempts, after waiting on gate when set.
type netDownSink struct {
	mu       sync.Mutex
	attempts int
	down     bool
	entered  chan struct{}
	gate     chan struct{}
}

func (s *netDownSink) ApplyBatch(ctx context.Context, msgs []store.Message) ([]store.Result, error) {
	if s.entered != nil {
		s.entered <- struct{}{}
	}
	if s.gate != nil {
		select {
		case <-s.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.attempts++
	if s.down {
		return nil, fmt.Errorf("apply batch: %w", &net.OpError{Op: "read", Net: "tcp", Err: errors.New("connection reset by peer")})
	}
	return make([]store.Result, len(msgs)), nil
}

func (s *netDownSink) setDown(v bool) {
	s.mu.Lock()
	s.down = v
	s.mu.Unlock()
}

func (s *netDownSink) attemptsSoFar() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.attempts
}

func TestUnavailableClassifiesErrors(t *testing.T) {
	cases := []struct {
		name string
		err  error
		want bool
	}{
		{"deadline", fmt.Errorf("apply batch: %w", context.DeadlineExceeded), true},
		{"net", &net.OpError{Op: "dial", Err: errors.New("refused")}, true},
		{"admin shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"disk full", &pgconn.PgError{Code: "53100"}, true},
		{"bad encoding", &pgconn.PgError{Code: "22021"}, false},
		{"unique violation", fmt.Errorf("insert: %w", &pgconn.PgError{Code: "23505"}), false},
		{"plain", errors.New("store returned 1 results for 2 messages"), false},
		{"nil", nil, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := Unavailable(c.err); got != c.want {
				t.Errorf("Unavailable(%v) = %v, want %v", c.err, got, c.want)
			}
		})
	}
}

// TestDatabaseDownFailsBatchAtOnce: a batch that fails for the database
// is not retried message by message; every message gets ErrUnavailable
// from one attempt, the batcher refuses data until the probe answers,
// and takes it again afterwards.
func TestDatabaseDownFailsBatchAtOnce(t *testing.T) {
	const n = 50
	sink := &netDownSink{down: true, gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	probed := make(chan error)
	var probeOK sync.Mutex
	probeErr := errors.New("connection refused")
	b := New(sink, Config{Writers: 1, ProbeInterval: time.Millisecond, Probe: func(ctx context.Context) error {
		probeOK.Lock()
		err := probeErr
		probeOK.Unlock()
		select {
		case probed <- err:
		case <-ctx.Done():
		}
		return err
	}})
	defer b.Stop()
	out := newOutcome(n)
	for seq := uint64(1); seq <= n; seq++ {
		if err := b.Submit(context.Background(), store.Message{HostID: 1, Seq: seq}, out.done(seq)); err != nil {
			t.Fatal(err)
		}
		if seq == 1 {
			<-sink.entered // the first batch holds seq 1 alone
		}
	}
	close(sink.gate)
	sink.entered = nil
	for seq, err := range out.wait(t) {
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("seq %d: %v, want ErrUnavailable", seq, err)
		}
	}
	// The first batch failed; the second (seq 2..n) failed without a try.
	if got := sink.attemptsSoFar(); got != 1 {
		t.Errorf("%d commit attempts, want 1", got)
	}
	if b.Unavailable() == nil {
		t.Fatal("batcher still ready after the database went away")
	}
	<-probed // a probe failed: still unavailable
	if err := b.Submit(context.Background(), store.Message{HostID: 1, Seq: n + 1}, func(store.Result, error) {}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Submit while unavailable: %v, want ErrUnavailable", err)
	}
	sink.setDown(false)
	probeOK.Lock()
	probeErr = nil
	probeOK.Unlock()
	for err := range probed {
		if err == nil {
			break
		}
	}
	// The probe's success is recorded right after it returns.
	waitUntil(t, func() bool { return b.Unavailable() == nil })
	again := newOutcome(1)
	if err := b.Submit(context.Background(), store.Message{HostID: 1, Seq: 1}, again.done(1)); err != nil {
		t.Fatal(err)
	}
	if err := again.wait(t)[1]; err != nil {
		t.Errorf("after recovery: %v", err)
	}
}

// waitUntil polls cond; it is for state that follows an event the test
// already waited on by a few instructions. The bound only turns a hang
// into a failure: it is far above any scheduling delay of a loaded
// machine, so it never judges speed.
func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition never held")
		}
		time.Sleep(50 * time.Microsecond)
	}
}

// TestDataErrorStillSplits: a refused message is still isolated by
// retrying its batch one message at a time, and the batcher stays ready.
func TestDataErrorStillSplits(t *testing.T) {
	sink := &recordingSink{poison: 2, gate: make(chan struct{}), entered: make(chan struct{}, 8)}
	b := New(sink, Config{Writers: 1})
	defer b.Stop()
	out := newOutcome(4)
	for i, host := range []int64{1, 1, 2, 3} {
		seq := uint64(i + 1)
		if err := b.Submit(context.Background(), store.Message{HostID: host, Seq: seq}, out.done(seq)); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			<-sink.entered
		}
	}
	close(sink.gate)
	go func() {
		for range sink.entered {
		}
	}()
	errs := out.wait(t)
	if errs[1] != nil || errs[2] != nil || errs[4] != nil || errs[3] == nil {
		t.Errorf("outcomes %v, want only seq 3 (host 2) failed", errs)
	}
	if errors.Is(errs[3], ErrUnavailable) || b.Unavailable() != nil {
		t.Errorf("a data error took the database for unavailable: %v", errs[3])
	}
}

// TestSubmitWaitsForByteBudget: once the queued bytes reach the budget,
// Submit waits until a commit gives bytes back, or until its context
// ends.
func TestSubmitWaitsForByteBudget(t *testing.T) {
	sink := &recordingSink{gate: make(chan struct{}), entered: make(chan struct{}, 8)}
	b := New(sink, Config{Writers: 1, MaxQueuedBytes: 3 << 20})
	defer b.Stop()
	big := func(seq uint64) store.Message { return store.Message{HostID: 1, Seq: seq, Bytes: 1 << 20} }
	out := newOutcome(4)
	for seq := uint64(1); seq <= 3; seq++ {
		if err := b.Submit(context.Background(), big(seq), out.done(seq)); err != nil {
			t.Fatal(err)
		}
	}
	if got := b.QueuedBytes(); got != 3<<20 {
		t.Errorf("QueuedBytes = %d, want %d", got, 3<<20)
	}
	ctx, cancel := context.WithCancel(context.Background())
	refused := make(chan error)
	go func() {
		refused <- b.Submit(ctx, big(99), func(store.Result, error) { t.Error("refused message done") })
	}()
	cancel()
	if err := <-refused; !errors.Is(err, context.Canceled) {
		t.Fatalf("Submit past the budget: %v, want context.Canceled", err)
	}
	admitted := make(chan error)
	go func() { admitted <- b.Submit(context.Background(), big(4), out.done(4)) }()
	<-sink.entered
	close(sink.gate) // commits free the budget
	if err := <-admitted; err != nil {
		t.Fatal(err)
	}
	go func() {
		for range sink.entered {
		}
	}()
	for seq, err := range out.wait(t) {
		if err != nil {
			t.Errorf("seq %d: %v", seq, err)
		}
	}
	waitUntil(t, func() bool { return b.QueuedBytes() == 0 })
}

// TestBatchBoundedByBytes: large messages are committed a few per
// transaction, not MaxBatch, and a message larger than the bound alone.
func TestBatchBoundedByBytes(t *testing.T) {
	sink := &recordingSink{gate: make(chan struct{}), entered: make(chan struct{}, 64)}
	b := New(sink, Config{Writers: 1, MaxBatch: 512, MaxBatchBytes: 4 << 20})
	out := newOutcome(12)
	sizes := []int{1, 1 << 20, 1 << 20, 1 << 20, 1 << 20, 1 << 20, 9 << 20, 1 << 20, 100, 100, 100, 100}
	for i, size := range sizes {
		seq := uint64(i + 1)
		if err := b.Submit(context.Background(), store.Message{HostID: 1, Seq: seq, Bytes: size}, out.done(seq)); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			<-sink.entered
		}
	}
	close(sink.gate)
	go func() {
		for range sink.entered {
		}
	}()
	out.wait(t)
	b.Stop()
	var got [][]uint64
	for _, batch := range sink.batches {
		var seqs []uint64
		for _, m := range batch {
			seqs = append(seqs, m.Seq)
		}
		got = append(got, seqs)
	}
	want := [][]uint64{{1}, {2, 3, 4, 5}, {6}, {7}, {8, 9, 10, 11, 12}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("batches %v, want %v", got, want)
	}
}

// TestShutdownBoundedWithHungDatabase: with a commit that never returns
// and a full queue, Shutdown returns when its context ends, and every
// message fails with ErrStopped: none is acknowledged.
func TestShutdownBoundedWithHungDatabase(t *testing.T) {
	const n = 200
	sink := &netDownSink{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	b := New(sink, Config{Writers: 1, QueueLen: n})
	out := newOutcome(n)
	for seq := uint64(1); seq <= n; seq++ {
		if err := b.Submit(context.Background(), store.Message{HostID: 1, Seq: seq}, out.done(seq)); err != nil {
			t.Fatal(err)
		}
		if seq == 1 {
			<-sink.entered
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	ended := make(chan error)
	go func() { ended <- b.Shutdown(ctx) }()
	// A late submitter is refused, not queued.
	waitUntil(t, func() bool {
		return errors.Is(b.Submit(context.Background(), store.Message{HostID: 1, Seq: n + 1}, func(store.Result, error) {}), ErrStopped)
	})
	cancel() // the deadline passes with the database still hung
	if err := <-ended; !errors.Is(err, context.Canceled) {
		t.Errorf("Shutdown = %v, want its context's error", err)
	}
	for seq, err := range out.wait(t) {
		if !errors.Is(err, ErrStopped) {
			t.Errorf("seq %d: %v, want ErrStopped", seq, err)
		}
	}
	if got := b.QueuedBytes(); got != 0 {
		t.Errorf("QueuedBytes after shutdown = %d", got)
	}
}

// TestUnavailableSQLiteBusy: a SQLite file another connection holds
// locked is unavailable, not a message's fault.
func TestUnavailableSQLiteBusy(t *testing.T) {
	path := filepath.Join(t.TempDir(), "busy.db")
	holder, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	holder.SetMaxOpenConns(1)
	if _, err := holder.Exec("CREATE TABLE t (x INTEGER)"); err != nil {
		t.Fatal(err)
	}
	tx, err := holder.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec("INSERT INTO t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	_, err = other.Exec("INSERT INTO t VALUES (2)")
	if err == nil {
		t.Fatal("write to a locked file succeeded")
	}
	if !Unavailable(fmt.Errorf("apply batch: %w", err)) {
		t.Errorf("Unavailable(%v) = false, want true", err)
	}
	_, err = other.Exec("INSERT INTO nosuchtable VALUES (2)")
	if err == nil || Unavailable(err) {
		t.Errorf("a statement error taken for an unavailable database: %v", err)
	}
	// A trigger's refusal is about the data, whatever its message says.
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if _, err := holder.Exec(`CREATE TRIGGER refuse BEFORE INSERT ON t
		BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END`); err != nil {
		t.Fatal(err)
	}
	_, err = other.Exec("INSERT INTO t VALUES (3)")
	if err == nil || Unavailable(err) {
		t.Errorf("a trigger's refusal taken for an unavailable database: %v", err)
	}
}
