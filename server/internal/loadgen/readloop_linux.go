package loadgen

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// readLoopBuffer is what one read takes off a socket: a loop reads every
// connection through it, so it costs nothing per connection.
const readLoopBuffer = 64 << 10

// wakeID is the event data of a loop's eventfd; connections count from 0.
const wakeID = -1

// readLoops read the fleet's connections: a goroutine per CPU waits on its
// own epoll set, level-triggered, and reads a connection only when it has
// bytes. A reader goroutine per agent would cost, for every message, a
// read that finds nothing, a park and a wake-up; on a machine that also
// runs the server being measured, that was a good part of the generator's
// CPU. Connections a loop cannot read (TLS) are read by a goroutine each.
type readLoops struct {
	loops []*readLoop
	next  int
	mu    sync.Mutex
}

// readLoop is one epoll set and the goroutine that waits on it.
type readLoop struct {
	ep, wake int
	epf      *os.File        // ep, as the runtime's poller knows it
	eprc     syscall.RawConn // waits on epf
	buf      []byte          // the loop goroutine's alone

	mu      sync.Mutex
	conns   map[int32]*polledConn
	nextID  int32
	closed  []*polledConn // closed by their agent, for the loop to finish
	stopped bool
	done    chan struct{}
}

// polledConn is one connection a loop reads.
type polledConn struct {
	id       int32
	c        *wsConn
	rc       syscall.RawConn
	to       receiver
	finished bool // the loop's alone
}

// newReadLoops starts one loop per CPU the process may use.
func newReadLoops() (*readLoops, error) {
	ls := &readLoops{}
	for range runtime.GOMAXPROCS(0) {
		l, err := newReadLoop()
		if err != nil {
			ls.stop()
			return nil, err
		}
		ls.loops = append(ls.loops, l)
	}
	return ls, nil
}

func newReadLoop() (*readLoop, error) {
	ep, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("read loop: epoll: %w", err)
	}
	// Non-blocking, the epoll descriptor joins the Go runtime's own poller
	// like a socket: the loop goroutine parks there when nothing is ready,
	// instead of blocking a thread in epoll_wait, which would have the
	// runtime hand its processor to another thread for every wait.
	if err := unix.SetNonblock(ep, true); err != nil {
		unix.Close(ep)
		return nil, fmt.Errorf("read loop: epoll: %w", err)
	}
	epf := os.NewFile(uintptr(ep), "epoll")
	rc, err := epf.SyscallConn()
	if err != nil {
		epf.Close()
		return nil, fmt.Errorf("read loop: epoll: %w", err)
	}
	wake, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		epf.Close()
		return nil, fmt.Errorf("read loop: eventfd: %w", err)
	}
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, wake, &unix.EpollEvent{Events: unix.EPOLLIN, Fd: wakeID}); err != nil {
		epf.Close()
		unix.Close(wake)
		return nil, fmt.Errorf("read loop: epoll_ctl: %w", err)
	}
	l := &readLoop{ep: ep, epf: epf, eprc: rc, wake: wake, buf: make([]byte, readLoopBuffer),
		conns: make(map[int32]*polledConn), done: make(chan struct{})}
	go l.run()
	return l, nil
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
	ls.mu.Lock()
	l := ls.loops[ls.next%len(ls.loops)]
	ls.next++
	ls.mu.Unlock()
	l.add(&polledConn{c: c, rc: rc, to: to})
}

// stop ends the loops once every connection is finished.
func (ls *readLoops) stop() {
	if ls == nil {
		return
	}
	for _, l := range ls.loops {
		l.mu.Lock()
		l.stopped = true
		l.mu.Unlock()
		l.wakeUp()
		<-l.done
		l.epf.Close()
		unix.Close(l.wake)
	}
}

