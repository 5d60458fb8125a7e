// Package limits protects the server's HTTP edge from being flooded: it
// caps open connections (Listener) and rate-limits authentication (Guard)
// by client address, counting failures, and by credential, counting
// requests. Every table it keeps is bounded, so a flood of distinct
// addresses or garbage credentials cannot grow its memory without end.
package limits

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// Kind is the kind of credential a request presents.
type Kind int

// Credential kinds, each with its own request rate.
const (
	EnrollSecret Kind = iota // POST /agent/v1/enroll
	NodeKey                  // GET /agent/v1/ws
	APIToken                 // /api/v1/...
	numKinds
)

func (k Kind) String() string {
	switch k {
	case EnrollSecret:
		return "enroll_secret"
	case NodeKey:
		return "node_key"
	case APIToken:
		return "api_token"
	}
	return "unknown"
}

// Refusal reasons, the values of the refused-requests metric's label.
const (
	ReasonConnCap        = "conn_cap"        // the global connection cap
	ReasonIPCap          = "ip_cap"          // one address's unauthenticated connections
	ReasonRateIP         = "rate_ip"         // one address's failed authentications
	ReasonRateCredential = "rate_credential" // one credential's requests
	ReasonAgentCap       = "agent_cap"       // agents' share of the connection cap
)

// Reasons lists every refusal reason.
var Reasons = []string{ReasonConnCap, ReasonIPCap, ReasonRateIP, ReasonRateCredential, ReasonAgentCap}

// Defaults of the rate limits. See docs/api.md, "Connection limits".
var (
	// DefaultFailedAuth: 30 failures in a row, then one every 2 s. A
	// client that keeps guessing gets about 43,000 guesses a day against
	// 256-bit secrets; a host with a stale credential retries far slower.
	DefaultFailedAuth = Rate{Burst: 30, PerMinute: 30}
	// DefaultEnrollSecret: one enroll secret is shared by a whole fleet,
	// and an enroll storm of 20,000 new hosts, at the ~5,000/s a loaded
	// server manages, stays within it.
	DefaultEnrollSecret = Rate{Burst: 20000, PerMinute: 60000}
	// DefaultNodeKey: an agent opens one connection and keeps it for
	// hours; 30 reconnects at once, then one a second, is far above that.
	DefaultNodeKey = Rate{Burst: 30, PerMinute: 60}
	// DefaultAPIToken: scripts and benchmarks that call the API in a loop
	// run well below 200 requests a second on average.
	DefaultAPIToken = Rate{Burst: 2000, PerMinute: 12000}
)

// DefaultMaxEntries bounds each table of the Guard.
const DefaultMaxEntries = 65536

// logWindow is the least time between two WARN lines about one address.
const logWindow = time.Minute

// logBudget bounds the WARN lines about single addresses per minute; past
// it, failures are added up in one line for all other addresses.
var logBudget = Rate{Burst: 100, PerMinute: 100}

// GuardConfig configures a Guard. Zero rates take the defaults above.
type GuardConfig struct {
	FailedAuth Rate
	// Credentials are the request rates of one credential, by kind.
	Credentials [numKinds]Rate
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is
	// believed. Without any, the TCP peer is the client.
	TrustedProxies []netip.Prefix
	// MaxEntries bounds each table (addresses, credentials of each kind,
	// log summaries); 0 means DefaultMaxEntries.
	MaxEntries int
	// Logger receives the summaries of failed authentications.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Refused, when set, is called with the reason of every 429.
	Refused func(reason string)
}

// Guard decides which authentication attempts may go ahead. Its methods
// are safe for concurrent use, and a nil *Guard lets everything through.
type Guard struct {
	cfg GuardConfig

	mu     sync.Mutex
	failed *table[bucket]           // by client address: failed authentications
	creds  [numKinds]*table[bucket] // by credential hash: requests
	logs   *table[logSummary]       // by client address: what to log
	budget bucket                   // WARN lines about single addresses
	others othersSummary            // what the budget did not let through
	now    time.Time                // the time of the operation in progress
}

