//go:build unix

package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/steward-project/steward/server/internal/auth"
	"github.com/steward-project/steward/server/internal/ingest"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/wire"
)

// BenchmarkHeartbeatAcks: one agent connection over loopback sends
// heartbeats back to back while it reads their acks; an operation is one
// heartbeat in and its ack out. Besides wall time it reports the process's
// CPU time per message: client, server and ingest together, the client's
// share being the same whatever the server does.
func BenchmarkHeartbeatAcks(b *testing.B) {
	st := newFakeStore()
	st.hosts[1] = &store.Host{ID: 1}
	st.keys[auth.Hash("bench-key")] = 1
	ing := ingest.New(st, ingest.Config{})
	gw := New(Config{Store: st, Ingest: ing})
	mux := http.NewServeMux()
	gw.Register(mux)
	srv := httptest.NewServer(mux)
	b.Cleanup(func() {
		gw.Shutdown(context.Background())
		srv.Close()
		ing.Stop()
	})
	hdr := http.Header{}
	hdr.Set("Authorization", "Bearer bench-key")
	d := websocket.Dialer{EnableCompression: true}
	ws, _, err := d.Dial("ws"+strings.TrimPrefix(srv.URL, "http")+"/agent/v1/ws", hdr)
	if err != nil {
		b.Fatal(err)
	}
	defer ws.Close()
	hello, _ := wire.Encode(wire.TypeHello, 0, wire.Hello{ProtocolVersions: []int{wire.ProtocolVersion}, Hostname: "bench"})
	if err := ws.WriteMessage(websocket.TextMessage, hello); err != nil {
		b.Fatal(err)
	}
	if _, _, err := ws.ReadMessage(); err != nil { // the welcome
		b.Fatal(err)
	}
	// The agent keeps at most this many messages unacknowledged.
	const inFlight = 64
	credits := make(chan struct{}, inFlight)
	for range inFlight {
		credits <- struct{}{}
	}
	sendErr := make(chan error, 1)
	b.ResetTimer()
	cpu0 := cpuTime(b)
	go func() {
		for seq := 1; seq <= b.N; seq++ {
			<-credits
			msg, _ := wire.Encode(wire.TypeHeartbeat, uint64(seq), wire.Heartbeat{Time: time.Now()})
			if err := ws.WriteMessage(websocket.TextMessage, msg); err != nil {
				sendErr <- err
				return
			}
		}
		sendErr <- nil
	}()
	for range b.N {
		_, data, err := ws.ReadMessage()
		if err != nil {
			b.Fatal(err)
		}
		if env, err := wire.Decode(data); err != nil || env.Type != wire.TypeAck {
			b.Fatalf("want an ack, got %.100s (%v)", data, err)
		}
		credits <- struct{}{}
	}
	cpu := cpuTime(b) - cpu0
	b.StopTimer()
	if err := <-sendErr; err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/msg")
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
