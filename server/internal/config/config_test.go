package config

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "steward.yaml")
	os.WriteFile(file, []byte("listen: 127.0.0.1:9000\ndb: sqlite:///tmp/from-file.db\nagent:\n  heartbeat_interval: 10s\n"), 0o600)

	tests := []struct {
		name string
		args []string
		env  map[string]string
		want func(Config) bool
	}{
		{"defaults", nil, nil, func(c Config) bool {
			return c.Listen == "127.0.0.1:8080" && c.DB == "sqlite://./data/steward.db" && c.Agent.InventoryInterval == time.Hour
		}},
		{"file", []string{"--config", file}, nil, func(c Config) bool {
			return c.Listen == "127.0.0.1:9000" && c.Agent.HeartbeatInterval == 10*time.Second && c.DataDir == "./data"
		}},
		{"env beats file", []string{"--config", file}, map[string]string{"STEWARD_LISTEN": "127.0.0.1:9001"}, func(c Config) bool {
			return c.Listen == "127.0.0.1:9001" && c.DB == "sqlite:///tmp/from-file.db"
		}},
		{"flag beats env", []string{"--listen", "127.0.0.1:9002"}, map[string]string{"STEWARD_LISTEN": "127.0.0.1:9001"}, func(c Config) bool {
			return c.Listen == "127.0.0.1:9002"
		}},
		{"config from env", nil, map[string]string{"STEWARD_CONFIG": file, "STEWARD_DATA_DIR": "/srv/steward"}, func(c Config) bool {
			return c.Listen == "127.0.0.1:9000" && c.DataDir == "/srv/steward" && c.File == file
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load("serve", tc.args, env(tc.env), io.Discard)
			if err != nil {
				t.Fatal(err)
			}
			if !tc.want(c) {
				t.Errorf("unexpected config %+v", c)
			}
		})
	}
}

func TestLoadRejects(t *testing.T) {
	dir := t.TempDir()
	unknown := filepath.Join(dir, "unknown.yaml")
	os.WriteFile(unknown, []byte("listne: 1\n"), 0o600)
	tests := []struct {
		name string
		args []string
	}{
		{"bad db scheme", []string{"--db", "mysql://x"}},
		{"empty sqlite path", []string{"--db", "sqlite://"}},
		{"bad listen", []string{"--listen", "8080"}},
		{"cert without key", []string{"--tls-cert", "c.pem"}},
		{"unknown yaml key", []string{"--config", unknown}},
		{"missing config file", []string{"--config", filepath.Join(dir, "nope.yaml")}},
		{"stray argument", []string{"extra"}},
		{"bad log level", []string{"--log-level", "loud"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Load("serve", tc.args, env(nil), io.Discard); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func TestParseDBAndRedact(t *testing.T) {
	kind, target, err := ParseDB("sqlite://./data/steward.db")
	if err != nil || kind != SQLite || target != "./data/steward.db" {
		t.Errorf("sqlite: %s %s %v", kind, target, err)
	}
	kind, target, err = ParseDB("postgresql://u:p@h/db")
	if err != nil || kind != Postgres || target != "postgresql://u:p@h/db" {
		t.Errorf("postgres: %s %s %v", kind, target, err)
	}
	if got := Redact("postgres://steward:hunter2@db:5432/steward"); got != "postgres://steward:xxxxx@db:5432/steward" {
		t.Errorf("Redact = %s", got)
	}
	if got := Redact("postgres://db/steward"); got != "postgres://db/steward" {
		t.Errorf("Redact without password = %s", got)
	}
}
