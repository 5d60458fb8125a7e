package compliance

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/wire"
)

// AnswerSink is where the evaluator sends the answers to agents' expr
// leaves: the gateway, which holds the agents' connections.
type AnswerSink interface {
	// IsConnected reports whether hostID's agent is connected here: only
	// then are its answers worth computing.
	IsConnected(hostID int64) bool
	// SendExprAnswers queues a for hostID's agent and reports whether it
	// was connected.
	SendExprAnswers(hostID int64, a wire.ExprAnswers) bool
}

// SetAnswerSink makes sink receive the answers from now on, for a sink
// built after the evaluator (the gateway needs the evaluator's hooks).
func (e *Evaluator) SetAnswerSink(sink AnswerSink) {
	e.mu.Lock()
	e.sink = sink
	e.mu.Unlock()
	e.PoliciesChanged() // connected hosts get their answers
}

// answerSink returns Config.Answers or the one SetAnswerSink set.
func (e *Evaluator) answerSink() AnswerSink {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.sink
}

// HostConnected asks for hostID's expr answers to be sent afresh: its
// agent just connected and holds none it can trust.
func (e *Evaluator) HostConnected(hostID int64) {
	e.mu.Lock()
	e.connected[hostID] = true
	e.mu.Unlock()
	e.signal()
}

// takeConnected returns and clears the hosts that connected since the
// last round.
func (e *Evaluator) takeConnected() []int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	ids := make([]int64, 0, len(e.connected))
	for id := range e.connected {
		ids = append(ids, id)
	}
	clear(e.connected)
	return ids
}

// mixed reports whether p has expr leaves among machine leaves: the agent
// evaluates it and the server answers its expr leaves.
func mixed(p policy.Policy) bool {
	return !policy.ExprOnly(p) && len(policy.ExprLeaves(p)) > 0
}

// answers evaluates the expr leaves of the mixed policies that apply to
// env's platform (the agent decides the others not_applicable alone).
func (e *Evaluator) answers(ctx context.Context, env policy.Env) wire.ExprAnswers {
	a := wire.ExprAnswers{Revision: uint64(e.rev), Answers: map[string]map[string]policy.ExprAnswer{}}
	for _, p := range e.mixed {
		if !appliesTo(p, env.Platform()) {
			continue
		}
		leaves := map[string]policy.ExprAnswer{}
		for _, l := range policy.ExprLeaves(p) {
			leaves[l.Path] = policy.AnswerExpr(ctx, env, l.Expr)
		}
		a.Answers[p.ID] = leaves
	}
	return a
}

func appliesTo(p policy.Policy, platform string) bool {
	if len(p.Platforms) == 0 {
		return true
	}
	for _, pl := range p.Platforms {
		if pl == platform {
			return true
		}
	}
	return false
}

// sendAnswers computes h's answers from its inventory and sends them when
// they differ from the last ones its connection got. fresh forgets what
// was sent: a new connection has none.
func (e *Evaluator) sendAnswers(ctx context.Context, h store.Host, env policy.Env, fresh bool) {
	sink := e.answerSink()
	if sink == nil || !sink.IsConnected(h.ID) {
		delete(e.sent, h.ID)
		return
	}
	if fresh {
		delete(e.sent, h.ID)
	}
	a := e.answers(ctx, env)
	enc, err := json.Marshal(a)
	if err != nil {
		e.cfg.Logger.Error("encode expr answers", "host_id", h.ID, "err", err)
		return
	}
	sum := sha256.Sum256(enc)
	last, had := e.sent[h.ID]
	if had && last == sum || !had && len(a.Answers) == 0 {
		return
	}
	if !sink.SendExprAnswers(h.ID, a) {
		delete(e.sent, h.ID)
		return
	}
	e.sent[h.ID] = sum
	e.cfg.Logger.Debug("expr answers sent", "host_id", h.ID, "revision", a.Revision, "policies", len(a.Answers))
}

// answerConnected sends the hosts that just connected their answers,
// whether or not they changed.
func (e *Evaluator) answerConnected(ctx context.Context, ids []int64) error {
	if len(e.mixed) == 0 || e.answerSink() == nil {
		return nil
	}
	for _, id := range ids {
		h, err := e.st.GetHost(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("answer host %d: %w", id, err)
		}
		stored, err := e.st.Inventory(ctx, id)
		if errors.Is(err, store.ErrNotFound) || err == nil && len(stored.Sections) == 0 {
			continue // the first inventory brings them
		}
		if err != nil {
			return fmt.Errorf("answer host %d: %w", id, err)
		}
		doc := inventory.Document{CollectedAt: stored.CollectedAt, Sections: stored.Sections, Errors: stored.Errors}
		e.sendAnswers(ctx, h, policy.InventoryEnv(doc, platform(h.OS)), true)
	}
	return nil
}
