package loadgen

import (
	"context"
	"crypto/tls"
	"fmt"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// runner holds what every phase shares.
type runner struct {
	cfg     Config
	fleet   *Fleet
	hc      *http.Client
	dialers []*wsDialer // one per source address, used round robin
	reads   *readLoops  // nil: a goroutine reads each connection
	wsURL   string
	base    time.Time // origin of the monotonic send times
	st      stats
	// measureFrom is when the steady phase's warm-up ended (since base,
	// in ns): steady messages sent before it are left out of the latency.
	measureFrom atomic.Int64
	// measureUntil is when the measured part ended (since base, in ns):
	// steady messages sent from it on, while lingering, are left out too.
	measureUntil atomic.Int64
	// receiver takes the server's webhook notifications (--alert-receiver).
	receiver *alertReceiver
	// inflates is shared by every agent: identical compressed policy sets
	// are inflated once per run, not once per agent.
	inflates *inflateCache
}

// phases coordinates the fleet's goroutines.
type phases struct {
	total     int
	slots     chan struct{} // handshakes in flight, bounded by Concurrency
	connected chan struct{} // closed once every agent's connect phase ended
	steady    chan struct{} // closed when the steady phase starts
	agents    sync.WaitGroup
}

// Run runs the enroll, connect and steady phases and returns what it
// measured. It returns an error only when the run could not be set up or
// its state file not written; failures of agents are in the report, which
// may be non-nil alongside an error. Cancelling ctx ends the run early and
// still yields a report.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("loadgen: %w", err)
	}
	r, err := newRunner(cfg)
	if err != nil {
		return nil, err
	}
	defer r.hc.CloseIdleConnections()
	// The receiver listens before anything is enrolled: a port that is
	// taken fails the run at once, not after the fleet connected.
	if cfg.AlertReceiver != "" {
		r.receiver, err = startReceiver(cfg.AlertReceiver, cfg.AlertSecret, &r.st.results, r.since)
		if err != nil {
			return nil, fmt.Errorf("loadgen: %w", err)
		}
		defer r.receiver.close()
		cfg.Logger.Info("alert receiver listening", "addr", r.receiver.addr, "signature_checked", cfg.AlertSecret != "")
	}
	rep := newReport(r.cfg, r.base)
	r.checkLimits(rep)
	ids, err := r.enrollPhase(ctx, rep)
	if err == nil && len(ids) > 0 && ctx.Err() == nil {
		r.fleetPhases(ctx, ids, rep)
	}
	r.alertsReport(rep)
	rep.finish(ctx.Err() != nil)
	return rep, err
}

