package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// hangGuard bounds a single network operation of the edge tests so that
// a hang fails the test; it measures nothing.
const hangGuard = 30 * time.Second

// startEdgeServer starts steward-server on SQLite with its open files
// limit set to nofile (soft and hard; 0 leaves it alone) through
// prlimit(1), and with the YAML config cfg when not empty.
func startEdgeServer(t *testing.T, nofile int, cfg string) *server {
	t.Helper()
	dir := t.TempDir()
	addr := freeAddr(t)
	dataDir := filepath.Join(dir, "data")
	args := []string{"serve", "--listen", addr, "--db", "sqlite://" + filepath.Join(dir, "steward.db"),
		"--data-dir", dataDir, "--log-level", "info"}
	if cfg != "" {
		file := filepath.Join(dir, "steward.yaml")
		if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		args = append(args, "--config", file)
	}
	path := bin("steward-server")
	if nofile > 0 {
		prlimit, err := exec.LookPath("prlimit")
		if err != nil {
			t.Fatalf("prlimit (util-linux) is needed to start the server with a low open files limit: %v", err)
		}
		args = append([]string{fmt.Sprintf("--nofile=%d:%d", nofile, nofile), path}, args...)
		path = prlimit
	}
	s := &server{proc: startPath(t, path, nil, args...), url: "http://" + addr, dataDir: dataDir, args: args}
	s.waitReady(t)
	return s
}

// dialerFrom dials from the loopback address src.
func dialerFrom(src string) *net.Dialer {
	return &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}, Timeout: hangGuard}
}

// clientFrom is an HTTP client whose connections come from src, one
// kept alive at a time.
func clientFrom(src string) *http.Client {
	return &http.Client{Timeout: hangGuard, Transport: &http.Transport{
		DialContext: dialerFrom(src).DialContext, MaxIdleConnsPerHost: 1}}
}

func hostPort(url string) string { return strings.TrimPrefix(url, "http://") }

// waitAgentConnected waits until the server counts one connected agent.
func waitAgentConnected(t *testing.T, s *server) {
	t.Helper()
	eventually(t, 60*time.Second, "the agent connected", func() (bool, string) {
		v, ok := s.metric(t, "steward_agents_connected")
		return ok && v == 1, fmt.Sprintf("steward_agents_connected %v (found %v)", v, ok)
	})
}

// TestEdgeConnectionFlood runs a server limited to 256 open files and
// floods it from 127.0.0.2 with slow bodies, idle keep-alive connections
// and 2,000 connections that never send a byte. The address's
// connections past its cap are answered 503 with Retry-After and closed
// at once, so the server never runs out of descriptors: /healthz from
// 127.0.0.1 answers on the first try and a real agent enrolls and
// connects while the flood is held open.
func TestEdgeConnectionFlood(t *testing.T) {
	s := startEdgeServer(t, 256, "")
	// 256 open files: 64 kept in reserve, a quarter of the rest per address.
	if v, ok := s.metric(t, "steward_http_max_connections"); !ok || v != 192 {
		t.Fatalf("steward_http_max_connections = %v (found %v), want 192 under a limit of 256 open files", v, ok)
	}
	addr := hostPort(s.url)
	var held []net.Conn
	t.Cleanup(func() {
		for _, c := range held {
			c.Close()
		}
	})
	dial := func() net.Conn {
		c, err := dialerFrom("127.0.0.2").Dial("tcp", addr)
		if err != nil {
			t.Fatalf("dial from 127.0.0.2: %v", err)
		}
		held = append(held, c)
		return c
	}
	// Slow bodies: headers promising 1,000 bytes, then 10.
	for range 20 {
		fmt.Fprintf(dial(), "POST /agent/v1/enroll HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n0123456789")
	}
	// Idle keep-alives: one request answered, then nothing.
	for range 20 {
		c := dial()
		fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
		c.SetReadDeadline(time.Now().Add(hangGuard))
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("keep-alive /healthz: %v", err)
		}
		resp.Body.Close()
	}
	// 2,000 connections that never send.
	silent := make([]net.Conn, 0, 2000)
	for range 2000 {
		silent = append(silent, dial())
	}

	// With all of that open: /healthz from another address, first try.
	hc := clientFrom("127.0.0.1")
	resp, err := hc.Get(s.url + "/healthz")
	if err != nil {
		t.Fatalf("/healthz from 127.0.0.1 during the flood: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz from 127.0.0.1 during the flood: %s", resp.Status)
	}
	// A real agent (from 127.0.0.1) enrolls and connects.
	s.startAgent(t, t.TempDir())
	waitAgentConnected(t, s)
	// Its WebSocket passed its node key: it no longer counts against
	// 127.0.0.1's unauthenticated connections.
	if v, _ := s.metric(t, `steward_http_connections{state="authenticated"}`); v < 1 {
		t.Errorf(`steward_http_connections{state="authenticated"} = %v with an agent connected, want at least 1`, v)
	}

	// The silent connections past the cap were answered 503 and closed.
	var mu sync.Mutex
	answers := map[string]int{}
	var wg sync.WaitGroup
	for _, c := range silent {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.SetReadDeadline(time.Now().Add(hangGuard))
			what := "closed without an answer"
			if resp, err := http.ReadResponse(bufio.NewReader(c), nil); err == nil {
				what = resp.Status + " Retry-After=" + resp.Header.Get("Retry-After")
				resp.Body.Close()
			} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
				what = "still open"
			}
			mu.Lock()
			answers[what]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	t.Logf("answers to the silent connections: %v", answers)
	refused := answers["503 Service Unavailable Retry-After=10"]
	if refused < 1500 {
		t.Errorf("of 2,000 silent connections from one address, %d were refused with 503 and Retry-After; answers: %v", refused, answers)
	}
	if v, _ := s.metric(t, `steward_http_refused_total{reason="ip_cap"}`); v < float64(refused) {
		t.Errorf(`steward_http_refused_total{reason="ip_cap"} = %v, want at least %d`, v, refused)
	}
	if s.exited() {
		t.Fatal("the server exited during the flood")
	}
	if out := s.Output(); strings.Contains(out, "too many open files") {
		t.Errorf("the server ran out of file descriptors:\n%s", out)
	}
	// Still serving after the flood.
	if resp, err := hc.Get(s.url + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz after the flood: %v %v", resp, err)
	}
}

