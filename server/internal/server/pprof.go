package server

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/steward-project/steward/server/internal/auth"
	"github.com/steward-project/steward/server/internal/limits"
	"github.com/steward-project/steward/server/internal/store"
)

// pprofPrefix is where the runtime profiles are served when debug.pprof
// is on.
const pprofPrefix = "/debug/pprof/"

// tokenLookup is what the profiling endpoint needs from the store.
type tokenLookup interface {
	APITokenByHash(ctx context.Context, hash string, at time.Time) (store.APIToken, error)
}

// pprofHandler serves Go's profiles (CPU, heap, goroutines, ...) to admin
// tokens. A profile shows what the server is doing and a CPU profile costs
// it work while it runs, so viewer tokens are refused too.
func pprofHandler(st tokenLookup, guard *limits.Guard, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(pprofPrefix, pprof.Index) // the named profiles: heap, goroutine, allocs, ...
	mux.HandleFunc(pprofPrefix+"cmdline", pprof.Cmdline)
	mux.HandleFunc(pprofPrefix+"profile", pprof.Profile)
	mux.HandleFunc(pprofPrefix+"symbol", pprof.Symbol)
	mux.HandleFunc(pprofPrefix+"trace", pprof.Trace)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := pprofBearer(r.Header.Get("Authorization"))
		hash := ""
		if ok {
			hash = auth.Hash(token)
		}
		if !guard.Check(w, r, limits.APIToken, hash) {
			return
		}
		if !ok {
			guard.Result(r, false, "pprof: no bearer token")
			w.Header().Set("WWW-Authenticate", `Bearer realm="steward"`)
			http.Error(w, "an admin API token is required", http.StatusUnauthorized)
			return
		}
		tok, err := st.APITokenByHash(r.Context(), hash, time.Now().UTC())
		if errors.Is(err, store.ErrNotFound) {
			guard.Result(r, false, "pprof: invalid, expired or revoked token")
			w.Header().Set("WWW-Authenticate", `Bearer realm="steward", error="invalid_token"`)
			http.Error(w, "invalid, expired or revoked API token", http.StatusUnauthorized)
			return
		}
		if err != nil {
			log.Error("pprof: check API token", "err", err)
			http.Error(w, "database unavailable", http.StatusServiceUnavailable)
			return
		}
		guard.Result(r, true, "")
		if tok.Role != store.RoleAdmin {
			http.Error(w, "profiles are for admin tokens; token "+tok.Name+" has role "+tok.Role, http.StatusForbidden)
			return
		}
		log.Info("serving a runtime profile", "path", r.URL.Path, "token", tok.Name)
		mux.ServeHTTP(w, r)
	})
}

func pprofBearer(header string) (string, bool) {
	scheme, token, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}
