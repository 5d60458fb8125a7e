//go:build soak

package e2e

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// crashPagerDuty is the Events API v2 as far as Steward uses it: it checks
// every event and models PagerDuty's de-duplication by dedup_key. An
// incident is open from a trigger until a resolve; a trigger while it is
// open (or acknowledged) is deduplicated, and a trigger after it resolved
// opens a new incident: a second page for one episode, which Steward
// must never cause.
type crashPagerDuty struct {
	mu        sync.Mutex
	rng       *rand.Rand
	order     int
	events    []crashPDEvent
	incidents map[string]*crashPDIncident
	pages     int
	// violations break the promises: a second incident, an acknowledge or
	// resolve with no open incident, anything after a resolve.
	violations []string
	invalid    []string
	injected   int
	// Repeats the design accepts: the same event again for an incident
	// already in that state.
	dupTrigger, dupAck, dupResolve int
}

type crashPDEvent struct {
	order    int
	action   string
	dedupKey string
}

type crashPDIncident struct {
	state                                string // triggered, acknowledged, resolved
	alertID                              int64  // custom_details.alert_id of the first trigger
	firstTrigger, firstAck, firstResolve int    // arrival order, 0: none
}

func newCrashPagerDuty(seed uint64) *crashPagerDuty {
	return &crashPagerDuty{rng: rand.New(rand.NewPCG(seed, 2000)), incidents: map[string]*crashPDIncident{}}
}

type crashPDEventIn struct {
	RoutingKey  string `json:"routing_key"`
	EventAction string `json:"event_action"`
	DedupKey    string `json:"dedup_key"`
	Payload     *struct {
		Summary       string         `json:"summary"`
		Source        string         `json:"source"`
		Severity      string         `json:"severity"`
		Timestamp     string         `json:"timestamp"`
		Component     string         `json:"component"`
		Class         string         `json:"class"`
		CustomDetails map[string]any `json:"custom_details"`
	} `json:"payload"`
}

// check lists what PagerDuty would refuse (or what Steward documents and
// does not do).
func (e *crashPDEventIn) check() []string {
	var bad []string
	if e.RoutingKey != crashRoutingKey {
		bad = append(bad, fmt.Sprintf("routing_key %q", e.RoutingKey))
	}
	if e.DedupKey == "" || len(e.DedupKey) > 255 {
		bad = append(bad, fmt.Sprintf("dedup_key of %d bytes", len(e.DedupKey)))
	}
	switch e.EventAction {
	case "trigger":
		p := e.Payload
		if p == nil {
			return append(bad, "trigger without payload")
		}
		if p.Summary == "" || len([]rune(p.Summary)) > 1024 {
			bad = append(bad, fmt.Sprintf("payload.summary of %d characters", len([]rune(p.Summary))))
		}
		if p.Source == "" {
			bad = append(bad, "no payload.source")
		}
		if !slices.Contains([]string{"critical", "error", "warning", "info"}, p.Severity) {
			bad = append(bad, fmt.Sprintf("payload.severity %q", p.Severity))
		}
		if p.Timestamp != "" {
			if _, err := time.Parse(time.RFC3339, p.Timestamp); err != nil {
				bad = append(bad, fmt.Sprintf("payload.timestamp %q", p.Timestamp))
			}
		}
		if id, ok := p.CustomDetails["alert_id"].(float64); !ok || id <= 0 {
			bad = append(bad, "no custom_details.alert_id")
		} else if !strings.HasPrefix(e.DedupKey, fmt.Sprintf("steward-%d-", int64(id))) {
			bad = append(bad, fmt.Sprintf("dedup_key %s is not alert %d's", e.DedupKey, int64(id)))
		}
	case "acknowledge", "resolve":
	default:
		bad = append(bad, fmt.Sprintf("event_action %q", e.EventAction))
	}
	return bad
}

