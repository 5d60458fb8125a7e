package apitypes

// ReloadResult answers a successful POST /alerting/reload. Summary is
// what the server reports about the configuration now in force.
type ReloadResult struct {
	Reloaded bool `json:"reloaded"`
	Summary  any  `json:"summary"`
}

// ReloadError answers a refused reload: one line per problem, each
// FILE:LINE: message. The previous configuration stays in force.
type ReloadError struct {
	Error    string   `json:"error"`
	Problems []string `json:"problems"`
}
