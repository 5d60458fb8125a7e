//go:build !unix

package gateway

import "errors"

// inlineWrites says tryWrite can write to a socket's descriptor here:
// not on this system, where every write goes through a writer goroutine.
const inlineWrites = false

func rawWrite(uintptr, []byte) (int, error) {
	return 0, errors.New("inline writes are not supported on this system")
}

func wouldBlock(error) bool { return false }
