package state

import (
	"bytes"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

const testKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func mustOpen(t *testing.T, dir string) *Dir {
	t.Helper()
	d, err := Open(dir, discard())
	if err != nil {
		t.Fatalf("Open(%s): %v", dir, err)
	}
	return d
}

func TestOpenFresh(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "state")
	d := mustOpen(t, dir)
	st := d.Snapshot()
	if st.NextSeq != 1 || st.HostID != 0 || len(st.AckedHashes) != 0 {
		t.Fatalf("fresh state = %+v, want next_seq 1 and nothing else", st)
	}
	if _, err := d.NodeKey(); !errors.Is(err, ErrNoNodeKey) {
		t.Fatalf("NodeKey on fresh dir: err = %v, want ErrNoNodeKey", err)
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o700 {
			t.Errorf("state dir mode = %o, want 700", got)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, StateFile)); err != nil {
		t.Errorf("Open did not write %s: %v", StateFile, err)
	}
}

func TestOpenTightensExistingDir(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Fatal("this test checks Unix permission bits; run it on Linux or macOS")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	mustOpen(t, dir)
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o700 {
		t.Errorf("state dir mode = %o, want 700", got)
	}
}

func TestPersistsAcrossOpen(t *testing.T) {
	dir := t.TempDir()
	d := mustOpen(t, dir)
	for want := uint64(1); want <= 3; want++ {
		got, err := d.NextSeq()
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("NextSeq = %d, want %d", got, want)
		}
	}
	if err := d.SetHostID(42); err != nil {
		t.Fatal(err)
	}
	if err := d.SetAckedHashes(map[string]string{"os": "h1", "cpu": "h2"}); err != nil {
		t.Fatal(err)
	}

	// No Save call: every mutation must already be on disk.
	st := mustOpen(t, dir).Snapshot()
	if st.NextSeq != 4 || st.HostID != 42 || st.AckedHashes["os"] != "h1" || st.AckedHashes["cpu"] != "h2" || len(st.AckedHashes) != 2 {
		t.Fatalf("reloaded state = %+v", st)
	}
}

