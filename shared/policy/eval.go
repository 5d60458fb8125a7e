package policy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
)

// Limits the evaluator enforces on every leaf.
const (
	// DefaultLeafTimeout bounds each leaf, and is a command's timeout when
	// the policy gives none.
	DefaultLeafTimeout = 10 * time.Second
	// MaxFileBytes is the most a file leaf reads of one file.
	MaxFileBytes = 16 << 20
	// MaxCommandOutput is the most output a command may print.
	MaxCommandOutput = 64 << 10
	// MaxGlobFiles is the most files one file leaf's glob may match.
	MaxGlobFiles = 1000
)

// leafGrace is how long a leaf that hit its deadline gets to report on its
// own (a command killed at its timeout says what it printed so far) before
// the evaluator gives up on it.
const leafGrace = 500 * time.Millisecond

// errTimedOut marks a leaf stopped at its time limit.
var errTimedOut = errors.New("timed out")

// outcome is a check node's tri-state result.
type outcome int

const (
	outPass outcome = iota
	outFail
	outError
	// outPending: decided by an expr leaf nobody has answered yet.
	outPending
)

// evaluation holds one Evaluate call's state.
type evaluation struct {
	env      Env
	engine   ExprEngine // nil: expr leaves are answered by env
	policyID string
	evidence evidenceList
	firstErr string
}

// Evaluate checks one validated policy against env and never panics.
//
// Order: platforms (host not listed => not_applicable), then applies_if
// (fails => not_applicable; error => error), then check. all/any/none
// stop at the first child that decides them; a leaf error decides nothing
// by itself, so any(error, pass) = pass, all(error, fail) = fail, and
// all(pass, error) = error. Evidence lists every leaf evaluated, in order.
func Evaluate(ctx context.Context, p Policy, env Env) (res Result) {
	start := time.Now()
	res = Result{PolicyID: p.ID, CheckedAt: start.UTC()}
	ctx, res.Parameters = parameterContext(ctx, p)
	ev := &evaluation{env: env, engine: currentEngine(), policyID: p.ID}
	defer func() {
		if r := recover(); r != nil {
			res.Status = StatusError
			res.Error = fmt.Sprintf("evaluator panic: %v", r)
		}
		res.Evidence = ev.evidence.list()
		res.Duration = time.Since(start)
	}()
	if len(p.Platforms) > 0 && !slices.Contains(p.Platforms, env.Platform()) {
		ev.evidence.add(Evidence{Check: "platforms", Detail: fmt.Sprintf("host platform %s is not in [%s]", env.Platform(), FormatPlatforms(p.Platforms))})
		res.Status = StatusNotApplicable
		return res
	}
	if p.AppliesIf != nil {
		switch ev.node(ctx, *p.AppliesIf, "applies_if") {
		case outFail:
			res.Status = StatusNotApplicable
			return res
		case outError:
			res.Status, res.Error = StatusError, ev.firstErr
			return res
		case outPending:
			res.Status = StatusNeedsServer
			return res
		}
	}
	switch ev.node(ctx, p.Check, "check") {
	case outPass:
		res.Status = StatusPass
	case outFail:
		res.Status = StatusFail
	case outPending:
		res.Status = StatusNeedsServer
	default:
		res.Status, res.Error = StatusError, ev.firstErr
	}
	return res
}

// node evaluates one check node at tree path path.
func (ev *evaluation) node(ctx context.Context, c Check, path string) outcome {
	switch {
	case c.All != nil:
		return ev.combine(ctx, c.All, path+".all", outFail, outFail, outPass)
	case c.Any != nil:
		return ev.combine(ctx, c.Any, path+".any", outPass, outPass, outFail)
	case c.None != nil:
		return ev.combine(ctx, c.None, path+".none", outPass, outFail, outPass)
	}
	return ev.leaf(ctx, c, path)
}

// combine evaluates children in order until one gives decider, in which
// case the node's outcome is decided; otherwise the node is pending if a
// child is (its answer could still decide the node), gives error if a
// child erred, else otherwise.
func (ev *evaluation) combine(ctx context.Context, children []Check, path string, decider, decided, otherwise outcome) outcome {
	erred, pending := false, false
	for i, c := range children {
		switch o := ev.node(ctx, c, fmt.Sprintf("%s[%d]", path, i)); o {
		case decider:
			return decided
		case outError:
			erred = true
		case outPending:
			pending = true
		}
	}
	switch {
	case pending:
		return outPending
	case erred:
		return outError
	}
	return otherwise
}

