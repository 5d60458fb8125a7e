package apitypes

import "github.com/steward-project/steward/shared/policy"

// Error is the body of every error response. Problems lists, for a
// refused policy file, everything wrong with it.
type Error struct {
	Error    string           `json:"error"`
	Problems []policy.Problem `json:"problems,omitempty"`
}
