package config

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/alerting/alertconf"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "steward.yaml")
	os.WriteFile(file, []byte("listen: 127.0.0.1:9000\ndb: sqlite:///tmp/from-file.db\nagent:\n  heartbeat_interval: 10s\n"), 0o600)
	dataDirOnly := filepath.Join(t.TempDir(), "datadir.yaml")
	os.WriteFile(dataDirOnly, []byte("data_dir: /srv/from-file\n"), 0o600)

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
		// Without a database named, SQLite lives in the data directory.
		{"db follows data-dir", []string{"--data-dir", "/srv/steward"}, nil, func(c Config) bool {
			return c.DB == "sqlite:///srv/steward/steward.db"
		}},
		{"db follows a relative data-dir", []string{"--data-dir", "state"}, nil, func(c Config) bool {
			return c.DB == "sqlite://./state/steward.db"
		}},
		{"db follows STEWARD_DATA_DIR", nil, map[string]string{"STEWARD_DATA_DIR": "/srv/steward"}, func(c Config) bool {
			return c.DB == "sqlite:///srv/steward/steward.db"
		}},
		{"db follows the file's data_dir", []string{"--config", dataDirOnly}, nil, func(c Config) bool {
			return c.DB == "sqlite:///srv/from-file/steward.db"
		}},
		{"flag db beats data-dir", []string{"--data-dir", "/srv/steward", "--db", "sqlite:///elsewhere.db"}, nil, func(c Config) bool {
			return c.DB == "sqlite:///elsewhere.db"
		}},
		{"env db beats data-dir", []string{"--data-dir", "/srv/steward"}, map[string]string{"STEWARD_DB": "sqlite:///env.db"}, func(c Config) bool {
			return c.DB == "sqlite:///env.db"
		}},
		{"file db beats data-dir", []string{"--config", file, "--data-dir", "/srv/steward"}, nil, func(c Config) bool {
			return c.DB == "sqlite:///tmp/from-file.db"
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

func TestLoadAlerting(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "steward.yaml")
	os.WriteFile(file, []byte(`listen: 127.0.0.1:9000
alerting:
  receivers:
    - name: hook
      webhook: {url: https://example.com/steward}
  routes:
    - receivers: [hook]
  rules:
    - name: host-offline
      type: host_offline
      after: 10m
agent:
  heartbeat_interval: 10s
`), 0o600)
	c, err := Load("serve", []string{"--config", file}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	a := c.Alerting
	if a.File != file || len(a.Receivers) != 1 || a.Receivers[0].Line != 4 || len(a.Rules) != 1 ||
		a.Rules[0].After != 10*time.Minute || a.Delivery.Workers != 4 {
		t.Errorf("alerting %+v", a)
	}
	if c.Listen != "127.0.0.1:9000" || c.Agent.HeartbeatInterval != 10*time.Second {
		t.Errorf("other keys: %+v", c)
	}
	// Without a file, or with a file without the section: the defaults.
	c, err = Load("serve", nil, env(nil), io.Discard)
	if err != nil || c.Alerting.SweepInterval != 5*time.Minute || c.Alerting.Delivery != alertconf.DefaultDelivery() || len(c.Alerting.Rules) != 0 {
		t.Errorf("defaults: %+v, %v", c.Alerting, err)
	}
	plain := filepath.Join(dir, "plain.yaml")
	os.WriteFile(plain, []byte("listen: 127.0.0.1:9000\n"), 0o600)
	if c, err = Load("serve", []string{"--config", plain}, env(nil), io.Discard); err != nil || c.Alerting.SweepInterval != 5*time.Minute {
		t.Errorf("no section: %+v, %v", c.Alerting, err)
	}
}

func TestLoadAlertingRejects(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "steward.yaml")
	os.WriteFile(file, []byte(`listen: 127.0.0.1:9000
alerting:
  receivers:
    - name: hook
      opsgenie: {api_key: k}
  routes:
    - receivers: [pager]
  rules:
    - name: host-offline
      type: host_offline
      after: 10m
      min_severity: high
`), 0o600)
	_, err := Load("serve", []string{"--config", file}, env(nil), io.Discard)
	if err == nil {
		t.Fatal("accepted")
	}
	want := []string{
		"config file " + file + ": invalid alerting section:",
		file + `:5: receiver "hook": unknown receiver type opsgenie; want one of alertmanager, email, pagerduty, slack, webhook`,
		file + `:7: routes[0]: no receiver is called "pager"`,
		file + `:12: rule "host-offline": min_severity does not apply to host_offline rules (it is for policy_failing rules)`,
	}
	if got := err.Error(); got != strings.Join(want, "\n") {
		t.Errorf("error:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	var p *alertconf.Problem
	if !errors.As(err, &p) || p.Line != 5 {
		t.Errorf("errors.As *Problem: %v", p)
	}

	// Unknown keys outside the section are still errors, at their line.
	os.WriteFile(file, []byte("listen: 127.0.0.1:9000\nalerting: {}\nlistne: x\n"), 0o600)
	_, err = Load("serve", []string{"--config", file}, env(nil), io.Discard)
	if err == nil || err.Error() != file+":3: unknown key listne" {
		t.Errorf("unknown top-level key: %v", err)
	}
	os.WriteFile(file, []byte("listen: [\n"), 0o600)
	if _, err = Load("serve", []string{"--config", file}, env(nil), io.Discard); err == nil || !strings.HasPrefix(err.Error(), file+":") {
		t.Errorf("syntax error: %v", err)
	}
}

func TestLoadMetricsToken(t *testing.T) {
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "metrics-token")
	os.WriteFile(tokenFile, []byte("from-a-file\n"), 0o600)
	for _, c := range []struct {
		yaml, want string
	}{
		{"listen: 127.0.0.1:9000\n", ""},
		{"metrics: {token: inline-token}\n", "inline-token"},
		{"metrics:\n  token: {file: " + tokenFile + "}\n", "from-a-file"},
	} {
		file := filepath.Join(dir, "steward.yaml")
		os.WriteFile(file, []byte(c.yaml), 0o600)
		cfg, err := Load("serve", []string{"--config", file}, env(nil), io.Discard)
		if err != nil {
			t.Fatalf("%q: %v", c.yaml, err)
		}
		if got := cfg.Metrics.Token.Value(); got != c.want {
			t.Errorf("%q: token %q, want %q", c.yaml, got, c.want)
		}
	}
	file := filepath.Join(dir, "bad.yaml")
	os.WriteFile(file, []byte("metrics:\n  token: {file: "+filepath.Join(dir, "missing")+"}\n"), 0o600)
	if _, err := Load("serve", []string{"--config", file}, env(nil), io.Discard); err == nil || !strings.Contains(err.Error(), "bad.yaml:2") {
		t.Errorf("missing token file: %v, want an error naming bad.yaml:2", err)
	}
}