// add registers pc with the loop.
func (l *readLoop) add(pc *polledConn) {
	l.mu.Lock()
	pc.id = l.nextID
	l.nextID++
	l.conns[pc.id] = pc
	l.mu.Unlock()
	pc.c.onClose = func() { l.closing(pc) }
	var cerr error
	err := pc.rc.Control(func(fd uintptr) {
		cerr = unix.EpollCtl(l.ep, unix.EPOLL_CTL_ADD, int(fd), &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: pc.id})
	})
	if err == nil {
		err = cerr
	}
	if err != nil {
		// Closed already, or out of epoll room: the loop finishes it.
		l.closing(pc)
	}
}

// closing hands the loop a connection its agent closed: the kernel took
// the socket out of the epoll set, so no event will say so.
func (l *readLoop) closing(pc *polledConn) {
	l.mu.Lock()
	l.closed = append(l.closed, pc)
	l.mu.Unlock()
	l.wakeUp()
}

func (l *readLoop) wakeUp() {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1) // eventfd adds a host-order uint64
	unix.Write(l.wake, one[:])
}

// run waits for sockets with bytes and reads each once per round: the
// set is level-triggered, so what one read leaves comes back next round.
// It asks epoll without waiting and, when nothing is ready, parks until
// the runtime's poller sees the epoll descriptor readable.
func (l *readLoop) run() {
	defer close(l.done)
	evs := make([]unix.EpollEvent, 256)
	stop := false
	round := func(fd uintptr) bool {
		n, err := unix.EpollWait(int(fd), evs, 0)
		for err == unix.EINTR {
			n, err = unix.EpollWait(int(fd), evs, 0)
		}
		if err != nil {
			panic("read loop: epoll_wait: " + err.Error()) // only for a bad descriptor: a bug
		}
		if n == 0 {
			return false
		}
		for _, ev := range evs[:n] {
			if ev.Fd == wakeID {
				stop = l.woken() || stop
				continue
			}
			l.mu.Lock()
			pc := l.conns[ev.Fd]
			l.mu.Unlock()
			if pc != nil {
				l.service(pc)
			}
		}
		return true
	}
	for !stop {
		if err := l.eprc.Read(round); err != nil {
			panic("read loop: " + err.Error()) // the descriptor is closed only after the loop ends
		}
	}
}

// woken finishes the connections agents closed and reports whether the
// loop is to stop.
func (l *readLoop) woken() bool {
	var b [8]byte
	unix.Read(l.wake, b[:])
	l.mu.Lock()
	closed := l.closed
	l.closed = nil
	stopped := l.stopped
	l.mu.Unlock()
	for _, pc := range closed {
		l.finish(pc, net.ErrClosed)
	}
	return stopped
}

// service reads what pc's socket holds, once, and hands its messages on.
func (l *readLoop) service(pc *polledConn) {
	var n int
	var rerr error
	err := pc.rc.Control(func(fd uintptr) {
		for {
			n, rerr = unix.Read(int(fd), l.buf)
			if rerr != unix.EINTR {
				return
			}
		}
	})
	switch {
	case err != nil: // closed by its agent meanwhile
		l.finish(pc, err)
		return
	case rerr == unix.EAGAIN:
		return
	case rerr != nil:
		l.finish(pc, rerr)
		return
	case n == 0:
		l.finish(pc, ended(io.EOF))
		return
	}
	if err := pc.c.deliver(l.buf[:n], pc.to); err != nil {
		l.finish(pc, err)
	}
}

// finish stops reading pc and tells its agent why.
func (l *readLoop) finish(pc *polledConn, why error) {
	if pc.finished {
		return
	}
	pc.finished = true
	l.mu.Lock()
	delete(l.conns, pc.id)
	l.mu.Unlock()
	// Out of the set while the socket is still open, or its end would be
	// reported again and again; a closed one left it already. Control
	// holds the descriptor, so its number cannot be another socket's.
	pc.rc.Control(func(fd uintptr) { unix.EpollCtl(l.ep, unix.EPOLL_CTL_DEL, int(fd), nil) })
	if pc.c.readErr == nil {
		why = pc.c.readFailed(why)
	}
	pc.to.readEnded(why)
}