// edgeAuthConfig makes the failed-authentication limit exact: a burst of
// 30 and practically no refill during the test.
const edgeAuthConfig = "limits:\n  failed_auth: {burst: 30, per_minute: 0.01}\n"

// TestEdgeAuthFloods sends 2,000 wrong enroll secrets from 127.0.0.2,
// 2,000 wrong API tokens from 127.0.0.3 and 2,000 wrong node keys (real
// WebSocket dials) from 127.0.0.4: each address gets 401 for its first
// 30 and 429 with Retry-After after that, its credentials no longer
// looked at. A real agent and an API client on 127.0.0.1 are unaffected,
// and the log holds summary lines, not a WARN per failure.
func TestEdgeAuthFloods(t *testing.T) {
	s := startEdgeServer(t, 0, edgeAuthConfig)
	tally := func(what string, codes map[int]int) {
		t.Helper()
		if codes[401] != 30 || codes[429] != 1970 || len(codes) != 2 {
			t.Errorf("%s: statuses %v, want 30 × 401 then 1970 × 429", what, codes)
		}
	}
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { // enroll secrets
		defer wg.Done()
		hc, codes := clientFrom("127.0.0.2"), map[int]int{}
		for i := range 2000 {
			resp, err := hc.Post(s.url+"/agent/v1/enroll", "application/json",
				strings.NewReader(fmt.Sprintf(`{"enroll_secret":"wrong-%d","hostname":"h"}`, i)))
			if err != nil {
				t.Errorf("enroll %d: %v", i, err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes[resp.StatusCode]++
			if resp.StatusCode == 429 && resp.Header.Get("Retry-After") == "" {
				t.Errorf("429 without Retry-After")
				return
			}
		}
		tally("enroll", codes)
	}()
	go func() { // API tokens
		defer wg.Done()
		hc, codes := clientFrom("127.0.0.3"), map[int]int{}
		for i := range 2000 {
			req, _ := http.NewRequest("GET", s.url+"/api/v1/hosts", nil)
			req.Header.Set("Authorization", fmt.Sprintf("Bearer wrong-%d", i))
			resp, err := hc.Do(req)
			if err != nil {
				t.Errorf("api %d: %v", i, err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes[resp.StatusCode]++
		}
		tally("api", codes)
	}()
	go func() { // node keys, as WebSocket dials
		defer wg.Done()
		d := websocket.Dialer{NetDialContext: dialerFrom("127.0.0.4").DialContext, HandshakeTimeout: hangGuard}
		codes := map[int]int{}
		for i := range 2000 {
			ws, resp, err := d.Dial("ws"+strings.TrimPrefix(s.url, "http")+"/agent/v1/ws",
				http.Header{"Authorization": {fmt.Sprintf("Bearer wrong-%d", i)}})
			if err == nil {
				ws.Close()
				t.Errorf("a wrong node key was let in")
				return
			}
			if resp == nil {
				t.Errorf("dial %d: %v", i, err)
				return
			}
			codes[resp.StatusCode]++
		}
		tally("websocket", codes)
	}()
	wg.Wait()

	// A real agent and a good API client on 127.0.0.1 are unaffected.
	s.startAgent(t, t.TempDir())
	waitAgentConnected(t, s)
	var hosts struct {
		Hosts []any `json:"hosts"`
	}
	if code := s.get(t, "/api/v1/hosts", &hosts); code != 200 || len(hosts.Hosts) != 1 {
		t.Errorf("GET /api/v1/hosts from 127.0.0.1: %d, %d hosts", code, len(hosts.Hosts))
	}
	// The flooding address is refused even with the right token, which
	// is not looked at.
	req, _ := http.NewRequest("GET", s.url+"/api/v1/hosts", nil)
	req.Header.Set("Authorization", "Bearer "+s.token)
	if resp, err := clientFrom("127.0.0.3").Do(req); err != nil || resp.StatusCode != 429 {
		t.Errorf("the right token from the flooding address: %v %v, want 429", resp, err)
	}
	if v, _ := s.metric(t, `steward_http_refused_total{reason="rate_ip"}`); v != 3*1970+1 {
		t.Errorf(`steward_http_refused_total{reason="rate_ip"} = %v, want %d`, v, 3*1970+1)
	}

	// The log: a few summary lines per address, whose counts add up once
	// the server has stopped and written what was pending.
	if err := s.stop(t); err != nil {
		t.Fatalf("server stop: %v", err)
	}
	out := s.Output()
	if n := strings.Count(out, "level=WARN"); n > 12 {
		t.Errorf("%d WARN lines for 6,000 failed or refused attempts, want a few summaries:\n%s", n, out)
	}
	line := regexp.MustCompile(`level=WARN msg="authentication failures" client=(\S+) failed=(\d+) rate_limited=(\d+) last_reason="?([^"\n]*)`)
	failed, limited, reasons := map[string]int{}, map[string]int{}, map[string]string{}
	for _, m := range line.FindAllStringSubmatch(out, -1) {
		f, _ := strconv.Atoi(m[2])
		l, _ := strconv.Atoi(m[3])
		failed[m[1]] += f
		limited[m[1]] += l
		reasons[m[1]] = m[4]
	}
	for addr, want := range map[string]struct {
		limited int
		reason  string
	}{
		"127.0.0.2": {1970, "enroll: unknown enroll secret"},
		"127.0.0.3": {1971, "api: invalid, expired or revoked token"},
		"127.0.0.4": {1970, "agent: unknown node key"},
	} {
		if failed[addr] != 30 || limited[addr] != want.limited || reasons[addr] != want.reason {
			t.Errorf("summaries for %s: failed %d, rate limited %d, last reason %q; want 30, %d, %q",
				addr, failed[addr], limited[addr], reasons[addr], want.limited, want.reason)
		}
	}
	if t.Failed() {
		t.Logf("server output:\n%s", out)
	}
}

// TestEdgeForwardedFor: X-Forwarded-For is ignored unless the peer is a
// trusted proxy; then each forwarded client has its own limit, and the
// rightmost address the proxy did not add is the one counted.
func TestEdgeForwardedFor(t *testing.T) {
	badToken := func(hc *http.Client, s *server, xff string) int {
		t.Helper()
		req, _ := http.NewRequest("GET", s.url+"/api/v1/hosts", nil)
		req.Header.Set("Authorization", "Bearer wrong")
		req.Header.Set("X-Forwarded-For", xff)
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	// Without trusted_proxies, a new header each time does not help.
	s := startEdgeServer(t, 0, edgeAuthConfig)
	hc := clientFrom("127.0.0.2")
	codes := map[int]int{}
	for i := range 40 {
		codes[badToken(hc, s, fmt.Sprintf("203.0.113.%d", i))]++
	}
	if codes[401] != 30 || codes[429] != 10 {
		t.Errorf("without trusted proxies: %v, want 30 × 401 and 10 × 429", codes)
	}

	// Behind a trusted proxy (127.0.0.2), each client counts alone.
	s = startEdgeServer(t, 0, edgeAuthConfig+"trusted_proxies: [127.0.0.2/32]\n")
	codes = map[int]int{}
	for i := range 40 {
		codes[badToken(hc, s, fmt.Sprintf("203.0.113.%d", i))]++
	}
	if codes[401] != 40 {
		t.Errorf("40 clients behind a trusted proxy: %v, want 40 × 401", codes)
	}
	for range 29 {
		badToken(hc, s, "203.0.113.200")
	}
	if c := badToken(hc, s, "203.0.113.200"); c != 401 {
		t.Fatalf("30th failure of 203.0.113.200: %d", c)
	}
	if c := badToken(hc, s, "203.0.113.200"); c != 429 {
		t.Errorf("31st attempt of 203.0.113.200 through the proxy: %d, want 429", c)
	}
	// What the client wrote left of the proxy's entry does not count.
	if c := badToken(hc, s, "203.0.113.201, 203.0.113.200"); c != 429 {
		t.Errorf("203.0.113.200 posing as 203.0.113.201: %d, want 429", c)
	}
	if c := badToken(hc, s, "203.0.113.201"); c != 401 {
		t.Errorf("another client behind the proxy: %d, want 401", c)
	}
	// The proxy's own address is not blamed: a direct request from it
	// without the header is another client.
	if c := badToken(hc, s, ""); c != 401 {
		t.Errorf("the proxy itself: %d, want 401", c)
	}
}
