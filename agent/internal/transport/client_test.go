package transport

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

const testKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

func TestNewClientURLs(t *testing.T) {
	cases := []struct {
		in, wantWS, wantEnroll string
		wantErr                bool
	}{
		{in: "http://127.0.0.1:8080", wantWS: "ws://127.0.0.1:8080/agent/v1/ws", wantEnroll: "http://127.0.0.1:8080/agent/v1/enroll"},
		{in: "https://steward.example.com/", wantWS: "wss://steward.example.com/agent/v1/ws", wantEnroll: "https://steward.example.com/agent/v1/enroll"},
		{in: "https://example.com/steward", wantWS: "wss://example.com/steward/agent/v1/ws", wantEnroll: "https://example.com/steward/agent/v1/enroll"},
		{in: "ftp://example.com", wantErr: true},
		{in: "example.com:8080", wantErr: true},
		{in: "http://", wantErr: true},
		{in: "http://[::1", wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			c, err := NewClient(tc.in, nil)
			if tc.wantErr {
				if err == nil {
					t.Fatalf("NewClient(%q) succeeded, want error", tc.in)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.WSURL() != tc.wantWS {
				t.Errorf("ws url = %q, want %q", c.WSURL(), tc.wantWS)
			}
			if c.enrollURL != tc.wantEnroll {
				t.Errorf("enroll url = %q, want %q", c.enrollURL, tc.wantEnroll)
			}
		})
	}
}

func TestEnroll(t *testing.T) {
	cases := []struct {
		name        string
		status      int
		header      map[string]string
		body        string
		want        Enrollment
		wantIs      error
		wantRetry   time.Duration
		wantErrText string
	}{
		{
			name:   "accepted",
			status: 200,
			body:   `{"host_id": 9, "node_key": "` + testKey + `"}`,
			want:   Enrollment{HostID: 9, NodeKey: testKey},
		},
		{
			name:        "secret refused",
			status:      401,
			body:        `{"error": "unknown enroll secret"}`,
			wantIs:      ErrSecretRefused,
			wantErrText: "enroll secret refused by server (HTTP 401): unknown enroll secret",
		},
		{
			name:        "database down",
			status:      503,
			header:      map[string]string{"Retry-After": "7"},
			body:        `{"error": "database unavailable"}`,
			wantRetry:   7 * time.Second,
			wantErrText: "HTTP 503: database unavailable",
		},
		{
			name:        "bad request",
			status:      400,
			body:        "malformed body\nmore",
			wantErrText: "HTTP 400: malformed body",
		},
		{
			name:        "no key in answer",
			status:      200,
			body:        `{"host_id": 9}`,
			wantErrText: "no node key",
		},
		{
			name:        "key not hex",
			status:      200,
			body:        `{"host_id": 9, "node_key": "zz\r\nX-Evil: 1"}`,
			wantErrText: "not hex",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got enrollRequest
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Method != http.MethodPost || r.URL.Path != "/agent/v1/enroll" {
					t.Errorf("request %s %s, want POST /agent/v1/enroll", r.Method, r.URL.Path)
				}
				raw, _ := io.ReadAll(r.Body)
				if err := json.Unmarshal(raw, &got); err != nil {
					t.Errorf("request body %q: %v", raw, err)
				}
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				_, _ = io.WriteString(w, tc.body)
			}))
			defer srv.Close()
			c, err := NewClient(srv.URL, srv.Client())
			if err != nil {
				t.Fatal(err)
			}
			enr, err := c.Enroll(context.Background(), "s3cret", "web-1", map[string]string{"team": "web"})
			if got.EnrollSecret != "s3cret" || got.Hostname != "web-1" || got.Labels["team"] != "web" || len(got.Labels) != 1 {
				t.Errorf("server got %+v, want secret, hostname and labels", got)
			}
			if tc.wantErrText == "" && tc.wantIs == nil {
				if err != nil {
					t.Fatal(err)
				}
				if enr != tc.want {
					t.Errorf("enrollment = %+v, want %+v", enr, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Enroll succeeded with %+v, want error", enr)
			}
			if tc.wantIs != nil && !errors.Is(err, tc.wantIs) {
				t.Errorf("err = %v, want errors.Is %v", err, tc.wantIs)
			}
			if !strings.Contains(err.Error(), tc.wantErrText) {
				t.Errorf("err = %q, want it to contain %q", err, tc.wantErrText)
			}
			if got := RetryAfter(err); got != tc.wantRetry {
				t.Errorf("RetryAfter = %v, want %v", got, tc.wantRetry)
			}
		})
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		value string
		want  time.Duration
	}{
		{"", 0},
		{"5", 5 * time.Second},
		{" 120 ", 2 * time.Minute},
		{"0", 0},
		{"-3", 0},
		{"soon", 0},
		{"99999999999999", 24 * time.Hour},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0},
	}
	for _, tc := range cases {
		t.Run(tc.value, func(t *testing.T) {
			h := http.Header{}
			if tc.value != "" {
				h.Set("Retry-After", tc.value)
			}
			if got := parseRetryAfter(h, now); got != tc.want {
				t.Errorf("parseRetryAfter(%q) = %v, want %v", tc.value, got, tc.want)
			}
		})
	}
}
