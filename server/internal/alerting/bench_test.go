//go:build unix

package alerting

// Benchmarks of the alerting performance targets:
//
//   - BenchmarkOutboxDelivery: the outbox sustains at least 1,000
//     notifications/s to a local webhook receiver on PostgreSQL, with the
//     default delivery settings (4 workers on PostgreSQL, 1 on SQLite,
//     per_receiver 8);
//   - BenchmarkAlertmanagerRepost: one Alertmanager re-post round for 10,000
//     firing alerts costs under 5 % of one core at the default resend
//     interval (1 m).
//
// Both run on PostgreSQL (a pgtest database) and SQLite. Each iteration is
// a fixed amount of work, so run them with a count of iterations:
//
//	go test ./server/internal/alerting/ -run '^$' -bench OutboxDelivery -benchtime 3x -count 3
//	go test ./server/internal/alerting/ -run '^$' -bench AlertmanagerRepost/postgres -benchtime 5x -count 3
//	go test ./server/internal/alerting/ -run '^$' -bench AlertmanagerRepost/sqlite -benchtime 3x -count 3

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/alerting/alertconf"
	"github.com/steward-project/steward/server/internal/alerting/notify"
	"github.com/steward-project/steward/server/internal/pgtest"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/server/internal/store/postgres"
	"github.com/steward-project/steward/server/internal/store/sqlite"
)

const (
	// benchHosts is how many hosts the seeded alerts are spread over.
	benchHosts = 100
	// seedChunk is how many alerts one ApplyAlertChanges opens.
	seedChunk = 500
	// outboxRound is how many notifications one BenchmarkOutboxDelivery
	// iteration delivers.
	outboxRound = 5000
	// repostAlerts is how many firing alerts BenchmarkAlertmanagerRepost
	// re-posts per round.
	repostAlerts = 10000
)

// benchStore is a migrated store with what seeding needs.
type benchStore interface {
	Store
	EnrollHost(ctx context.Context, h store.NewHost) (int64, error)
}

// onStores runs fn as the sub-benchmarks "postgres" and "sqlite", each on
// a fresh migrated store. workers is what the server passes to New for
// that store: 0 (the configured delivery.workers, 4 by default) on
// PostgreSQL, 1 on SQLite.
func onStores(b *testing.B, fn func(b *testing.B, st benchStore, workers int, dbName string)) {
	b.Run("postgres", func(b *testing.B) {
		dsn := pgtest.NewDatabase(b)
		st, err := postgres.Open(b.Context(), dsn, slog.New(slog.DiscardHandler))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		if err := st.Migrate(b.Context()); err != nil {
			b.Fatal(err)
		}
		u, err := url.Parse(dsn)
		if err != nil {
			b.Fatal(err)
		}
		fn(b, st, 0, strings.TrimPrefix(u.Path, "/"))
	})
	b.Run("sqlite", func(b *testing.B) {
		st, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "steward.db"), nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		if err := st.Migrate(b.Context()); err != nil {
			b.Fatal(err)
		}
		fn(b, st, 1, "")
	})
}

// seeder opens alerts with the labels and annotations a policy_failing
// rule gives them, spread over benchHosts hosts.
type seeder struct {
	st    benchStore
	hosts []int64
	seq   int // subjects are unique, so every open makes a new episode
}

func newSeeder(b *testing.B, st benchStore) *seeder {
	b.Helper()
	s := &seeder{st: st}
	for i := range benchHosts {
		id, err := st.EnrollHost(b.Context(), store.NewHost{NodeKeyHash: fmt.Sprintf("%064x", i+1),
			Hostname: fmt.Sprintf("web-%03d", i+1), EnrolledAt: time.Now()})
		if err != nil {
			b.Fatal(err)
		}
		s.hosts = append(s.hosts, id)
	}
	return s
}

// open opens n alerts, routed to receivers, in chunks of seedChunk.
func (s *seeder) open(b *testing.B, n int, receivers []string) {
	b.Helper()
	for n > 0 {
		chunk := min(n, seedChunk)
		c := store.AlertChanges{At: time.Now()}
		for range chunk {
			s.seq++
			host := s.hosts[s.seq%len(s.hosts)]
			hostname := fmt.Sprintf("web-%03d", s.seq%len(s.hosts)+1)
			policyID := fmt.Sprintf("policy-%06d", s.seq)
			c.Open = append(c.Open, store.AlertOpen{Receivers: receivers, Spec: store.AlertSpec{
				Rule: "policy-failing", HostID: host, Subject: policyID, Severity: "high",
				Labels: map[string]string{"rule": "policy-failing", "severity": "high", "host_id": strconv.FormatInt(host, 10),
					"hostname": hostname, "os": "linux", "policy": policyID, "team": "web", "env": "prod"},
				Annotations: map[string]string{
					"summary":     fmt.Sprintf("%s fails on %s", policyID, hostname),
					"description": "SSH must not allow root to log in with a password. Set PermitRootLogin no and reload sshd.",
					"evidence":    "check.file /etc/ssh/sshd_config: PermitRootLogin yes (line 32); expected: no",
				},
			}})
		}
		res, err := s.st.ApplyAlertChanges(b.Context(), c)
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Opened) != chunk || res.Notifications != chunk*len(receivers) {
			b.Fatalf("opened %d alerts with %d notifications; want %d with %d", len(res.Opened), res.Notifications,
				chunk, chunk*len(receivers))
		}
		n -= chunk
	}
}