// logSummary is what happened with one address since its last WARN.
type logSummary struct {
	logged  time.Time // last WARN; zero: none yet
	failed  int       // failed authentications not yet logged
	limited int       // 429s for failures not yet logged
	reason  string    // the last failure's reason
}

type othersSummary struct {
	logged                   time.Time
	clients, failed, limited int
}

// NewGuard builds a Guard.
func NewGuard(cfg GuardConfig) *Guard {
	if cfg.FailedAuth == (Rate{}) {
		cfg.FailedAuth = DefaultFailedAuth
	}
	defaults := [numKinds]Rate{DefaultEnrollSecret, DefaultNodeKey, DefaultAPIToken}
	for k := range cfg.Credentials {
		if cfg.Credentials[k] == (Rate{}) {
			cfg.Credentials[k] = defaults[k]
		}
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = DefaultMaxEntries
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	g := &Guard{cfg: cfg}
	g.failed = newTable[bucket](cfg.MaxEntries, cfg.FailedAuth.refillTime(), nil)
	for k := range g.creds {
		g.creds[k] = newTable[bucket](cfg.MaxEntries, cfg.Credentials[k].refillTime(), nil)
	}
	// Every WARN about an address touches its summary, so one dropped
	// for being idle a whole window was last logged a window ago or more:
	// a new summary for the address may log at once. What a dropped
	// summary still holds (Flush did not run, or the table was full)
	// goes to the line for all other addresses.
	g.logs = newTable[logSummary](cfg.MaxEntries, logWindow, func(addr string, s *logSummary) {
		if s.failed > 0 || s.limited > 0 {
			g.others.clients++
			g.others.failed += s.failed
			g.others.limited += s.limited
		}
	})
	return g
}

// Check runs before a request's credential is looked at. It answers 429
// with Retry-After, and returns false, when the client's address has
// failed to authenticate too often (then the credential is not looked at
// at all) or when credHash, the SHA-256 of the presented credential, has
// been presented too often. credHash is empty when the request carries
// no credential.
func (g *Guard) Check(w http.ResponseWriter, r *http.Request, kind Kind, credHash string) bool {
	if g == nil {
		return true
	}
	addr := g.clientKey(r)
	g.mu.Lock()
	now := g.cfg.Now()
	g.now = now
	var wait time.Duration
	reason := ""
	if b, ok := g.failed.peek(addr, now); ok && !b.has(g.cfg.FailedAuth, now) {
		reason, wait = ReasonRateIP, b.wait(g.cfg.FailedAuth)
		s := g.logs.get(addr, now)
		s.limited++
		g.maybeEmit(addr, s, now)
	} else if credHash != "" && kind >= 0 && kind < numKinds {
		rate := g.cfg.Credentials[kind]
		b := g.creds[kind].get(credHash, now)
		if !b.take(rate, now) {
			reason, wait = ReasonRateCredential, b.wait(rate)
		}
	}
	g.mu.Unlock()
	if reason == "" {
		return true
	}
	if g.cfg.Refused != nil {
		g.cfg.Refused(reason)
	}
	secs := retryAfterSeconds(wait)
	msg := "too many failed authentications from this address; retry after " + strconv.Itoa(secs) + " s"
	if reason == ReasonRateCredential {
		msg = "too many requests with this " + kindNoun(kind) + "; retry after " + strconv.Itoa(secs) + " s"
	}
	h := w.Header()
	h.Set("Retry-After", strconv.Itoa(secs))
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusTooManyRequests)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": msg})
	return false
}

func kindNoun(k Kind) string {
	switch k {
	case EnrollSecret:
		return "enroll secret"
	case NodeKey:
		return "node key"
	}
	return "token"
}

