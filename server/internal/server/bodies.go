package server

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/steward-project/steward/server/internal/api"
)

// Request body caps. Every route has one, so no handler can be made to
// read an unbounded body; the handlers that read a body apply the same
// cap again where they read it.
const (
	// enrollBodyMax bounds an enroll request: a secret, a hostname and
	// at most 64 labels.
	enrollBodyMax = 64 << 10
	// jsonBodyMax bounds the admin API's JSON bodies (exemptions,
	// labels, silences, acknowledgements).
	jsonBodyMax = 64 << 10
	// policyBodyMax bounds a policy file, the largest body the server
	// takes.
	policyBodyMax = api.MaxPolicyFileBytes
)

// bodyCap returns the most bytes of body r's route accepts: none for
// GET, HEAD and OPTIONS, which carry no body.
func bodyCap(r *http.Request) int64 {
	switch {
	case r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions:
		return 0
	case r.Method == http.MethodPost && r.URL.Path == "/api/v1/policies":
		return policyBodyMax
	case r.Method == http.MethodPost && r.URL.Path == "/agent/v1/enroll":
		return enrollBodyMax
	default:
		return jsonBodyMax
	}
}

// capBodies answers 413 to a request whose declared length is over its
// route's cap, before any handler runs, and makes a body sent without a
// length (chunked) fail to read past the cap. WebSocket upgrades have no
// body; their messages have their own limit (shared/wsread).
func capBodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isUpgrade(r) {
			next.ServeHTTP(w, r)
			return
		}
		limit := bodyCap(r)
		if r.ContentLength > limit {
			// The body is not read; the connection cannot be reused.
			w.Header().Set("Connection", "close")
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			_ = json.NewEncoder(w).Encode(map[string]string{"error": tooLarge(r, limit)})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

// tooLarge says what a refused body was sent to and what it may weigh.
func tooLarge(r *http.Request, limit int64) string {
	if limit == 0 {
		return fmt.Sprintf("request body too large: %s %s takes no body", r.Method, r.URL.Path)
	}
	return fmt.Sprintf("request body too large: %s %s takes at most %s (%d bytes), this one is %d bytes",
		r.Method, r.URL.Path, size(limit), limit, r.ContentLength)
}

func size(n int64) string {
	if n >= 1<<20 && n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d KiB", n>>10)
}