// countingStore counts the outbox calls the engine makes and says when a
// target number of rows were recorded sent.
type countingStore struct {
	Store
	claims, claimed, writes atomic.Int64
	claimTime, writeTime    atomic.Int64 // ns spent in the calls, summed over workers

	mu       sync.Mutex
	sent     int
	target   int
	done     chan struct{}
	finished time.Time
}

// expect resets the sent count and arms done for n more rows.
func (c *countingStore) expect(n int) {
	c.mu.Lock()
	c.sent, c.target, c.done = 0, n, make(chan struct{})
	c.mu.Unlock()
}

func (c *countingStore) ClaimNotifications(ctx context.Context, q store.NotificationClaim) ([]store.ClaimedNotification, error) {
	start := time.Now()
	ns, err := c.Store.ClaimNotifications(ctx, q)
	c.claimTime.Add(int64(time.Since(start)))
	c.claims.Add(1)
	c.claimed.Add(int64(len(ns)))
	return ns, err
}

func (c *countingStore) RecordOutcomes(ctx context.Context, outs []store.NotificationOutcome) (int, error) {
	start := time.Now()
	applied, err := c.Store.RecordOutcomes(ctx, outs)
	c.writeTime.Add(int64(time.Since(start)))
	c.writes.Add(1)
	sent := 0
	if err == nil && applied == len(outs) {
		for _, o := range outs {
			if o.State == store.NotificationSent {
				sent++
			}
		}
	}
	c.mu.Lock()
	if c.sent < c.target {
		c.sent += sent
		if c.sent >= c.target {
			c.finished = time.Now()
			close(c.done)
		}
	}
	c.mu.Unlock()
	return applied, err
}

// BenchmarkOutboxDelivery times the delivery workers (deliverLoop, as Run
// starts it, with the default delivery settings) draining outboxRound
// pending notifications to a local webhook receiver that answers 200 at
// once: from the start of the workers until the last row is recorded sent.
// Seeding happens with the timer stopped. ns/op is per outboxRound
// notifications; notifications/s is the target. The other metrics say
// where the time goes: claims/op and rows/claim (ClaimNotifications calls,
// empty ones included), claim-ms/op and write-ms/op (time inside
// ClaimNotifications and RecordOutcomes, summed over workers),
// outcome-writes/op (RecordOutcomes calls), repeats/op (requests beyond
// one per notification), conns/op and max-conns (connections the
// receiver accepted, and the most open at once: sends in flight).
func BenchmarkOutboxDelivery(b *testing.B) {
	onStores(b, func(b *testing.B, st benchStore, workers int, _ string) {
		// received counts requests; conns counts the connections the
		// senders opened, and maxOpen the most open at once.
		var received, conns, open, maxOpen atomic.Int64
		rcv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			received.Add(1)
			w.WriteHeader(http.StatusOK)
		}))
		rcv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
			switch s {
			case http.StateNew:
				conns.Add(1)
				raise(&maxOpen, open.Add(1))
			case http.StateClosed, http.StateHijacked:
				open.Add(-1)
			}
		}
		rcv.Start()
		b.Cleanup(rcv.Close)
		conf := alertconf.Default()
		conf.Receivers = []alertconf.Receiver{{Name: "hook",
			Config: notify.Config{Webhook: &notify.WebhookConfig{URL: rcv.URL, Secret: notify.NewSecret("s3cret")}}}}
		conf.Routes = []alertconf.Route{{Receivers: []string{"hook"}}}
		conf.ExternalURL = "http://steward.test:8080"

		seed := newSeeder(b, st)
		cs := &countingStore{Store: st}
		var took time.Duration
		delivered, rounds := 0, 0
		for b.Loop() {
			b.StopTimer()
			seed.open(b, outboxRound, []string{"hook"})
			cs.expect(outboxRound)
			e, err := New(Config{Store: cs, Alerting: conf, Workers: workers})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(b.Context())
			stopped := make(chan struct{})
			b.StartTimer()
			start := time.Now()
			go func() { defer close(stopped); e.deliverLoop(ctx) }()
			select {
			case <-cs.done:
			case <-time.After(2 * time.Minute):
				cs.mu.Lock()
				sent := cs.sent
				cs.mu.Unlock()
				b.Fatalf("%d of %d notifications recorded sent after 2 minutes", sent, outboxRound)
			}
			b.StopTimer()
			took += cs.finished.Sub(start)
			cancel()
			<-stopped
			delivered += outboxRound
			rounds++
			counts, err := st.NotificationCounts(b.Context())
			if err != nil {
				b.Fatal(err)
			}
			if len(counts) > 0 {
				b.Fatalf("rows left pending or dead: %+v", counts)
			}
			b.StartTimer() // b.Loop wants it running
		}
		b.ReportMetric(float64(delivered)/took.Seconds(), "notifications/s")
		b.ReportMetric(float64(cs.claims.Load())/float64(rounds), "claims/op")
		b.ReportMetric(float64(cs.claimed.Load())/float64(cs.claims.Load()), "rows/claim")
		b.ReportMetric(float64(cs.writes.Load())/float64(rounds), "outcome-writes/op")
		b.ReportMetric(time.Duration(cs.claimTime.Load()).Seconds()*1000/float64(rounds), "claim-ms/op")
		b.ReportMetric(time.Duration(cs.writeTime.Load()).Seconds()*1000/float64(rounds), "write-ms/op")
		b.ReportMetric(float64(received.Load()-int64(delivered))/float64(rounds), "repeats/op")
		b.ReportMetric(float64(conns.Load())/float64(rounds), "conns/op")
		b.ReportMetric(float64(maxOpen.Load()), "max-conns")
	})
}

