package policy

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong in a policy file.
type Problem struct {
	File string `json:"file"`
	// Line is the 1-based line in File, 0 when unknown.
	Line int `json:"line,omitempty"`
	// Policy is the policy's id, or "#N" (1-based position in the file)
	// when it has no usable id; "" for problems with the file itself.
	Policy string `json:"policy,omitempty"`
	// Field is the path to the offending field inside the policy, as in
	// "check.all[1].file.matches"; "" for the policy or file as a whole.
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// String formats the problem as "FILE:LINE: policy ID: FIELD: message",
// leaving out the parts that are unknown.
func (p Problem) String() string {
	var parts []string
	switch {
	case p.File != "" && p.Line > 0:
		parts = append(parts, fmt.Sprintf("%s:%d", p.File, p.Line))
	case p.File != "":
		parts = append(parts, p.File)
	}
	if p.Policy != "" {
		parts = append(parts, "policy "+p.Policy)
	}
	if p.Field != "" {
		parts = append(parts, p.Field)
	}
	return strings.Join(append(parts, p.Message), ": ")
}

// ValidationError lists every problem found in one or more policy files.
// Any problem rejects the whole input.
type ValidationError struct {
	Problems []Problem `json:"problems"`
}

// Error lists the problems one per line.
func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}
