package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"testing"
)

func TestWebhookPayload(t *testing.T) {
	const secret = "s3cret-webhook-key"
	for _, ev := range allEvents {
		t.Run(string(ev), func(t *testing.T) {
			f := newFake(t, response{status: 204})
			s := mustNew(t, Config{Webhook: &WebhookConfig{
				URL:     f.URL() + "/hooks/steward",
				Secret:  NewSecret(secret),
				Headers: map[string]string{"Authorization": "Bearer abc", "X-Team": "infra"},
			}}, Options{UserAgent: "steward-test/1"})
			if !s.Handles(ev) {
				t.Fatalf("Handles(%s) = false", ev)
			}
			m := testMessage(ev)
			if err := s.Send(context.Background(), m); err != nil {
				t.Fatalf("Send: %v", err)
			}
			r := f.only(t)
			if r.Method != "POST" || r.Path != "/hooks/steward" {
				t.Errorf("request %s %s", r.Method, r.Path)
			}
			for k, want := range map[string]string{
				"Content-Type":           "application/json",
				"User-Agent":             "steward-test/1",
				"X-Steward-Event":        string(ev),
				"X-Steward-Notification": strconv.FormatInt(m.NotificationID, 10),
				"Authorization":          "Bearer abc",
				"X-Team":                 "infra",
			} {
				if got := r.Header.Get(k); got != want {
					t.Errorf("header %s = %q, want %q", k, got, want)
				}
			}

			// The signature, computed independently of the sender's code.
			mac := hmac.New(sha256.New, []byte(secret))
			mac.Write(r.Body)
			want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
			if got := r.Header.Get("X-Steward-Signature"); got != want {
				t.Errorf("signature %q, want %q", got, want)
			}
			if !VerifySignature([]byte(secret), r.Body, r.Header.Get("X-Steward-Signature")) {
				t.Error("VerifySignature refuses the signature sent")
			}

			checkWebhookBody(t, r.Body, m)
		})
	}
}

// checkWebhookBody checks body against the version 1 schema and m.
func checkWebhookBody(t *testing.T, body []byte, m Message) {
	t.Helper()
	top := decodeObject(t, body)
	checkKeys(t, "body", top, []string{"version", "notification_id", "event", "at", "alert"}, nil)
	if v := str(t, "body", top, "version"); v != "1" {
		t.Errorf("version %q", v)
	}
	if n, ok := top["notification_id"].(json.Number); !ok || n.String() != strconv.FormatInt(m.NotificationID, 10) {
		t.Errorf("notification_id %v, want %d", top["notification_id"], m.NotificationID)
	}
	if e := str(t, "body", top, "event"); e != string(m.Event) {
		t.Errorf("event %q, want %q", e, m.Event)
	}
	if at := rfc3339(t, "at", str(t, "body", top, "at")); !at.Equal(m.At) {
		t.Errorf("at %v, want %v", at, m.At)
	}

	a := obj(t, "body", top, "alert")
	required := []string{"id", "dedup_key", "rule", "host_id", "hostname", "subject", "severity", "state",
		"labels", "annotations", "starts_at"}
	var optional []string
	switch m.Event {
	case Acknowledge:
		required = append(required, "acked_at", "acked_by", "ack_comment")
	case Resolve:
		required = append(required, "resolved_at")
	}
	checkKeys(t, "alert", a, required, optional)
	for _, k := range []string{"id", "host_id"} {
		if _, ok := a[k].(json.Number); !ok {
			t.Errorf("alert.%s is %T, want a number", k, a[k])
		}
	}
	want := m.Alert
	for k, v := range map[string]string{
		"dedup_key": want.DedupKey, "rule": want.Rule, "hostname": want.Hostname, "subject": want.Subject,
		"severity": want.Severity, "state": want.State, "acked_by": want.AckedBy, "ack_comment": want.AckComment,
	} {
		if got := str(t, "alert", a, k); got != v {
			t.Errorf("alert.%s = %q, want %q", k, got, v)
		}
	}
	if got := rfc3339(t, "starts_at", str(t, "alert", a, "starts_at")); !got.Equal(want.StartsAt) {
		t.Errorf("starts_at %v", got)
	}
	if s := str(t, "alert", a, "acked_at"); s != "" && !rfc3339(t, "acked_at", s).Equal(want.AckedAt) {
		t.Errorf("acked_at %v", s)
	}
	if s := str(t, "alert", a, "resolved_at"); s != "" && !rfc3339(t, "resolved_at", s).Equal(want.ResolvedAt) {
		t.Errorf("resolved_at %v", s)
	}
	labels := stringMap(t, "labels", obj(t, "alert", a, "labels"))
	if labels["team"] != "infra" || len(labels) != len(want.Labels) {
		t.Errorf("labels %v", labels)
	}
	ann := stringMap(t, "annotations", obj(t, "alert", a, "annotations"))
	if ann["summary"] != want.Annotations["summary"] {
		t.Errorf("annotations %v", ann)
	}
}

func TestWebhookWithoutSecretOrMaps(t *testing.T) {
	f := newFake(t)
	s := mustNew(t, Config{Webhook: &WebhookConfig{URL: f.URL()}}, Options{})
	m := testMessage(Trigger)
	m.Alert.Labels, m.Alert.Annotations = nil, nil
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	r := f.only(t)
	if sig := r.Header.Get("X-Steward-Signature"); sig != "" {
		t.Errorf("signature %q sent without a secret", sig)
	}
	if ua := r.Header.Get("User-Agent"); ua != "steward-server" {
		t.Errorf("default User-Agent %q", ua)
	}
	a := obj(t, "body", decodeObject(t, r.Body), "alert")
	if len(obj(t, "alert", a, "labels")) != 0 || len(obj(t, "alert", a, "annotations")) != 0 {
		t.Errorf("nil maps must encode as {}: %s", r.Body)
	}
}

func TestVerifySignature(t *testing.T) {
	secret, body := []byte("k"), []byte(`{"version":"1"}`)
	good := Sign(secret, body)
	for _, tc := range []struct {
		name   string
		secret []byte
		body   []byte
		header string
		want   bool
	}{
		{"good", secret, body, good, true},
		{"other secret", []byte("j"), body, good, false},
		{"tampered body", secret, []byte(`{"version":"2"}`), good, false},
		{"no prefix", secret, body, good[len("sha256="):], false},
		{"sha1 prefix", secret, body, "sha1=" + good[len("sha256="):], false},
		{"not hex", secret, body, "sha256=zz", false},
		{"truncated", secret, body, good[:len(good)-2], false},
		{"empty header", secret, body, "", false},
		{"empty secret", nil, body, Sign(nil, body), false},
	} {
		if got := VerifySignature(tc.secret, tc.body, tc.header); got != tc.want {
			t.Errorf("%s: VerifySignature = %v, want %v", tc.name, got, tc.want)
		}
	}
}
