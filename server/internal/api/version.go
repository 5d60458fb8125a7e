package api

import (
	"net/http"
	"runtime"

	"github.com/steward-project/steward/server/internal/apitypes"
)

// getVersion answers with the server's build version, so stewardctl
// version can show it beside its own.
func (s *server) getVersion(w http.ResponseWriter, _ *http.Request) {
	v := s.version
	if v == "" {
		v = "dev"
	}
	writeJSON(w, http.StatusOK, apitypes.Version{Version: v, GoVersion: runtime.Version()})
}
