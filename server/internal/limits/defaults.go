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
	// minAPIReserve and maxAPIReserve bound the connections under the cap
	// kept from agents for API and admin requests: a hundredth of the cap
	// within these bounds. A few dozen cover every administrator and
	// script at once; agents need the rest.
	minAPIReserve = 16
	maxAPIReserve = 256
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

// APIReserveFor returns the default number of connections under a cap of
// maxConns that agents' WebSockets may not take, so that API requests
// still get in when agents fill their share: a hundredth of the cap, at
// least 16 and at most 256, and never more than half the cap.
func APIReserveFor(maxConns int) int {
	return min(max(maxConns/100, minAPIReserve), maxAPIReserve, maxConns/2)
}

// MaxAgentsFor returns the agent connections allowed under a cap of
// maxConns with reserve kept for the API: the rest, at least 1.
func MaxAgentsFor(maxConns, reserve int) int {
	return max(maxConns-reserve, 1)
}
