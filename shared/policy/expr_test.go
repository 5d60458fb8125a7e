package policy

import (
	"context"
	"strings"
	"testing"
)

// withoutEngine runs the rest of a test as the agent does: no CEL linked.
// Tests that call it must not be parallel (the engine is process-wide).
func withoutEngine(t *testing.T) {
	saved := currentEngine()
	SetExprEngine(nil)
	t.Cleanup(func() { SetExprEngine(saved) })
}

// answeringEnv is a fake agent Env: answers from the server by policy id
// and leaf path.
type answeringEnv struct {
	*fakeEnv
	answers map[string]map[string]ExprAnswer
}

func (e answeringEnv) ExprAnswer(id, path string) (ExprAnswer, bool) {
	a, ok := e.answers[id][path]
	return a, ok
}

func TestWithoutEngineValidation(t *testing.T) {
	withoutEngine(t)
	// Not CEL: only the server, which has the engine, can tell.
	if _, err := Parse("p.yaml", []byte("policies:\n  - id: p\n    title: T\n    severity: low\n    check: {expr: 'inventory.os ==='}\n")); err != nil {
		t.Errorf("without an engine an expression is not compiled, got %v", err)
	}
	_, err := Parse("p.yaml", []byte("policies:\n  - id: p\n    title: T\n    severity: low\n    check: {expr: ''}\n"))
	if err == nil || !strings.Contains(err.Error(), "check.expr") || !strings.Contains(err.Error(), "empty expression") {
		t.Errorf("an empty expression must be refused, got %v", err)
	}
}

func TestWithoutEngineEvaluation(t *testing.T) {
	withoutEngine(t)
	const (
		pass = `{package: {name: bash, installed: true}}`
		fail = `{package: {name: telnetd, installed: true}}`
		expr = `{expr: 'inventory.os.platform == "debian"'}`
	)
	cases := []struct {
		name      string
		policy    string
		answers   map[string]ExprAnswer // for policy p; nil: none arrived
		want      Status
		wantError string
		evidence  string // of the expr leaf, when evaluated
	}{
		{"decided by a machine leaf", "    check: {all: [" + fail + ", " + expr + "]}", nil, StatusFail, "", ""},
		{"any decided by a machine leaf", "    check: {any: [" + expr + ", " + pass + "]}", nil, StatusPass, "",
			`check.any[0].expr false awaiting the server's answer: inventory.os.platform == "debian"`},
		{"open without the answer", "    check: {all: [" + pass + ", " + expr + "]}", nil, StatusNeedsServer, "",
			`check.all[1].expr false awaiting the server's answer: inventory.os.platform == "debian"`},
		{"applies_if open", "    applies_if: " + expr + "\n    check: " + pass, nil, StatusNeedsServer, "", ""},
		{"a failing leaf decides despite an open one", "    check: {all: [" + expr + ", {file: {path: /nonexistent/x, exists: true}}]}", nil, StatusFail, "", ""},
		{"answered true", "    check: {all: [" + pass + ", " + expr + "]}",
			map[string]ExprAnswer{"check.all[1].expr": {Value: true, Detail: "x => true"}}, StatusPass, "", "check.all[1].expr true x => true"},
		{"answered false", "    applies_if: " + expr + "\n    check: " + pass,
			map[string]ExprAnswer{"applies_if.expr": {Value: false, Detail: "x => false"}}, StatusNotApplicable, "", "applies_if.expr false x => false"},
		{"answered with an error", "    check: {all: [" + pass + ", " + expr + "]}",
			map[string]ExprAnswer{"check.all[1].expr": {Error: "no such key: os"}}, StatusError, "check.all[1].expr: on the server: no such key: os", ""},
		{"answer for another leaf", "    check: {all: [" + pass + ", " + expr + "]}",
			map[string]ExprAnswer{"check.all[0].expr": {Value: true}}, StatusNeedsServer, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ps := mustParse(t, "policies:\n  - id: p\n    title: T\n    severity: low\n"+c.policy+"\n")
			env := answeringEnv{fakeEnv: newFakeEnv(t, "debian12.json")}
			if c.answers != nil {
				env.answers = map[string]map[string]ExprAnswer{"p": c.answers}
			}
			r := Evaluate(context.Background(), ps[0], env)
			if r.Status != c.want || r.Error != c.wantError {
				t.Fatalf("status %s error %q, want %s %q; evidence:\n%s", r.Status, r.Error, c.want, c.wantError, evidenceText(r.Evidence))
			}
			if c.evidence != "" && !strings.Contains(evidenceText(r.Evidence), c.evidence+"\n") {
				t.Errorf("evidence lacks %q:\n%s", c.evidence, evidenceText(r.Evidence))
			}
		})
	}
}

