package loadgen

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// recorder is a receiver that hands what it gets to the test.
type recorder struct {
	msgs  chan string
	ended chan error
}

func newRecorder() *recorder {
	return &recorder{msgs: make(chan string, 64), ended: make(chan error, 1)}
}

func (r *recorder) receive(p []byte, deflated bool) error {
	r.msgs <- string(p)
	return nil
}

func (r *recorder) readEnded(why error) { r.ended <- why }

// expect waits for the next message and checks it.
func (r *recorder) expect(t *testing.T, want string) {
	t.Helper()
	select {
	case got := <-r.msgs:
		if got != want {
			t.Fatalf("message of %d bytes %.20q, want %d bytes %.20q", len(got), got, len(want), want)
		}
	case err := <-r.ended:
		t.Fatalf("reading ended (%v) before a message of %d bytes", err, len(want))
	case <-time.After(10 * time.Second):
		t.Fatalf("no message of %d bytes within 10 s", len(want))
	}
}

// end waits for the end of reading and returns why.
func (r *recorder) end(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.ended:
		return err
	case got := <-r.msgs:
		t.Fatalf("message %.20q, want the end", got)
	case <-time.After(10 * time.Second):
		t.Fatal("reading did not end within 10 s")
	}
	return nil
}

// A connection the loops cannot read from its socket (TLS, here one
// wrapped in another net.Conn) is read by a goroutine of its own, which
// starts with the bytes the upgrade's reader holds.
func TestReadLoopLeavesOthersToAGoroutine(t *testing.T) {
	loops, err := newReadLoops()
	if err != nil {
		t.Fatal(err)
	}
	defer loops.stop()
	url, conns := rawServer(t, func(r *http.Request) []byte {
		return append([]byte(switching(r, "")), serverFrame(0x81, []byte("held"), false)...)
	})
	c := dialTest(t, testDialer(false), url)
	c.nc = countingConn{c.nc, &atomic.Int64{}}
	nc := <-conns
	rec := newRecorder()
	loops.read(c, rec)
	rec.expect(t, "held")
	nc.Write(serverFrame(0x81, []byte("after"), false))
	rec.expect(t, "after")
	if c.br == nil {
		t.Error("the goroutine's connection lost its buffered reader")
	}
	nc.Close()
	if err := rec.end(t); reason(err) != "closed by server (1006)" {
		t.Errorf("ended with %v", err)
	}
}
