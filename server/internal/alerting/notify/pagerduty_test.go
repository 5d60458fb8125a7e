package notify

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

const testRoutingKey = "R0UT1NGKEY0123456789abcdefABCDEF"

// pagerDutyAccepted is what PagerDuty answers an accepted event.
var pagerDutyAccepted = response{status: 202, header: map[string]string{"Content-Type": "application/json"},
	body: `{"status":"success","message":"Event processed","dedup_key":"steward-42-9f86d081884c7d65"}`}

func newPagerDutyFake(t *testing.T) (*fake, Sender) {
	t.Helper()
	f := newFake(t, pagerDutyAccepted)
	s := mustNew(t, Config{PagerDuty: &PagerDutyConfig{RoutingKey: NewSecret(testRoutingKey), URL: f.URL() + "/v2/enqueue"}}, Options{})
	return f, s
}

func TestPagerDutyPayload(t *testing.T) {
	for _, ev := range allEvents {
		t.Run(string(ev), func(t *testing.T) {
			f, s := newPagerDutyFake(t)
			if !s.Handles(ev) {
				t.Fatalf("Handles(%s) = false", ev)
			}
			m := testMessage(ev)
			if err := s.Send(context.Background(), m); err != nil {
				t.Fatalf("Send: %v", err)
			}
			r := f.only(t)
			if r.Method != "POST" || r.Path != "/v2/enqueue" || r.Header.Get("Content-Type") != "application/json" {
				t.Errorf("request %s %s %s", r.Method, r.Path, r.Header.Get("Content-Type"))
			}
			ev2 := decodeObject(t, r.Body)
			checkPagerDutyEvent(t, ev2, m)
		})
	}
}

// checkPagerDutyEvent checks e against the Events API v2 documentation.
func checkPagerDutyEvent(t *testing.T, e map[string]any, m Message) {
	t.Helper()
	common := []string{"routing_key", "event_action", "dedup_key"}
	if m.Event != Trigger {
		// acknowledge and resolve take these three fields only.
		checkKeys(t, "event", e, common, nil)
	} else {
		checkKeys(t, "event", e, append(common, "payload"), []string{"client", "client_url", "links", "images"})
	}
	if k := str(t, "event", e, "routing_key"); k != testRoutingKey {
		t.Errorf("routing_key %q", k)
	}
	if a := str(t, "event", e, "event_action"); a != string(m.Event) || !oneOf(a, "trigger", "acknowledge", "resolve") {
		t.Errorf("event_action %q, want %q", a, m.Event)
	}
	if k := str(t, "event", e, "dedup_key"); k != m.Alert.DedupKey || len(k) > 255 {
		t.Errorf("dedup_key %q", k)
	}
	if m.Event != Trigger {
		return
	}
	p := obj(t, "event", e, "payload")
	checkKeys(t, "payload", p, []string{"summary", "source", "severity"},
		[]string{"timestamp", "component", "group", "class", "custom_details"})
	sum := str(t, "payload", p, "summary")
	if sum != "Disk encryption is off on web-01" || utf8.RuneCountInString(sum) > 1024 {
		t.Errorf("summary %q", sum)
	}
	if src := str(t, "payload", p, "source"); src != "web-01" {
		t.Errorf("source %q", src)
	}
	if sev := str(t, "payload", p, "severity"); sev != "error" || !oneOf(sev, "critical", "error", "warning", "info") {
		t.Errorf("severity %q, want error for high", sev)
	}
	if ts := rfc3339(t, "timestamp", str(t, "payload", p, "timestamp")); !ts.Equal(t0) {
		t.Errorf("timestamp %v", ts)
	}
	for k, want := range map[string]string{"component": "disk-encryption", "group": "linux", "class": "policy-17"} {
		if got := str(t, "payload", p, k); got != want {
			t.Errorf("payload.%s = %q, want %q", k, got, want)
		}
	}
	d := obj(t, "payload", p, "custom_details")
	if id, ok := d["alert_id"].(json.Number); !ok || id.String() != "42" {
		t.Errorf("custom_details.alert_id %v", d["alert_id"])
	}
	if stringMap(t, "labels", obj(t, "custom_details", d, "labels"))["team"] != "infra" {
		t.Error("custom_details.labels lacks the alert's labels")
	}
	if stringMap(t, "annotations", obj(t, "custom_details", d, "annotations"))["evidence"] != "luks: none" {
		t.Error("custom_details.annotations lacks the alert's annotations")
	}
	if c := str(t, "event", e, "client"); c != "Steward" {
		t.Errorf("client %q", c)
	}
	url := m.Alert.Annotations["url"]
	if c := str(t, "event", e, "client_url"); c != url {
		t.Errorf("client_url %q", c)
	}
	links, ok := e["links"].([]any)
	if !ok || len(links) != 1 {
		t.Fatalf("links %v", e["links"])
	}
	l, _ := links[0].(map[string]any)
	checkKeys(t, "link", l, []string{"href", "text"}, nil)
	if str(t, "link", l, "href") != url || str(t, "link", l, "text") == "" {
		t.Errorf("link %v", l)
	}
}

func TestPagerDutySeverity(t *testing.T) {
	for ours, want := range map[string]string{
		"critical": "critical", "high": "error", "medium": "warning", "low": "info", "info": "info", "": "error", "weird": "error",
	} {
		if got := pagerDutySeverity(ours); got != want {
			t.Errorf("pagerDutySeverity(%q) = %q, want %q", ours, got, want)
		}
	}
}

func TestPagerDutyLimitsAndFallbacks(t *testing.T) {
	f, s := newPagerDutyFake(t)
	m := testMessage(Trigger)
	m.Alert.Annotations = map[string]string{"summary": strings.Repeat("ü", 3000), "url": "ftp://not-http"}
	m.Alert.Hostname = ""
	m.Alert.Labels = map[string]string{"kind": "package"}
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	e := decodeObject(t, f.only(t).Body)
	p := obj(t, "event", e, "payload")
	if n := utf8.RuneCountInString(str(t, "payload", p, "summary")); n != 1024 {
		t.Errorf("summary has %d characters, want 1024", n)
	}
	if src := str(t, "payload", p, "source"); src != "host 7" {
		t.Errorf("source %q, want host 7", src)
	}
	if _, has := p["group"]; has {
		t.Error("group sent without an os label")
	}
	if c := str(t, "payload", p, "class"); c != "package" {
		t.Errorf("class %q, want the kind label", c)
	}
	for _, k := range []string{"client_url", "links"} {
		if _, has := e[k]; has {
			t.Errorf("%s sent for a URL that is not http(s)", k)
		}
	}
}

func TestPagerDutyDedupKeyTooLong(t *testing.T) {
	f, s := newPagerDutyFake(t)
	m := testMessage(Trigger)
	m.Alert.DedupKey = strings.Repeat("k", 256)
	err := s.Send(context.Background(), m)
	if retry, _, _ := Classify(err); err == nil || retry {
		t.Fatalf("Send = %v, want a permanent error", err)
	}
	if strings.Contains(err.Error(), testRoutingKey) {
		t.Error("error shows the routing key")
	}
	if n := len(f.requests()); n != 0 {
		t.Errorf("%d requests sent", n)
	}
	m.Alert.DedupKey = strings.Repeat("k", 255)
	if err := s.Send(context.Background(), m); err != nil {
		t.Errorf("255 characters: %v", err)
	}
}

func oneOf(s string, allowed ...string) bool {
	for _, a := range allowed {
		if s == a {
			return true
		}
	}
	return false
}
