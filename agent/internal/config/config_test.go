package config

import (
	"flag"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
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
		{"--server", "http://127.0.0.1", "--config", bad},
		{"--server", "http://127.0.0.1", "--enroll-secret-file", filepath.Join(dir, "missing")},
		{"--server", "http://127.0.0.1", "--log-level", "chatty"},
		{"--server", "http://127.0.0.1", "stray"},
	} {
		if _, err := Load(args, io.Discard); err == nil {
			t.Errorf("Load(%q) accepted", args)
		}
	}
}

func TestLoadFileAllowCommands(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, body string
		want       bool
		wantErr    bool
	}{
		{"on", "allow_commands: true\n", true, false},
		{"off", "allow_commands: false\nserver: https://x\n", false, false},
		{"absent", "server: https://x\n", false, false},
		{"empty file", "", false, false},
		{"not a bool", "allow_commands: maybe\n", false, true},
		{"typo", "allow_command: true\n", false, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			file := filepath.Join(dir, c.name+".yaml")
			if err := os.WriteFile(file, []byte(c.body), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := LoadFile(file)
			if (err != nil) != c.wantErr {
				t.Fatalf("LoadFile: err = %v, want error %t", err, c.wantErr)
			}
			if err == nil && (cfg.AllowCommands != c.want || cfg.File != file) {
				t.Errorf("AllowCommands = %t, File = %q; want %t, %q", cfg.AllowCommands, cfg.File, c.want, file)
			}
		})
	}
	if _, err := LoadFile(filepath.Join(dir, "missing.yaml")); err == nil {
		t.Error("LoadFile of a missing file succeeded")
	}
}

// The run flags must offer no way to turn commands on.
func TestAllowCommandsOnlyFromFile(t *testing.T) {
	if _, err := Load([]string{"--server", "http://127.0.0.1", "--allow-commands"}, io.Discard); err == nil {
		t.Error("run accepted an --allow-commands flag")
	}
}

func TestCAFileAndLogFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "agent.yaml")
	os.WriteFile(file, []byte("server: https://s\nca_file: /etc/steward/ca.pem\nlog_file: /var/log/a.log\n"), 0o600)
	c, err := Load([]string{"--config", file, "--enroll-secret", "x"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.CAFile != "/etc/steward/ca.pem" || c.LogFile != "/var/log/a.log" {
		t.Errorf("from the file: %+v", c)
	}
	c, err = Load([]string{"--config", file, "--ca-file", "/tmp/ca.pem", "--log-file", "/tmp/a.log"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.CAFile != "/tmp/ca.pem" || c.LogFile != "/tmp/a.log" {
		t.Errorf("flags do not win: %+v", c)
	}
}

// Override copies what a flag set and nothing else; install relies on it
// to merge flags into an existing file.
func TestOverride(t *testing.T) {
	base := Config{Server: "https://a", EnrollSecretFile: "/s", StateDir: "/st", LogLevel: "info", AllowCommands: true,
		InventoryInterval: time.Minute, File: "/etc/steward/agent.yaml"}
	c := base
	c.Override(Config{})
	if !reflect.DeepEqual(c, base) {
		t.Errorf("empty override changed %+v", c)
	}
	c.Override(Config{Server: "https://b", LogFile: "/l", HeartbeatInterval: time.Second, File: "/other"})
	want := base
	want.Server, want.LogFile, want.HeartbeatInterval = "https://b", "/l", time.Second
	if !reflect.DeepEqual(c, want) {
		t.Errorf("got %+v\nwant %+v", c, want)
	}
}

func TestDefaultPaths(t *testing.T) {
	if filepath.Dir(DefaultFile()) != DefaultDir() || filepath.Base(DefaultFile()) != "agent.yaml" {
		t.Errorf("DefaultFile %s, DefaultDir %s", DefaultFile(), DefaultDir())
	}
	if runtime.GOOS == "linux" && (DefaultFile() != "/etc/steward/agent.yaml" || DefaultStateDir() != "/var/lib/steward-agent") {
		t.Errorf("linux defaults: %s %s", DefaultFile(), DefaultStateDir())
	}
}

// TestLabels reads labels from the file and refuses invalid ones.
func TestLabels(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("server: https://s\nlabels:\n  team: web\n  site: paris\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load([]string{"--config", good}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil || len(c.Labels) != 2 || c.Labels["site"] != "paris" {
		t.Errorf("labels %v, validate %v", c.Labels, err)
	}
	c.Labels = map[string]string{"bad key": "x"}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "labels") {
		t.Errorf("Validate with a bad label key = %v", err)
	}
}

func TestPlainHTTPWarning(t *testing.T) {
	for server, warn := range map[string]bool{
		"http://steward.example.com:8080": true,
		"http://10.0.0.5":                 true,
		"http://[2001:db8::1]:8080":       true,
		"https://steward.example.com":     false,
		"http://127.0.0.1:8080":           false,
		"http://127.8.9.1":                false,
		"http://[::1]:8080":               false,
		"http://localhost:8080":           false,
	} {
		if got := PlainHTTPWarning(server); (got != "") != warn {
			t.Errorf("%s: warning %q, want one: %v", server, got, warn)
		}
	}
}

// Plain http:// to another machine is refused at start unless the local
// config (or the flag) sets insecure_http, and the error names the fix.
func TestPlainHTTPRefused(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	_, err := Load([]string{"--server", "http://10.0.0.5:8080", "--enroll-secret-file", write("s", "x\n")}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "insecure_http: true") || !strings.Contains(err.Error(), "http://10.0.0.5:8080") {
		t.Fatalf("plain http to another machine: %v, want a refusal naming insecure_http: true", err)
	}
	for name, args := range map[string][]string{
		"flag":         {"--server", "http://10.0.0.5:8080", "--insecure-http"},
		"file":         {"--config", write("a.yaml", "server: http://10.0.0.5:8080\ninsecure_http: true\n")},
		"file, string": {"--config", write("b.yaml", "server: http://10.0.0.5:8080\ninsecure_http: \"true\"\n")},
		"loopback":     {"--server", "http://127.0.0.1:8080"},
		"https":        {"--server", "https://10.0.0.5:8443"},
	} {
		if _, err := Load(append(args, "--enroll-secret-file", write("s", "x\n")), io.Discard); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	for _, body := range []string{"insecure_http: false\n", "insecure_http: \"false\"\n", ""} {
		if _, err := Load([]string{"--config", write("c.yaml", "server: http://10.0.0.5\n"+body)}, io.Discard); err == nil {
			t.Errorf("%q accepted plain http", body)
		}
	}
	if _, err := Load([]string{"--config", write("d.yaml", "server: https://a\ninsecure_http: maybe\n")}, io.Discard); err == nil {
		t.Error("insecure_http: maybe accepted")
	}
}

// The enroll secret's sources, first wins: the flags, the environment
// variable (which is then removed from the agent's environment, so that
// commands it runs do not inherit it), the file's keys.
func TestEnrollSecretFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	os.WriteFile(secretFile, []byte("from-file\n"), 0o600)
	conf := filepath.Join(dir, "agent.yaml")
	os.WriteFile(conf, []byte("server: https://a\nenroll_secret_file: "+secretFile+"\n"), 0o600)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"environment over the file's key", []string{"--config", conf}, "from-env"},
		{"flag over the environment", []string{"--config", conf, "--enroll-secret", "from-flag"}, "from-flag"},
		{"file flag over the environment", []string{"--server", "https://a", "--enroll-secret-file", secretFile}, "from-file"},
		{"environment alone", []string{"--server", "https://a"}, "from-env"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv(EnvEnrollSecret, " from-env\n")
			cfg, err := Load(c.args, io.Discard)
			if err != nil || cfg.EnrollSecret != c.want {
				t.Errorf("secret %q, %v; want %q", cfg.EnrollSecret, err, c.want)
			}
			if v, ok := os.LookupEnv(EnvEnrollSecret); ok {
				t.Errorf("%s still in the environment: %q", EnvEnrollSecret, v)
			}
		})
	}
}

