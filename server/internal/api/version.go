package api

import (
	"net/http"
	"runtime"
)

// Version is the body of GET /api/v1/version.
type Version struct {
	// Version is the server's build version (git describe), "dev" for an
	// unversioned build.
	Version string `json:"version"`
	// GoVersion is the Go release the server was built with.
	GoVersion string `json:"go_version"`
}

// getVersion answers with the server's build version, so stewardctl
// version can show it beside its own.
func (s *server) getVersion(w http.ResponseWriter, _ *http.Request) {
	v := s.version
	if v == "" {
		v = "dev"
	}
	writeJSON(w, http.StatusOK, Version{Version: v, GoVersion: runtime.Version()})
}
