package notify

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// slackToken is the credential part of the fake Slack webhook URL.
const slackToken = "SLACKSECRETTOKEN0123456789"

// httpReceivers builds each HTTP receiver against base, with its secrets.
var httpReceivers = []struct {
	name    string
	config  func(base string) Config
	secrets []string
}{
	{"webhook", func(base string) Config {
		return Config{Webhook: &WebhookConfig{URL: base + "/hook?token=querytoken123", Secret: NewSecret("whsecret-0123456789")}}
	}, []string{"whsecret-0123456789", "querytoken123"}},
	{"slack", func(base string) Config {
		return Config{Slack: &SlackConfig{WebhookURL: NewSecret(base + "/services/T1/B1/" + slackToken)}}
	}, []string{slackToken}},
	{"pagerduty", func(base string) Config {
		return Config{PagerDuty: &PagerDutyConfig{RoutingKey: NewSecret(testRoutingKey), URL: base + "/v2/enqueue"}}
	}, []string{testRoutingKey}},
	{"alertmanager", func(base string) Config {
		// Basic auth in the URL: its password is a credential.
		return Config{Alertmanager: &AlertmanagerConfig{URL: strings.Replace(base, "://", "://steward:am-basic-pass@", 1)}}
	}, []string{"am-basic-pass"}},
}

// noSecret fails if err's message shows one of secrets.
func noSecret(t *testing.T, err error, secrets []string) {
	t.Helper()
	if err == nil {
		return
	}
	for _, s := range secrets {
		if strings.Contains(err.Error(), s) {
			t.Errorf("error shows a secret: %v", err)
		}
	}
}

func TestResponseSequence(t *testing.T) {
	for _, rc := range httpReceivers {
		t.Run(rc.name, func(t *testing.T) {
			date := time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)
			f := newFake(t,
				response{status: 500, body: "internal error"},
				response{status: 429, header: map[string]string{"Retry-After": "7"}, body: "rate limited"},
				// A receiver that echoes what it got must not make the
				// secrets reach the error.
				response{status: 400, body: "invalid_payload: " + strings.Join(rc.secrets, " ")},
				response{status: 503, header: map[string]string{"Retry-After": date}},
				response{status: 408},
				response{status: 404, body: "no_service"},
				response{status: 202, body: `{"status":"success"}`},
			)
			s := mustNew(t, rc.config(f.URL()), Options{})
			want := []struct {
				retry    bool
				status   int
				after    time.Duration // exact, unless approx
				approx   bool
				inMesage string
			}{
				{true, 500, 0, false, "internal error"},
				{true, 429, 7 * time.Second, false, "rate limited"},
				{false, 400, 0, false, "invalid_payload"},
				{true, 503, 90 * time.Second, true, ""},
				{true, 408, 0, false, ""},
				{false, 404, 0, false, "no_service"},
			}
			for i, w := range want {
				err := s.Send(context.Background(), testMessage(Trigger))
				if err == nil {
					t.Fatalf("answer %d: Send = nil", i)
				}
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("answer %d: %T is not *Error", i, err)
				}
				retry, after, status := Classify(err)
				if retry != w.retry || status != w.status {
					t.Errorf("answer %d: Classify = retry %v status %d, want %v %d", i, retry, status, w.retry, w.status)
				}
				if w.approx {
					if after <= w.after-30*time.Second || after > w.after {
						t.Errorf("answer %d: after %v, want about %v", i, after, w.after)
					}
				} else if after != w.after {
					t.Errorf("answer %d: after %v, want %v", i, after, w.after)
				}
				if !strings.Contains(err.Error(), w.inMesage) || !strings.Contains(err.Error(), `"oncall"`) {
					t.Errorf("answer %d: message %q lacks the receiver or %q", i, err, w.inMesage)
				}
				noSecret(t, err, rc.secrets)
			}
			if err := s.Send(context.Background(), testMessage(Trigger)); err != nil {
				t.Errorf("2xx answer: %v", err)
			}
		})
	}
}

