//go:build !unix

package limits

// OpenFilesLimit returns 0: the system has no RLIMIT_NOFILE.
func OpenFilesLimit() uint64 { return 0 }
