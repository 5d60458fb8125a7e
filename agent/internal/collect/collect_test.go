package collect

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestRunIsolatesCollectors(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	defer close(release) // lets the abandoned collector's goroutine end
	collectors := map[string]collectorFunc{
		"ok": func(context.Context, Config) (any, error) {
			return map[string]any{"b": 1, "a": "<x>"}, nil
		},
		"fails": func(context.Context, Config) (any, error) {
			return nil, errors.New("read thing: boom")
		},
		"unsupported": func(context.Context, Config) (any, error) {
			return nil, fmt.Errorf("thing on plan9: %w", errors.ErrUnsupported)
		},
		"panics": func(context.Context, Config) (any, error) {
			var m map[string]int
			m["x"]++
			return nil, nil
		},
		// Ignores its context, as a collector stuck in a system call does.
		"hangs": func(context.Context, Config) (any, error) {
			<-release
			return "late", nil
		},
		"unmarshalable": func(context.Context, Config) (any, error) {
			return func() {}, nil
		},
	}
	cfg := Config{Root: t.TempDir(), Timeout: 50 * time.Millisecond}.withDefaults()
	start := time.Now()
	doc := run(context.Background(), cfg, collectors)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("run took %s; a hung collector must be abandoned at its timeout", took)
	}
	if got, want := string(doc.Sections["ok"]), `{"a":"<x>","b":1}`; got != want {
		t.Errorf("ok section = %s, want canonical %s", got, want)
	}
	if len(doc.Sections) != 1 {
		t.Errorf("sections = %v, want only ok", doc.Sections)
	}
	wantErr := map[string]string{
		"fails":         "read thing: boom",
		"unsupported":   "thing on plan9: unsupported operation",
		"panics":        "panic: assignment to entry in nil map",
		"hangs":         "timed out after 50ms",
		"unmarshalable": "canonical json: ",
	}
	for name, want := range wantErr {
		t.Run(name, func(t *testing.T) {
			if got := doc.Errors[name]; !strings.HasPrefix(got, want) {
				t.Errorf("error = %q, want prefix %q", got, want)
			}
		})
	}
	if len(doc.Errors) != len(wantErr) {
		t.Errorf("errors = %v", doc.Errors)
	}
	if loc := doc.CollectedAt.Location(); loc != time.UTC || doc.CollectedAt.Nanosecond() != 0 {
		t.Errorf("collected_at = %v, want UTC whole seconds", doc.CollectedAt)
	}
}

func TestRunCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	block := make(chan struct{})
	defer close(block)
	doc := run(ctx, Config{}.withDefaults(), map[string]collectorFunc{
		"slow": func(context.Context, Config) (any, error) { <-block; return nil, nil },
	})
	if got := doc.Errors["slow"]; got != "abandoned: context canceled" {
		t.Errorf("error = %q", got)
	}
}

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name            string
		in              Config
		root, proc, sys string
		timeout         time.Duration
		offline         bool
	}{
		{"zero value is the live machine", Config{}, "/", "/proc", "/sys", DefaultTimeout, false},
		{"image root", Config{Root: "/mnt/img"}, "/mnt/img", "/mnt/img/proc", "/mnt/img/sys", DefaultTimeout, true},
		{"explicit dirs kept", Config{Root: "/", ProcDir: "/host/proc", SysDir: "/host/sys", Timeout: time.Second},
			"/", "/host/proc", "/host/sys", time.Second, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := c.in.withDefaults()
			if got.Root != c.root || got.ProcDir != c.proc || got.SysDir != c.sys || got.Timeout != c.timeout {
				t.Errorf("got root=%s proc=%s sys=%s timeout=%s", got.Root, got.ProcDir, got.SysDir, got.Timeout)
			}
			if got.Logger == nil {
				t.Error("logger not defaulted")
			}
			k, ok := got.kernel.(liveKernel)
			if !ok || k.offline != c.offline || k.procDir != c.proc {
				t.Errorf("kernel = %#v", got.kernel)
			}
			if want := filepath.Join(c.root, "etc/os-release"); got.path("/etc/os-release") != want {
				t.Errorf("path = %s, want %s", got.path("/etc/os-release"), want)
			}
		})
	}
}

// An offline root must not be given the running machine's interfaces or
// file system usage.
func TestOfflineRootRefusesLiveKernel(t *testing.T) {
	t.Parallel()
	cfg := Config{Root: t.TempDir()}.withDefaults()
	if _, err := cfg.kernel.interfaces(); !errors.Is(err, errLiveOnly) {
		t.Errorf("interfaces: err = %v, want errLiveOnly", err)
	}
	if _, err := cfg.kernel.statfs("/"); !errors.Is(err, errLiveOnly) {
		t.Errorf("statfs: err = %v, want errLiveOnly", err)
	}
}

func TestArchName(t *testing.T) {
	t.Parallel()
	cases := []struct{ goos, goarch, want string }{
		{"linux", "amd64", "x86_64"},
		{"linux", "arm64", "aarch64"},
		{"darwin", "arm64", "arm64"},
		{"windows", "amd64", "x86_64"},
		{"linux", "386", "i686"},
		{"linux", "riscv64", "riscv64"},
		{"linux", "ppc64le", "ppc64le"},
	}
	for _, c := range cases {
		t.Run(c.goos+"/"+c.goarch, func(t *testing.T) {
			if got := archName(c.goos, c.goarch); got != c.want {
				t.Errorf("got %s, want %s", got, c.want)
			}
		})
	}
}
