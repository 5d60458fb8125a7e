package runner

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/steward-project/steward/agent/internal/check"
	"github.com/steward-project/steward/agent/internal/state"
	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/policysign"
	"github.com/steward-project/steward/shared/wire"
)

const (
	defaultCheck = time.Hour
	// evalWorkers bounds the policies evaluated at once: enough to overlap
	// slow leaves, few enough to stay light on the endpoint.
	evalWorkers = 4
	// defaultResultsBudget bounds the results JSON of one message, well
	// under wire.MaxMessageBytes so that the envelope and removed list fit.
	defaultResultsBudget = wire.MaxMessageBytes / 2
)

// evaluated is one finished evaluation of policy set revision.
type evaluated struct {
	revision uint64
	results  []policy.Result
	took     time.Duration
	at       time.Time // when it finished
}

// resultsFlight is the one results message awaiting its ack; acked is the
// map that becomes the acknowledged one when it is acked.
type resultsFlight struct {
	seq   uint64
	acked map[string]state.AckedResult
}

// policySet takes a policy_set from the server. A set that is too large
// or invalid is refused (the server validated it, so this is a bug or a
// corruption, and evaluating garbage would report garbage), and so is,
// when the agent pins policy keys, a set without a valid signature, an
// expired one and one signed before the set already held. A refused set
// leaves the previous one in force, and the refusal is reported at once
// in a heartbeat, and in every heartbeat until a set is accepted.
func (s *session) policySet(ctx context.Context, env wire.Envelope) (outcome, bool) {
	var ps wire.PolicySet
	if err := wire.DecodePayload(env, &ps); err != nil {
		s.log.Error("policy set refused, keeping the previous one", "err", err)
		return outcome{}, true
	}
	next, err := s.a.acceptPolicies(ps, env.Payload, s.a.st.Policies())
	if err != nil {
		code, reason := policysign.CodeInvalid, err.Error()
		var re *policysign.RefusalError
		if errors.As(err, &re) {
			code, reason = re.Code, re.Reason
		}
		s.log.Error("policy set refused, keeping the previous one", "revision", ps.Revision, "code", code, "reason", reason)
		if ps.Revision == 0 || ps.Revision > wire.MaxSeq {
			return outcome{}, true // nothing a server could store
		}
		s.a.refusal = &wire.PolicyRefusal{Revision: ps.Revision, Code: code, Reason: cutReason(reason), At: s.a.h.now().UTC()}
		return s.heartbeat(ctx)
	}
	if err := s.a.st.SetPolicies(next); err != nil {
		return outcome{fatal: err}, false
	}
	s.log.Info("policy set received", "revision", ps.Revision, "policies", len(ps.Policies),
		"tailorings", len(ps.Tailorings), "signed", ps.Signature != nil)
	s.latest = nil // results of the previous set must not be sent under it
	s.startEval()
	if s.a.refusal != nil {
		s.a.refusal = nil
		return s.heartbeat(ctx) // the server clears the refusal it shows
	}
	return outcome{}, true
}

// acceptPolicies decides whether ps may replace held and returns what to
// store; the error is a *policysign.RefusalError or says why the set is
// invalid. payload is the message as it came: the set is validated from
// it rather than from ps, because decoding into this agent's types drops
// keys it does not know (a leaf or a file key added in a later version),
// and a policy evaluated without one of its conditions would pass where
// it should not. Such a set is refused, and the refusal names the key.
func (a *agent) acceptPolicies(ps wire.PolicySet, payload json.RawMessage, held state.PolicySet) (state.PolicySet, error) {
	if err := policy.SetTooLarge(ps.Policies); err != nil {
		return held, &policysign.RefusalError{Code: policysign.CodeInvalid, Reason: err.Error()}
	}
	next := state.PolicySet{Revision: ps.Revision, Policies: ps.Policies, Tailorings: ps.Tailorings, Signature: ps.Signature,
		SignedSerial: held.SignedSerial, SignedDigest: held.SignedDigest}
	if len(a.cfg.PolicyKeys) > 0 {
		st, err := policysign.CheckSet(a.cfg.PolicyKeys, ps.Signature, ps.Policies, ps.Tailorings,
			policysign.Held{Serial: held.SignedSerial, Digest: held.SignedDigest}, a.h.now())
		if err != nil {
			return held, err
		}
		next.SignedSerial, next.SignedDigest = st.Serial, st.Digest
	}
	var raw struct {
		Policies json.RawMessage `json:"policies"`
	}
	if err := json.Unmarshal(payload, &raw); err != nil {
		return held, &policysign.RefusalError{Code: policysign.CodeInvalid, Reason: err.Error()}
	}
	if len(ps.Policies) > 0 {
		doc, err := json.Marshal(struct {
			Policies json.RawMessage `json:"policies"`
		}{raw.Policies})
		if err == nil {
			err = policy.ValidateJSON(fmt.Sprintf("policy set %d", ps.Revision), doc)
		}
		if err != nil {
			return held, &policysign.RefusalError{Code: policysign.CodeInvalid, Reason: err.Error()}
		}
	}
	return next, nil
}

// checkStoredPolicies drops, when the agent pins policy keys, a stored set
// whose signature does not verify with them (one accepted before a key
// was pinned), so that a restart evaluates only a signed set; the agent
// then holds none and the server sends its current set again. Expiry is
// not judged here: an accepted set stays in force until replaced.
func checkStoredPolicies(st *state.Dir, keys []ed25519.PublicKey, log *slog.Logger) error {
	held := st.Policies()
	if len(keys) == 0 || (held.Revision == 0 && len(held.Policies) == 0) {
		return nil
	}
	_, err := policysign.VerifySet(keys, held.Signature, held.Policies, held.Tailorings)
	if err == nil {
		return nil
	}
	log.Warn("the stored policy set is not signed with the pinned policy key; starting without it",
		"revision", held.Revision, "err", err)
	return st.SetPolicies(state.PolicySet{SignedSerial: held.SignedSerial, SignedDigest: held.SignedDigest})
}

