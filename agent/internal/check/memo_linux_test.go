package check

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/policy"
)

// The facts are read once per Env, shared by concurrent callers, and a
// new Env (the next evaluation) reads them again.
func TestFactsReadOncePerEnv(t *testing.T) {
	root := factTree(t, map[string]string{"run/systemd/container": "lxc\n"}, nil)
	env := NewEnv(context.Background(), Config{Root: root}, inventory.Document{}).(policy.FactEnv)
	var wg sync.WaitGroup
	got := make([]policy.Facts, 8)
	for i := range got {
		wg.Go(func() {
			f, err := env.Facts(context.Background())
			if err != nil {
				t.Error(err)
			}
			got[i] = f
		})
	}
	wg.Wait()
	for i, f := range got {
		if f.Container.Value != "lxc" {
			t.Fatalf("caller %d: container %+v, want lxc", i, f.Container)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "run/systemd/container"), []byte("podman\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if f, err := env.Facts(context.Background()); err != nil || f.Container.Value != "lxc" {
		t.Errorf("the same Env again: %+v, %v; want the lxc it read first", f.Container, err)
	}
	if f := factsOf(t, root).Container; f.Value != "podman" {
		t.Errorf("a new Env: %+v, want podman", f)
	}
}

// Facts worked out under a cancelled context are not kept.
func TestFactsNotKeptWhenCancelled(t *testing.T) {
	var m memo[string]
	ctx, cancel := context.WithCancel(context.Background())
	if v := m.get(ctx, func() string { cancel(); return "half" }); v != "half" {
		t.Fatalf("got %q", v)
	}
	if v := m.get(context.Background(), func() string { return "whole" }); v != "whole" {
		t.Errorf("after a cancelled first call: %q, want whole (recomputed)", v)
	}
	if v := m.get(context.Background(), func() string { return "again" }); v != "whole" {
		t.Errorf("third call: %q, want the kept whole", v)
	}
}
