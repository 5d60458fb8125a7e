package celexpr

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"cel.dev/cel-go/cel"
)

// costLimit bounds the work one expression may do (CEL's cost units,
// roughly one per value visited), so that a comprehension over a large
// inventory cannot run away.
const costLimit = 10_000_000

// maxCachedPrograms bounds the compiled-program cache; past it the cache
// starts over (policies change rarely, expressions repeat across hosts).
const maxCachedPrograms = 4096

// Engine is CEL over one variable, inventory: the inventory document's
// sections by name. It satisfies policy.ExprEngine. The zero value is
// ready to use and safe for concurrent use; every Engine shares one
// program cache.
type Engine struct{}

// celEnv declares the one variable expressions see. Its values are dynamic
// because sections are JSON. CEL's string extension library is left out:
// matches('(?i)...'), startsWith and contains cover what it would add.
var celEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("inventory", cel.MapType(cel.StringType, cel.DynType)),
		cel.CrossTypeNumericComparisons(true),
	)
})

// Check parses and type-checks src; the result must be a boolean.
func (Engine) Check(src string) error {
	_, err := compile(src)
	return err
}

// Eval evaluates src with inventory bound to inv.
func (Engine) Eval(ctx context.Context, src string, inv map[string]any) (bool, error) {
	prg, err := program(src)
	if err != nil {
		return false, err
	}
	out, _, err := prg.ContextEval(ctx, map[string]any{"inventory": inv})
	if err != nil {
		if ctx.Err() != nil {
			return false, errors.Join(ctx.Err(), err)
		}
		return false, fmt.Errorf("evaluate: %w", err)
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("expression gave %v, not a boolean", out.Value())
	}
	return b, nil
}

func compile(src string) (*cel.Ast, error) {
	env, err := celEnv()
	if err != nil {
		return nil, fmt.Errorf("cel environment: %w", err)
	}
	ast, iss := env.Compile(src)
	if iss != nil && iss.Err() != nil {
		return nil, fmt.Errorf("invalid CEL expression: %s", message(iss.Err()))
	}
	if !ast.OutputType().IsExactType(cel.BoolType) {
		return nil, fmt.Errorf("CEL expression must be boolean, is %s (compare it: x == true)", ast.OutputType())
	}
	return ast, nil
}

// message keeps CEL's error lines and drops the source excerpts under
// them, so that each problem stays on one line: "ERROR: <input>:1:25:
// Syntax error: ..." becomes "at 1:25: Syntax error: ...".
func message(err error) string {
	var msgs []string
	for _, line := range strings.Split(err.Error(), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "|") || strings.TrimSpace(line) == "" {
			continue
		}
		line = strings.TrimPrefix(line, "ERROR: ")
		line = strings.TrimPrefix(line, "<input>:")
		msgs = append(msgs, "at "+line)
	}
	return strings.Join(msgs, "; ")
}

var programs struct {
	sync.Mutex
	m map[string]cel.Program
}

// program returns src compiled for evaluation, from the cache when it was
// seen before (the same policy is evaluated on every host).
func program(src string) (cel.Program, error) {
	programs.Lock()
	prg, ok := programs.m[src]
	programs.Unlock()
	if ok {
		return prg, nil
	}
	ast, err := compile(src)
	if err != nil {
		return nil, err
	}
	env, _ := celEnv()
	prg, err = env.Program(ast, cel.CostLimit(costLimit), cel.InterruptCheckFrequency(100))
	if err != nil {
		return nil, fmt.Errorf("cel program: %w", err)
	}
	programs.Lock()
	if programs.m == nil || len(programs.m) >= maxCachedPrograms {
		programs.m = make(map[string]cel.Program)
	}
	programs.m[src] = prg
	programs.Unlock()
	return prg, nil
}