func (f *crashPagerDuty) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var ev crashPDEventIn
	var bad []string
	switch {
	case r.Method != http.MethodPost || r.URL.Path != "/v2/enqueue":
		bad = []string{r.Method + " " + r.URL.Path}
	case !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json"):
		bad = []string{"Content-Type " + r.Header.Get("Content-Type")}
	default:
		if err := json.Unmarshal(body, &ev); err != nil {
			bad = []string{err.Error()}
		} else {
			bad = ev.check()
		}
	}
	if len(bad) > 0 {
		f.invalid = append(f.invalid, fmt.Sprintf("%s: %s", strings.Join(bad, "; "), body))
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(map[string]any{"status": "invalid event", "message": "Event object is invalid", "errors": bad})
		return
	}
	// Injected failures: nothing processed, Steward must try again.
	if f.rng.IntN(100) < crashFailPercent {
		f.injected++
		if f.rng.IntN(2) == 0 {
			http.Error(w, `{"status":"throttled"}`, http.StatusTooManyRequests)
		} else {
			http.Error(w, "internal error", http.StatusInternalServerError)
		}
		return
	}
	f.order++
	f.events = append(f.events, crashPDEvent{order: f.order, action: ev.EventAction, dedupKey: ev.DedupKey})
	inc := f.incidents[ev.DedupKey]
	switch ev.EventAction {
	case "trigger":
		switch {
		case inc == nil:
			f.pages++
			inc = &crashPDIncident{state: "triggered", firstTrigger: f.order, alertID: int64(ev.Payload.CustomDetails["alert_id"].(float64))}
			f.incidents[ev.DedupKey] = inc
		case inc.state == "resolved":
			f.pages++
			f.violations = append(f.violations, fmt.Sprintf("trigger #%d for %s after its resolve (#%d): a NEW incident, a second page",
				f.order, ev.DedupKey, inc.firstResolve))
			inc.state = "triggered"
		default:
			f.dupTrigger++ // deduplicated into the open incident
			if id := int64(ev.Payload.CustomDetails["alert_id"].(float64)); id != inc.alertID {
				f.violations = append(f.violations, fmt.Sprintf("trigger #%d for %s names alert %d; its first trigger named alert %d",
					f.order, ev.DedupKey, id, inc.alertID))
			}
		}
	case "acknowledge":
		switch {
		case inc == nil:
			f.violations = append(f.violations, fmt.Sprintf("acknowledge #%d for %s, which was never triggered", f.order, ev.DedupKey))
		case inc.state == "resolved":
			f.violations = append(f.violations, fmt.Sprintf("acknowledge #%d for %s after its resolve (#%d)", f.order, ev.DedupKey, inc.firstResolve))
		case inc.state == "acknowledged":
			f.dupAck++
		default:
			inc.state = "acknowledged"
			inc.firstAck = f.order
		}
	case "resolve":
		switch {
		case inc == nil:
			f.violations = append(f.violations, fmt.Sprintf("resolve #%d for %s, which was never triggered", f.order, ev.DedupKey))
		case inc.state == "resolved":
			f.dupResolve++
		default:
			inc.state = "resolved"
			inc.firstResolve = f.order
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	json.NewEncoder(w).Encode(map[string]string{"status": "success", "message": "Event processed", "dedup_key": ev.DedupKey})
}

// crashWebhook is a generic webhook receiver that checks the signature
// with its own HMAC and records deliveries by notification id and by
// alert.
type crashWebhook struct {
	secret []byte

	mu             sync.Mutex
	rng            *rand.Rand
	order          int
	deliveries     []crashHookDelivery
	byNotification map[int64]crashHookDelivery  // the first delivery of each notification id
	byAlert        map[int64]map[string][]int64 // alert id -> event -> distinct notification ids
	order1         map[int64]map[string]int     // alert id -> event -> arrival order of its first delivery
	lastBefore     map[int64]int                // alert id -> arrival order of its last trigger or acknowledge
	invalid        []string
	injected       int
	duplicates     int
	dupMismatch    []string
}

type crashHookDelivery struct {
	order          int
	notificationID int64
	AlertID        int64
	Event          string
	DedupKey       string
}

func newCrashWebhook(seed uint64, secret []byte) *crashWebhook {
	return &crashWebhook{secret: secret, rng: rand.New(rand.NewPCG(seed, 3000)),
		byNotification: map[int64]crashHookDelivery{}, byAlert: map[int64]map[string][]int64{},
		order1: map[int64]map[string]int{}, lastBefore: map[int64]int{}}
}

// firstFor is the first delivery about alert id.
func (f *crashWebhook) firstFor(id int64) (crashHookDelivery, bool) {
	for _, d := range f.deliveries {
		if d.AlertID == id {
			return d, true
		}
	}
	return crashHookDelivery{}, false
}

func (f *crashWebhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var in struct {
		Version        string `json:"version"`
		NotificationID int64  `json:"notification_id"`
		Event          string `json:"event"`
		Alert          struct {
			ID       int64  `json:"id"`
			DedupKey string `json:"dedup_key"`
			State    string `json:"state"`
		} `json:"alert"`
	}
	var bad []string
	mac := hmac.New(sha256.New, f.secret)
	mac.Write(body)
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	nid, nidErr := strconv.ParseInt(r.Header.Get("X-Steward-Notification"), 10, 64)
	switch {
	case r.Method != http.MethodPost || r.URL.Path != "/steward":
		bad = append(bad, r.Method+" "+r.URL.Path)
	case !hmac.Equal([]byte(r.Header.Get("X-Steward-Signature")), []byte(want)):
		bad = append(bad, fmt.Sprintf("X-Steward-Signature %q, want %q", r.Header.Get("X-Steward-Signature"), want))
	case nidErr != nil:
		bad = append(bad, fmt.Sprintf("X-Steward-Notification %q", r.Header.Get("X-Steward-Notification")))
	default:
		if err := json.Unmarshal(body, &in); err != nil {
			bad = append(bad, err.Error())
			break
		}
		if in.Version != "1" || in.NotificationID != nid || in.Event != r.Header.Get("X-Steward-Event") ||
			!slices.Contains([]string{"trigger", "acknowledge", "resolve"}, in.Event) ||
			in.Alert.ID <= 0 || !strings.HasPrefix(in.Alert.DedupKey, fmt.Sprintf("steward-%d-", in.Alert.ID)) {
			bad = append(bad, fmt.Sprintf("inconsistent delivery (headers event %q, notification %d)", r.Header.Get("X-Steward-Event"), nid))
		}
	}
	if len(bad) > 0 {
		f.invalid = append(f.invalid, fmt.Sprintf("%s: %s", strings.Join(bad, "; "), body))
		http.Error(w, strings.Join(bad, "; "), http.StatusUnauthorized)
		return
	}
	if f.rng.IntN(100) < crashFailPercent {
		f.injected++
		if f.rng.IntN(2) == 0 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "busy", http.StatusServiceUnavailable)
		} else {
			http.Error(w, "internal error", http.StatusInternalServerError)
		}
		return
	}
	f.order++
	d := crashHookDelivery{order: f.order, notificationID: nid, AlertID: in.Alert.ID, Event: in.Event, DedupKey: in.Alert.DedupKey}
	f.deliveries = append(f.deliveries, d)
	if f.order1[d.AlertID] == nil {
		f.order1[d.AlertID] = map[string]int{}
	}
	if f.order1[d.AlertID][d.Event] == 0 {
		f.order1[d.AlertID][d.Event] = f.order
	}
	if d.Event != "resolve" {
		f.lastBefore[d.AlertID] = f.order
	}
	if first, ok := f.byNotification[nid]; ok {
		f.duplicates++
		if first.AlertID != d.AlertID || first.Event != d.Event || first.DedupKey != d.DedupKey {
			f.dupMismatch = append(f.dupMismatch, fmt.Sprintf("notification %d was alert %d %s %s, then alert %d %s %s",
				nid, first.AlertID, first.Event, first.DedupKey, d.AlertID, d.Event, d.DedupKey))
		}
	} else {
		f.byNotification[nid] = d
		if f.byAlert[d.AlertID] == nil {
			f.byAlert[d.AlertID] = map[string][]int64{}
		}
		f.byAlert[d.AlertID][d.Event] = append(f.byAlert[d.AlertID][d.Event], nid)
	}
	w.WriteHeader(http.StatusOK)
}
