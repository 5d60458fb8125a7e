//go:build unix

package gateway

import "syscall"

// inlineWrites says tryWrite can write to a socket's descriptor here.
const inlineWrites = true

// rawWrite is one write(2) to fd, retried only when interrupted; a full
// socket returns EAGAIN, since Go's sockets do not block.
func rawWrite(fd uintptr, b []byte) (int, error) {
	for {
		n, err := syscall.Write(int(fd), b)
		if err != syscall.EINTR {
			return n, err
		}
	}
}

// wouldBlock reports whether err from rawWrite means the socket is full.
func wouldBlock(err error) bool { return err == syscall.EAGAIN }
