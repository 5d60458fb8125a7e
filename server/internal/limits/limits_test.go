package limits

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a hand-moved clock for the Guard.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// logBuffer collects log records as JSON lines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) records(t *testing.T) []map[string]any {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: %v", line, err)
		}
		out = append(out, m)
	}
	return out
}

func request(remote string, xff ...string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/agent/v1/enroll", nil)
	r.RemoteAddr = remote
	for _, v := range xff {
		r.Header.Add("X-Forwarded-For", v)
	}
	return r
}

// check runs g.Check and returns the status it answered (200 when it let
// the request through), the Retry-After header and the refusal reason
// counted.
func check(g *Guard, refused *[]string, r *http.Request, kind Kind, cred string) (int, string, string) {
	n := len(*refused)
	w := httptest.NewRecorder()
	if g.Check(w, r, kind, cred) {
		return http.StatusOK, "", ""
	}
	reason := ""
	if len(*refused) > n {
		reason = (*refused)[len(*refused)-1]
	}
	return w.Code, w.Header().Get("Retry-After"), reason
}

func newTestGuard(c *clock, logs *logBuffer, cfg GuardConfig) (*Guard, *[]string) {
	var mu sync.Mutex
	refused := &[]string{}
	cfg.Now = c.Now
	if logs != nil {
		cfg.Logger = slog.New(slog.NewJSONHandler(logs, nil))
	}
	cfg.Refused = func(reason string) {
		mu.Lock()
		*refused = append(*refused, reason)
		mu.Unlock()
	}
	return NewGuard(cfg), refused
}

func TestBucket(t *testing.T) {
	c := newClock()
	r := Rate{Burst: 3, PerMinute: 30} // a token every 2 s
	var b bucket
	for i := range 3 {
		if !b.take(r, c.Now()) {
			t.Fatalf("take %d of a full bucket of 3 refused", i+1)
		}
	}
	if b.take(r, c.Now()) {
		t.Fatal("took a fourth token from a bucket of 3")
	}
	if got := retryAfterSeconds(b.wait(r)); got != 2 {
		t.Errorf("Retry-After %d s, want 2 (a token every 2 s)", got)
	}
	c.advance(time.Second)
	if b.take(r, c.Now()) || retryAfterSeconds(b.wait(r)) != 1 {
		t.Errorf("after 1 s: took a token, or wait %v is not 1 s", b.wait(r))
	}
	c.advance(time.Second)
	if !b.take(r, c.Now()) {
		t.Error("after 2 s no token came back")
	}
	c.advance(time.Hour)
	b.update(r, c.Now())
	if b.tokens != 3 {
		t.Errorf("after an hour the bucket holds %v tokens, want its burst of 3", b.tokens)
	}
	for range 10 {
		b.spend(r, c.Now())
	}
	if b.tokens != 0 {
		t.Errorf("spending past empty left %v tokens, want 0", b.tokens)
	}
	if err := (Rate{Burst: 0, PerMinute: 1}).Validate("x"); err == nil || !strings.Contains(err.Error(), "x.burst 0") {
		t.Errorf("burst 0: %v", err)
	}
	if err := (Rate{Burst: 1, PerMinute: 0}).Validate("x"); err == nil || !strings.Contains(err.Error(), "x.per_minute") {
		t.Errorf("per_minute 0: %v", err)
	}
}

func TestTableIsBounded(t *testing.T) {
	c := newClock()
	var evicted []string
	tb := newTable[int](3, time.Minute, func(k string, v *int) { evicted = append(evicted, k) })
	for _, k := range []string{"a", "b", "c"} {
		*tb.get(k, c.Now()) = 1
		c.advance(time.Second)
	}
	tb.get("a", c.Now()) // a is now the most recent; b the oldest
	tb.get("d", c.Now())
	if tb.len() != 3 || strings.Join(evicted, ",") != "b" {
		t.Fatalf("after a fourth key: %d entries, evicted %v; want 3 and [b]", tb.len(), evicted)
	}
	if v, ok := tb.peek("a", c.Now()); !ok || *v != 1 {
		t.Errorf("a lost its value: %v %v", v, ok)
	}
	c.advance(59 * time.Second) // c was last touched 60 s ago
	tb.sweep(c.Now())
	if _, ok := tb.peek("c", c.Now()); ok || tb.len() != 2 {
		t.Errorf("an entry idle for a minute stayed (len %d)", tb.len())
	}
	c.advance(time.Minute)
	tb.sweep(c.Now())
	if tb.len() != 0 {
		t.Errorf("%d entries left after every one was idle", tb.len())
	}
}

