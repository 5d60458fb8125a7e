package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// The fakes below stand in for the receivers Steward sends to. Each
// checks every request it gets against the receiver's contract and
// records it; a request that breaks the contract is answered as the real
// service would (400) and fails the test.

// pdEvent is one PagerDuty Events API v2 event as the fake received it.
type pdEvent struct {
	RoutingKey  string     `json:"routing_key"`
	EventAction string     `json:"event_action"`
	DedupKey    string     `json:"dedup_key"`
	Payload     *pdPayload `json:"payload"`
	Client      string     `json:"client"`
	ClientURL   string     `json:"client_url"`
	Links       []struct {
		Href string `json:"href"`
		Text string `json:"text"`
	} `json:"links"`
}

type pdPayload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"`
	Timestamp     string         `json:"timestamp"`
	Component     string         `json:"component"`
	Group         string         `json:"group"`
	Class         string         `json:"class"`
	CustomDetails map[string]any `json:"custom_details"`
}

// pdEventKeys and pdPayloadKeys are the fields the Events API v2 knows.
var (
	pdEventKeys   = []string{"routing_key", "event_action", "dedup_key", "payload", "images", "links", "client", "client_url"}
	pdPayloadKeys = []string{"summary", "source", "severity", "timestamp", "component", "group", "class", "custom_details"}
)

// fakePagerDuty is the Events API v2 endpoint at URL + "/v2/enqueue".
type fakePagerDuty struct {
	*httptest.Server
	t          *testing.T
	routingKey string
	// failing, while set, answers valid events 500 with the request
	// body echoed back, as a confused proxy might: the error Steward
	// records must not carry the routing key along.
	failing atomic.Bool

	mu     sync.Mutex
	events []pdEvent
}

func newFakePagerDuty(t *testing.T, routingKey string) *fakePagerDuty {
	f := &fakePagerDuty{t: t, routingKey: routingKey}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

// enqueueURL is what the pagerduty receiver's url is set to.
func (f *fakePagerDuty) enqueueURL() string { return f.URL + "/v2/enqueue" }

func (f *fakePagerDuty) refuse(w http.ResponseWriter, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	f.t.Errorf("fake PagerDuty: invalid event: %s", msg)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	json.NewEncoder(w).Encode(map[string]any{"status": "invalid event", "message": "Event object is invalid", "errors": []string{msg}})
}

func (f *fakePagerDuty) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/v2/enqueue" {
		f.refuse(w, "%s %s; want POST /v2/enqueue", r.Method, r.URL.Path)
		return
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		f.refuse(w, "Content-Type %q", ct)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		f.refuse(w, "read body: %v", err)
		return
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		f.refuse(w, "not a JSON object: %v: %s", err, body)
		return
	}
	for k := range raw {
		if !slices.Contains(pdEventKeys, k) {
			f.refuse(w, "unknown field %q", k)
			return
		}
	}
	var ev pdEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		f.refuse(w, "decode: %v: %s", err, body)
		return
	}
	switch {
	case ev.RoutingKey != f.routingKey:
		f.refuse(w, "routing_key %q, want the configured one", ev.RoutingKey)
		return
	case !slices.Contains([]string{"trigger", "acknowledge", "resolve"}, ev.EventAction):
		f.refuse(w, "event_action %q", ev.EventAction)
		return
	case ev.DedupKey == "" || len(ev.DedupKey) > 255:
		f.refuse(w, "dedup_key %q: want 1 to 255 characters", ev.DedupKey)
		return
	}
	if ev.EventAction == "trigger" {
		if err := checkPDPayload(raw["payload"], ev.Payload); err != nil {
			f.refuse(w, "trigger %s: %v", ev.DedupKey, err)
			return
		}
	} else if ev.Payload != nil || ev.Client != "" || ev.ClientURL != "" || ev.Links != nil {
		// Not an error for PagerDuty, but Steward's contract says an
		// acknowledge or resolve carries routing_key, event_action and
		// dedup_key only.
		f.refuse(w, "%s carries more than routing_key, event_action and dedup_key: %s", ev.EventAction, body)
		return
	}
	fail := f.failing.Load()
	if !fail {
		f.mu.Lock()
		f.events = append(f.events, ev)
		f.mu.Unlock()
	}
	w.Header().Set("Content-Type", "application/json")
	if fail {
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, `{"status":"error","message":"upstream failed on %s"}`, body)
		return
	}
	w.WriteHeader(http.StatusAccepted)
	json.NewEncoder(w).Encode(map[string]string{"status": "success", "message": "Event processed", "dedup_key": ev.DedupKey})
}

func checkPDPayload(raw json.RawMessage, p *pdPayload) error {
	if p == nil {
		return fmt.Errorf("no payload")
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(raw, &keys); err != nil {
		return fmt.Errorf("payload: %v", err)
	}
	for k := range keys {
		if !slices.Contains(pdPayloadKeys, k) {
			return fmt.Errorf("payload: unknown field %q", k)
		}
	}
	switch {
	case p.Summary == "" || utf8.RuneCountInString(p.Summary) > 1024:
		return fmt.Errorf("payload.summary %q: want 1 to 1024 characters", p.Summary)
	case p.Source == "":
		return fmt.Errorf("payload.source is required")
	case !slices.Contains([]string{"critical", "error", "warning", "info"}, p.Severity):
		return fmt.Errorf("payload.severity %q", p.Severity)
	}
	if p.Timestamp != "" {
		if _, err := time.Parse(time.RFC3339, p.Timestamp); err != nil {
			return fmt.Errorf("payload.timestamp: %v", err)
		}
	}
	return nil
}

// got returns the events accepted so far, in order.
func (f *fakePagerDuty) got() []pdEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.events)
}

