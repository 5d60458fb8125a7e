package limits

import "math"

// Connection caps derived from the open files limit when the
// configuration does not set them.
const (
	// minReserve and maxReserve bound the file descriptors kept out of
	// the connection cap for everything else the server opens: database
	// connections, the SQLite files, logs, outgoing notification
	// requests, the listener itself. The reserve is a tenth of the limit
	// within these bounds.
	minReserve = 64
	maxReserve = 1024
	// minConns is the least cap, whatever the limit.
	minConns = 16
	// noLimitConns is the cap where the limit cannot be read (or is
	// unlimited).
	noLimitConns = 100000
	// maxUnauthPerIP is the most unauthenticated connections one
	// address gets by default: five times the load generator's default
	// of 200 handshakes in flight from one address, and far more than
	// any single host needs.
	maxUnauthPerIP = 1024
)

// MaxConnsFor returns the default connection cap for an open files soft
// limit of soft: the limit less a reserve.
func MaxConnsFor(soft uint64) int {
	if soft == 0 || soft >= math.MaxInt32 {
		return noLimitConns
	}
	reserve := min(max(soft/10, minReserve), maxReserve)
	if soft < reserve+minConns {
		return minConns
	}
	return int(soft - reserve)
}

// MaxUnauthPerIPFor returns the default cap of one address's
// unauthenticated connections under a connection cap of maxConns: a
// quarter of it, so that one address cannot take every connection, and
// at most 1024.
func MaxUnauthPerIPFor(maxConns int) int {
	return min(max(maxConns/4, 1), maxUnauthPerIP)
}
