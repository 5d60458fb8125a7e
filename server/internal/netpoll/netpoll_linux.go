package netpoll

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// readBuffer is what one read takes off a socket at most: a loop reads
// every connection through one, so it costs nothing per connection.
const readBuffer = 64 << 10

// wakeID is the event data of a loop's eventfd; connections count from 1.
const wakeID = 0

// Loops are the read loops of a process, or of one user of them.
type Loops struct {
	loops []*loop
	mu    sync.Mutex
	next  int
}

// loop is one epoll set and the goroutine that waits on it.
type loop struct {
	ep, wake int
	epf      *os.File        // ep, as the runtime's poller knows it
	eprc     syscall.RawConn // waits on epf
	buf      []byte          // the loop goroutine's alone

	mu      sync.Mutex
	conns   map[uint64]*Conn
	nextID  uint64
	ends    []end   // asked for by Conn.End, for the loop to act on
	resumed []*Conn // given back by Conn.Resume
	stopped bool
	done    chan struct{}
}

type end struct {
	c   *Conn
	why error
}

// Conn is one connection a loop reads.
type Conn struct {
	l  *loop
	id uint64
	rc syscall.RawConn
	h  Handler
	// The loop goroutine's alone: paused from Add, or from ErrPause, to
	// the loop seeing Resume; ending is an End that came meanwhile.
	paused, finished bool
	ending           error
}

// Start starts one loop per processor the process may use
// (runtime.GOMAXPROCS).
func Start() (*Loops, error) { return start(runtime.GOMAXPROCS(0)) }

func start(n int) (*Loops, error) {
	ls := &Loops{}
	for range n {
		l, err := newLoop()
		if err != nil {
			ls.Stop()
			return nil, err
		}
		ls.loops = append(ls.loops, l)
	}
	return ls, nil
}

func newLoop() (*loop, error) {
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
	if err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, wake, event(wakeID)); err != nil {
		epf.Close()
		unix.Close(wake)
		return nil, fmt.Errorf("read loop: epoll_ctl: %w", err)
	}
	l := &loop{ep: ep, epf: epf, eprc: rc, wake: wake, buf: make([]byte, readBuffer),
		conns: make(map[uint64]*Conn), nextID: wakeID + 1, done: make(chan struct{})}
	go l.run()
	return l, nil
}

// event is the epoll registration of id: readable or shut down by the
// peer, level-triggered. The id fills the event's 64 bits of data, so it
// never wraps.
func event(id uint64) *unix.EpollEvent {
	return &unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP, Fd: int32(id), Pad: int32(id >> 32)}
}

func eventID(ev *unix.EpollEvent) uint64 { return uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32 }

// Add gives the socket rc to a loop, its bytes to go to h once reading
// starts: the connection begins paused, so that the caller can finish
// setting up (and give the Conn to whoever closes the socket) before the
// first Resume starts reading.
func (ls *Loops) Add(rc syscall.RawConn, h Handler) *Conn {
	ls.mu.Lock()
	l := ls.loops[ls.next%len(ls.loops)]
	ls.next++
	ls.mu.Unlock()
	l.mu.Lock()
	c := &Conn{l: l, id: l.nextID, rc: rc, h: h, paused: true}
	l.nextID++
	l.conns[c.id] = c
	l.mu.Unlock()
	return c
}

// register puts c in its loop's epoll set.
func (c *Conn) register() error {
	var cerr error
	err := c.rc.Control(func(fd uintptr) {
		cerr = unix.EpollCtl(c.l.ep, unix.EPOLL_CTL_ADD, int(fd), event(c.id))
	})
	if err != nil {
		return err
	}
	return cerr
}

// End stops reading c, with why as the reason Ended is given; it may be
// called from any goroutine, and more than once (the first reason
// counts). Call it when closing the socket: the kernel drops a closed
// socket from the epoll set without an event, so the loop would not
// learn of it otherwise.
func (c *Conn) End(why error) {
	l := c.l
	l.mu.Lock()
	l.ends = append(l.ends, end{c, why})
	l.mu.Unlock()
	l.wakeUp()
}

