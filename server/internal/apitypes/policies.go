package apitypes

import (
	"time"

	"github.com/steward-project/steward/shared/policy"
)

// PolicyCounts is how many hosts report each status for a policy.
type PolicyCounts struct {
	Pass          int64 `json:"pass"`
	Fail          int64 `json:"fail"`
	NotApplicable int64 `json:"not_applicable"`
	Error         int64 `json:"error"`
	Exempt        int64 `json:"exempt"`
	Total         int64 `json:"total"`
}

// Policy is one policy of the set with its result counts. Policy (the
// whole validated policy, check tree included) is set when one policy is
// shown, not in lists.
type Policy struct {
	ID        string   `json:"id"`
	Title     string   `json:"title"`
	Severity  string   `json:"severity"`
	Platforms []string `json:"platforms"`
	Tags      []string `json:"tags"`
	// References are the policy's catalogue references ("cis":
	// ["5.4.1.1"]); absent when it has none.
	References      map[string][]string `json:"references,omitempty"`
	ExprOnly        bool                `json:"expr_only"`
	UpdatedRevision int64               `json:"updated_revision"`
	CreatedAt       time.Time           `json:"created_at"`
	UpdatedAt       time.Time           `json:"updated_at"`
	Counts          PolicyCounts        `json:"counts"`
	Policy          *policy.Policy      `json:"policy,omitempty"`
}

// PolicyList is one page of the policy set, by id, with the set's
// revision.
//
// Signature describes the admin's signature of the set at Revision; it is
// absent while the set is unsigned.
type PolicyList struct {
	Revision   int64          `json:"revision"`
	Signature  *SignatureInfo `json:"signature,omitempty"`
	Policies   []Policy       `json:"policies"`
	NextCursor string         `json:"next_cursor,omitempty"`
}

// ApplyResult is what POST /policies did, or with validate_only would do.
// Applied is Added and Updated together.
type ApplyResult struct {
	Revision     int64    `json:"revision"`
	ValidateOnly bool     `json:"validate_only"`
	Applied      []string `json:"applied"`
	Added        []string `json:"added"`
	Updated      []string `json:"updated"`
	Unchanged    []string `json:"unchanged"`
	// Deleted lists, for PUT /policies, the policies the new set leaves
	// out; POST deletes none.
	Deleted []string `json:"deleted,omitempty"`
	// Files splits Added, Updated and Unchanged by file, in the order the
	// files came, when POST /policies was sent several files (multipart).
	Files []FileResult `json:"files,omitempty"`
}

// FileResult is one file's share of a several-file apply.
type FileResult struct {
	File      string   `json:"file"`
	Added     []string `json:"added"`
	Updated   []string `json:"updated"`
	Unchanged []string `json:"unchanged"`
}

// DeleteResult answers DELETE /policies/{id}.
type DeleteResult struct {
	Revision int64  `json:"revision"`
	Deleted  string `json:"deleted"`
}
