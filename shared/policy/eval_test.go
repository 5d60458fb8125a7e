package policy

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Leaves for combinator tests: T passes, F fails, E errs at run time (the
// key is missing from the inventory).
const (
	leafT = `{expr: "true"}`
	leafF = `{expr: "false"}`
	leafE = `{expr: "inventory.nosuch == 1"}`
)

// TestCombinators is the short-circuit and error table: evaluation stops
// at the first child that decides a node, evidence lists exactly the
// leaves evaluated, and an error decides nothing by itself.
func TestCombinators(t *testing.T) {
	cases := []struct {
		check string
		want  Status
		// evaluated is the evidence paths in order.
		evaluated string
	}{
		{"{all: [" + leafT + ", " + leafT + "]}", StatusPass, "check.all[0].expr check.all[1].expr"},
		{"{all: [" + leafT + ", " + leafF + "]}", StatusFail, "check.all[0].expr check.all[1].expr"},
		{"{all: [" + leafF + ", " + leafE + "]}", StatusFail, "check.all[0].expr"},
		{"{all: [" + leafE + ", " + leafF + "]}", StatusFail, "check.all[0].expr check.all[1].expr"},
		{"{all: [" + leafT + ", " + leafE + "]}", StatusError, "check.all[0].expr check.all[1].expr"},
		{"{all: [" + leafE + ", " + leafT + "]}", StatusError, "check.all[0].expr check.all[1].expr"},
		{"{any: [" + leafT + ", " + leafE + "]}", StatusPass, "check.any[0].expr"},
		{"{any: [" + leafE + ", " + leafT + "]}", StatusPass, "check.any[0].expr check.any[1].expr"},
		{"{any: [" + leafF + ", " + leafE + "]}", StatusError, "check.any[0].expr check.any[1].expr"},
		{"{any: [" + leafF + ", " + leafF + "]}", StatusFail, "check.any[0].expr check.any[1].expr"},
		{"{none: [" + leafF + ", " + leafF + "]}", StatusPass, "check.none[0].expr check.none[1].expr"},
		{"{none: [" + leafT + ", " + leafE + "]}", StatusFail, "check.none[0].expr"},
		{"{none: [" + leafE + ", " + leafT + "]}", StatusFail, "check.none[0].expr check.none[1].expr"},
		{"{none: [" + leafF + ", " + leafE + "]}", StatusError, "check.none[0].expr check.none[1].expr"},
		{"{all: [{any: [" + leafF + ", " + leafT + "]}, {none: [" + leafF + "]}]}", StatusPass,
			"check.all[0].any[0].expr check.all[0].any[1].expr check.all[1].none[0].expr"},
		{"{any: [{all: [" + leafT + ", " + leafF + "]}, {none: [" + leafT + "]}, " + leafE + "]}", StatusError,
			"check.any[0].all[0].expr check.any[0].all[1].expr check.any[1].none[0].expr check.any[2].expr"},
		{leafE, StatusError, "check.expr"},
	}
	env := newFakeEnv(t, "debian12.json")
	for _, c := range cases {
		t.Run(c.check, func(t *testing.T) {
			r := Evaluate(context.Background(), onePolicy(t, c.check), env)
			var paths []string
			for _, e := range r.Evidence {
				paths = append(paths, e.Check)
			}
			if r.Status != c.want || strings.Join(paths, " ") != c.evaluated {
				t.Errorf("status %s, evaluated %v; want %s, %s\n%s", r.Status, paths, c.want, c.evaluated, evidenceText(r.Evidence))
			}
			if (r.Status == StatusError) != (r.Error != "") {
				t.Errorf("status %s with Error %q", r.Status, r.Error)
			}
		})
	}
}

func TestErrorEvidence(t *testing.T) {
	env := newFakeEnv(t, "debian12.json")
	r := Evaluate(context.Background(), onePolicy(t, "{all: ["+leafT+", "+leafE+"]}"), env)
	want := "check.all[1].expr: evaluate: no such key: nosuch"
	if r.Error != want {
		t.Errorf("Error = %q, want %q", r.Error, want)
	}
	if e := r.Evidence[1]; e.Passed || e.Detail != "error: evaluate: no such key: nosuch" {
		t.Errorf("evidence %+v", e)
	}
}

func TestPlatformsAndAppliesIf(t *testing.T) {
	cases := []struct {
		name, policy string
		want         Status
		evidence     string
	}{
		{"platform not listed", "    platforms: [windows, darwin]\n    check: " + leafT, StatusNotApplicable,
			"platforms false host platform linux is not in [windows, darwin]\n"},
		{"platform listed", "    platforms: [linux]\n    check: " + leafF, StatusFail,
			"check.expr false false => false\n"},
		{"applies_if fails", "    applies_if: " + leafF + "\n    check: " + leafT, StatusNotApplicable,
			"applies_if.expr false false => false\n"},
		{"applies_if errs", "    applies_if: " + leafE + "\n    check: " + leafT, StatusError,
			"applies_if.expr false error: evaluate: no such key: nosuch\n"},
		{"applies_if holds", "    applies_if: {package: {name: bash, installed: true}}\n    check: " + leafF, StatusFail,
			"applies_if.package true installed: bash 5.2.15-2+b8 (dpkg, amd64)\ncheck.expr false false => false\n"},
		{"applies_if none", "    applies_if: {none: [{service: {name: ssh, running: true}}]}\n    check: " + leafT, StatusNotApplicable,
			"applies_if.none[0].service true service ssh: state running, start mode auto\n"},
	}
	env := newFakeEnv(t, "debian12.json")
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := mustParse(t, "policies:\n  - id: p\n    title: T\n    severity: low\n"+c.policy+"\n")[0]
			r := Evaluate(context.Background(), p, env)
			if r.Status != c.want || evidenceText(r.Evidence) != c.evidence {
				t.Errorf("status %s, evidence:\n%swant %s:\n%s", r.Status, evidenceText(r.Evidence), c.want, c.evidence)
			}
		})
	}
}