// Resume has the loop read c: first after Add, and again after its
// handler returned ErrPause. The loop alone changes its epoll set, so an
// End that came first is acted on here and c is never read after it.
func (c *Conn) Resume() {
	l := c.l
	l.mu.Lock()
	l.resumed = append(l.resumed, c)
	l.mu.Unlock()
	l.wakeUp()
}

// Stop ends the loops. Connections still in them are not read again and
// not told; stop a loop only once they ended.
func (ls *Loops) Stop() {
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

func (l *loop) wakeUp() {
	var one [8]byte
	binary.NativeEndian.PutUint64(one[:], 1) // eventfd adds a host-order uint64
	unix.Write(l.wake, one[:])
}

// run waits for sockets with bytes and reads each once per round: the
// set is level-triggered, so what one read leaves comes back next round.
// It asks epoll without waiting and, when nothing is ready, parks until
// the runtime's poller sees the epoll descriptor readable.
func (l *loop) run() {
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
		for i := range evs[:n] {
			id := eventID(&evs[i])
			if id == wakeID {
				stop = l.woken() || stop
				continue
			}
			l.mu.Lock()
			c := l.conns[id]
			l.mu.Unlock()
			if c != nil {
				l.service(c)
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

// woken acts on the ends and resumes asked for, and reports whether the
// loop is to stop.
func (l *loop) woken() bool {
	var b [8]byte
	unix.Read(l.wake, b[:])
	l.mu.Lock()
	ends, resumed := l.ends, l.resumed
	l.ends, l.resumed = nil, nil
	stopped := l.stopped
	l.mu.Unlock()
	for _, e := range ends {
		switch {
		case e.c.finished:
		case e.c.paused:
			if e.c.ending == nil {
				e.c.ending = e.why
			}
		default:
			l.finish(e.c, e.why)
		}
	}
	for _, c := range resumed {
		if !c.paused || c.finished {
			continue
		}
		c.paused = false
		if c.ending != nil {
			l.finish(c, c.ending)
			continue
		}
		if err := c.register(); err != nil {
			l.finish(c, err)
		}
	}
	return stopped
}

// service reads what c's socket holds, once, and hands it to c's handler.
func (l *loop) service(c *Conn) {
	if c.paused || c.finished {
		return
	}
	var n int
	var rerr error
	err := c.rc.Control(func(fd uintptr) {
		for {
			n, rerr = unix.Read(int(fd), l.buf)
			if rerr != unix.EINTR {
				return
			}
		}
	})
	switch {
	case err != nil: // closed meanwhile; its End is on the way
		l.finish(c, err)
		return
	case rerr == unix.EAGAIN:
		return
	case rerr != nil:
		l.finish(c, rerr)
		return
	case n == 0:
		l.finish(c, io.EOF)
		return
	}
	err = c.h.Read(l.buf[:n])
	switch {
	case err == ErrPause:
		c.paused = true
		c.deregister()
	case err != nil:
		l.finish(c, err)
	}
}

// deregister takes c out of the epoll set while its socket is still
// open; a closed one left it already. Control holds the descriptor, so
// its number cannot be another socket's by then.
func (c *Conn) deregister() {
	c.rc.Control(func(fd uintptr) { unix.EpollCtl(c.l.ep, unix.EPOLL_CTL_DEL, int(fd), nil) })
}

// finish stops reading c and tells its handler why.
func (l *loop) finish(c *Conn, why error) {
	c.finished = true
	l.mu.Lock()
	delete(l.conns, c.id)
	l.mu.Unlock()
	c.deregister()
	c.h.Ended(why)
}

// Len is how many connections the loops hold: added and not yet ended.
func (ls *Loops) Len() int {
	n := 0
	for _, l := range ls.loops {
		l.mu.Lock()
		n += len(l.conns)
		l.mu.Unlock()
	}
	return n
}
