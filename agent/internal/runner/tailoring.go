package runner

import (
	"maps"
	"reflect"

	"github.com/steward-project/steward/agent/internal/state"
	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/wire"
)

// tailored returns the policies of set as this host evaluates them: with
// the parameter values of the set's tailorings that the host's labels
// select (later ones win per parameter). The server checked each
// tailoring against the set when it was stored; an entry the set has
// since made meaningless (a policy deleted, a parameter dropped) is
// ignored and logged, and a policy keeps its defaults rather than be
// evaluated with a value it cannot use.
func (a *agent) tailored(set state.PolicySet) []policy.Policy {
	values := policy.EffectiveValues(set.Tailorings, a.labels)
	if len(values) == 0 {
		return set.Policies
	}
	out, skipped := policy.ApplyValues(set.Policies, values)
	for _, why := range skipped {
		a.log.Warn("tailoring value ignored", "revision", set.Revision, "reason", why)
	}
	return out
}

// labelsChanged takes the host's new labels from the server and
// evaluates again when they change the values any policy is evaluated
// with.
func (s *session) labelsChanged(env wire.Envelope) (outcome, bool) {
	var l wire.Labels
	if err := wire.DecodePayload(env, &l); err != nil {
		s.log.Warn("labels message ignored", "err", err)
		return outcome{}, true
	}
	tailorings := s.a.st.Policies().Tailorings
	before := policy.EffectiveValues(tailorings, s.a.labels)
	s.a.labels = maps.Clone(l.Labels)
	after := policy.EffectiveValues(tailorings, s.a.labels)
	if reflect.DeepEqual(before, after) {
		s.log.Debug("host labels changed; the tailored values did not", "labels", l.Labels)
		return outcome{}, true
	}
	s.log.Info("host labels changed the tailored parameter values; evaluating again", "labels", l.Labels)
	s.startEval()
	return outcome{}, true
}
