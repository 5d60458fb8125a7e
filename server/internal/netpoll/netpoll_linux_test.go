package netpoll

import (
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// recorder is a Handler that passes what it reads to the test and
// pauses when told to.
type recorder struct {
	reads chan string
	ended chan error
	pause chan bool // the answer for the next Read, if any
}

func newRecorder() *recorder {
	return &recorder{reads: make(chan string, 64), ended: make(chan error, 4), pause: make(chan bool, 4)}
}

func (r *recorder) Read(b []byte) error {
	r.reads <- string(b)
	select {
	case p := <-r.pause:
		if p {
			return ErrPause
		}
	default:
	}
	return nil
}

func (r *recorder) Ended(why error) { r.ended <- why }

func (r *recorder) read(t *testing.T) string {
	t.Helper()
	select {
	case s := <-r.reads:
		return s
	case <-time.After(20 * time.Second):
		t.Fatal("nothing read in 20 s")
		return ""
	}
}

// readAll reads until want is gathered (TCP may split or join writes).
func (r *recorder) readAll(t *testing.T, want string) {
	t.Helper()
	got := ""
	for len(got) < len(want) {
		got += r.read(t)
	}
	if got != want {
		t.Fatalf("read %q, want %q", got, want)
	}
}

func (r *recorder) end(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.ended:
		return err
	case <-time.After(20 * time.Second):
		t.Fatal("not ended in 20 s")
		return nil
	}
}

// quiet checks that nothing was read or ended: the loop would have
// delivered bytes already sent by the time a later event arrived.
func (r *recorder) quiet(t *testing.T, what string) {
	t.Helper()
	select {
	case s := <-r.reads:
		t.Fatalf("%s: read %q", what, s)
	case err := <-r.ended:
		t.Fatalf("%s: ended with %v", what, err)
	default:
	}
}

// pair returns both ends of a loopback TCP connection and the server
// end's raw descriptor access.
func pair(t *testing.T) (server *net.TCPConn, rc syscall.RawConn, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	nc, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	server = nc.(*net.TCPConn)
	t.Cleanup(func() { server.Close() })
	rc, err = server.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	return server, rc, client
}

// TestLoopsReadPauseAndEnd, on real sockets: nothing is read before the
// first Resume; bytes sent while paused arrive after Resume; an End
// while paused is reported only after Resume, and once; each way a
// connection ends is reported once, and the loops then hold nothing.
func TestLoopsReadPauseAndEnd(t *testing.T) {
	// One loop, so that a later connection's bytes being read shows that
	// an earlier one's, sent before, would have been read too.
	ls, err := start(1)
	if err != nil {
		t.Fatal(err)
	}
	defer ls.Stop()

	t.Run("read, pause, resume, peer closes", func(t *testing.T) {
		_, rc, client := pair(t)
		r := newRecorder()
		c := ls.Add(rc, r)
		client.Write([]byte("early"))
		// A later connection's bytes are read: had the first been in the
		// set, its bytes, sent before, would have come by then.
		_, rc2, client2 := pair(t)
		r2 := newRecorder()
		c2 := ls.Add(rc2, r2)
		c2.Resume()
		client2.Write([]byte("x"))
		r2.readAll(t, "x")
		r.quiet(t, "before the first Resume")
		c.Resume()
		r.readAll(t, "early")

		r.pause <- true
		client.Write([]byte("a"))
		r.readAll(t, "a")
		client.Write([]byte("while paused"))
		client2.Write([]byte("y"))
		r2.readAll(t, "y")
		r.quiet(t, "while paused")
		c.Resume()
		r.readAll(t, "while paused")

		client.Close()
		if err := r.end(t); err != io.EOF {
			t.Errorf("peer's close ended the read with %v, want io.EOF", err)
		}
		c2.End(errors.New("done"))
		if err := r2.end(t); err == nil || err.Error() != "done" {
			t.Errorf("End reported %v", err)
		}
	})

	t.Run("end while paused", func(t *testing.T) {
		_, rc, client := pair(t)
		r := newRecorder()
		c := ls.Add(rc, r)
		c.Resume()
		r.pause <- true
		client.Write([]byte("a"))
		r.readAll(t, "a")
		first, second := errors.New("first"), errors.New("second")
		c.End(first)
		c.End(second)
		// Sent after the End: the loop must not read it.
		client.Write([]byte("after the end"))
		_, rc2, client2 := pair(t)
		r2 := newRecorder()
		ls.Add(rc2, r2).Resume()
		client2.Write([]byte("x"))
		r2.readAll(t, "x")
		r.quiet(t, "ended while paused, before Resume")
		c.Resume()
		if err := r.end(t); err != first {
			t.Errorf("ended with %v, want the first End's reason", err)
		}
		client2.Close()
		r2.end(t)
		r.quiet(t, "after the end")
	})

	t.Run("closed by its own side", func(t *testing.T) {
		server, rc, client := pair(t)
		r := newRecorder()
		c := ls.Add(rc, r)
		c.Resume()
		client.Write([]byte("a"))
		r.readAll(t, "a")
		server.Close()
		c.End(net.ErrClosed)
		if err := r.end(t); !errors.Is(err, net.ErrClosed) {
			t.Errorf("ended with %v", err)
		}
	})

	t.Run("handler error", func(t *testing.T) {
		_, rc, client := pair(t)
		bad := errors.New("bad bytes")
		h := &failing{err: bad, ended: make(chan error, 2)}
		ls.Add(rc, h).Resume()
		client.Write([]byte("zz"))
		select {
		case err := <-h.ended:
			if err != bad {
				t.Errorf("ended with %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("not ended")
		}
	})

	// Every end was waited for, and a loop forgets a connection before
	// it reports the end.
	if n := ls.Len(); n != 0 {
		t.Errorf("the loops still hold %d connections", n)
	}
}

type failing struct {
	err   error
	ended chan error
}

func (f *failing) Read([]byte) error { return f.err }
func (f *failing) Ended(why error)   { f.ended <- why }
