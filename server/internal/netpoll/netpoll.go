// Package netpoll reads many sockets from a few goroutines. On Linux each
// of a few loops (one per processor the process may use) waits on an
// epoll set of its own and reads a socket only when it holds bytes, so a
// connection that is waiting costs no goroutine, and a message costs no
// goroutine wake-up and no read that finds the socket empty. Elsewhere
// Start reports that it cannot, and the caller reads each connection
// from a goroutine of its own.
//
// A connection joins a loop paused (Loops.Add) and is read from its first
// Conn.Resume on. A handler is called from its loop's goroutine and must not block: what
// would wait (a full queue downstream) pauses the connection instead,
// hands the work to a goroutine, and resumes it when that is done.
package netpoll

import "errors"

// Handler receives the bytes a loop reads off one connection.
type Handler interface {
	// Read is given the bytes one read took off the socket; the loop
	// reuses b once Read returns. Returning ErrPause stops the loop
	// reading the connection until Conn.Resume; any other error ends
	// the connection's reading with it as the reason (Ended).
	Read(b []byte) error
	// Ended is called once, when the loop reads the connection no more:
	// the peer closed or dropped it, Read failed, or Conn.End was called.
	// It is called from the loop, so it must not block either.
	Ended(why error)
}

// ErrPause is what Handler.Read returns to stop reading its connection
// until Conn.Resume. Whoever then holds the connection must call Resume
// exactly once, even when the connection ends meanwhile: the loop
// reports an End that came while paused only after Resume.
var ErrPause = errors.New("netpoll: connection paused")

// ErrUnsupported is Start's error on systems without the loops.
var ErrUnsupported = errors.New("netpoll: read loops need Linux's epoll")