func TestCorruptStateStartsFresh(t *testing.T) {
	cases := []struct {
		name    string
		content string
	}{
		{"garbage", "{not json"},
		{"truncated", `{"next_seq": 12, "acked_ha`},
		{"wrong type", `{"next_seq": "twelve"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, StateFile), []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			d, err := Open(dir, slog.New(slog.NewTextHandler(&logs, nil)))
			if err != nil {
				t.Fatalf("Open with corrupt state: %v", err)
			}
			if st := d.Snapshot(); st.NextSeq != 1 || len(st.AckedHashes) != 0 {
				t.Errorf("state after corrupt file = %+v, want fresh", st)
			}
			aside, err := os.ReadFile(filepath.Join(dir, CorruptStateFile))
			if err != nil {
				t.Fatalf("corrupt file not set aside: %v", err)
			}
			if string(aside) != tc.content {
				t.Errorf("set-aside content = %q, want %q", aside, tc.content)
			}
			if !strings.Contains(logs.String(), "state file corrupt") {
				t.Errorf("no warning logged; logs: %s", logs.String())
			}
		})
	}
}

func TestResumeAfter(t *testing.T) {
	cases := []struct {
		name       string
		used       int // NextSeq calls before ResumeAfter
		lastSeq    uint64
		wantJump   bool
		wantNextIs uint64
	}{
		{"server behind", 5, 3, false, 6},
		{"server at next", 2, 3, true, 4},
		{"server ahead", 0, 100, true, 101},
		{"fresh server", 0, 0, false, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := mustOpen(t, t.TempDir())
			for range tc.used {
				if _, err := d.NextSeq(); err != nil {
					t.Fatal(err)
				}
			}
			jumped, err := d.ResumeAfter(tc.lastSeq)
			if err != nil {
				t.Fatal(err)
			}
			if jumped != tc.wantJump {
				t.Errorf("jumped = %v, want %v", jumped, tc.wantJump)
			}
			got, err := d.NextSeq()
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.wantNextIs {
				t.Errorf("next seq = %d, want %d", got, tc.wantNextIs)
			}
		})
	}
}

func TestNodeKeyLifecycle(t *testing.T) {
	dir := t.TempDir()
	d := mustOpen(t, dir)
	if err := d.SetAckedHashes(map[string]string{"os": "old"}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.NextSeq(); err != nil {
		t.Fatal(err)
	}
	if err := d.Enrolled(7, testKey); err != nil {
		t.Fatal(err)
	}
	key, err := d.NodeKey()
	if err != nil || key != testKey {
		t.Fatalf("NodeKey = %q, %v; want the stored key", key, err)
	}
	if runtime.GOOS != "windows" {
		fi, err := os.Stat(filepath.Join(dir, NodeKeyFile))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("node_key mode = %o, want 600", got)
		}
	}
	st := d.Snapshot()
	if st.HostID != 7 || len(st.AckedHashes) != 0 || st.NextSeq != 2 {
		t.Errorf("state after enrollment = %+v; want host 7, no hashes, next_seq kept at 2", st)
	}

	if err := d.RejectNodeKey(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.NodeKey(); !errors.Is(err, ErrNoNodeKey) {
		t.Errorf("NodeKey after reject: err = %v, want ErrNoNodeKey", err)
	}
	rejected, err := os.ReadFile(filepath.Join(dir, RejectedNodeKeyFile))
	if err != nil || strings.TrimSpace(string(rejected)) != testKey {
		t.Errorf("rejected key file = %q, %v", rejected, err)
	}
}

func TestEnrolledRefusesBadKey(t *testing.T) {
	for _, key := range []string{"", "not hex", "abc\n"} {
		t.Run(key, func(t *testing.T) {
			dir := t.TempDir()
			d := mustOpen(t, dir)
			if err := d.Enrolled(1, key); err == nil {
				t.Fatalf("Enrolled(%q) succeeded", key)
			}
			if _, err := os.Stat(filepath.Join(dir, NodeKeyFile)); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("a refused key was written: %v", err)
			}
		})
	}
}

func TestEmptyNodeKeyFileCountsAsMissing(t *testing.T) {
	dir := t.TempDir()
	d := mustOpen(t, dir)
	if err := os.WriteFile(filepath.Join(dir, NodeKeyFile), []byte(" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := d.NodeKey(); !errors.Is(err, ErrNoNodeKey) {
		t.Errorf("NodeKey on empty file: err = %v, want ErrNoNodeKey", err)
	}
}

func TestFailedWriteRollsBack(t *testing.T) {
	dir := t.TempDir()
	d := mustOpen(t, dir)
	// A non-empty directory where state.json belongs makes the rename fail
	// for every user, root included (root ignores permission bits).
	name := filepath.Join(dir, StateFile)
	if err := os.Remove(name); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(name, "blocker"), 0o700); err != nil {
		t.Fatal(err)
	}
	before := d.Snapshot().NextSeq
	if _, err := d.NextSeq(); err == nil {
		t.Fatal("NextSeq succeeded although state.json cannot be replaced")
	}
	if after := d.Snapshot().NextSeq; after != before {
		t.Errorf("in-memory next_seq moved to %d after a failed write, want %d", after, before)
	}
	leftovers, err := filepath.Glob(filepath.Join(dir, ".*.tmp-*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(leftovers) != 0 {
		t.Errorf("temp files left after a failed write: %v", leftovers)
	}
}

func TestOpenUnusablePathFails(t *testing.T) {
	parent := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(parent, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(filepath.Join(parent, "state"), discard()); err == nil {
		t.Fatal("Open under a regular file succeeded")
	}
}

func TestNoTempFilesLeft(t *testing.T) {
	dir := t.TempDir()
	d := mustOpen(t, dir)
	for range 5 {
		if _, err := d.NextSeq(); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Enrolled(1, testKey); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != StateFile && e.Name() != NodeKeyFile {
			t.Errorf("unexpected file left in state dir: %s", e.Name())
		}
	}
}
