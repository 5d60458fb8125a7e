package policy

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
)

// ExprEngine compiles and evaluates the CEL expressions of expr leaves.
// The policy package does not link one: CEL and its protobuf runtime
// would add megabytes to the agent's memory, and the agent gets its expr
// leaves answered by the server (ExprAnswerer). The server, stewardctl
// and tools that validate or evaluate expressions set one with
// SetExprEngine (package celexpr).
type ExprEngine interface {
	// Check parses and type-checks src, which must give a boolean.
	Check(src string) error
	// Eval evaluates src with inventory bound to inv (Env.Inventory).
	Eval(ctx context.Context, src string, inv map[string]any) (bool, error)
}

var exprEngine atomic.Pointer[ExprEngine]

// SetExprEngine makes e the engine that validates and evaluates expr
// leaves from now on; nil removes it. Call it once at start, before
// policies are parsed.
func SetExprEngine(e ExprEngine) {
	if e == nil {
		exprEngine.Store(nil)
		return
	}
	exprEngine.Store(&e)
}

// currentEngine returns the engine set, or nil.
func currentEngine() ExprEngine {
	if p := exprEngine.Load(); p != nil {
		return *p
	}
	return nil
}

// ExprAnswer is the outcome of one expr leaf evaluated elsewhere (by the
// server, against the host's stored inventory).
type ExprAnswer struct {
	Value bool `json:"value"`
	// Detail is the evidence: the expression and what it gave.
	Detail string `json:"detail,omitempty"`
	// Error, when set, is why the expression could not be evaluated;
	// Value is then meaningless.
	Error string `json:"error,omitempty"`
}

// ExprAnswerer is implemented by an Env whose expr leaves are answered
// elsewhere: the agent's, answered by the server. Without an engine,
// the evaluator asks it; a leaf it has no answer for leaves the verdict
// open (StatusNeedsServer) unless other leaves decide it.
type ExprAnswerer interface {
	// ExprAnswer returns the answer for the expr leaf at path (its
	// evidence name, "check.all[1].expr") of policy id; false when none
	// is known.
	ExprAnswer(id, path string) (ExprAnswer, bool)
}

// StatusNeedsServer is the status of a policy whose verdict depends on an
// expr leaf nobody answered: evaluated without an engine and without the
// server's answer. It is never reported: the agent holds such a result
// back until the answer arrives, and the local check lists it apart.
const StatusNeedsServer Status = "needs_server"

// ErrNeedsServer marks an expr leaf evaluated without an engine and
// without an answer from the server.
var ErrNeedsServer = errors.New("expr leaf needs the server's answer")

func checkExpr(src string) error {
	if e := currentEngine(); e != nil {
		return e.Check(src)
	}
	// Without an engine only the server's validation counts: agents get
	// sets it validated when they were applied.
	if src == "" {
		return errors.New("empty expression")
	}
	return nil
}

// exprLeaf evaluates the expression src of policy id's leaf at path: with
// the engine over env's inventory, else from env's answers.
func exprLeaf(ctx context.Context, engine ExprEngine, env Env, id, path, src string) (bool, string, error) {
	if engine == nil {
		a, ok := ExprAnswer{}, false
		if ans, is := env.(ExprAnswerer); is {
			a, ok = ans.ExprAnswer(id, path)
		}
		switch {
		case !ok:
			return false, src, ErrNeedsServer
		case a.Error != "":
			return false, a.Detail, fmt.Errorf("on the server: %s", a.Error)
		}
		return a.Value, a.Detail, nil
	}
	inv, err := env.Inventory(ctx)
	if err != nil {
		return false, "", fmt.Errorf("inventory: %w", err)
	}
	b, err := engine.Eval(ctx, src, inv)
	if err != nil {
		return false, "", err
	}
	return b, ExprDetail(src, b), nil
}

// ExprDetail is an expr leaf's evidence: the expression and its value.
func ExprDetail(src string, value bool) string {
	return fmt.Sprintf("%s => %t", src, value)
}

// ExprLeaf is one expr leaf of a policy: its path, as evidence and
// ExprAnswerer name it, and its expression.
type ExprLeaf struct {
	Path string
	Expr string
}

// ExprLeaves lists p's expr leaves, applies_if first, in evaluation order.
func ExprLeaves(p Policy) []ExprLeaf {
	var out []ExprLeaf
	if p.AppliesIf != nil {
		out = exprLeaves(out, *p.AppliesIf, "applies_if")
	}
	return exprLeaves(out, p.Check, "check")
}

// exprLeaves walks c as node and combine name its parts.
func exprLeaves(out []ExprLeaf, c Check, path string) []ExprLeaf {
	for _, l := range []struct {
		name     string
		children []Check
	}{{"all", c.All}, {"any", c.Any}, {"none", c.None}} {
		if l.children == nil {
			continue
		}
		for i, child := range l.children {
			out = exprLeaves(out, child, fmt.Sprintf("%s.%s[%d]", path, l.name, i))
		}
		return out
	}
	if kind, _, _ := (&evaluation{}).leafFor(c); kind == "expr" {
		out = append(out, ExprLeaf{Path: path + ".expr", Expr: c.Expr})
	}
	return out
}

// AnswerExpr evaluates src with the engine over env's inventory, under
// the evaluator's leaf time limit: what the server sends an agent for one
// of its expr leaves.
func AnswerExpr(ctx context.Context, env Env, src string) ExprAnswer {
	engine := currentEngine()
	if engine == nil {
		return ExprAnswer{Error: "no expression engine on this side"}
	}
	ok, detail, err := runLeaf(ctx, DefaultLeafTimeout, func(ctx context.Context) (bool, string, error) {
		return exprLeaf(ctx, engine, env, "", "", src)
	})
	if err != nil {
		return ExprAnswer{Error: truncate(err.Error(), MaxDetailBytes)}
	}
	return ExprAnswer{Value: ok, Detail: truncate(detail, MaxDetailBytes)}
}