// TestFailedAuthPerAddress: an address that failed its burst gets 429
// with Retry-After, whatever credential it presents, even a valid one;
// another address is not affected; the limit lifts as tokens come back.
func TestFailedAuthPerAddress(t *testing.T) {
	c := newClock()
	g, refused := newTestGuard(c, nil, GuardConfig{FailedAuth: Rate{Burst: 30, PerMinute: 30}})
	bad := request("192.0.2.1:4000")
	for i := range 30 {
		if code, _, _ := check(g, refused, bad, APIToken, fmt.Sprintf("garbage-%d", i)); code != http.StatusOK {
			t.Fatalf("attempt %d of the burst got %d", i+1, code)
		}
		g.Result(bad, false, "api: invalid token")
	}
	code, retry, reason := check(g, refused, bad, APIToken, "the-valid-token")
	if code != http.StatusTooManyRequests || retry != "2" || reason != ReasonRateIP {
		t.Fatalf("31st attempt: %d Retry-After %q reason %q; want 429, 2, rate_ip", code, retry, reason)
	}
	if _, ok := g.creds[APIToken].peek("the-valid-token", c.Now()); ok {
		t.Error("the credential of a request refused for its address was counted")
	}
	if code, _, _ := check(g, refused, request("192.0.2.2:4000"), APIToken, "the-valid-token"); code != http.StatusOK {
		t.Errorf("another address got %d", code)
	}
	c.advance(2 * time.Second)
	if code, _, _ := check(g, refused, bad, APIToken, "x"); code != http.StatusOK {
		t.Errorf("after one token came back: %d", code)
	}
	g.Result(bad, false, "api: invalid token")
	if code, _, _ := check(g, refused, bad, APIToken, "x"); code != http.StatusTooManyRequests {
		t.Errorf("after spending it again: %d", code)
	}
	// Successes cost nothing.
	ok := request("192.0.2.3:4000")
	for range 100 {
		if code, _, _ := check(g, refused, ok, APIToken, "good"); code != http.StatusOK {
			t.Fatalf("a client that authenticates got %d", code)
		}
		g.Result(ok, true, "")
	}
}

// TestCredentialRate: one credential may make Burst requests at once from
// any addresses, then one per refill interval; others are not affected.
func TestCredentialRate(t *testing.T) {
	c := newClock()
	g, refused := newTestGuard(c, nil, GuardConfig{Credentials: [numKinds]Rate{
		EnrollSecret: {Burst: 5, PerMinute: 60}, NodeKey: {Burst: 1, PerMinute: 1}}})
	for i := range 5 {
		r := request(fmt.Sprintf("192.0.2.%d:4000", i+1))
		if code, _, _ := check(g, refused, r, EnrollSecret, "secret-hash"); code != http.StatusOK {
			t.Fatalf("request %d: %d", i+1, code)
		}
	}
	code, retry, reason := check(g, refused, request("198.51.100.1:1"), EnrollSecret, "secret-hash")
	if code != http.StatusTooManyRequests || retry != "1" || reason != ReasonRateCredential {
		t.Fatalf("6th request: %d Retry-After %q reason %q; want 429, 1, rate_credential", code, retry, reason)
	}
	if code, _, _ := check(g, refused, request("198.51.100.1:1"), EnrollSecret, "other-secret"); code != http.StatusOK {
		t.Errorf("another secret got %d", code)
	}
	// Kinds have their own rates and tables.
	if code, _, _ := check(g, refused, request("198.51.100.1:1"), NodeKey, "secret-hash"); code != http.StatusOK {
		t.Errorf("a node key with the same hash got %d", code)
	}
	if code, retry, _ := check(g, refused, request("198.51.100.1:1"), NodeKey, "secret-hash"); code != http.StatusTooManyRequests || retry != "60" {
		t.Errorf("a second use of a node key allowed once a minute: %d Retry-After %q", code, retry)
	}
	c.advance(time.Second)
	if code, _, _ := check(g, refused, request("192.0.2.1:4000"), EnrollSecret, "secret-hash"); code != http.StatusOK {
		t.Errorf("a second later: %d", code)
	}
	// A request without a credential is only checked for its address.
	if code, _, _ := check(g, refused, request("192.0.2.1:4000"), EnrollSecret, ""); code != http.StatusOK {
		t.Errorf("no credential: %d", code)
	}
}

