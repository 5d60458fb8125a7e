package runner

import (
	"maps"
	"slices"

	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/wire"
)

// maxHeldBackLogged bounds the policy ids one log line names.
const maxHeldBackLogged = 20

// answerTable is the server's answers for one policy set revision, by
// policy id and leaf path. It is replaced whole, never modified, so an
// evaluation running in the background can read it without a lock.
type answerTable map[string]map[string]policy.ExprAnswer

// ExprAnswer makes answerTable a policy.ExprAnswerer.
func (t answerTable) ExprAnswer(id, path string) (policy.ExprAnswer, bool) {
	a, ok := t[id][path]
	return a, ok
}

// answersFor returns the answers the server sent for revision, or nil:
// answers for another revision belong to other policies.
func (s *session) answersFor(revision uint64) policy.ExprAnswerer {
	if s.exprAnswers == nil || s.exprAnswers.Revision != revision {
		return nil
	}
	return answerTable(s.exprAnswers.Answers)
}

// takeExprAnswers takes the server's answers to the set's expr leaves and,
// when they changed what the current set's evaluation saw, evaluates the
// set again so that results follow. Answers for a revision the agent does
// not hold yet are kept: the set they belong to may arrive after them.
func (s *session) takeExprAnswers(env wire.Envelope) (outcome, bool) {
	var a wire.ExprAnswers
	if err := wire.DecodePayload(env, &a); err != nil {
		s.log.Error("expr answers refused", "err", err)
		return outcome{}, true
	}
	if err := a.Validate(); err != nil {
		s.log.Error("expr answers refused", "err", err)
		return outcome{}, true
	}
	old := s.exprAnswers
	s.exprAnswers = &a
	if old != nil && old.Revision == a.Revision && maps.EqualFunc(old.Answers, a.Answers, maps.Equal) {
		return outcome{}, true
	}
	s.log.Debug("expr answers received", "revision", a.Revision, "policies", len(a.Answers))
	if a.Revision == s.a.st.Policies().Revision {
		s.startEval()
	}
	return outcome{}, true
}

// heldBack lists the policies of results whose verdict waits for an
// answer from the server, and logs them when the list changed: they are
// not reported until it arrives.
func (s *session) heldBack(results []policy.Result) map[string]bool {
	var ids []string
	for _, r := range results {
		if r.Status == policy.StatusNeedsServer {
			ids = append(ids, r.PolicyID)
		}
	}
	if !slices.Equal(ids, s.heldBackIDs) {
		s.heldBackIDs = ids
		if len(ids) > 0 {
			s.log.Info("results held back until the server answers their expr leaves",
				"policies", len(ids), "ids", ids[:min(len(ids), maxHeldBackLogged)])
		}
	}
	held := make(map[string]bool, len(ids))
	for _, id := range ids {
		held[id] = true
	}
	return held
}
