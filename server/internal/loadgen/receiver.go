package loadgen

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Webhook headers the receiver reads (docs/notifications.md).
const (
	headerSignature    = "X-Steward-Signature"
	headerNotification = "X-Steward-Notification"
	// maxDelivery bounds a webhook body; the server's are a few KiB.
	maxDelivery = 1 << 20
)

// webhookDelivery is the part of a webhook body (schema version 1) the
// receiver needs.
type webhookDelivery struct {
	Version        string `json:"version"`
	NotificationID int64  `json:"notification_id"`
	Event          string `json:"event"`
	Alert          struct {
		ID       int64             `json:"id"`
		Rule     string            `json:"rule"`
		Hostname string            `json:"hostname"`
		Subject  string            `json:"subject"`
		Labels   map[string]string `json:"labels"`
	} `json:"alert"`
}

// alertReceiver is a generic webhook receiver. Every trigger notification
// is matched by its hostname and policy labels to the result an agent
// sent, and the time from that send to the notification's arrival is the
// result-to-notification latency.
type alertReceiver struct {
	secret []byte
	log    *resultsLog
	since  func() time.Duration
	srv    *http.Server
	addr   string
	served chan struct{}
	// closeOnce makes close safe to call twice (report, then a defer).
	closeOnce sync.Once
	// inFlight and maxInFlight count deliveries being handled at once: the
	// server's delivery.per_receiver is meant to bound it.
	inFlight    atomic.Int64
	maxInFlight atomic.Int64

	mu         sync.Mutex
	seen       map[int64]bool     // notification ids
	triggered  map[resultKey]bool // results a trigger arrived for
	deliveries int64
	events     map[string]int
	triggers   int64
	unmatched  int64
	duplicates int64
	retriggers int64
	badSig     int64
	malformed  int64
	firstTrig  time.Duration
	lastTrig   time.Duration
	anyTrigger bool
	latency    Histogram
	serveErr   error
}

// startReceiver listens on addr and serves webhook deliveries until close.
func startReceiver(addr, secret string, log *resultsLog, since func() time.Duration) (*alertReceiver, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("alert receiver: %w", err)
	}
	rc := newAlertReceiver(secret, log, since)
	rc.addr = ln.Addr().String()
	rc.srv = &http.Server{Handler: rc, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute}
	rc.served = make(chan struct{})
	go func() {
		defer close(rc.served)
		if err := rc.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			rc.mu.Lock()
			rc.serveErr = err
			rc.mu.Unlock()
		}
	}()
	return rc, nil
}

func newAlertReceiver(secret string, log *resultsLog, since func() time.Duration) *alertReceiver {
	return &alertReceiver{secret: []byte(secret), log: log, since: since,
		seen: map[int64]bool{}, triggered: map[resultKey]bool{}, events: map[string]int{}}
}

// close stops accepting deliveries and waits for those being handled; a
// second call does nothing.
func (rc *alertReceiver) close() {
	rc.closeOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = rc.srv.Shutdown(ctx)
		<-rc.served
	})
}

// ServeHTTP takes one delivery: 200 when it was read, 401 for a bad
// signature and 400 for a body that is not a webhook notification (both
// permanent for the server, so the row is dead-lettered and shows up).
func (rc *alertReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	storeMax(&rc.maxInFlight, rc.inFlight.Add(1))
	defer rc.inFlight.Add(-1)
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxDelivery))
	at := rc.since()
	if err != nil {
		rc.count(&rc.malformed)
		http.Error(w, "unreadable body", http.StatusBadRequest)
		return
	}
	if len(rc.secret) > 0 && !verifySignature(rc.secret, body, r.Header.Get(headerSignature)) {
		rc.count(&rc.badSig)
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	var d webhookDelivery
	if err := json.Unmarshal(body, &d); err != nil || d.Event == "" {
		rc.count(&rc.malformed)
		http.Error(w, "not a steward webhook notification", http.StatusBadRequest)
		return
	}
	if d.NotificationID == 0 {
		d.NotificationID, _ = strconv.ParseInt(r.Header.Get(headerNotification), 10, 64)
	}
	rc.record(d, at)
	w.WriteHeader(http.StatusOK)
}

// storeMax raises m to n when n is larger.
func storeMax(m *atomic.Int64, n int64) {
	for {
		old := m.Load()
		if n <= old || m.CompareAndSwap(old, n) {
			return
		}
	}
}

func (rc *alertReceiver) count(n *int64) {
	rc.mu.Lock()
	*n++
	rc.mu.Unlock()
}

// record accounts for one delivery that arrived at at.
func (rc *alertReceiver) record(d webhookDelivery, at time.Duration) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.deliveries++
	if d.NotificationID != 0 {
		if rc.seen[d.NotificationID] {
			rc.duplicates++
			return
		}
		rc.seen[d.NotificationID] = true
	}
	rc.events[d.Event]++
	if d.Event != "trigger" {
		return
	}
	rc.triggers++
	if !rc.anyTrigger || at < rc.firstTrig {
		rc.firstTrig = at
	}
	rc.lastTrig = max(rc.lastTrig, at)
	rc.anyTrigger = true
	hostname := d.Alert.Labels["hostname"]
	if hostname == "" {
		hostname = d.Alert.Hostname
	}
	k, sent, ok := rc.log.lookup(hostname, d.Alert.Labels["policy"])
	if !ok {
		rc.unmatched++
		return
	}
	if rc.triggered[k] {
		// A second trigger with a new id for one result: a second page
		// for one problem, unless the alert resolved in between.
		rc.retriggers++
		return
	}
	rc.triggered[k] = true
	rc.latency.Record(at - sent)
}

// verifySignature checks an X-Steward-Signature header, "sha256=" and the
// hex HMAC-SHA256 of body, in constant time. It is written here from the
// documented format rather than taken from the server's notify package,
// so that the load generator checks the server's signing as any receiver
// would, independently.
func verifySignature(secret, body []byte, header string) bool {
	hexSum, ok := strings.CutPrefix(strings.TrimSpace(header), "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSum)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hmac.Equal(mac.Sum(nil), got)
}

// report summarizes what arrived. failing says the agents reported fail,
// so every result sent should have raised a trigger.
func (rc *alertReceiver) report(failing bool) *AlertsReport {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	a := &AlertsReport{
		Receiver:         rc.addr,
		SignatureChecked: len(rc.secret) > 0,
		Deliveries:       rc.deliveries,
		Events:           make(map[string]int, len(rc.events)),
		Triggers:         rc.triggers,
		Unmatched:        rc.unmatched,
		Duplicates:       rc.duplicates,
		Retriggers:       rc.retriggers,
		BadSignature:     rc.badSig,
		Malformed:        rc.malformed,
		MaxInFlight:      rc.maxInFlight.Load(),
		Latency:          summarize(&rc.latency),
	}
	for k, v := range rc.events {
		a.Events[k] = v
	}
	if rc.serveErr != nil {
		a.Error = rc.serveErr.Error()
	}
	if rc.anyTrigger {
		a.FirstTriggerAtSeconds = round(rc.firstTrig.Seconds(), 3)
		a.LastTriggerAtSeconds = round(rc.lastTrig.Seconds(), 3)
		if first, _, ok := rc.log.span(); ok {
			a.FirstResultsToLastTriggerSeconds = round((rc.lastTrig - first).Seconds(), 3)
		}
	}
	if failing {
		a.WithoutTrigger = rc.log.without(rc.triggered)
	}
	return a
}

// triggerCount is the number of distinct triggers so far, for progress.
func (rc *alertReceiver) triggerCount() int64 {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.triggers
}