func TestCheckAnswer(t *testing.T) {
	c := newClock()
	g, _ := newTestGuard(c, nil, GuardConfig{FailedAuth: Rate{Burst: 1, PerMinute: 1}})
	r := request("192.0.2.1:4000")
	g.Result(r, false, "x")
	w := httptest.NewRecorder()
	if g.Check(w, r, NodeKey, "k") {
		t.Fatal("let through")
	}
	var body map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || !strings.Contains(body["error"], "too many failed authentications") {
		t.Errorf("body %q: %v", w.Body.String(), err)
	}
	if w.Header().Get("Content-Type") != "application/json" || w.Header().Get("Retry-After") != "60" {
		t.Errorf("headers %v", w.Header())
	}
}

// TestFailureLogSummary: a flood of failures from one address writes one
// WARN at its first failure, then at most one a minute with the count
// and the last reason; Flush writes a due summary when no failure comes
// to write it, and Close what is left.
func TestFailureLogSummary(t *testing.T) {
	c := newClock()
	logs := &logBuffer{}
	g, refused := newTestGuard(c, logs, GuardConfig{FailedAuth: Rate{Burst: 30, PerMinute: 30}})
	bad := request("192.0.2.1:4000")
	for i := range 2000 {
		if code, _, _ := check(g, refused, bad, EnrollSecret, fmt.Sprint(i)); code == http.StatusOK {
			g.Result(bad, false, fmt.Sprintf("enroll: unknown enroll secret %d", i))
		}
	}
	recs := logs.records(t)
	if len(recs) != 1 {
		t.Fatalf("%d log lines for 2,000 attempts in one minute, want 1:\n%v", len(recs), recs)
	}
	if recs[0]["level"] != "WARN" || recs[0]["client"] != "192.0.2.1" || recs[0]["failed"] != 1.0 {
		t.Errorf("first line %v", recs[0])
	}
	c.advance(30 * time.Second)
	g.Flush()
	if n := len(logs.records(t)); n != 1 {
		t.Fatalf("Flush before the minute was over wrote %d lines", n-1)
	}
	c.advance(30 * time.Second)
	g.Flush()
	recs = logs.records(t)
	if len(recs) != 2 {
		t.Fatalf("Flush after the minute: %d lines, want 2", len(recs))
	}
	// 30 failures (the burst, the first logged already) and 1,970 429s.
	if recs[1]["failed"] != 29.0 || recs[1]["rate_limited"] != 1970.0 || recs[1]["last_reason"] != "enroll: unknown enroll secret 29" {
		t.Errorf("summary %v", recs[1])
	}
	c.advance(time.Second)
	g.Result(bad, false, "late")
	if n := len(logs.records(t)); n != 2 {
		t.Errorf("a failure a second after the summary was logged at once")
	}
	g.Close()
	recs = logs.records(t)
	if len(recs) != 3 || recs[2]["failed"] != 1.0 || recs[2]["last_reason"] != "late" {
		t.Errorf("Close: %v", recs)
	}
}