// leafFunc is one leaf's test: whether it held, and what it saw.
type leafFunc func(ctx context.Context) (bool, string, error)

func (ev *evaluation) leaf(ctx context.Context, c Check, path string) outcome {
	kind, fn, timeout := ev.leafFor(c)
	path += "." + kind
	if kind == "expr" {
		// Answers from the server are keyed by the leaf's path.
		engine, env, id, src, at := ev.engine, ev.env, ev.policyID, c.Expr, path
		fn = func(ctx context.Context) (bool, string, error) { return exprLeaf(ctx, engine, env, id, at, src) }
	}
	ok, detail, err := runLeaf(ctx, timeout, fn)
	if errors.Is(err, ErrNeedsServer) {
		ev.evidence.add(Evidence{Check: path, Detail: "awaiting the server's answer: " + detail})
		return outPending
	}
	if err != nil {
		msg := "error: " + err.Error()
		if detail != "" {
			msg += "; " + detail
		}
		ev.evidence.add(Evidence{Check: path, Detail: msg})
		if ev.firstErr == "" {
			ev.firstErr = path + ": " + err.Error()
		}
		return outError
	}
	ev.evidence.add(Evidence{Check: path, Passed: ok, Detail: detail})
	if ok {
		return outPass
	}
	return outFail
}

// leafFor picks the leaf's function and its time limit.
func (ev *evaluation) leafFor(c Check) (string, leafFunc, time.Duration) {
	env := ev.env
	switch {
	case c.File != nil:
		return "file", func(ctx context.Context) (bool, string, error) { return fileLeaf(ctx, env, c.File) }, DefaultLeafTimeout
	case c.Package != nil:
		return "package", func(ctx context.Context) (bool, string, error) { return packageLeaf(ctx, env, c.Package) }, DefaultLeafTimeout
	case c.Service != nil:
		return "service", func(ctx context.Context) (bool, string, error) { return serviceLeaf(ctx, env, c.Service) }, DefaultLeafTimeout
	case c.Port != nil:
		return "port", func(ctx context.Context) (bool, string, error) { return portLeaf(ctx, env, c.Port) }, DefaultLeafTimeout
	case c.Registry != nil:
		return "registry", func(ctx context.Context) (bool, string, error) { return registryLeaf(ctx, env, c.Registry) }, DefaultLeafTimeout
	case c.Command != nil:
		timeout, err := parseTimeout(c.Command.Timeout)
		if err != nil {
			return "command", func(context.Context) (bool, string, error) { return false, "", err }, DefaultLeafTimeout
		}
		return "command", func(ctx context.Context) (bool, string, error) { return commandLeaf(ctx, env, c.Command, timeout) }, timeout
	case c.Find != nil:
		return "find", func(ctx context.Context) (bool, string, error) { return findLeaf(ctx, env, c.Find) }, findTimeout(c.Find)
	case c.Sysctl != nil:
		return "sysctl", func(ctx context.Context) (bool, string, error) { return sysctlLeaf(ctx, env, c.Sysctl) }, DefaultLeafTimeout
	case c.Mount != nil:
		return "mount", func(ctx context.Context) (bool, string, error) { return mountLeaf(ctx, env, c.Mount) }, DefaultLeafTimeout
	case c.KernelModule != nil:
		return "kernel_module", func(ctx context.Context) (bool, string, error) { return kernelModuleLeaf(ctx, env, c.KernelModule) }, DefaultLeafTimeout
	case c.SystemdUnit != nil:
		return "systemd_unit", func(ctx context.Context) (bool, string, error) { return systemdUnitLeaf(ctx, env, c.SystemdUnit) }, DefaultLeafTimeout
	case c.AppArmor != nil:
		return "apparmor", func(ctx context.Context) (bool, string, error) { return appArmorLeaf(ctx, env, c.AppArmor) }, DefaultLeafTimeout
	case c.SELinux != nil:
		return "selinux", func(ctx context.Context) (bool, string, error) { return sELinuxLeaf(ctx, env, c.SELinux) }, DefaultLeafTimeout
	case c.PAM != nil:
		return "pam", func(ctx context.Context) (bool, string, error) { return pAMLeaf(ctx, env, c.PAM) }, DefaultLeafTimeout
	case c.SSHD != nil:
		return "sshd", func(ctx context.Context) (bool, string, error) { return sSHDLeaf(ctx, env, c.SSHD) }, DefaultLeafTimeout
	case c.LoginDefs != nil:
		return "login_defs", func(ctx context.Context) (bool, string, error) { return loginDefsLeaf(ctx, env, c.LoginDefs) }, DefaultLeafTimeout
	case c.Accounts != nil:
		return "accounts", func(ctx context.Context) (bool, string, error) { return accountsLeaf(ctx, env, c.Accounts) }, DefaultLeafTimeout
	case c.Shadow != nil:
		return "shadow", func(ctx context.Context) (bool, string, error) { return shadowLeaf(ctx, env, c.Shadow) }, DefaultLeafTimeout
	case c.Setting != nil:
		return "setting", func(ctx context.Context) (bool, string, error) { return settingLeaf(ctx, env, c.Setting) }, DefaultLeafTimeout
	case c.Environment != nil:
		return "environment", func(ctx context.Context) (bool, string, error) { return environmentLeaf(ctx, env, c.Environment) }, DefaultLeafTimeout
	case c.Expr != "":
		return "expr", nil, DefaultLeafTimeout // leaf fills it in: it needs the leaf's path
	}
	return "empty", func(context.Context) (bool, string, error) {
		return false, "", errors.New("check has no leaf (policy not validated?)")
	}, DefaultLeafTimeout
}

