package apitypes

import "time"

// Tailoring is one server-side tailoring: the parameter values, by policy
// id and parameter name, for the hosts whose labels include Selector.
type Tailoring struct {
	Name            string                       `json:"name"`
	Selector        map[string]string            `json:"selector"`
	Values          map[string]map[string]string `json:"values"`
	UpdatedAt       time.Time                    `json:"updated_at"`
	UpdatedBy       string                       `json:"updated_by"`
	UpdatedRevision int64                        `json:"updated_revision"`
}

// TailoringList is every tailoring in the order they apply (by name),
// with the policy set revision.
type TailoringList struct {
	Revision   int64       `json:"revision"`
	Tailorings []Tailoring `json:"tailorings"`
}

// TailoringPut is the body of PUT /tailorings/{name}. Parameters are
// values for every policy of the set that declares the name, as a
// tailoring file's global parameters; they are expanded to Values when
// the tailoring is stored, and a policy's own value wins.
type TailoringPut struct {
	Name       string                       `json:"name,omitempty"`
	Selector   map[string]string            `json:"selector"`
	Parameters map[string]string            `json:"parameters,omitempty"`
	Values     map[string]map[string]string `json:"values,omitempty"`
}

// TailoringResult is what a put or delete did.
type TailoringResult struct {
	Revision int64  `json:"revision"`
	Name     string `json:"name"`
	// Created is true when a put added a new name; Changed is false
	// when it stored what was there already.
	Created bool `json:"created,omitempty"`
	Changed bool `json:"changed"`
}