func newRunner(cfg Config) (*runner, error) {
	fleet, err := NewFleet(cfg.Packages)
	if err != nil {
		return nil, fmt.Errorf("loadgen: %w", err)
	}
	var tlsConf *tls.Config
	if cfg.Insecure {
		tlsConf = &tls.Config{InsecureSkipVerify: true} // asked for by --insecure, for test servers
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // a load test measures the server, not a proxy
	tr.TLSClientConfig = tlsConf
	// Keep one connection per concurrent enrollment alive, so an enroll
	// storm does not also burn an ephemeral port per request.
	tr.MaxIdleConns = 2 * cfg.Concurrency
	tr.MaxIdleConnsPerHost = cfg.Concurrency
	r := &runner{
		cfg:   cfg,
		fleet: fleet,
		hc:    &http.Client{Transport: tr, Timeout: time.Minute},
		wsURL: "ws" + strings.TrimPrefix(cfg.Server, "http") + "/agent/v1/ws",
		base:  time.Now(),
		// With results to send, agents need every policy set whole.
		inflates: newInflateCache(cfg.Results != ResultsNone),
	}
	// Without results, a policy set's head is all an agent needs of it.
	var head func([]byte) bool
	if cfg.Results == ResultsNone {
		head = headOnly
	}
	sources := cfg.SourceIPs
	if len(sources) == 0 {
		sources = []net.IP{nil}
	}
	for _, ip := range sources {
		nd := &net.Dialer{Timeout: 30 * time.Second}
		if ip != nil {
			nd.LocalAddr = &net.TCPAddr{IP: ip}
		}
		r.dialers = append(r.dialers, &wsDialer{tcp: nd, tls: tlsConf, compress: !cfg.NoCompression,
			timeout: 30 * time.Second, headOnly: head})
	}
	return r, nil
}

func (r *runner) since() time.Duration { return time.Since(r.base) }

// fleetPhases connects every agent, runs the steady phase and closes.
func (r *runner) fleetPhases(ctx context.Context, ids []Identity, rep *Report) {
	log := r.cfg.Logger
	// The agents' context is not ctx's child: on Ctrl-C they must stay
	// connected until the server's metrics have been scraped.
	actx, stop := context.WithCancel(context.Background())
	defer stop()
	ph := &phases{total: len(ids), slots: make(chan struct{}, r.cfg.Concurrency),
		connected: make(chan struct{}), steady: make(chan struct{})}
	ph.agents.Add(len(ids))
	var phase atomic.Value
	phase.Store("connect")
	defer r.progress(func() string { return phase.Load().(string) })()

	reads, err := newReadLoops()
	if err != nil {
		log.Warn("reading each connection in a goroutine of its own", "err", err)
	}
	r.reads = reads
	defer reads.stop()
	r.st.results.setHosts(ids)
	log.Info("connecting agents", "agents", len(ids), "concurrency", r.cfg.Concurrency)
	start := time.Now()
	for i, id := range ids {
		go newAgent(r, ph, i, id).run(actx)
	}
	timeout := time.NewTimer(r.cfg.ConnectTimeout)
	timedOut := false
	select {
	case <-ph.connected:
	case <-timeout.C:
		timedOut = true
	case <-ctx.Done():
	}
	timeout.Stop()
	r.connectReport(rep, len(ids), time.Since(start), timedOut)
	log.Info("connect phase done", "connected", rep.Connect.Connected, "inventories_acked", rep.Connect.InventoriesAcked,
		"failed", sum(rep.Connect.Failures), "seconds", round(rep.Connect.DurationSeconds, 3))

	var ackedInWindow int64
	var before samples
	steady := false
	// With no agent connected there is nothing to measure in a steady phase.
	if ctx.Err() == nil && r.cfg.Duration > 0 && r.st.live.Load() > 0 {
		phase.Store("steady")
		before = r.scrapeQuietly()
		ackedInWindow = r.steadyWindow(ctx, ph, rep)
		steady = true
	}
	// Measured while every connection is still open: the server's memory
	// per connected agent is the point.
	rep.Steady.ConnectedAtEnd = r.st.live.Load()
	r.measure(rep, before)
	if steady && r.cfg.Linger > 0 && ctx.Err() == nil {
		r.linger(ctx, rep)
	}

	phase.Store("closing")
	log.Info("closing connections")
	stop()
	ph.agents.Wait()
	r.steadyReport(rep, ackedInWindow)
}

// steadyWindow lets the agents send for Duration, or until ctx ends, and
// returns how many acks arrived within the window.
func (r *runner) steadyWindow(ctx context.Context, ph *phases, rep *Report) int64 {
	r.cfg.Logger.Info("steady phase", "duration", r.cfg.Duration, "warmup", r.cfg.Warmup, "heartbeat", r.cfg.Heartbeat, "inventory_every", r.cfg.InventoryEvery)
	if r.cfg.Warmup > 0 {
		r.measureFrom.Store(math.MaxInt64)
	}
	r.measureUntil.Store(math.MaxInt64)
	close(ph.steady)
	var ackedBefore int64
	if r.cfg.Warmup > 0 {
		rep.Steady.WarmupSeconds = r.cfg.Warmup.Seconds()
		t := time.NewTimer(r.cfg.Warmup)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return 0
		}
		from := r.since()
		r.measureFrom.Store(int64(from))
		rep.Steady.MeasuredFromSeconds = round(from.Seconds(), 3)
		ackedBefore = r.st.acked.Load()
		r.cfg.Logger.Info("warm-up done; measuring")
	}
	start := time.Now()
	t := time.NewTimer(r.cfg.Duration)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
	if r.cfg.Linger > 0 {
		// What is sent while lingering is left out; without it, the
		// sends of the moment before closing count as they always did.
		r.measureUntil.Store(int64(r.since()))
	}
	rep.Steady.DurationSeconds = time.Since(start).Seconds()
	return r.st.acked.Load() - ackedBefore
}

