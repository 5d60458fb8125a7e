package api

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/steward-project/steward/server/internal/apitypes"
)

// retryAfterSeconds is what a 503 asks clients to wait; a store outage is
// rarely shorter, and admin clients are people or scripts that can wait.
const retryAfterSeconds = "5"

// writeJSON answers v as JSON. It does not HTML-escape < > &: raw
// inventory sections are returned byte for byte, as their hashes were
// computed, and the answer is never HTML (nosniff below).
func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	var body []byte
	if err := enc.Encode(v); err != nil {
		// Only a programming error (an unencodable type) gets here.
		status = http.StatusInternalServerError
		body = []byte(`{"error":"internal error: cannot encode response"}` + "\n")
	} else {
		body = buf.Bytes()
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	// Inventory is sensitive; keep it out of shared caches.
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, apitypes.Error{Error: msg})
}

// storeFailed logs a store error, the one place it is logged, and answers
// 503 without the error's text, which may name tables or hosts.
func (s *server) storeFailed(w http.ResponseWriter, r *http.Request, op string, err error) {
	if r.Context().Err() != nil {
		// The client went away; the failure is its cancellation, not the store.
		s.log.Debug("api request canceled", "op", op, "path", r.URL.Path, "err", err)
	} else {
		s.log.Error("api store call failed", "op", op, "path", r.URL.Path, "err", err)
	}
	w.Header().Set("Retry-After", retryAfterSeconds)
	writeError(w, http.StatusServiceUnavailable, "the store is unavailable; try again later")
}
