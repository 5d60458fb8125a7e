package config

// Debug holds what helps look into a running server and is off by
// default.
type Debug struct {
	// Pprof serves Go's runtime profiles under /debug/pprof/ on the API
	// listener, to admin tokens only (flag --pprof, STEWARD_PPROF).
	Pprof bool `yaml:"pprof"`
}
