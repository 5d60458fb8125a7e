package apitypes

// Version is the body of GET /api/v1/version.
type Version struct {
	// Version is the server's build version (git describe), "dev" for an
	// unversioned build.
	Version string `json:"version"`
	// GoVersion is the Go release the server was built with.
	GoVersion string `json:"go_version"`
}
