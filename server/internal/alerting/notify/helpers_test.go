package notify

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"
	"testing"
	"time"
)

// t0 is the alert's start in the fixtures.
var t0 = time.Date(2025, 3, 1, 10, 15, 0, 0, time.UTC)

// testAlert is an ordinary open alert.
func testAlert() Alert {
	return Alert{
		ID:       42,
		DedupKey: "steward-42-9f86d081884c7d65",
		Rule:     "disk-encryption",
		HostID:   7,
		Hostname: "web-01",
		Subject:  "policy-17",
		Severity: "high",
		State:    "firing",
		Labels: map[string]string{
			"rule": "disk-encryption", "severity": "high", "host_id": "7", "hostname": "web-01",
			"os": "linux", "policy": "policy-17", "team": "infra",
		},
		Annotations: map[string]string{
			"summary":     "Disk encryption is off on web-01",
			"description": "The policy disk-encryption fails.",
			"evidence":    "luks: none",
			"url":         "https://steward.example/api/v1/alerts/42",
		},
		StartsAt: t0,
	}
}

// testMessage is the message of ev about testAlert, with the alert's
// state and times as they would be at that event.
func testMessage(ev Event) Message {
	a := testAlert()
	m := Message{NotificationID: 1001, Event: ev, Alert: a, At: t0}
	switch ev {
	case Acknowledge:
		m.NotificationID = 1002
		m.Alert.State = "acknowledged"
		m.Alert.AckedAt = t0.Add(5 * time.Minute)
		m.Alert.AckedBy = "alice"
		m.Alert.AckComment = "looking"
		m.At = m.Alert.AckedAt
	case Resolve:
		m.NotificationID = 1003
		m.Alert.State = "resolved"
		m.Alert.ResolvedAt = t0.Add(time.Hour)
		m.At = m.Alert.ResolvedAt
	}
	return m
}

var allEvents = []Event{Trigger, Acknowledge, Resolve}

// request is one request a fake receiver got.
type request struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// fake is an httptest server standing in for a vendor: it records the
// requests and answers each with the next response of its script (the
// last one repeats).
type fake struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []request
}

// response is one scripted answer.
type response struct {
	status int
	header map[string]string
	body   string
}

func newFake(t *testing.T, script ...response) *fake {
	t.Helper()
	if len(script) == 0 {
		script = []response{{status: 200}}
	}
	f := &fake{}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.got = append(f.got, request{r.Method, r.URL.Path, r.Header.Clone(), body})
		resp := script[min(len(f.got), len(script))-1]
		f.mu.Unlock()
		for k, v := range resp.header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(resp.status)
		io.WriteString(w, resp.body)
	}))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fake) URL() string { return f.srv.URL }

func (f *fake) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.got...)
}

// only returns the one request the fake got.
func (f *fake) only(t *testing.T) request {
	t.Helper()
	got := f.requests()
	if len(got) != 1 {
		t.Fatalf("fake got %d requests, want 1", len(got))
	}
	return got[0]
}

// hangingServer accepts requests and never answers until the test ends.
func hangingServer(t *testing.T) string {
	t.Helper()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) }) // runs first: unblock, then close
	return srv.URL
}

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// decodeObject decodes a JSON object keeping numbers as json.Number.
func decodeObject(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	if err := d.Decode(&m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, b)
	}
	return m
}

// checkKeys fails unless m has all of required and nothing outside
// required and optional.
func checkKeys(t *testing.T, what string, m map[string]any, required, optional []string) {
	t.Helper()
	allowed := map[string]bool{}
	for _, k := range append(append([]string(nil), required...), optional...) {
		allowed[k] = true
	}
	var extra []string
	for k := range m {
		if !allowed[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	if len(extra) > 0 {
		t.Errorf("%s: unexpected keys %v", what, extra)
	}
	for _, k := range required {
		if _, ok := m[k]; !ok {
			t.Errorf("%s: missing required key %q", what, k)
		}
	}
}

// str is m[k] as a string, failing when it is another type.
func str(t *testing.T, what string, m map[string]any, k string) string {
	t.Helper()
	v, ok := m[k]
	if !ok {
		return ""
	}
	s, ok := v.(string)
	if !ok {
		t.Errorf("%s.%s is %T, want a string", what, k, v)
	}
	return s
}

// obj is m[k] as an object.
func obj(t *testing.T, what string, m map[string]any, k string) map[string]any {
	t.Helper()
	o, ok := m[k].(map[string]any)
	if !ok {
		t.Fatalf("%s.%s is %T, want an object", what, k, m[k])
	}
	return o
}

// rfc3339 parses s, failing the test when it is not RFC 3339.
func rfc3339(t *testing.T, what, s string) time.Time {
	t.Helper()
	tm, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Errorf("%s %q is not RFC 3339: %v", what, s, err)
	}
	return tm
}

// mustNew builds a sender or fails.
func mustNew(t *testing.T, c Config, o Options) Sender {
	t.Helper()
	s, err := New("oncall", c, o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s
}

// stringMap checks that every value of o is a string.
func stringMap(t *testing.T, what string, o map[string]any) map[string]string {
	t.Helper()
	out := map[string]string{}
	for k, v := range o {
		s, ok := v.(string)
		if !ok {
			t.Errorf("%s[%q] is %T, want a string", what, k, v)
		}
		out[k] = s
	}
	return out
}