func TestTimeout(t *testing.T) {
	for _, rc := range httpReceivers {
		t.Run(rc.name, func(t *testing.T) {
			s := mustNew(t, rc.config(hangingServer(t)), Options{Timeout: 200 * time.Millisecond})
			err := s.Send(context.Background(), testMessage(Trigger))
			if err == nil {
				t.Fatal("Send to a hanging receiver returned nil")
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error %v is not a deadline", err)
			}
			if retry, after, status := Classify(err); !retry || after != 0 || status != 0 {
				t.Errorf("Classify = %v %v %d, want a retry with no status", retry, after, status)
			}
			noSecret(t, err, rc.secrets)
		})
	}
}

func TestConnectionRefused(t *testing.T) {
	for _, rc := range httpReceivers {
		t.Run(rc.name, func(t *testing.T) {
			s := mustNew(t, rc.config("http://"+closedPort(t)), Options{})
			err := s.Send(context.Background(), testMessage(Trigger))
			if retry, _, status := Classify(err); err == nil || !retry || status != 0 {
				t.Errorf("Send = %v, want a retryable error without status", err)
			}
			noSecret(t, err, rc.secrets)
		})
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	target := newFake(t)
	f := newFake(t, response{status: 302, header: map[string]string{"Location": target.URL() + "/elsewhere"}})
	s := mustNew(t, Config{Webhook: &WebhookConfig{URL: f.URL()}}, Options{})
	err := s.Send(context.Background(), testMessage(Trigger))
	if retry, _, status := Classify(err); err == nil || retry || status != 302 {
		t.Errorf("Send = %v, want a permanent error with status 302", err)
	}
	if n := len(target.requests()); n != 0 {
		t.Errorf("redirect followed (%d requests)", n)
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	date := func(d time.Duration) string { return now.Add(d).Format(http.TimeFormat) }
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0},
		{"7", 7 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"0", 0},
		{"-5", 0},
		{"3600", time.Hour},
		{"3601", time.Hour},
		{"99999999999999999999999", time.Hour},
		{date(90 * time.Second), 90 * time.Second},
		{now.Add(30 * time.Second).Format(time.RFC850), 30 * time.Second},
		{date(-time.Minute), 0},
		{date(3 * time.Hour), time.Hour},
		{"soon", 0},
		{"1.5", 0},
	} {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func TestAnswerQuotedBriefly(t *testing.T) {
	f := newFake(t, response{status: 400, body: strings.Repeat("x", 100_000) + "\x00\r\nTAIL"})
	s := mustNew(t, Config{Webhook: &WebhookConfig{URL: f.URL()}}, Options{})
	err := s.Send(context.Background(), testMessage(Trigger))
	if err == nil {
		t.Fatal("Send = nil")
	}
	if n := len(err.Error()); n > 700 {
		t.Errorf("error message is %d bytes", n)
	}
	if strings.Contains(err.Error(), "TAIL") || strings.ContainsAny(err.Error(), "\x00\r\n") {
		t.Errorf("error quotes too much: %.100q", err)
	}
}

func TestConcurrentSends(t *testing.T) {
	// The delivery workers share one sender per receiver.
	for _, rc := range httpReceivers {
		t.Run(rc.name, func(t *testing.T) {
			f := newFake(t, response{status: 200})
			s := mustNew(t, rc.config(f.URL()), Options{})
			var wg sync.WaitGroup
			errs := make(chan error, 20)
			for i := range 20 {
				wg.Go(func() {
					m := testMessage(allEvents[i%2*2]) // trigger and resolve
					m.NotificationID = int64(i)
					errs <- s.Send(context.Background(), m)
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Error(err)
				}
			}
			if n := len(f.requests()); n != 20 {
				t.Errorf("%d requests, want 20", n)
			}
		})
	}
}