// cutReason fits a refusal reason into wire.MaxRefusalReason bytes.
func cutReason(s string) string {
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "?")
	if len(s) <= wire.MaxRefusalReason {
		return s
	}
	cut := wire.MaxRefusalReason - len("...")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// startEval evaluates the stored policy set in the background, one
// evaluation at a time; a request while one runs, or before the first
// inventory of the session (package, service and port leaves read it), is
// remembered and served afterwards.
func (s *session) startEval() {
	if s.evaluating || !s.haveDoc {
		s.evalDue = true
		return
	}
	s.evaluating = true
	s.evalDue = false
	ctx := s.collectCtx
	set := s.a.st.Policies()
	policies := s.a.tailored(set)
	env := s.a.h.newEnv(ctx, check.Config{Root: s.a.cfg.Root, AllowCommands: s.a.cfg.AllowCommands, EvidenceContent: s.a.cfg.EvidenceContent,
		ExprAnswers: s.answersFor(set.Revision)}, s.doc)
	s.collectors.Add(1)
	go func() {
		defer s.collectors.Done()
		start := s.a.h.now()
		res := policy.EvaluateAll(ctx, policies, env, evalWorkers)
		end := s.a.h.now()
		select {
		case s.evals <- evaluated{revision: set.Revision, results: res, took: end.Sub(start), at: end}:
		case <-ctx.Done():
		}
	}()
}

// evalDone takes a finished evaluation and sends what changed.
func (s *session) evalDone(ctx context.Context, ev evaluated) (outcome, bool) {
	s.evaluating = false
	// Every completed evaluation is a scan, even one a newer set made
	// stale; evaluating an empty set is not, its zero duration would only
	// blur the fleet's figures.
	if len(ev.results) > 0 {
		s.a.health.policyScan(ev.took, ev.results)
	}
	if ev.revision == s.a.st.Policies().Revision {
		s.latest = &ev
		before := s.lastSent
		o, ok := s.sendResults(ctx)
		if s.a.h.evaluated != nil {
			s.a.h.evaluated(s.lastSent != before)
		}
		if !ok {
			return o, false
		}
	} // else a newer set arrived meanwhile: evalDue is set and replaces it
	if s.evalDue {
		s.startEval()
	}
	return outcome{}, true
}

// sendResults sends the latest evaluation's results that differ from the
// acknowledged ones, and the acknowledged policies it no longer holds. It
// waits while a results message is in flight; the ack calls it again, which
// also sends what did not fit in one message.
func (s *session) sendResults(ctx context.Context) (outcome, bool) {
	if s.latest == nil || s.resultsInflight != nil {
		return outcome{}, true
	}
	acked := s.a.st.AckedResults()
	msg := wire.Results{Revision: s.latest.revision}
	// Every finished evaluation of a policy set is reported once, even one
	// that changed nothing, so that the server knows when the host was
	// last checked. Before the first set (revision 0) there is nothing to
	// report.
	newEval := s.latest.revision > 0 && s.latest.at.After(s.evalReported)
	if newEval {
		msg.EvaluatedAt = s.latest.at.UTC()
	}
	// next is what the server will hold once this message is acked: the
	// acknowledged results updated by what the message carries.
	next := maps.Clone(acked)
	if next == nil {
		next = map[string]state.AckedResult{}
	}
	current := make(map[string]bool, len(s.latest.results))
	size := 0
	held := s.heldBack(s.latest.results)
	for _, r := range s.latest.results {
		current[r.PolicyID] = true
		if held[r.PolicyID] {
			continue // the server keeps what it had until the answer arrives
		}
		a := state.Ack(r)
		if old, ok := acked[r.PolicyID]; ok && old == a {
			continue
		}
		// A set of a thousand policies with full evidence could pass the
		// message limit; the rest go in the next message, after the ack.
		raw, _ := json.Marshal(r)
		if size += len(raw); size > s.a.h.resultsBudget && len(msg.Results) > 0 {
			continue
		}
		msg.Results = append(msg.Results, r)
		next[r.PolicyID] = a
	}
	for id := range acked {
		if !current[id] {
			msg.Removed = append(msg.Removed, id)
			delete(next, id)
		}
	}
	if len(msg.Results) == 0 && len(msg.Removed) == 0 && !newEval {
		return outcome{}, true
	}
	slices.Sort(msg.Removed)
	seq, err := s.a.st.NextSeq()
	if err != nil {
		return outcome{fatal: err}, false
	}
	if o, ok := s.send(ctx, wire.TypeResults, seq, msg); !ok {
		return o, false
	}
	s.resultsInflight = &resultsFlight{seq: seq, acked: next}
	s.lastSent = seq
	if newEval {
		s.evalReported = s.latest.at
	}
	s.log.Debug("results sent", "seq", seq, "revision", msg.Revision, "results", len(msg.Results), "removed", len(msg.Removed))
	return outcome{}, true
}

// resultsAcked records an acknowledged results message and sends what a
// later evaluation changed meanwhile.
func (s *session) resultsAcked(ctx context.Context) (outcome, bool) {
	done := s.resultsInflight
	s.resultsInflight = nil
	if err := s.a.st.SetAckedResults(done.acked); err != nil {
		return outcome{fatal: err}, false
	}
	return s.sendResults(ctx)
}
