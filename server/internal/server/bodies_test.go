package server

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/steward-project/steward/server/internal/api"
)

// echoBody reads the whole body: 200 with its length, or 413 when the
// cap stopped the read.
var echoBody = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	n, err := io.Copy(io.Discard, r.Body)
	if tooLarge := new(http.MaxBytesError); errors.As(err, &tooLarge) {
		w.WriteHeader(http.StatusRequestEntityTooLarge)
		return
	}
	w.Header().Set("X-Read", strings.Repeat("x", int(min(n, 1))))
})

// TestEveryRouteHasABodyCap: every route the server serves, API routes
// included, refuses a declared body over its cap with 413 and a message
// naming the route and the cap, before its handler runs, and stops a
// chunked body at the cap; a body at the cap goes through. The policy
// upload takes far more than an enroll request.
func TestEveryRouteHasABodyCap(t *testing.T) {
	type route struct {
		method, path string
		max          int64
	}
	routes := []route{
		{"GET", "/healthz", 0}, {"GET", "/readyz", 0}, {"GET", "/metrics", 0},
		{"POST", "/agent/v1/enroll", 64 << 10},
	}
	for _, rt := range api.Routes() {
		path := strings.ReplaceAll(rt.Pattern, "{id}", "1")
		max := int64(64 << 10)
		switch {
		case rt.Method == "GET":
			max = 0
		case rt.Method == "POST" && path == "/api/v1/policies":
			max = 4 << 20
		}
		routes = append(routes, route{rt.Method, path, max})
	}
	h := capBodies(echoBody)
	for _, rt := range routes {
		// Over the cap, declared: 413 before the handler.
		req := httptest.NewRequest(rt.method, rt.path, strings.NewReader(strings.Repeat("a", int(rt.max)+1)))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		var body map[string]string
		json.Unmarshal(w.Body.Bytes(), &body)
		if w.Code != http.StatusRequestEntityTooLarge || !strings.Contains(body["error"], rt.method+" "+rt.path) ||
			w.Header().Get("X-Read") != "" {
			t.Errorf("%s %s with %d bytes: %d %q", rt.method, rt.path, rt.max+1, w.Code, body["error"])
		}
		// Over the cap, chunked (no length): the read stops at the cap.
		req = httptest.NewRequest(rt.method, rt.path, io.NopCloser(strings.NewReader(strings.Repeat("a", int(rt.max)+1))))
		req.ContentLength = -1
		w = httptest.NewRecorder()
		h.ServeHTTP(w, req)
		if w.Code != http.StatusRequestEntityTooLarge {
			t.Errorf("%s %s chunked with %d bytes: %d", rt.method, rt.path, rt.max+1, w.Code)
		}
		// At the cap: through.
		if rt.max > 0 {
			req = httptest.NewRequest(rt.method, rt.path, strings.NewReader(strings.Repeat("a", int(rt.max))))
			w = httptest.NewRecorder()
			h.ServeHTTP(w, req)
			if w.Code != http.StatusOK {
				t.Errorf("%s %s with %d bytes: %d", rt.method, rt.path, rt.max, w.Code)
			}
		}
	}
	req := httptest.NewRequest("POST", "/api/v1/policies", strings.NewReader(strings.Repeat("a", 5<<20)))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	if want := "takes at most 4 MiB (4194304 bytes), this one is 5242880 bytes"; !strings.Contains(w.Body.String(), want) {
		t.Errorf("policy message %q does not say %q", w.Body.String(), want)
	}
}
