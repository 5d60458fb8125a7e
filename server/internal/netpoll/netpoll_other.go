//go:build !linux

package netpoll

import "syscall"

// Loops has no loops here: Start fails, and callers read each connection
// from a goroutine of its own.
type Loops struct{}

// Conn is never made here.
type Conn struct{}

// Start reports that read loops are Linux's only.
func Start() (*Loops, error) { return nil, ErrUnsupported }

// Add is not reached: Start never returns Loops here.
func (ls *Loops) Add(rc syscall.RawConn, h Handler) *Conn {
	panic("netpoll: no read loops on this system")
}

// End is not reached.
func (c *Conn) End(why error) {}

// Resume is not reached.
func (c *Conn) Resume() {}

// Stop does nothing.
func (ls *Loops) Stop() {}

// Len is zero: there are no loops here.
func (ls *Loops) Len() int { return 0 }
