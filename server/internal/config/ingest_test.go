package config

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLoadIngest(t *testing.T) {
	c, err := Load("serve", nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Ingest != DefaultIngest() {
		t.Errorf("defaults: %+v", c.Ingest)
	}
	file := filepath.Join(t.TempDir(), "steward.yaml")
	os.WriteFile(file, []byte("ingest:\n  queue_mib: 512\n  window_messages: 16\n  shutdown_timeout: 1m\n  commit_delay: 0s\n"), 0o600)
	c, err = Load("serve", []string{"--config", file}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultIngest()
	want.QueueMiB, want.WindowMessages, want.ShutdownTimeout, want.CommitDelay = 512, 16, time.Minute, 0
	if c.Ingest != want {
		t.Errorf("from the file (keys left out keep their defaults): %+v, want %+v", c.Ingest, want)
	}
	for name, body := range map[string]string{
		"zero queue":          "ingest:\n  queue_mib: 0\n",
		"batch above queue":   "ingest:\n  queue_mib: 8\n  batch_mib: 16\n",
		"no window":           "ingest:\n  window_messages: -1\n",
		"short commit":        "ingest:\n  commit_timeout: 10ms\n",
		"no shutdown timeout": "ingest:\n  shutdown_timeout: 0s\n",
		"negative delay":      "ingest:\n  commit_delay: -1ms\n",
		"long delay":          "ingest:\n  commit_delay: 2s\n",
	} {
		bad := filepath.Join(t.TempDir(), "bad.yaml")
		os.WriteFile(bad, []byte(body), 0o600)
		if _, err := Load("serve", []string{"--config", bad}, env(nil), io.Discard); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