// runLeaf runs fn under timeout in its own goroutine, so that a leaf stuck
// in a system call (a hung network file system) cannot hold the whole
// evaluation: after the deadline and a short grace it is abandoned and
// reported as timed out. Panics in fn become errors.
func runLeaf(ctx context.Context, timeout time.Duration, fn leafFunc) (bool, string, error) {
	if err := ctx.Err(); err != nil {
		return false, "", fmt.Errorf("evaluation cancelled: %w", err)
	}
	lctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	type result struct {
		ok     bool
		detail string
		err    error
	}
	ch := make(chan result, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				ch <- result{err: fmt.Errorf("panic: %v", r)}
			}
		}()
		ok, detail, err := fn(lctx)
		ch <- result{ok, detail, err}
	}()
	var r result
	select {
	case r = <-ch:
	case <-lctx.Done():
		select {
		case r = <-ch:
		case <-time.After(leafGrace):
			r.err = lctx.Err()
		}
	}
	if r.err != nil && lctx.Err() != nil {
		// Whatever the leaf said, the reason it ended is the deadline.
		switch {
		case ctx.Err() != nil:
			r.err = fmt.Errorf("evaluation cancelled: %w", ctx.Err())
		case !errors.Is(r.err, errTimedOut):
			r.err = fmt.Errorf("%w after %s", errTimedOut, timeout)
		}
	}
	return r.ok, r.detail, r.err
}

// EvaluateAll evaluates policies against env with at most workers at a
// time (at least one) and returns the results sorted by policy id.
func EvaluateAll(ctx context.Context, policies []Policy, env Env, workers int) []Result {
	workers = max(workers, 1)
	results := make([]Result, len(policies))
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for i, p := range policies {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			results[i] = Evaluate(ctx, p, env)
		}()
	}
	wg.Wait()
	slices.SortFunc(results, func(a, b Result) int { return strings.Compare(a.PolicyID, b.PolicyID) })
	return results
}

// ExprOnly reports whether every leaf of p (check and applies_if) is an
// expr: such a policy needs nothing but the inventory document, so the
// server can evaluate it against stored inventory without the agent.
func ExprOnly(p Policy) bool {
	if p.AppliesIf != nil && !exprOnly(*p.AppliesIf) {
		return false
	}
	return exprOnly(p.Check)
}

func exprOnly(c Check) bool {
	for _, list := range [][]Check{c.All, c.Any, c.None} {
		for _, child := range list {
			if !exprOnly(child) {
				return false
			}
		}
	}
	if c.All != nil || c.Any != nil || c.None != nil {
		return true
	}
	// leafFor tries expr last, so it names expr only when no other leaf
	// field is set.
	kind, _, _ := (&evaluation{}).leafFor(c)
	return kind == "expr"
}