// BenchmarkAlertmanagerRepost measures the CPU time of this process
// (getrusage user+sys) spent in one Alertmanager re-post round
// (Engine.refresh) over repostAlerts open alerts whose trigger was sent.
// The receiver is a real Alertmanager (/usr/bin/prometheus-alertmanager,
// its own process, so its CPU is not counted) when it is installed, else an
// in-process server that decodes the posted JSON, whose CPU is then
// counted too. On PostgreSQL the database's own CPU is not this process's
// either; it is reported apart as db-cpu-s/round when /proc shows it.
//
// cpu-s/round is the target's measure; %core@resend is the share of one
// core it takes when repeated every resend interval (1 m by default).
func BenchmarkAlertmanagerRepost(b *testing.B) {
	onStores(b, func(b *testing.B, st benchStore, _ int, dbName string) {
		amURL, posted := alertmanagerReceiver(b)
		conf := alertconf.Default()
		conf.Receivers = []alertconf.Receiver{{Name: "am", Config: notify.Config{Alertmanager: &notify.AlertmanagerConfig{URL: amURL}}}}
		conf.Routes = []alertconf.Route{{Receivers: []string{"am"}}}
		conf.ExternalURL = "http://steward.test:8080"

		seed := newSeeder(b, st)
		seed.open(b, repostAlerts, []string{"am"})
		markSent(b, st)
		e, err := New(Config{Store: st, Alerting: conf})
		if err != nil {
			b.Fatal(err)
		}
		s := e.cur.Load()
		am := s.senders["am"].(*notify.Alertmanager)
		// A first round opens the connections a running server keeps
		// between rounds (the resend interval is shorter than the idle
		// timeouts).
		if n, err := e.refresh(b.Context(), s, "am", am); err != nil || n != repostAlerts {
			b.Fatalf("warm-up round posted %d alerts: %v", n, err)
		}

		var cpu, dbCPU time.Duration
		dbKnown := dbName != ""
		rounds := 0
		b.ReportAllocs()
		for b.Loop() {
			b.StopTimer()
			runtime.GC() // garbage of seeding and earlier rounds is not this round's
			b.StartTimer()
			dbBefore, ok := backendCPU(dbName) // read outside the process CPU measured
			before := processCPU(b)
			n, err := e.refresh(b.Context(), s, "am", am)
			cpu += processCPU(b) - before
			dbAfter, ok2 := backendCPU(dbName)
			b.StopTimer()
			dbKnown = dbKnown && ok && ok2
			dbCPU += dbAfter - dbBefore
			if err != nil || n != repostAlerts {
				b.Fatalf("round posted %d alerts: %v", n, err)
			}
			rounds++
			b.StartTimer() // b.Loop wants it running
		}
		perRound := cpu.Seconds() / float64(rounds)
		b.ReportMetric(perRound, "cpu-s/round")
		b.ReportMetric(100*perRound/conf.Delivery.ResendInterval.Seconds(), "%core@resend")
		if dbKnown {
			b.ReportMetric(dbCPU.Seconds()/float64(rounds), "db-cpu-s/round")
		}
		if posted != nil && posted.Load() < int64(repostAlerts*(rounds+1)) {
			b.Fatalf("receiver decoded %d alerts; want %d", posted.Load(), repostAlerts*(rounds+1))
		}
	})
}