// TestFailureLogBudget: failures from many addresses write at most the
// budget of single-address lines a minute, and one line for the rest.
func TestFailureLogBudget(t *testing.T) {
	c := newClock()
	logs := &logBuffer{}
	g, _ := newTestGuard(c, logs, GuardConfig{})
	for i := range 1000 {
		g.Result(request(fmt.Sprintf("10.0.%d.%d:1", i/256, i%256)), false, "x")
	}
	recs := logs.records(t)
	if len(recs) != logBudget.Burst+1 {
		t.Fatalf("%d lines for 1,000 addresses, want %d and one for the others", len(recs), logBudget.Burst+1)
	}
	if recs[len(recs)-1]["clients"] != 1.0 {
		t.Errorf("first others line %v", recs[len(recs)-1])
	}
	c.advance(time.Minute)
	g.Flush()
	recs = logs.records(t)
	last := recs[len(recs)-1]
	if last["clients"] != float64(1000-logBudget.Burst-1) || last["failed"] != float64(1000-logBudget.Burst-1) {
		t.Errorf("others after a minute: %v", last)
	}
}

// TestTablesAreBounded: floods of distinct addresses and of garbage
// credentials keep each table at its cap, and idle entries go.
func TestTablesAreBounded(t *testing.T) {
	c := newClock()
	g, refused := newTestGuard(c, &logBuffer{}, GuardConfig{MaxEntries: 100})
	for i := range 10000 {
		r := request(fmt.Sprintf("10.%d.%d.%d:1", i>>16&255, i>>8&255, i&255))
		check(g, refused, r, APIToken, fmt.Sprintf("garbage-%d", i))
		g.Result(r, false, "x")
		// IPv6 addresses of one /64 are one client.
		r6 := request(fmt.Sprintf("[2001:db8::%x]:1", i))
		check(g, refused, r6, NodeKey, fmt.Sprintf("garbage-%d", i))
	}
	addrs, creds, logs := g.Sizes()
	if addrs > 100 || creds > 200 || logs > 100 {
		t.Fatalf("tables grew past their cap of 100: %d addresses, %d credentials, %d summaries", addrs, creds, logs)
	}
	c.advance(time.Hour)
	g.Flush()
	if addrs, creds, logs := g.Sizes(); addrs+creds+logs != 0 {
		t.Errorf("idle entries stayed: %d addresses, %d credentials, %d summaries", addrs, creds, logs)
	}
}

// TestGuardConcurrent exercises the Guard from many goroutines, for the
// race detector.
func TestGuardConcurrent(t *testing.T) {
	g := NewGuard(GuardConfig{MaxEntries: 50})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 500 {
				r := request(fmt.Sprintf("192.0.2.%d:1", (i*500+j)%200))
				if g.Check(httptest.NewRecorder(), r, Kind(j%3), fmt.Sprint(j%70)) {
					g.Result(r, j%2 == 0, "x")
				}
				if j%100 == 0 {
					g.Flush()
				}
			}
		}()
	}
	wg.Wait()
	g.Close()
}

func TestNilGuard(t *testing.T) {
	var g *Guard
	if !g.Check(httptest.NewRecorder(), request("192.0.2.1:1"), APIToken, "x") {
		t.Error("a nil Guard refused")
	}
	g.Result(request("192.0.2.1:1"), false, "x")
	g.Flush()
	g.Close()
}

