package gateway

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/auth"
	"github.com/steward-project/steward/server/internal/ingest"
	"github.com/steward-project/steward/server/internal/store"
)

// benchConns is how many connections BenchmarkIdleConnectionMemory opens
// unless STEWARD_BENCH_CONNS says otherwise.
const benchConns = 2000

// BenchmarkIdleConnectionMemory opens real WebSocket connections to a
// gateway over loopback from a client process of its own (testdata/
// wsclients), waits until every one is welcomed and idle, and reports
// what the server holds per connection: live heap and goroutine stacks
// after a collection, and resident memory as the kernel counts it. Run it
// once: go test -run '^$' -bench IdleConnectionMemory -benchtime 1x.
func BenchmarkIdleConnectionMemory(b *testing.B) {
	n := benchConns
	if s := os.Getenv("STEWARD_BENCH_CONNS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n <= 0 {
			b.Fatalf("STEWARD_BENCH_CONNS=%q: want a positive count", s)
		}
	}
	client := filepath.Join(b.TempDir(), "wsclients")
	if out, err := exec.Command("go", "build", "-o", client, "./testdata/wsclients").CombinedOutput(); err != nil {
		b.Fatalf("build the client: %v\n%s", err, out)
	}
	for _, tls := range []bool{false, true} {
		name := "http"
		if tls {
			name = "tls"
		}
		b.Run(name, func(b *testing.B) {
			var heap, stack, rss float64
			for b.Loop() {
				heap, stack, rss = measureIdleConns(b, client, n, tls)
			}
			b.ReportMetric(heap, "heap-B/conn")
			b.ReportMetric(stack, "stack-B/conn")
			b.ReportMetric(rss, "rss-B/conn")
			b.ReportMetric(heap+stack, "live-B/conn")
		})
	}
}

func measureIdleConns(b *testing.B, client string, n int, tls bool) (heap, stack, rss float64) {
	st := newFakeStore()
	const prefix = "bench-node-key-"
	for i := range n {
		id := int64(i + 1)
		st.hosts[id] = &store.Host{ID: id}
		st.keys[auth.Hash(prefix+strconv.Itoa(i))] = id
	}
	ing := ingest.New(st, ingest.Config{})
	gw := New(Config{Store: st, Ingest: ing})
	mux := http.NewServeMux()
	gw.Register(mux)
	srv := httptest.NewUnstartedServer(mux)
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	defer func() {
		gw.Shutdown(context.Background())
		srv.Close()
		ing.Stop()
	}()

	before := memNow(b)
	// http://... becomes ws://..., https://... wss://...
	cmd := exec.Command(client, "ws"+strings.TrimPrefix(srv.URL, "http")+"/agent/v1/ws", strconv.Itoa(n), prefix)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() {
		stdin.Close()
		cmd.Wait()
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "ready\n" {
		b.Fatalf("client: %q %v\n%s", line, err, stderr.String())
	}
	pollFor(b, "every connection idle", func() bool { return gw.Connected() == n && writersIdle(gw) })
	after := memNow(b)
	per := func(a, b uint64) float64 { return (float64(a) - float64(b)) / float64(n) }
	return per(after.heap, before.heap), per(after.stack, before.stack), per(after.rss, before.rss)
}

// writersIdle reports whether no connection has a writer running: the
// ones that sent the welcomes have ended.
func writersIdle(g *Gateway) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range g.conns {
		c.out.mu.Lock()
		w := c.out.writing
		c.out.mu.Unlock()
		if w {
			return false
		}
	}
	return true
}

// pollFor is waitFor for benchmarks.
func pollFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

type memSample struct{ heap, stack, rss uint64 }

// memNow collects garbage and reads the live heap, the goroutine stacks
// and the process's resident set.
func memNow(tb testing.TB) memSample {
	// Each collection halves a goroutine stack that uses under a quarter
	// of it; a few let the stacks grown at the handshake settle, as the
	// periodic collections of a long-running server do.
	for range 5 {
		runtime.GC()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	s := memSample{heap: ms.HeapAlloc, stack: ms.StackInuse}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		tb.Fatal(err)
	}
	for line := range strings.Lines(string(status)) {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb uint64
			if _, err := fmt.Sscan(v, &kb); err != nil {
				tb.Fatalf("VmRSS: %v", err)
			}
			s.rss = kb << 10
		}
	}
	return s
}
