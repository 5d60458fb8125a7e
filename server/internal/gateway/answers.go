package gateway

import (
	"github.com/steward-project/steward/shared/wire"
)

// Answers to the agents' expr leaves: agents link no expression engine,
// so the compliance evaluator evaluates the expr leaves of the policies
// they hold against stored inventory and sends the answers through the
// gateway (compliance.AnswerSink). The gateway only says who connected
// and delivers; it keeps no answers itself. Agents that did not ask for
// answers in their hello (older ones, which evaluate expressions
// themselves and would close on an unknown message) get none.

// connected tells Config.HostConnected that c's agent, which takes
// answers, has its welcome and policy set queued.
func (g *Gateway) connected(c *conn) {
	if c.exprAnswers && g.cfg.HostConnected != nil {
		g.cfg.HostConnected(c.host.ID)
	}
}

// answerConn returns hostID's live connection when its agent takes
// answers.
func (g *Gateway) answerConn(hostID int64) *conn {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c := g.conns[hostID]; c != nil && c.exprAnswers {
		return c
	}
	return nil
}

// IsConnected reports whether hostID's agent is connected here and takes
// answers.
func (g *Gateway) IsConnected(hostID int64) bool { return g.answerConn(hostID) != nil }

// SendExprAnswers queues a for hostID's agent and reports whether it is
// connected here and takes answers. A connection that replaces this one
// later gets its answers afresh (HostConnected).
func (g *Gateway) SendExprAnswers(hostID int64, a wire.ExprAnswers) bool {
	c := g.answerConn(hostID)
	if c == nil {
		return false
	}
	frame, err := wire.Encode(wire.TypeExprAnswers, 0, a)
	if err != nil {
		g.cfg.Logger.Error("encode expr answers", "host_id", hostID, "err", err)
		return false
	}
	c.send(frame)
	return true
}