// TestClientAddr: X-Forwarded-For counts only when the peer is a trusted
// proxy, and then its rightmost address that is not one.
func TestClientAddr(t *testing.T) {
	trusted, err := ParsePrefixes([]string{"10.0.0.0/8", "192.0.2.7", "2001:db8:1::/48"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		peer    string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"no proxies: the peer, header ignored", "198.51.100.1:5", []string{"203.0.113.9"}, nil, "198.51.100.1"},
		{"untrusted peer: header ignored", "198.51.100.1:5", []string{"203.0.113.9"}, trusted, "198.51.100.1"},
		{"trusted peer without header", "10.1.1.1:5", nil, trusted, "10.1.1.1"},
		{"trusted peer: rightmost", "10.1.1.1:5", []string{"203.0.113.9"}, trusted, "203.0.113.9"},
		{"client-written entries on the left are ignored", "10.1.1.1:5", []string{"1.1.1.1, 203.0.113.9"}, trusted, "203.0.113.9"},
		{"trusted hops skipped", "10.1.1.1:5", []string{"203.0.113.9, 10.2.2.2", "192.0.2.7"}, trusted, "203.0.113.9"},
		{"every hop trusted: the leftmost", "10.1.1.1:5", []string{"10.3.3.3, 10.2.2.2"}, trusted, "10.3.3.3"},
		{"garbage ends the walk at the last trusted hop", "10.1.1.1:5", []string{"203.0.113.9, junk, 10.2.2.2"}, trusted, "10.2.2.2"},
		{"ports and brackets", "10.1.1.1:5", []string{"[2001:db8:2::1]:443"}, trusted, "2001:db8:2::/64"},
		{"IPv6 peer keyed by /64", "[2001:db8:2::1]:5", nil, nil, "2001:db8:2::/64"},
		{"IPv6 proxy", "[2001:db8:1::1]:5", []string{"203.0.113.9"}, trusted, "203.0.113.9"},
		{"IPv4-mapped peer", "[::ffff:198.51.100.1]:5", nil, nil, "198.51.100.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := NewGuard(GuardConfig{TrustedProxies: tc.trusted})
			if got := g.clientKey(request(tc.peer, tc.xff...)); got != tc.want {
				t.Errorf("client %q, want %q", got, tc.want)
			}
		})
	}
	for _, bad := range []string{"10.0.0/8", "example.com", "", "fe80::1%eth0"} {
		if _, err := ParsePrefixes([]string{"192.0.2.1", bad}); err == nil || !strings.Contains(err.Error(), "entry 1") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// TestXForwardedForRateLimit: without trusted proxies, varying the header
// does not escape an address's limit; with the peer trusted, each
// forwarded client has its own.
func TestXForwardedForRateLimit(t *testing.T) {
	c := newClock()
	rate := Rate{Burst: 3, PerMinute: 1}
	fail := func(g *Guard, refused *[]string, n int, peer string) (limited int) {
		for i := range n {
			r := request(peer, fmt.Sprintf("203.0.113.%d", i))
			if code, _, _ := check(g, refused, r, APIToken, ""); code == http.StatusTooManyRequests {
				limited++
				continue
			}
			g.Result(r, false, "x")
		}
		return limited
	}
	g, refused := newTestGuard(c, nil, GuardConfig{FailedAuth: rate})
	if n := fail(g, refused, 10, "198.51.100.1:1"); n != 7 {
		t.Errorf("without trusted proxies: %d of 10 limited, want 7 (the header is ignored)", n)
	}
	trusted, _ := ParsePrefixes([]string{"198.51.100.1"})
	g, refused = newTestGuard(c, nil, GuardConfig{FailedAuth: rate, TrustedProxies: trusted})
	if n := fail(g, refused, 10, "198.51.100.1:1"); n != 0 {
		t.Errorf("with the proxy trusted: %d of 10 distinct clients limited, want 0", n)
	}
	for range 3 {
		r := request("198.51.100.1:1", "203.0.113.200")
		g.Result(r, false, "x")
	}
	if code, _, _ := check(g, refused, request("198.51.100.1:1", "203.0.113.200"), APIToken, ""); code != http.StatusTooManyRequests {
		t.Errorf("a forwarded client over its limit got %d", code)
	}
}

func TestDefaults(t *testing.T) {
	for _, tc := range []struct {
		soft       uint64
		max, perIP int
	}{
		{0, noLimitConns, 1024},
		{20, 16, 4},
		{256, 192, 48},
		{1024, 922, 230},
		{20000, 18976, 1024},
		{65536, 64512, 1024},
		{1 << 20, 1<<20 - 1024, 1024},
	} {
		max := MaxConnsFor(tc.soft)
		if max != tc.max || MaxUnauthPerIPFor(max) != tc.perIP {
			t.Errorf("open files %d: cap %d, per address %d; want %d, %d", tc.soft, max, MaxUnauthPerIPFor(max), tc.max, tc.perIP)
		}
	}
	// The load generator's default of 200 handshakes in flight from one
	// address fits under the per-address cap of any limit that can hold
	// 20,000 agents.
	if MaxUnauthPerIPFor(MaxConnsFor(20100)) < 200 {
		t.Error("default per-address cap below the load generator's concurrency")
	}
}
