//go:build !linux

package loadgen

// readLoops is Linux's epoll reader; elsewhere every connection is read
// by a goroutine of its own.
type readLoops struct{}

func newReadLoops() (*readLoops, error) { return nil, nil }

func (ls *readLoops) read(c *wsConn, to receiver) { go readEach(c, to) }

func (ls *readLoops) stop() {}
