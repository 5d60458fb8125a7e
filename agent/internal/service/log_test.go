//go:build !windows

package service

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestRotatingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "logs", "agent.log")
	r, err := OpenRotating(path, 100, 2)
	if err != nil {
		t.Fatal(err)
	}
	line := func(i int) []byte { return []byte(fmt.Sprintf("line %03d %s\n", i, strings.Repeat("x", 20))) } // 30 bytes
	for i := range 20 {
		if _, err := r.Write(line(i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Write([]byte("late\n")); err == nil {
		t.Error("write after Close succeeded")
	}
	// 20 lines of 30 bytes, 3 per file: the current file holds 18 and
	// 19, .1 holds 15..17, .2 holds 12..14, and nothing older is kept.
	want := map[string]struct {
		first string
		lines int
	}{"": {"line 018", 2}, ".1": {"line 015", 3}, ".2": {"line 012", 3}}
	for suffix, w := range want {
		b, err := os.ReadFile(path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 100 || !strings.HasPrefix(string(b), w.first) || strings.Count(string(b), "\n") != w.lines {
			t.Errorf("%s: %d bytes:\n%s", path+suffix, len(b), b)
		}
	}
	if _, err := os.Stat(path + ".3"); err == nil {
		t.Error("more rotated files than kept")
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("log file mode %v", fi.Mode().Perm())
	}
	// Reopening appends to what is there.
	r, _ = OpenRotating(path, 100, 2)
	r.Write([]byte("again\n"))
	r.Close()
	if b, _ := os.ReadFile(path); !strings.HasPrefix(string(b), "line 018") || !strings.HasSuffix(string(b), "again\n") {
		t.Errorf("reopened file:\n%s", b)
	}
}

func TestRotatingFileConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.log")
	r, err := OpenRotating(path, 1000, 3)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	log := slog.New(slog.NewTextHandler(r, nil))
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 50 {
				log.Info("message", "goroutine", g, "i", i)
			}
		})
	}
	wg.Wait()
	for _, suffix := range []string{"", ".1", ".2", ".3"} {
		b, err := os.ReadFile(path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			if !strings.HasPrefix(l, "time=") || !strings.Contains(l, " i=") {
				t.Fatalf("torn line in %s: %q", path+suffix, l)
			}
		}
	}
}

// recorder is a kardianos Logger that keeps what it is given.
type recorder struct {
	mu    sync.Mutex
	lines []string
	fail  error
}

func (r *recorder) add(sev string, v []any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, sev+" "+fmt.Sprint(v...))
	return r.fail
}
func (r *recorder) Error(v ...any) error   { return r.add("E", v) }
func (r *recorder) Warning(v ...any) error { return r.add("W", v) }
func (r *recorder) Info(v ...any) error    { return r.add("I", v) }

func TestEventLogHandler(t *testing.T) {
	rec := &recorder{}
	log := slog.New(newSinkHandler(loggerSink(rec), &slog.HandlerOptions{Level: slog.LevelDebug}))
	log.Debug("collected", "sections", 9)
	log.With("server", "https://s").Info("connected", "host_id", 4)
	log.WithGroup("dial").Warn("retrying", "in", "2s")
	log.Error("enroll secret refused")
	want := []string{
		"I level=DEBUG msg=collected sections=9",
		"I level=INFO msg=connected server=https://s host_id=4",
		"W level=WARN msg=retrying dial.in=2s",
		"E level=ERROR msg=\"enroll secret refused\"",
	}
	if strings.Join(rec.lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("event log got\n%s\nwant\n%s", strings.Join(rec.lines, "\n"), strings.Join(want, "\n"))
	}
	rec.fail = errors.New("event log full")
	if err := log.Handler().Handle(t.Context(), slog.NewRecord(time.Now(), slog.LevelInfo, "x", 0)); err == nil {
		t.Error("a failing sink's error was dropped")
	}
}