// raise sets m to n if n is larger.
func raise(m *atomic.Int64, n int64) {
	for old := m.Load(); n > old && !m.CompareAndSwap(old, n); old = m.Load() {
	}
}

// markSent claims every pending notification and records it sent, as a
// delivery worker would after a 200.
func markSent(b *testing.B, st benchStore) {
	b.Helper()
	for {
		ns, err := st.ClaimNotifications(b.Context(), store.NotificationClaim{Now: time.Now(), Lease: time.Minute, Limit: 1000})
		if err != nil {
			b.Fatal(err)
		}
		if len(ns) == 0 {
			return
		}
		outs := make([]store.NotificationOutcome, len(ns))
		for i, n := range ns {
			outs[i] = store.NotificationOutcome{ID: n.ID, Attempts: n.Attempts, State: store.NotificationSent, At: time.Now()}
		}
		if applied, err := st.RecordOutcomes(b.Context(), outs); err != nil || applied != len(outs) {
			b.Fatalf("recorded %d of %d outcomes: %v", applied, len(outs), err)
		}
	}
}

// alertmanagerBinary is Debian's package of Alertmanager.
const alertmanagerBinary = "/usr/bin/prometheus-alertmanager"

// alertmanagerReceiver returns the base URL of an Alertmanager for b: a
// real one when installed (posted is nil), else an in-process server that
// decodes each posted array and counts the alerts in posted.
func alertmanagerReceiver(b *testing.B) (string, *atomic.Int64) {
	b.Helper()
	if _, err := os.Stat(alertmanagerBinary); err == nil {
		return startAlertmanager(b), nil
	}
	b.Logf("%s not found: posting to an in-process receiver, whose CPU is counted as Steward's", alertmanagerBinary)
	var posted atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var alerts []struct {
			Labels      map[string]string `json:"labels"`
			Annotations map[string]string `json:"annotations"`
			StartsAt    time.Time         `json:"startsAt"`
			EndsAt      time.Time         `json:"endsAt"`
		}
		if r.URL.Path != "/api/v2/alerts" || json.NewDecoder(r.Body).Decode(&alerts) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		posted.Add(int64(len(alerts)))
	}))
	b.Cleanup(srv.Close)
	return srv.URL, &posted
}

// startAlertmanager runs a throwaway Alertmanager (no clustering, data in a
// temporary directory) until b ends.
func startAlertmanager(b *testing.B) string {
	b.Helper()
	dir := b.TempDir()
	conf := filepath.Join(dir, "alertmanager.yml")
	if err := os.WriteFile(conf, []byte(`route:
  receiver: blackhole
  group_wait: 30s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: blackhole
`), 0o644); err != nil {
		b.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var out bytes.Buffer
	cmd := exec.Command(alertmanagerBinary, "--config.file="+conf, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=", "--log.level=warn")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	b.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	base := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return base
			}
		}
		select {
		case <-exited:
			b.Fatalf("alertmanager exited during startup:\n%s", out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			b.Fatalf("alertmanager not ready after 20s:\n%s", out.String())
		}
	}
}

// processCPU is the user and system CPU time this process used so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// backendCPU sums the CPU time of the PostgreSQL backends serving
// database dbName, from /proc (in clock ticks, taken as the usual 100 Hz).
// It reports false when dbName is empty or /proc is not there.
func backendCPU(dbName string) (time.Duration, bool) {
	if dbName == "" {
		return 0, false
	}
	procs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	if err != nil || len(procs) == 0 {
		return 0, false
	}
	var ticks int64
	for _, p := range procs {
		cmdline, err := os.ReadFile(p)
		// A backend's title is "postgres: USER DATABASE HOST(PORT) STATE".
		if err != nil || !bytes.HasPrefix(cmdline, []byte("postgres: ")) || !bytes.Contains(cmdline, []byte(" "+dbName+" ")) {
			continue
		}
		stat, err := os.ReadFile(filepath.Join(filepath.Dir(p), "stat"))
		if err != nil {
			continue
		}
		// Fields after the parenthesised command: state is field 3, utime
		// and stime are fields 14 and 15.
		rest := stat[bytes.LastIndexByte(stat, ')')+1:]
		sc := bufio.NewScanner(bytes.NewReader(rest))
		sc.Split(bufio.ScanWords)
		for field := 3; sc.Scan(); field++ {
			if field == 14 || field == 15 {
				v, _ := strconv.ParseInt(sc.Text(), 10, 64)
				ticks += v
			}
			if field == 15 {
				break
			}
		}
	}
	return time.Duration(ticks) * 10 * time.Millisecond, true
}