// actions returns the accepted events with action, in order.
func (f *fakePagerDuty) actions(action string) []pdEvent {
	var out []pdEvent
	for _, ev := range f.got() {
		if ev.EventAction == action {
			out = append(out, ev)
		}
	}
	return out
}

// summarize renders the accepted events for failure messages.
func (f *fakePagerDuty) summarize() string {
	var parts []string
	for _, ev := range f.got() {
		parts = append(parts, ev.EventAction+" "+ev.DedupKey)
	}
	return fmt.Sprintf("PagerDuty events %q", parts)
}

// hookDelivery is one request a fake HTTP receiver accepted.
type hookDelivery struct {
	Path   string
	Header http.Header
	Body   []byte
}

// fakeHook accepts JSON POSTs and records them. check, when set, vets a
// request: a non-empty answer refuses it with 400 and fails the test.
// While failing is set it answers 503, Retry-After: 1, with the request's
// path echoed back.
type fakeHook struct {
	*httptest.Server
	t       *testing.T
	name    string
	check   func(r *http.Request, body []byte) string
	failing atomic.Bool

	mu  sync.Mutex
	got []hookDelivery
}

func newFakeHook(t *testing.T, name string, check func(r *http.Request, body []byte) string) *fakeHook {
	f := &fakeHook{t: t, name: name, check: check}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeHook) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") || !json.Valid(body) {
		f.t.Errorf("fake %s: %s %s with Content-Type %q: %s", f.name, r.Method, r.URL.Path, r.Header.Get("Content-Type"), body)
		http.Error(w, "want a JSON POST", http.StatusBadRequest)
		return
	}
	if f.check != nil {
		if problem := f.check(r, body); problem != "" {
			f.t.Errorf("fake %s: %s: %s", f.name, problem, body)
			http.Error(w, problem, http.StatusBadRequest)
			return
		}
	}
	if f.failing.Load() {
		w.Header().Set("Retry-After", "1")
		http.Error(w, "no service at "+r.URL.Path, http.StatusServiceUnavailable)
		return
	}
	f.mu.Lock()
	f.got = append(f.got, hookDelivery{Path: r.URL.Path, Header: r.Header.Clone(), Body: body})
	f.mu.Unlock()
	w.Write([]byte("ok"))
}

func (f *fakeHook) deliveries() []hookDelivery {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.got)
}

// signedWith checks the X-Steward-Signature of a webhook delivery under
// secret, as a consumer would: HMAC-SHA256 of the raw body, compared in
// constant time.
func signedWith(secret string) func(r *http.Request, body []byte) string {
	return func(r *http.Request, body []byte) string {
		mac := hmac.New(sha256.New, []byte(secret))
		mac.Write(body)
		want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
		if !hmac.Equal([]byte(want), []byte(r.Header.Get("X-Steward-Signature"))) {
			return "X-Steward-Signature does not verify under the configured secret"
		}
		if r.Header.Get("X-Steward-Event") == "" || r.Header.Get("X-Steward-Notification") == "" {
			return "X-Steward-Event or X-Steward-Notification missing"
		}
		return ""
	}
}

// fakeSMTP is a mail server on loopback that requires STARTTLS and AUTH
// PLAIN with one user and password, and records the mail it accepts.
type fakeSMTP struct {
	addr     string
	caFile   string
	user     string
	password string

	mu       sync.Mutex
	mails    [][]byte
	badLogin int
}

func newFakeSMTP(t *testing.T, user, password string) *fakeSMTP {
	t.Helper()
	f := &fakeSMTP{user: user, password: password}
	cert, caPEM := selfSignedCert(t)
	f.caFile = filepath.Join(t.TempDir(), "smtp-ca.pem")
	if err := os.WriteFile(f.caFile, caPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &smtpSession{f: f, conn: c}, nil
	}))
	srv.Domain = "localhost"
	srv.ErrorLog = log.New(io.Discard, "", 0)
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = l.Addr().String()
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(l) }()
	t.Cleanup(func() { srv.Close(); <-done })
	return f
}

func (f *fakeSMTP) received() ([][]byte, int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.mails), f.badLogin
}

type smtpSession struct {
	f      *fakeSMTP
	conn   *smtp.Conn
	authed bool
	data   []byte
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if _, tls := s.conn.TLSConnectionState(); !tls || username != s.f.user || password != s.f.password {
			s.f.mu.Lock()
			s.f.badLogin++
			s.f.mu.Unlock()
			return smtp.ErrAuthFailed
		}
		s.authed = true
		return nil
	}), nil
}

func (s *smtpSession) Mail(string, *smtp.MailOptions) error {
	if !s.authed {
		return smtp.ErrAuthRequired
	}
	return nil
}

func (s *smtpSession) Rcpt(string, *smtp.RcptOptions) error { return nil }

func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.f.mu.Lock()
	s.f.mails = append(s.f.mails, b)
	s.f.mu.Unlock()
	return nil
}

func (s *smtpSession) Reset()        {}
func (s *smtpSession) Logout() error { return nil }

// selfSignedCert makes a certificate for 127.0.0.1 and its PEM to trust
// it by.
func selfSignedCert(t *testing.T) (tls.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "steward e2e smtp"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key},
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
