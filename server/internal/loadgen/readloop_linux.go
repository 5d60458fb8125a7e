package loadgen

import (
	"io"
	"net"
	"syscall"

	"github.com/steward-project/steward/server/internal/netpoll"
)

// readLoops read the fleet's connections from a few netpoll loops (one
// per CPU, each with its own level-triggered epoll set) and read a
// connection only when it has bytes. A reader goroutine per agent would
// cost, for every message, a read that finds nothing, a park and a
// wake-up; on a machine that also runs the server being measured, that
// was a good part of the generator's CPU. Connections a loop cannot read
// (TLS) are read by a goroutine each.
type readLoops struct{ ls *netpoll.Loops }

// newReadLoops starts the loops.
func newReadLoops() (*readLoops, error) {
	ls, err := netpoll.Start()
	if err != nil {
		return nil, err
	}
	return &readLoops{ls}, nil
}

// polledConn is one connection a loop reads.
type polledConn struct {
	c  *wsConn
	to receiver
}

// read has c read from now on, its messages going to to: by a loop when
// c is a plain TCP connection, by a goroutine of its own otherwise. The
// caller is c's reader until then; bytes c's buffered reader already holds
// are handed to to first.
func (ls *readLoops) read(c *wsConn, to receiver) {
	sc, ok := c.nc.(syscall.Conn)
	var rc syscall.RawConn
	if ok {
		var err error
		rc, err = sc.SyscallConn()
		ok = err == nil
	}
	if !ok || ls == nil {
		go readEach(c, to)
		return
	}
	if err := c.drainBuffered(to); err != nil {
		to.readEnded(err)
		return
	}
	pc := ls.ls.Add(rc, &polledConn{c: c, to: to})
	// The kernel drops a closed socket from the epoll set without an
	// event: the agent's own Close tells the loop.
	c.onClose = func() { pc.End(net.ErrClosed) }
	pc.Resume()
}

// stop ends the loops once every connection is finished.
func (ls *readLoops) stop() {
	if ls != nil {
		ls.ls.Stop()
	}
}

// Read parses what the loop read and hands the messages on.
func (pc *polledConn) Read(b []byte) error { return pc.c.deliver(b, pc.to) }

// Ended tells the agent why its connection is read no more.
func (pc *polledConn) Ended(why error) {
	if why == io.EOF {
		why = ended(io.EOF)
	}
	if pc.c.readErr == nil {
		why = pc.c.readFailed(why)
	}
	pc.to.readEnded(why)
}
