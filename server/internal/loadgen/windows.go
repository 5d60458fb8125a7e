package loadgen

import (
	"sync/atomic"
	"time"
)

// windowWidth is the span of send times one latency window covers.
const windowWidth = 5 * time.Second

// maxWindows bounds the windows kept: 5 s each, a run of almost six
// hours; later sends count in the whole-phase histogram only.
const maxWindows = 4096

// windows keeps a latency histogram per windowWidth of send time, so a
// report can say how latency behaved while something happened (a burst
// of policy applies) rather than only over the whole phase, where a few
// bad seconds are diluted. A window's histogram is made on first use.
type windows struct {
	w [maxWindows]atomic.Pointer[Histogram]
}

// record adds d for a message sent at (since the run began).
func (ws *windows) record(at, d time.Duration) {
	if at < 0 || at >= maxWindows*windowWidth {
		return
	}
	i := int(at / windowWidth)
	h := ws.w[i].Load()
	if h == nil {
		ws.w[i].CompareAndSwap(nil, new(Histogram))
		h = ws.w[i].Load()
	}
	h.Record(d)
}

// snapshot summarizes every window that has samples, in time order.
func (ws *windows) snapshot() []WindowLatency {
	var out []WindowLatency
	for i := range ws.w {
		h := ws.w[i].Load()
		if h == nil || h.Count() == 0 {
			continue
		}
		l := summarize(h)
		out = append(out, WindowLatency{
			FromSeconds: (time.Duration(i) * windowWidth).Seconds(),
			Count:       l.Count, P99Ms: l.P99Ms, MaxMs: l.MaxMs,
		})
	}
	return out
}

// WindowLatency is the send-to-ack latency of the steady messages sent in
// one window of windowWidth, from FromSeconds after the run began (the
// clock of PolicySetReceipt).
type WindowLatency struct {
	FromSeconds float64 `json:"from_seconds"`
	Count       uint64  `json:"count"`
	P99Ms       float64 `json:"p99_ms"`
	MaxMs       float64 `json:"max_ms"`
}
