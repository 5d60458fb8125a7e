package loadgen

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// stats is what every simulated agent reports into; counters are atomic
// and histograms lock-free so thousands of connections share them cheaply.
type stats struct {
	enrollAttempts atomic.Int64
	enrollLat      Histogram
	enrollFail     counter

	connectAttempts atomic.Int64
	connected       atomic.Int64 // welcomed
	live            atomic.Int64 // welcomed and not yet disconnected
	invAcked        atomic.Int64
	invSent         atomic.Int64
	invBytes        atomic.Int64
	handshake       Histogram // dial to welcome
	firstAck        Histogram // dial to the full inventory's ack
	connectFail     counter
	connectDone     atomic.Int64 // agents whose connect phase ended, either way

	sent        atomic.Int64
	acked       atomic.Int64
	skipped     atomic.Int64
	resyncs     atomic.Int64
	unexpected  atomic.Int64
	unacked     atomic.Int64
	disconnects atomic.Int64
	steadyLat   Histogram
	steadyWin   windows // steadyLat by send time
	errorFrames counter
	checkNows   atomic.Int64
	policySets  receipts

	resultsSent    atomic.Int64 // results messages
	resultsCount   atomic.Int64 // policy results in them
	resultsAcked   atomic.Int64
	resultsUnacked atomic.Int64
	resultsLat     Histogram // send to ack: the server's commit of the results
	results        resultsLog
}

// receipts records, per policy set revision, how many agents received it
// and when the first and the last did: the spread is how long one policy
// change took to reach the whole simulated fleet.
type receipts struct {
	mu sync.Mutex
	m  map[uint64]*PolicySetReceipt
}

func (r *receipts) add(revision uint64, at time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.m == nil {
		r.m = make(map[uint64]*PolicySetReceipt)
	}
	sec := at.Seconds()
	p := r.m[revision]
	if p == nil {
		p = &PolicySetReceipt{Revision: revision, FirstAtSeconds: sec}
		r.m[revision] = p
	}
	p.Agents++
	p.FirstAtSeconds = min(p.FirstAtSeconds, sec)
	p.LastAtSeconds = max(p.LastAtSeconds, sec)
}

// snapshot returns the receipts ordered by revision.
func (r *receipts) snapshot() []PolicySetReceipt {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]PolicySetReceipt, 0, len(r.m))
	for _, p := range r.m {
		out = append(out, *p)
	}
	slices.SortFunc(out, func(a, b PolicySetReceipt) int { return cmp.Compare(a.Revision, b.Revision) })
	return out
}

// counter counts occurrences by reason.
type counter struct {
	mu sync.Mutex
	m  map[string]int
}

func (c *counter) add(reason string) {
	c.mu.Lock()
	if c.m == nil {
		c.m = make(map[string]int)
	}
	c.m[reason]++
	c.mu.Unlock()
}

func (c *counter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.m))
	for k, v := range c.m {
		out[k] = v
	}
	return out
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// reason turns an error into one of a few labels, so that failures of
// thousands of agents group into a readable table instead of one line per
// address and port.
func reason(err error) string {
	var se httpStatusError
	var ne net.Error
	var ce *wsCloseError
	switch {
	case errors.As(err, &se):
		return se.Error()
	case errors.Is(err, errBadAnswer):
		return "malformed answer"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset"
	case errors.Is(err, syscall.EADDRNOTAVAIL), errors.Is(err, syscall.EADDRINUSE):
		return "no free local port"
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "too many open files"
	case errors.Is(err, errBadHandshake):
		return "bad websocket handshake"
	case errors.As(err, &ce):
		return fmt.Sprintf("closed by server (%d)", ce.code)
	case errors.Is(err, errProtocol):
		return "websocket protocol error"
	case errors.Is(err, errTooBig):
		return "message over the size limit"
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	default:
		return "network error"
	}
}

func summarize(h *Histogram) Latency {
	ms := func(d interface{ Seconds() float64 }) float64 { return round(d.Seconds()*1000, 3) }
	return Latency{
		Count:  h.Count(),
		P50Ms:  ms(h.Percentile(0.50)),
		P95Ms:  ms(h.Percentile(0.95)),
		P99Ms:  ms(h.Percentile(0.99)),
		MaxMs:  ms(h.Max()),
		MeanMs: ms(h.Mean()),
	}
}

func round(v float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(v*p) / p
}
