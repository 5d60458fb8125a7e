//go:build !linux && !darwin

package loadgen

// raiseOpenFiles reports no limit where there is no RLIMIT_NOFILE to raise.
func raiseOpenFiles() (soft, hard uint64, err error) { return 0, 0, nil }
