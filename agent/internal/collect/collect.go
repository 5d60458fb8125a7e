package collect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime/debug"
	"sync"
	"time"

	"github.com/steward-project/steward/shared/inventory"
)

// DefaultTimeout bounds each collector when Config.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// Config says where collectors read from. Every path is passed in rather
// than read from globals or the environment so that many collections can run
// side by side on different fixture trees.
type Config struct {
	// Root is the file system root that files such as /etc/os-release and
	// /var/lib/dpkg/status are read under. Default "/".
	Root string
	// ProcDir and SysDir are the procfs and sysfs mount points.
	// Defaults: Root/proc and Root/sys.
	ProcDir, SysDir string
	// Timeout bounds each collector on its own. Default DefaultTimeout.
	Timeout time.Duration
	// Logger receives debug timings and panics. Default: discard.
	Logger *slog.Logger

	// kernel answers what only the running kernel knows (interfaces, file
	// system usage, architecture). Nil means the real kernel; tests put a
	// fake here so that fixture trees give machine-independent output.
	kernel kernel
}

// errLiveOnly is returned by collectors whose data exists only in the
// running kernel when Root points at another system's files.
var errLiveOnly = errors.New("known only to the live kernel, not from a root file system")

func (c Config) withDefaults() Config {
	if c.Root == "" {
		c.Root = "/"
	}
	if c.ProcDir == "" {
		c.ProcDir = filepath.Join(c.Root, "proc")
	}
	if c.SysDir == "" {
		c.SysDir = filepath.Join(c.Root, "sys")
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.kernel == nil {
		c.kernel = liveKernel{procDir: c.ProcDir, offline: filepath.Clean(c.Root) != filepath.Clean("/")}
	}
	return c
}

// path returns name (an absolute path on the inspected system) under Root.
func (c Config) path(name string) string {
	return filepath.Join(c.Root, name)
}

func (c Config) proc(name string) string { return filepath.Join(c.ProcDir, name) }

func (c Config) sys(name string) string { return filepath.Join(c.SysDir, name) }

// collectorFunc gathers one section. The value it returns is marshalled to
// canonical JSON; an error leaves the section out and is reported instead.
type collectorFunc func(ctx context.Context, cfg Config) (any, error)

// registry lists every section this agent collects and the function that
// collects it. The functions are provided per OS; see collectors.go.
func registry() map[string]collectorFunc {
	return map[string]collectorFunc{
		inventory.SectionHost:     collectHost,
		inventory.SectionOS:       collectOS,
		inventory.SectionCPU:      collectCPU,
		inventory.SectionMemory:   collectMemory,
		inventory.SectionDisks:    collectDisks,
		inventory.SectionNetwork:  collectNetwork,
		inventory.SectionSoftware: collectSoftware,
		inventory.SectionServices: collectServices,
		inventory.SectionUsers:    collectUsers,
		inventory.SectionPorts:    collectPorts,
	}
}

// Collect runs every collector concurrently, each under its own timeout and
// panic recovery, and assembles the document. A collector that fails leaves
// its section out and records why in Document.Errors; the others still
// report.
func Collect(ctx context.Context, cfg Config) inventory.Document {
	return run(ctx, cfg.withDefaults(), registry())
}

type result struct {
	name string
	data json.RawMessage
	err  error
}

func run(ctx context.Context, cfg Config, collectors map[string]collectorFunc) inventory.Document {
	doc := inventory.Document{
		CollectedAt: time.Now().UTC().Truncate(time.Second),
		Sections:    make(map[string]json.RawMessage, len(collectors)),
	}
	results := make(chan result, len(collectors))
	var wg sync.WaitGroup
	for name, fn := range collectors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			data, err := runOne(ctx, cfg, name, fn)
			cfg.Logger.Debug("collector done", "section", name,
				"duration", time.Since(start), "ok", err == nil)
			results <- result{name: name, data: data, err: err}
		}()
	}
	wg.Wait()
	close(results)
	for r := range results {
		if r.err != nil {
			if doc.Errors == nil {
				doc.Errors = make(map[string]string)
			}
			doc.Errors[r.name] = r.err.Error()
			continue
		}
		doc.Sections[r.name] = r.data
	}
	return doc
}

// runOne returns fn's canonical JSON or the reason it has none. The section
// name is the key of Document.Errors, so errors are not prefixed with it.
// fn runs in its own goroutine so that a collector stuck in a system call (a
// dead NFS mount in statfs, say) cannot hold up the document: after the
// timeout it is abandoned, and its late result is dropped.
func runOne(parent context.Context, cfg Config, name string, fn collectorFunc) (json.RawMessage, error) {
	ctx, cancel := context.WithTimeout(parent, cfg.Timeout)
	defer cancel()
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				// The stack goes only to the log: it is what a bug report
				// needs, and too long for Document.Errors.
				cfg.Logger.Error("collector panicked", "section", name,
					"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				done <- result{err: fmt.Errorf("panic: %v", p)}
			}
		}()
		v, err := fn(ctx, cfg)
		if err != nil {
			done <- result{err: err}
			return
		}
		data, err := inventory.Canonical(v)
		if err != nil {
			done <- result{err: fmt.Errorf("canonical json: %w", err)}
			return
		}
		done <- result{data: data}
	}()
	select {
	case r := <-done:
		return r.data, r.err
	case <-ctx.Done():
		if err := parent.Err(); err != nil {
			return nil, fmt.Errorf("abandoned: %w", err)
		}
		return nil, fmt.Errorf("timed out after %s", cfg.Timeout)
	}
}
