package server

import (
	"net/http"
	"strings"
	"time"
)

// Time limits of plain HTTP requests. A client that sends a request body
// slowly, or keeps a connection open without sending anything, must not
// hold a socket for ever: with enough of them the server runs out of file
// descriptors and answers no one.
const (
	// requestReadTimeout bounds reading one request, body included, from
	// the end of its headers. Request bodies are small (an enroll request,
	// a policy file of at most a few MiB), so a client that cannot send
	// one in this time is gone or hostile.
	requestReadTimeout = 30 * time.Second
	// idleTimeout closes keep-alive connections that send no new request.
	idleTimeout = 2 * time.Minute
	// headerTimeout bounds reading a request's headers.
	headerTimeout = 10 * time.Second
)

// limitRequestRead sets a read deadline of d on every request except
// WebSocket upgrades, whose connections live for hours and keep their own
// hello, ping and idle deadlines (package gateway). http.Server's
// ReadTimeout cannot be used: it would also cut WebSocket connections.
// The server resets the deadline before reading the connection's next
// request.
func limitRequestRead(next http.Handler, d time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isUpgrade(r) {
			// Errors only when the connection cannot take deadlines
			// (an HTTP/2 stream does its own); nothing to do then.
			_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(d))
		}
		next.ServeHTTP(w, r)
	})
}

// isUpgrade reports whether r asks to switch to the WebSocket protocol.
func isUpgrade(r *http.Request) bool {
	for _, v := range r.Header.Values("Connection") {
		for _, tok := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(tok), "upgrade") {
				return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
			}
		}
	}
	return false
}

// retiredSweep is how often the server looks for hosts retired through
// another server sharing the database, to close their sockets: a retired
// host is disconnected within about this long (at once when retired
// through this server).
const retiredSweep = 20 * time.Second