func TestResultTimes(t *testing.T) {
	env := newFakeEnv(t, "debian12.json")
	before := time.Now()
	r := Evaluate(context.Background(), onePolicy(t, leafT), env)
	if r.PolicyID != "p" || r.CheckedAt.Before(before.Add(-time.Second)) || r.CheckedAt.Location() != time.UTC || r.Duration <= 0 {
		t.Errorf("result %+v", r)
	}
}

// A leaf stuck in a call that ignores its context is abandoned at its
// time limit (plus a short grace) and reported as an error.
func TestLeafTimeouts(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	env := newFakeEnv(t, "debian12.json")
	env.onGlob = func(context.Context) { <-release }
	env.run = func(ctx context.Context, argv []string, limit int) (CommandResult, error) {
		<-release
		return CommandResult{}, nil
	}

	t.Run("command ignoring its deadline", func(t *testing.T) {
		start := time.Now()
		r := Evaluate(context.Background(), onePolicy(t, `{command: {run: [x], timeout: 100ms}}`), env)
		took := time.Since(start)
		if r.Status != StatusError || r.Error != "check.command: timed out after 100ms" {
			t.Errorf("status %s, error %q", r.Status, r.Error)
		}
		if took < 100*time.Millisecond || took > 100*time.Millisecond+leafGrace+time.Second {
			t.Errorf("took %s", took)
		}
	})
	t.Run("caller's deadline", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		start := time.Now()
		r := Evaluate(ctx, onePolicy(t, `{any: [{file: {path: /etc/x, exists: true}}, `+leafT+`]}`), env)
		if took := time.Since(start); took > 100*time.Millisecond+leafGrace+time.Second {
			t.Errorf("took %s", took)
		}
		// The file leaf gave up; the next leaf saw the cancelled context.
		if r.Status != StatusError || !strings.HasPrefix(r.Error, "check.any[0].file: evaluation cancelled: context deadline exceeded") {
			t.Errorf("status %s, error %q\n%s", r.Status, r.Error, evidenceText(r.Evidence))
		}
	})
}

func TestLeafPanicIsAnError(t *testing.T) {
	env := newFakeEnv(t, "debian12.json")
	env.onGlob = func(context.Context) { panic("boom") }
	r := Evaluate(context.Background(), onePolicy(t, `{file: {path: /etc/x, exists: true}}`), env)
	if r.Status != StatusError || r.Error != "check.file: panic: boom" {
		t.Errorf("status %s, error %q", r.Status, r.Error)
	}
}