// linger lets the agents go on sending, unmeasured, for Linger or until
// ctx ends.
func (r *runner) linger(ctx context.Context, rep *Report) {
	r.cfg.Logger.Info("measured; lingering before closing", "linger", r.cfg.Linger)
	rep.Steady.LingerSeconds = r.cfg.Linger.Seconds()
	t := time.NewTimer(r.cfg.Linger)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// scrapeQuietly reads the server's metrics at the steady phase's start,
// or returns nil.
func (r *runner) scrapeQuietly() samples {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := r.scrape(ctx)
	if err != nil {
		return nil
	}
	return m
}

// progress logs counts every ProgressEvery until the returned func is called.
func (r *runner) progress(phase func() string) func() {
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(r.cfg.ProgressEvery)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				st := &r.st
				args := []any{"phase", phase(), "connected", st.live.Load(),
					"inventories_acked", st.invAcked.Load(), "connect_failures", sum(st.connectFail.snapshot()),
					"sent", st.sent.Load(), "acked", st.acked.Load(), "disconnects", st.disconnects.Load()}
				if r.cfg.Results != ResultsNone {
					args = append(args, "results_sent", st.resultsSent.Load(), "results_acked", st.resultsAcked.Load())
				}
				if r.receiver != nil {
					args = append(args, "triggers", r.receiver.triggerCount())
				}
				r.cfg.Logger.Info("progress", args...)
			}
		}
	}()
	return func() { close(done) }
}

func (r *runner) connectReport(rep *Report, total int, elapsed time.Duration, timedOut bool) {
	st := &r.st
	c := &rep.Connect
	c.Attempted = int(st.connectAttempts.Load())
	c.Connected = int(st.connected.Load())
	c.InventoriesAcked = int(st.invAcked.Load())
	c.Failures = st.connectFail.snapshot()
	if timedOut {
		c.Failures[fmt.Sprintf("no ack within %s", r.cfg.ConnectTimeout)] = total - int(st.connectDone.Load())
	}
	c.DurationSeconds = elapsed.Seconds()
	c.Handshake = summarize(&st.handshake)
	c.FirstAck = summarize(&st.firstAck)
	c.InventoryBytesTotal = st.invBytes.Load()
	if n := st.invSent.Load(); n > 0 {
		c.InventoryBytesAvg = c.InventoryBytesTotal / n
	}
}

func (r *runner) steadyReport(rep *Report, ackedInWindow int64) {
	st := &r.st
	s := &rep.Steady
	s.Sent = st.sent.Load()
	s.Acked = st.acked.Load()
	s.Unacked = st.unacked.Load()
	s.Skipped = st.skipped.Load()
	s.Resyncs = st.resyncs.Load()
	s.UnexpectedFrames = st.unexpected.Load()
	s.PolicySets = st.policySets.snapshot()
	s.CheckNows = st.checkNows.Load()
	s.Disconnects = st.disconnects.Load()
	s.ErrorFrames = st.errorFrames.snapshot()
	s.Latency = summarize(&st.steadyLat)
	s.LatencyByWindow = st.steadyWin.snapshot()
	rep.Client.Inflations = r.inflates.inflations.Load()
	rep.Client.InflateCacheHits = r.inflates.hits.Load()
	if s.DurationSeconds > 0 {
		s.AckedPerSecond = round(float64(ackedInWindow)/s.DurationSeconds, 1)
	}
	if r.cfg.Results != ResultsNone {
		res := &ResultsReport{
			Status:   r.cfg.Results,
			Messages: st.resultsSent.Load(),
			Results:  st.resultsCount.Load(),
			Acked:    st.resultsAcked.Load(),
			Unacked:  st.resultsUnacked.Load(),
			Latency:  summarize(&st.resultsLat),
		}
		if first, last, ok := st.results.span(); ok {
			res.FirstSentAtSeconds, res.LastSentAtSeconds = round(first.Seconds(), 3), round(last.Seconds(), 3)
		}
		rep.Results = res
	}
}

// alertsReport stops the alert receiver and adds what it got. It runs
// after the agents closed, so notifications that arrived while they did
// are counted too.
func (r *runner) alertsReport(rep *Report) {
	if r.receiver == nil {
		return
	}
	r.receiver.close()
	rep.Alerts = r.receiver.report(r.cfg.Results == ResultsFail)
}