// TestWithoutEngineNoAnswerer: an Env that cannot get answers (the local
// check) leaves every verdict that needs an expression open.
func TestWithoutEngineNoAnswerer(t *testing.T) {
	withoutEngine(t)
	ps := mustParse(t, "policies:\n  - id: p\n    title: T\n    severity: low\n    check: {expr: 'true'}\n")
	if r := Evaluate(context.Background(), ps[0], newFakeEnv(t, "debian12.json")); r.Status != StatusNeedsServer {
		t.Errorf("status %s, want %s", r.Status, StatusNeedsServer)
	}
}

// TestAnswersReproduceTheEngine: answers computed where the engine is (the
// server: ExprLeaves and AnswerExpr over the inventory) give an Env without
// it (the agent) the verdict and evidence the engine gives.
func TestAnswersReproduceTheEngine(t *testing.T) {
	const policies = `policies:
  - id: mixed
    title: T
    severity: low
    applies_if: {expr: 'inventory.os.platform == "debian"'}
    check:
      all:
        - {package: {name: bash, installed: true}}
        - any:
            - {expr: 'inventory.os.platform == "rhel"'}
            - none: [{expr: 'inventory.os.arch == "s390x"'}, {expr: 'false'}]
        - {expr: 'inventory.os.platform.startsWith("deb")'}
`
	ps := mustParse(t, policies)
	leaves := ExprLeaves(ps[0])
	var paths []string
	for _, l := range leaves {
		paths = append(paths, l.Path)
	}
	want := "applies_if.expr check.all[1].any[0].expr check.all[1].any[1].none[0].expr check.all[1].any[1].none[1].expr check.all[2].expr"
	if got := strings.Join(paths, " "); got != want {
		t.Fatalf("ExprLeaves paths\n%s\nwant\n%s", got, want)
	}
	env := newFakeEnv(t, "debian12.json")
	withEngine := Evaluate(context.Background(), ps[0], env)

	answers := map[string]ExprAnswer{}
	for _, l := range leaves {
		answers[l.Path] = AnswerExpr(context.Background(), env, l.Expr)
	}
	if a := AnswerExpr(context.Background(), env, "inventory.nosuch == 1"); a.Error == "" || !strings.Contains(a.Error, "no such key") {
		t.Errorf("answer to a failing expression: %+v", a)
	}
	withoutEngine(t)
	answered := Evaluate(context.Background(), ps[0], answeringEnv{fakeEnv: env, answers: map[string]map[string]ExprAnswer{"mixed": answers}})
	if withEngine.Status != answered.Status || evidenceText(withEngine.Evidence) != evidenceText(answered.Evidence) {
		t.Errorf("with the engine: %s\n%s\nfrom answers: %s\n%s", withEngine.Status, evidenceText(withEngine.Evidence),
			answered.Status, evidenceText(answered.Evidence))
	}
	if withEngine.Status != StatusPass {
		t.Errorf("status %s, want pass:\n%s", withEngine.Status, evidenceText(withEngine.Evidence))
	}
	if a := AnswerExpr(context.Background(), env, "true"); a.Error == "" {
		t.Errorf("without an engine AnswerExpr = %+v, want an error", a)
	}
}
