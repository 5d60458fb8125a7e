package wire

import (
	"fmt"

	"github.com/steward-project/steward/shared/policy"
)

// TypeExprAnswers (server to agent) carries the server's answers to the
// expr leaves of the agent's policies.
const TypeExprAnswers = "expr_answers"

// MaxExprAnswerDetail bounds one answer's detail and error text, as the
// evaluator bounds one leaf's evidence.
const MaxExprAnswerDetail = policy.MaxDetailBytes

// ExprAnswers holds, for policy set Revision, the outcome of every expr
// leaf in the agent's policies that also have machine leaves, evaluated
// by the server against the host's stored inventory: policy id -> leaf
// path ("check.all[1].expr") -> answer. It replaces the agent's previous
// answers. The server sends it after the policy set and whenever an
// inventory or policy change changes an answer; an agent answers expr
// leaves only from answers for the revision it evaluates.
type ExprAnswers struct {
	Revision uint64                                  `json:"revision"`
	Answers  map[string]map[string]policy.ExprAnswer `json:"answers,omitempty"`
}

// Validate checks answers' sizes: an agent keeps them in memory.
func (a *ExprAnswers) Validate() error {
	for id, leaves := range a.Answers {
		for path, ans := range leaves {
			if len(ans.Detail) > MaxExprAnswerDetail || len(ans.Error) > MaxExprAnswerDetail {
				return fmt.Errorf("%w: expr answer for %s %s is too long", ErrMalformed, id, path)
			}
		}
	}
	return nil
}