func TestClientCertKeyPair(t *testing.T) {
	for _, args := range [][]string{{"--cert-file", "/a.crt"}, {"--key-file", "/a.key"}} {
		_, err := Load(append([]string{"--server", "https://a", "--enroll-secret", "s"}, args...), io.Discard)
		if err == nil || !strings.Contains(err.Error(), "cert_file and key_file go together") {
			t.Errorf("%q: %v", args, err)
		}
	}
	c, err := Load([]string{"--server", "https://a", "--enroll-secret", "s", "--cert-file", "/a.crt", "--key-file", "/a.key"}, io.Discard)
	if err != nil || c.CertFile != "/a.crt" || c.KeyFile != "/a.key" {
		t.Errorf("%+v %v", c, err)
	}
}

// evidence_content is read from the local file only: there is no flag
// for it, and a malformed glob is refused.
func TestEvidenceContentOnlyFromFile(t *testing.T) {
	fs, _ := NewFlagSet("run", io.Discard)
	fs.VisitAll(func(f *flag.Flag) {
		if strings.Contains(f.Name, "evidence") {
			t.Errorf("flag --%s sets evidence_content", f.Name)
		}
	})
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	os.WriteFile(good, []byte("evidence_content:\n  - /etc/ssh/sshd_config\n  - /etc/myapp/**\n"), 0o600)
	c, err := LoadFile(good)
	if err != nil || !reflect.DeepEqual(c.EvidenceContent, []string{"/etc/ssh/sshd_config", "/etc/myapp/**"}) {
		t.Errorf("%v %v", c.EvidenceContent, err)
	}
	for _, body := range []string{"evidence_content: ['/etc/[']\n", "evidence_content: ['/etc/**/x']\n", "evidence_content: ['']\n"} {
		bad := filepath.Join(dir, "bad.yaml")
		os.WriteFile(bad, []byte(body), 0o600)
		if _, err := LoadFile(bad); err == nil || !strings.Contains(err.Error(), "evidence_content") {
			t.Errorf("%q: %v", body, err)
		}
	}
}

// policy_public_key is read from the file and a malformed key is refused
// by Load, before the agent starts.
func TestPolicyPublicKeyCheckedByLoad(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("server: https://a\nenroll_secret: s\npolicy_public_key: not-a-key\n"), 0o600)
	if _, err := Load([]string{"--config", bad}, io.Discard); err == nil || !strings.Contains(err.Error(), "policy_public_key") {
		t.Errorf("Load with a malformed policy_public_key: %v", err)
	}
	none := filepath.Join(dir, "none.yaml")
	os.WriteFile(none, []byte("server: https://a\nenroll_secret: s\n"), 0o600)
	if c, err := Load([]string{"--config", none}, io.Discard); err != nil || len(c.PolicyPublicKey) != 0 {
		t.Errorf("no key: %v %v", c.PolicyPublicKey, err)
	}
}
