//go:build unix

package limits

import "syscall"

// OpenFilesLimit returns the process's soft limit of open files
// (RLIMIT_NOFILE), or 0 when it cannot be read. Go raises the soft limit
// to the hard one at start, so this is the hard limit in effect when the
// process began.
func OpenFilesLimit() uint64 {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0
	}
	return uint64(lim.Cur)
}
