package service

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestIsJournalStream(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "stream"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	st := fi.Sys().(*syscall.Stat_t)
	env := fmt.Sprintf("%d:%d", st.Dev, st.Ino)
	if !isJournalStream(f, env) {
		t.Errorf("%s: not recognised as the journal stream %s", f.Name(), env)
	}
	for _, other := range []string{"", "garbage", fmt.Sprintf("%d:%d", st.Dev, st.Ino+1)} {
		if isJournalStream(f, other) {
			t.Errorf("JOURNAL_STREAM=%q recognised", other)
		}
	}
	if isJournalStream(&bytes.Buffer{}, env) {
		t.Error("a buffer recognised as the journal")
	}
}

// Under systemd the lines carry journald's priority prefix and no time.
func TestJournalLogger(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "stream"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fi, _ := f.Stat()
	st := fi.Sys().(*syscall.Stat_t)
	t.Setenv("JOURNAL_STREAM", fmt.Sprintf("%d:%d", st.Dev, st.Ino))
	log, closeLog, err := NewLogger("steward-agent", "", slog.LevelDebug, f)
	if err != nil {
		t.Fatal(err)
	}
	log.Debug("d")
	log.Info("i")
	log.Warn("w")
	log.Error("e", "err", "boom")
	closeLog()
	b, _ := os.ReadFile(f.Name())
	want := "<7>level=DEBUG msg=d\n<6>level=INFO msg=i\n<4>level=WARN msg=w\n<3>level=ERROR msg=e err=boom\n"
	if string(b) != want {
		t.Errorf("journal got\n%s\nwant\n%s", b, want)
	}

	// The same stream without JOURNAL_STREAM is a terminal: plain text
	// with the time.
	t.Setenv("JOURNAL_STREAM", "")
	var buf bytes.Buffer
	log, _, _ = NewLogger("steward-agent", "", slog.LevelInfo, &buf)
	log.Info("plain")
	if !strings.HasPrefix(buf.String(), "time=") {
		t.Errorf("stderr log %q", buf.String())
	}
}

func TestFileLogger(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log", "steward-agent.log")
	var stderr bytes.Buffer
	log, closeLog, err := NewLogger("steward-agent", path, slog.LevelInfo, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	log.Info("to the file")
	if err := closeLog(); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); !strings.Contains(string(b), "msg=\"to the file\"") || stderr.Len() != 0 {
		t.Errorf("file %q, stderr %q", b, stderr.String())
	}
	if _, _, err := NewLogger("steward-agent", "/proc/version/nope.log", slog.LevelInfo, &stderr); err == nil {
		t.Error("an unwritable log file was accepted")
	}
}
