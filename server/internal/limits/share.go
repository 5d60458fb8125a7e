package limits

import "sync/atomic"

// Share caps the connections one kind of client may hold under a
// Listener's cap. Agents' WebSockets get the cap less a reserve
// (APIReserveFor): a fleet large enough to fill the server then still
// leaves room for an administrator's requests, which would otherwise be
// refused at accept like any connection over the cap.
//
// A nil Share admits everything.
type Share struct {
	max  int64
	held atomic.Int64
}

// NewShare returns a Share of n connections (at least 1).
func NewShare(n int) *Share {
	return &Share{max: int64(max(n, 1))}
}

// Take claims a place and reports whether there was one; every Take that
// returned true needs one Release.
func (s *Share) Take() bool {
	if s == nil {
		return true
	}
	for {
		n := s.held.Load()
		if n >= s.max {
			return false
		}
		if s.held.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Release gives back a place Take claimed.
func (s *Share) Release() {
	if s != nil {
		s.held.Add(-1)
	}
}

// Held returns the places taken now.
func (s *Share) Held() int {
	if s == nil {
		return 0
	}
	return int(s.held.Load())
}

// Max returns the number of places.
func (s *Share) Max() int {
	if s == nil {
		return 0
	}
	return int(s.max)
}
