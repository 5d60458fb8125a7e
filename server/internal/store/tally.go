package store

import (
	"slices"
	"strings"

	"github.com/steward-project/steward/shared/policy"
)

// CountTally sums per-policy status counts, for backends computing
// Compliance from plain counts and the exempt results' counts.
type CountTally struct {
	m map[string]*PolicyCounts
}

func (c *CountTally) get(id string) *PolicyCounts {
	if c.m == nil {
		c.m = map[string]*PolicyCounts{}
	}
	pc := c.m[id]
	if pc == nil {
		pc = &PolicyCounts{PolicyID: id}
		c.m[id] = pc
	}
	return pc
}

func (pc *PolicyCounts) field(st policy.Status) *int64 {
	switch st {
	case policy.StatusPass:
		return &pc.Pass
	case policy.StatusFail:
		return &pc.Fail
	case policy.StatusNotApplicable:
		return &pc.NotApplicable
	case policy.StatusError:
		return &pc.Error
	case policy.StatusExempt:
		return &pc.Exempt
	}
	return nil
}

// Add counts n results of policy id with status st.
func (c *CountTally) Add(id string, st policy.Status, n int64) {
	if f := c.get(id).field(st); f != nil {
		*f += n
	}
}

// Exempt moves n results of policy id from status st to Exempt.
func (c *CountTally) Exempt(id string, st policy.Status, n int64) {
	pc := c.get(id)
	if f := pc.field(st); f != nil {
		*f -= n
		pc.Exempt += n
	}
}

// Sorted returns the counts ordered by policy id.
func (c *CountTally) Sorted() []PolicyCounts {
	out := make([]PolicyCounts, 0, len(c.m))
	for _, pc := range c.m {
		out = append(out, *pc)
	}
	slices.SortFunc(out, func(a, b PolicyCounts) int { return strings.Compare(a.PolicyID, b.PolicyID) })
	return out
}

// Of returns policy id's counts, all zero when none were added.
func (c *CountTally) Of(id string) PolicyCounts {
	return *c.get(id)
}
