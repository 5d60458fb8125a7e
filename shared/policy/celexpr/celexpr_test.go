package celexpr

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{`inventory.os.platform == "debian"`, ""},
		{`inventory.os.platform ==`, "invalid CEL expression: at 1:"},
		{`1 + 1`, "CEL expression must be boolean, is int"},
	} {
		err := Engine{}.Check(c.src)
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("Check(%q) = %v, want %q", c.src, err, c.want)
		}
	}
}

func TestEval(t *testing.T) {
	inv := map[string]any{"os": map[string]any{"platform": "debian", "major": int64(12)}}
	for _, c := range []struct {
		src  string
		want bool
		err  string
	}{
		{`inventory.os.platform == "debian" && inventory.os.major >= 12`, true, ""},
		{`inventory.os.major > 12.5`, false, ""},
		{`inventory.nosuch == 1`, false, "no such key: nosuch"},
	} {
		got, err := Engine{}.Eval(context.Background(), c.src, inv)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("Eval(%q) err %v, want %q", c.src, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("Eval(%q) = %t, %v; want %t", c.src, got, err, c.want)
		}
	}
}

// TestCostLimit: a quadratic comprehension over a large inventory (5000
// packages) stops at the cost limit instead of pinning a CPU. It runs
// without a deadline: what must stop it is its cost, however slow this
// machine is today, never the clock.
func TestCostLimit(t *testing.T) {
	pkgs := make([]any, 5000)
	for i := range pkgs {
		pkgs[i] = map[string]any{"name": fmt.Sprintf("p%d", i), "version": "1.0"}
	}
	inv := map[string]any{"software": map[string]any{"packages": pkgs}}
	_, err := Engine{}.Eval(context.Background(),
		`inventory.software.packages.all(p, inventory.software.packages.all(q, p.name != q.name || p == q))`, inv)
	if err == nil || !strings.Contains(err.Error(), "cost limit exceeded") {
		t.Errorf("err %v, want the cost limit", err)
	}
}
