package gateway

import (
	"math"
	"sync"
	"time"
)

// liveness keeps every connection's pings and read deadline from one
// goroutine. Per connection that is two atomic timestamps, stamped by the
// reader without a system call, instead of a ticker and a socket deadline
// reset for every message: with tens of thousands of mostly idle agents
// those timers were most of the server's idle CPU.
//
// Every tick it looks at each connection once: one that has read nothing
// (no message, no pong) for PongWait is expired, which wakes its reader
// with a timeout as a socket deadline would; one that has read nothing and
// been sent no ping for PingInterval is sent one. The goroutine runs while
// there are connections to watch.
type liveness struct {
	epoch    time.Time
	interval time.Duration // Config.PingInterval
	wait     time.Duration // Config.PongWait
	tick     time.Duration

	mu      sync.Mutex
	conns   map[*conn]struct{}
	running bool
}

// busy is the read stamp of a connection handling a message: the reader
// is not waiting on the peer, so no deadline runs.
const busy = math.MaxInt64

func newLiveness(interval, wait time.Duration) *liveness {
	// A tick of a fraction of the shorter period keeps the drop close to
	// PongWait (within an eighth) and costs one pass a second at most.
	tick := min(interval, wait) / 8
	tick = max(min(tick, time.Second), time.Millisecond)
	return &liveness{epoch: time.Now(), interval: interval, wait: wait, tick: tick, conns: map[*conn]struct{}{}}
}

// now is monotonic time since the gateway started, in nanoseconds: a
// wall clock step must not expire every connection at once.
func (l *liveness) now() int64 { return int64(time.Since(l.epoch)) }

// watch starts keeping c's deadlines, counted from now.
func (l *liveness) watch(c *conn) {
	now := l.now()
	c.lastRead.Store(now)
	c.lastPing.Store(now)
	l.mu.Lock()
	l.conns[c] = struct{}{}
	start := !l.running
	l.running = true
	l.mu.Unlock()
	if start {
		go l.run()
	}
}

// forget stops watching c.
func (l *liveness) forget(c *conn) {
	l.mu.Lock()
	delete(l.conns, c)
	l.mu.Unlock()
}

func (l *liveness) run() {
	t := time.NewTicker(l.tick)
	defer t.Stop()
	var expired, ping []*conn
	for range t.C {
		now := l.now()
		l.mu.Lock()
		if len(l.conns) == 0 {
			l.running = false
			l.mu.Unlock()
			return
		}
		for c := range l.conns {
			read := c.lastRead.Load()
			switch {
			case read == busy:
			case now-read >= int64(l.wait):
				expired = append(expired, c)
				delete(l.conns, c) // its reader is about to end
			case now-max(read, c.lastPing.Load()) >= int64(l.interval):
				ping = append(ping, c)
			}
		}
		l.mu.Unlock()
		for _, c := range expired {
			c.expire()
		}
		for _, c := range ping {
			c.lastPing.Store(now)
			c.enqueue(outItem{kind: outPing})
		}
		clear(expired)
		clear(ping)
		expired, ping = expired[:0], ping[:0]
	}
}
