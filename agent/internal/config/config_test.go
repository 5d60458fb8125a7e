package config

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "agent.yaml")
	os.WriteFile(file, []byte("server: https://steward.example.com\nstate_dir: /tmp/from-file\ninventory_interval: 5m\n"), 0o600)
	secret := filepath.Join(dir, "secret")
	os.WriteFile(secret, []byte("  abc123\n"), 0o600)

	c, err := Load([]string{"--config", file, "--state-dir", dir, "--enroll-secret-file", secret}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.Server != "https://steward.example.com" || c.StateDir != dir || c.EnrollSecret != "abc123" || c.InventoryInterval != 5*time.Minute {
		t.Errorf("config %+v", c)
	}
	c, err = Load([]string{"--server", "http://127.0.0.1:8080", "--enroll-secret", "s"}, io.Discard)
	if err != nil || c.StateDir != DefaultStateDir() || c.LogLevel != "info" {
		t.Errorf("defaults: %+v %v", c, err)
	}
}

func TestLoadRejects(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("sever: typo\n"), 0o600)
	for _, args := range [][]string{
		{},
		{"--server", "steward.example.com"},
		{"--server", "ftp://x"},
		{"--server", "http://x", "--config", bad},
		{"--server", "http://x", "--enroll-secret-file", filepath.Join(dir, "missing")},
		{"--server", "http://x", "--log-level", "chatty"},
		{"--server", "http://x", "stray"},
	} {
		if _, err := Load(args, io.Discard); err == nil {
			t.Errorf("Load(%q) accepted", args)
		}
	}
}
