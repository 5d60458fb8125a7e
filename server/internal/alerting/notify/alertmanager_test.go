package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"testing"
	"time"
)

var labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// decodeAlerts decodes an API v2 alerts body and checks each alert
// against the postableAlert schema.
func decodeAlerts(t *testing.T, body []byte) []map[string]any {
	t.Helper()
	var alerts []map[string]any
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&alerts); err != nil {
		t.Fatalf("body is not a JSON array of objects: %v\n%s", err, body)
	}
	for i, a := range alerts {
		checkKeys(t, "alert", a, []string{"labels"}, []string{"annotations", "startsAt", "endsAt", "generatorURL"})
		for _, field := range []string{"labels", "annotations"} {
			if a[field] == nil {
				continue
			}
			for k, v := range stringMap(t, field, obj(t, "alert", a, field)) {
				if !labelName.MatchString(k) {
					t.Errorf("alert %d: %s name %q is invalid", i, field, k)
				}
				if field == "labels" && v == "" {
					t.Errorf("alert %d: empty label %q", i, k)
				}
			}
		}
		start := rfc3339(t, "startsAt", str(t, "alert", a, "startsAt"))
		end := rfc3339(t, "endsAt", str(t, "alert", a, "endsAt"))
		if end.Before(start) {
			t.Errorf("alert %d ends before it starts", i)
		}
	}
	return alerts
}

func newAlertmanagerFake(t *testing.T, resend time.Duration) (*fake, *Alertmanager) {
	t.Helper()
	f := newFake(t, response{status: 200})
	s := mustNew(t, Config{Alertmanager: &AlertmanagerConfig{URL: f.URL() + "/am/"}}, Options{ResendInterval: resend})
	am, ok := s.(*Alertmanager)
	if !ok {
		t.Fatalf("New returned %T, want *Alertmanager", s)
	}
	return f, am
}

func TestAlertmanagerPayload(t *testing.T) {
	for _, ev := range allEvents {
		t.Run(string(ev), func(t *testing.T) {
			f, am := newAlertmanagerFake(t, 30*time.Second)
			m := testMessage(ev)
			before := time.Now().Truncate(time.Second)
			err := am.Send(context.Background(), m)
			after := time.Now()
			if ev == Acknowledge {
				if am.Handles(ev) {
					t.Error("Handles(acknowledge) = true")
				}
				if retry, _, _ := Classify(err); err == nil || retry {
					t.Errorf("Send(acknowledge) = %v, want a permanent error", err)
				}
				if n := len(f.requests()); n != 0 {
					t.Errorf("%d requests for an acknowledge", n)
				}
				return
			}
			if !am.Handles(ev) {
				t.Fatalf("Handles(%s) = false", ev)
			}
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			r := f.only(t)
			if r.Method != "POST" || r.Path != "/am/api/v2/alerts" || r.Header.Get("Content-Type") != "application/json" {
				t.Errorf("request %s %s %s", r.Method, r.Path, r.Header.Get("Content-Type"))
			}
			alerts := decodeAlerts(t, r.Body)
			if len(alerts) != 1 {
				t.Fatalf("%d alerts posted", len(alerts))
			}
			a := alerts[0]
			labels := stringMap(t, "labels", obj(t, "alert", a, "labels"))
			want := map[string]string{
				"alertname": "disk-encryption", "steward_alert_id": "42", "rule": "disk-encryption",
				"severity": "high", "host_id": "7", "hostname": "web-01", "os": "linux", "policy": "policy-17", "team": "infra",
			}
			if len(labels) != len(want) {
				t.Errorf("labels %v, want %v", labels, want)
			}
			for k, v := range want {
				if labels[k] != v {
					t.Errorf("label %s = %q, want %q", k, labels[k], v)
				}
			}
			ann := stringMap(t, "annotations", obj(t, "alert", a, "annotations"))
			if ann["summary"] != "Disk encryption is off on web-01" || ann["url"] == "" {
				t.Errorf("annotations %v", ann)
			}
			if g := str(t, "alert", a, "generatorURL"); g != m.Alert.Annotations["url"] {
				t.Errorf("generatorURL %q", g)
			}
			if s := rfc3339(t, "startsAt", str(t, "alert", a, "startsAt")); !s.Equal(t0) {
				t.Errorf("startsAt %v, want %v", s, t0)
			}
			end := rfc3339(t, "endsAt", str(t, "alert", a, "endsAt"))
			switch ev {
			case Trigger:
				if end.Before(before.Add(2*time.Minute)) || end.After(after.Add(2*time.Minute)) {
					t.Errorf("endsAt %v, want four resend intervals (2m) after the send", end)
				}
			case Resolve:
				if !end.Equal(m.Alert.ResolvedAt) {
					t.Errorf("endsAt %v, want the resolve time %v", end, m.Alert.ResolvedAt)
				}
			}
		})
	}
}

func TestAlertmanagerPostBatch(t *testing.T) {
	f, am := newAlertmanagerFake(t, 0) // default resend interval: 1m
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	if err := am.Post(context.Background(), nil, now); err != nil {
		t.Fatal(err)
	}
	if n := len(f.requests()); n != 0 {
		t.Fatalf("empty batch sent %d requests", n)
	}
	var batch []Alert
	for i := range 3 {
		a := testAlert()
		a.ID = int64(100 + i)
		batch = append(batch, a)
	}
	batch[2].State, batch[2].ResolvedAt = "resolved", now.Add(-time.Minute)
	if err := am.Post(context.Background(), batch, now); err != nil {
		t.Fatal(err)
	}
	alerts := decodeAlerts(t, f.only(t).Body)
	if len(alerts) != 3 {
		t.Fatalf("%d alerts in one request, want 3", len(alerts))
	}
	for i, a := range alerts {
		labels := stringMap(t, "labels", obj(t, "alert", a, "labels"))
		if labels["steward_alert_id"] != []string{"100", "101", "102"}[i] {
			t.Errorf("alert %d: steward_alert_id %q", i, labels["steward_alert_id"])
		}
		end := rfc3339(t, "endsAt", str(t, "alert", a, "endsAt"))
		want := now.Add(4 * time.Minute)
		if i == 2 {
			want = batch[2].ResolvedAt
		}
		if !end.Equal(want) {
			t.Errorf("alert %d: endsAt %v, want %v", i, end, want)
		}
	}
}

func TestAlertmanagerLabels(t *testing.T) {
	got := amLabels(map[string]string{
		"app.kubernetes.io/name": "web",
		"9lives":                 "cat",
		"empty":                  "",
		"a_b":                    "kept",
		"a.b":                    "dropped: a_b exists",
		"a-c":                    "first of the renamed",
		"a c":                    "second of the renamed",
		"ünïcode":                "ok",
		"bad":                    "\xff",
	})
	want := map[string]string{
		"app_kubernetes_io_name": "web",
		"_9lives":                "cat",
		"a_b":                    "kept",
		"a_c":                    "second of the renamed", // "a c" sorts before "a-c"
		"_n_code":                "ok",
		"bad":                    "\uFFFD",
	}
	if len(got) != len(want) {
		t.Errorf("amLabels = %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("label %q = %q, want %q", k, got[k], v)
		}
	}
}

func TestAlertmanagerResolveBeforeStart(t *testing.T) {
	// A resolve stamped before the start (clock skew) must not be refused
	// by Alertmanager for ending before it starts.
	f, am := newAlertmanagerFake(t, time.Minute)
	m := testMessage(Resolve)
	m.Alert.ResolvedAt = t0.Add(-time.Second)
	if err := am.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	decodeAlerts(t, f.only(t).Body)
}