// Result records the outcome of checking a request's credential. A
// success marks the request's connection authenticated (see Listener); a
// failure spends one of the client address's tokens and is logged in a
// summary: at most one WARN line per address per minute, with the count
// of failures and 429s since the last one and the last failure's reason.
func (g *Guard) Result(r *http.Request, ok bool, reason string) {
	if g == nil {
		return
	}
	if ok {
		Authenticated(r.Context())
		return
	}
	addr := g.clientKey(r)
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.cfg.Now()
	g.now = now
	g.failed.get(addr, now).spend(g.cfg.FailedAuth, now)
	s := g.logs.get(addr, now)
	s.failed++
	s.reason = reason
	g.maybeEmit(addr, s, now)
}

// maybeEmit logs s when its address's window is over.
func (g *Guard) maybeEmit(addr string, s *logSummary, now time.Time) {
	if s.logged.IsZero() || now.Sub(s.logged) >= logWindow {
		g.emit(addr, s, now)
	}
}

// emit logs and clears what s holds, within the budget of lines about
// single addresses; past it, s's counts go to the others line.
func (g *Guard) emit(addr string, s *logSummary, now time.Time) {
	if s.failed == 0 && s.limited == 0 {
		return
	}
	if g.budget.take(logBudget, now) {
		g.cfg.Logger.Warn("authentication failures", "client", addr, "failed", s.failed,
			"rate_limited", s.limited, "last_reason", s.reason)
	} else {
		g.others.clients++
		g.others.failed += s.failed
		g.others.limited += s.limited
	}
	s.failed, s.limited = 0, 0
	s.logged = now
	g.emitOthers(now, false)
}

func (g *Guard) emitOthers(now time.Time, force bool) {
	o := &g.others
	if o.clients == 0 || (!force && !o.logged.IsZero() && now.Sub(o.logged) < logWindow) {
		return
	}
	g.cfg.Logger.Warn("authentication failures from more clients than are logged one by one",
		"clients", o.clients, "failed", o.failed, "rate_limited", o.limited)
	*o = othersSummary{logged: now}
}

// Flush logs the summaries whose window is over and drops idle entries.
// Run calls it periodically.
func (g *Guard) Flush() {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.cfg.Now()
	g.now = now
	// Log the summaries that are due first, touching them, so that the
	// sweep after does not drop them.
	var due []string
	g.logs.each(func(addr string, s *logSummary) {
		if (s.failed > 0 || s.limited > 0) && (s.logged.IsZero() || now.Sub(s.logged) >= logWindow) {
			due = append(due, addr)
		}
	})
	for _, addr := range due {
		g.emit(addr, g.logs.get(addr, now), now)
	}
	g.failed.sweep(now)
	for _, t := range g.creds {
		t.sweep(now)
	}
	g.logs.sweep(now)
	g.emitOthers(now, false)
}

// Close logs every summary still pending, due or not: the last word
// before the server stops.
func (g *Guard) Close() {
	if g == nil {
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.cfg.Now()
	g.logs.each(func(addr string, s *logSummary) { g.emit(addr, s, now) })
	g.emitOthers(now, true)
}

// Run calls Flush every interval until ctx ends, then Close.
func (g *Guard) Run(ctx context.Context, interval time.Duration) {
	if g == nil {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			g.Close()
			return
		case <-t.C:
			g.Flush()
		}
	}
}

// Sizes returns how many entries each table holds: addresses with
// failures, credentials of every kind, log summaries.
func (g *Guard) Sizes() (addrs, creds, logs int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, t := range g.creds {
		creds += t.len()
	}
	return g.failed.len(), creds, g.logs.len()
}

// clientKey is the key of r's client: its address (IPv6: its /64),
// X-Forwarded-For read only from trusted proxies.
func (g *Guard) clientKey(r *http.Request) string {
	a, ok := clientAddr(r, g.cfg.TrustedProxies)
	if !ok {
		return "unknown"
	}
	return addrKey(a)
}