func TestEvidenceCaps(t *testing.T) {
	env := newFakeEnv(t, "debian12.json")
	t.Run("detail", func(t *testing.T) {
		// An expression longer than a detail may be.
		long := strings.Repeat(`inventory.os.platform != "x" && `, 30) + "true"
		r := Evaluate(context.Background(), onePolicy(t, fmt.Sprintf("{expr: '%s'}", long)), env)
		d := r.Evidence[0].Detail
		if r.Status != StatusPass || len(d) > MaxDetailBytes || !strings.HasSuffix(d, truncatedMarker) {
			t.Errorf("status %s, detail %d bytes: %q", r.Status, len(d), d)
		}
	})
	t.Run("total", func(t *testing.T) {
		leaf := fmt.Sprintf("{expr: '%s'}", strings.Repeat(`inventory.os.arch != "s390x" && `, 14)+"true")
		r := Evaluate(context.Background(), onePolicy(t, "{all: ["+strings.Repeat(leaf+", ", 99)+leaf+"]}"), env)
		size := 0
		for _, e := range r.Evidence {
			size += len(e.Check) + len(e.Detail)
		}
		last := r.Evidence[len(r.Evidence)-1]
		if r.Status != StatusPass || size > MaxEvidenceBytes || last.Check != "evidence" || !strings.Contains(last.Detail, "more evidence entries left out") {
			t.Errorf("status %s, %d entries, %d bytes, last %+v", r.Status, len(r.Evidence), size, last)
		}
		if len(r.Evidence) < 10 {
			t.Errorf("only %d entries kept", len(r.Evidence))
		}
	})
	t.Run("utf-8 boundary", func(t *testing.T) {
		s := truncate(strings.Repeat("é", 400), MaxDetailBytes)
		if len(s) > MaxDetailBytes || !strings.HasSuffix(s, truncatedMarker) || strings.ContainsRune(s, '\uFFFD') {
			t.Errorf("truncate: %d bytes %q", len(s), s)
		}
	})
}

func TestEvaluateAll(t *testing.T) {
	var running, peak atomic.Int32
	var mu sync.Mutex
	env := newFakeEnv(t, "debian12.json")
	env.onGlob = func(context.Context) {
		n := running.Add(1)
		mu.Lock()
		peak.Store(max(peak.Load(), n))
		mu.Unlock()
		time.Sleep(20 * time.Millisecond)
		running.Add(-1)
	}
	var src strings.Builder
	src.WriteString("policies:\n")
	for _, id := range []string{"zeta", "alpha", "mu", "beta", "omega", "eta"} {
		fmt.Fprintf(&src, "  - {id: %s, title: T, severity: low, check: {file: {path: /x, exists: false}}}\n", id)
	}
	results := EvaluateAll(context.Background(), mustParse(t, src.String()), env, 2)
	var ids []string
	for _, r := range results {
		ids = append(ids, r.PolicyID)
		if r.Status != StatusPass {
			t.Errorf("%s: %s", r.PolicyID, r.Status)
		}
	}
	if strings.Join(ids, " ") != "alpha beta eta mu omega zeta" {
		t.Errorf("order %v", ids)
	}
	if p := peak.Load(); p > 2 || p < 1 {
		t.Errorf("peak concurrency %d, want at most 2", p)
	}
}

func TestExprOnly(t *testing.T) {
	cases := []struct {
		policy string
		want   bool
	}{
		{"    check: " + leafT, true},
		{"    check: {all: [" + leafT + ", {none: [" + leafF + "]}]}", true},
		{"    applies_if: {port: {listening: 22}}\n    check: " + leafT, false},
		{"    applies_if: " + leafT + "\n    check: {any: [" + leafT + ", {package: {name: bash, installed: true}}]}", false},
		{"    check: {file: {path: /etc/passwd, exists: true}}", false},
	}
	for _, c := range cases {
		t.Run(c.policy, func(t *testing.T) {
			p := mustParse(t, "policies:\n  - id: p\n    title: T\n    severity: low\n"+c.policy+"\n")[0]
			if got := ExprOnly(p); got != c.want {
				t.Errorf("ExprOnly = %t, want %t", got, c.want)
			}
		})
	}
}
