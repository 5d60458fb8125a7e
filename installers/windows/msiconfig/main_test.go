package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"go/ast"
	"go/parser"
	"go/token"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

const template = "../agent.yaml.template"

// testCA returns a self-signed CA certificate and its key, both PEM.
func testCA(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "steward test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb})
}

// readConfig decodes agent.yaml into a map.
func readConfig(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, b)
	}
	return m
}

// agentKeys are the keys the agent's configuration file accepts: the yaml
// tags of config.Config, read from its source (an internal package of the
// agent cannot be imported from here). The agent refuses unknown keys.
func agentKeys(t *testing.T) map[string]bool {
	t.Helper()
	src := filepath.Join("..", "..", "..", "agent", "internal", "config", "config.go")
	f, err := parser.ParseFile(token.NewFileSet(), src, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok || ts.Name.Name != "Config" {
			return true
		}
		for _, field := range ts.Type.(*ast.StructType).Fields.List {
			if field.Tag == nil {
				continue
			}
			tag, _ := strconv.Unquote(field.Tag.Value)
			name, _, _ := strings.Cut(reflect.StructTag(tag).Get("yaml"), ",")
			if name != "" && name != "-" {
				keys[name] = true
			}
		}
		return false
	})
	if !keys["server"] {
		t.Fatalf("no yaml tags found in %s", src)
	}
	return keys
}

func checkAgentKeys(t *testing.T, cfg map[string]any) {
	t.Helper()
	known := agentKeys(t)
	for k := range cfg {
		if !known[k] {
			t.Errorf("agent.yaml has key %q, which the agent's configuration does not know", k)
		}
	}
}

func TestConfigureNew(t *testing.T) {
	dir := t.TempDir()
	cert, key := testCA(t)
	caIn := filepath.Join(dir, "in.pem")
	// A private key in the file given as CA_FILE must not be copied.
	os.WriteFile(caIn, append(append([]byte{}, key...), cert...), 0o600)
	cfgPath := filepath.Join(dir, "data", "agent.yaml")

	msg, err := configure(options{Config: cfgPath, Template: template,
		Server: "https://steward.example.com:8443", EnrollSecret: "  s3cret\n", CAFile: caIn})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(msg, "s3cret") {
		t.Errorf("message shows the secret: %s", msg)
	}
	cfg := readConfig(t, cfgPath)
	want := map[string]any{
		"server":             "https://steward.example.com:8443",
		"enroll_secret_file": filepath.Join(dir, "data", "enroll-secret"),
		"ca_file":            filepath.Join(dir, "data", "ca.pem"),
		"log_level":          "info",
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("agent.yaml = %v, want %v", cfg, want)
	}
	checkAgentKeys(t, cfg)
	if b, _ := os.ReadFile(filepath.Join(dir, "data", "enroll-secret")); string(b) != "s3cret\n" {
		t.Errorf("enroll-secret = %q", b)
	}
	ca, _ := os.ReadFile(filepath.Join(dir, "data", "ca.pem"))
	if !bytes.Equal(ca, cert) {
		t.Errorf("ca.pem = %q, want only the certificate", ca)
	}
	raw, _ := os.ReadFile(cfgPath)
	if strings.Contains(string(raw), "s3cret") || strings.Contains(string(raw), "[") {
		t.Errorf("agent.yaml holds the secret or a placeholder:\n%s", raw)
	}
	// The template's comments come along.
	if !strings.Contains(string(raw), "# Let policies run commands") {
		t.Errorf("the template's comments were lost:\n%s", raw)
	}
}

func TestConfigureWithoutCADropsPlaceholder(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "agent.yaml")
	if _, err := configure(options{Config: cfgPath, Template: template, Server: "https://s", EnrollSecret: "x"}); err != nil {
		t.Fatal(err)
	}
	cfg := readConfig(t, cfgPath)
	if _, ok := cfg["ca_file"]; ok {
		t.Errorf("ca_file set without CA_FILE: %v", cfg)
	}
	if _, err := os.Stat(filepath.Join(dir, "ca.pem")); err == nil {
		t.Error("ca.pem written without CA_FILE")
	}
}

func TestConfigureUpgradeKeepsEdits(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "agent.yaml")
	edited := "# mine\nserver: https://old.example.com\nenroll_secret: inline\nlog_level: debug\nallow_commands: true\n"
	os.WriteFile(cfgPath, []byte(edited), 0o600)

	// An upgrade without properties changes nothing at all.
	if _, err := configure(options{Config: cfgPath, Template: template}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(cfgPath); string(b) != edited {
		t.Errorf("agent.yaml changed without properties:\n%s", b)
	}

	// New properties replace only their keys; an inline secret gives way
	// to the secret file.
	if _, err := configure(options{Config: cfgPath, Template: "/nonexistent", Server: "https://new.example.com", EnrollSecret: "fresh"}); err != nil {
		t.Fatal(err)
	}
	cfg := readConfig(t, cfgPath)
	want := map[string]any{
		"server":             "https://new.example.com",
		"enroll_secret_file": filepath.Join(dir, "enroll-secret"),
		"log_level":          "debug",
		"allow_commands":     true,
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf("agent.yaml = %v, want %v", cfg, want)
	}
	if b, _ := os.ReadFile(cfgPath); !strings.Contains(string(b), "# mine") {
		t.Errorf("the file's comment was lost:\n%s", b)
	}
}

func TestConfigureLabels(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "agent.yaml")
	// A new installation: the template's placeholder becomes the mapping.
	if _, err := configure(options{Config: cfgPath, Template: template, Server: "https://s", EnrollSecret: "x",
		Labels: ` team=web, site/room=b "2" \ east,empty=`}); err != nil {
		t.Fatal(err)
	}
	cfg := readConfig(t, cfgPath)
	checkAgentKeys(t, cfg)
	want := map[string]any{"team": "web", "site/room": `b "2" \ east`, "empty": ""}
	if !reflect.DeepEqual(cfg["labels"], want) {
		t.Errorf("labels = %#v, want %#v", cfg["labels"], want)
	}
	// As the agent reads them.
	raw, _ := os.ReadFile(cfgPath)
	var typed struct {
		Labels map[string]string `yaml:"labels"`
	}
	if err := yaml.Unmarshal(raw, &typed); err != nil || len(typed.Labels) != 3 || typed.Labels["site/room"] != `b "2" \ east` {
		t.Errorf("labels read back as %v (%v):\n%s", typed.Labels, err, raw)
	}
	if strings.Contains(string(raw), "[STEWARD_LABELS]") {
		t.Errorf("placeholder left:\n%s", raw)
	}

	// An upgrade without STEWARD_LABELS keeps them; with it, the mapping
	// is replaced, and nothing else changes.
	if _, err := configure(options{Config: cfgPath, Server: "https://new"}); err != nil {
		t.Fatal(err)
	}
	if cfg := readConfig(t, cfgPath); !reflect.DeepEqual(cfg["labels"], want) || cfg["server"] != "https://new" {
		t.Errorf("after an upgrade without labels: %v", cfg)
	}
	if _, err := configure(options{Config: cfgPath, Labels: "site=paris"}); err != nil {
		t.Fatal(err)
	}
	cfg = readConfig(t, cfgPath)
	if !reflect.DeepEqual(cfg["labels"], map[string]any{"site": "paris"}) || cfg["server"] != "https://new" || cfg["log_level"] != "info" {
		t.Errorf("after an upgrade with labels: %v", cfg)
	}

	// Labels only, on a file without them: the key is added.
	edited := filepath.Join(dir, "edited.yaml")
	os.WriteFile(edited, []byte("# mine\nserver: https://s\n"), 0o600)
	if _, err := configure(options{Config: edited, Labels: "a=b"}); err != nil {
		t.Fatal(err)
	}
	if cfg := readConfig(t, edited); !reflect.DeepEqual(cfg, map[string]any{"server": "https://s", "labels": map[string]any{"a": "b"}}) {
		t.Errorf("agent.yaml = %v", cfg)
	}
}

func TestConfigureNothingToDo(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "data", "agent.yaml")
	// An unconfigured installation writes no agent.yaml, which keeps the
	// MSI from starting the service on the next upgrade.
	if _, err := configure(options{Config: cfgPath, Template: template}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(cfgPath); err == nil {
		t.Error("agent.yaml written without any property")
	}
}

func TestConfigureRefuses(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	os.WriteFile(notPEM, []byte("hello"), 0o644)
	_, keyOnly := testCA(t)
	keyFile := filepath.Join(dir, "key.pem")
	os.WriteFile(keyFile, keyOnly, 0o600)
	for _, tc := range []struct {
		name string
		o    options
		want string
	}{
		{"secret without server", options{EnrollSecret: "x"}, "STEWARD_SERVER is required"},
		{"ftp server", options{Server: "ftp://s", EnrollSecret: "x"}, "want http(s)"},
		{"user info", options{Server: "https://u:p@s", EnrollSecret: "x"}, "want http(s)"},
		{"no host", options{Server: "https://", EnrollSecret: "x"}, "want http(s)"},
		{"two-line secret", options{Server: "https://s", EnrollSecret: "a\nb"}, "spans lines"},
		{"missing CA", options{Server: "https://s", CAFile: filepath.Join(dir, "nope.pem")}, "CA_FILE"},
		{"CA not PEM", options{Server: "https://s", CAFile: notPEM}, "no PEM certificate"},
		{"CA only a key", options{Server: "https://s", CAFile: keyFile}, "no PEM certificate"},
		{"labels without server", options{Labels: "team=web"}, "STEWARD_SERVER is required"},
		{"label without value", options{Server: "https://s", EnrollSecret: "x", Labels: "team"}, "STEWARD_LABELS"},
		{"label key with a space", options{Server: "https://s", EnrollSecret: "x", Labels: "my team=web"}, "STEWARD_LABELS: label key"},
		{"label given twice", options{Server: "https://s", EnrollSecret: "x", Labels: "a=1,a=2"}, "given twice"},
		{"label with a tab", options{Server: "https://s", EnrollSecret: "x", Labels: "a=x\ty"}, "printable"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			tc.o.Config, tc.o.Template = filepath.Join(data, "agent.yaml"), template
			_, err := configure(tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one saying %q", err, tc.want)
			}
			if entries, _ := os.ReadDir(data); len(entries) > 0 {
				t.Errorf("wrote %v before refusing", entries)
			}
		})
	}
}

func TestConfigureRelativeCA(t *testing.T) {
	// A configured MSI sets CA_FILE=server-ca.pem, next to the helper.
	installDir, dataDir := t.TempDir(), t.TempDir()
	cert, _ := testCA(t)
	os.WriteFile(filepath.Join(installDir, "server-ca.pem"), cert, 0o644)
	cfgPath := filepath.Join(dataDir, "agent.yaml")
	if _, err := configure(options{Config: cfgPath, Template: template, Server: "https://s",
		EnrollSecret: "x", CAFile: "server-ca.pem", BaseDir: installDir}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dataDir, "ca.pem")); !bytes.Equal(b, cert) {
		t.Errorf("ca.pem = %q", b)
	}
}

func TestRemove(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "Steward")
	cfgPath := filepath.Join(dir, "agent.yaml")
	if _, err := configure(options{Config: cfgPath, Template: template, Server: "https://s", EnrollSecret: "x"}); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll(filepath.Join(dir, "agent", "sub"), 0o700)
	os.WriteFile(filepath.Join(dir, "agent", "node-key"), []byte("k"), 0o600)
	os.WriteFile(filepath.Join(dir, "installer.log"), []byte("log"), 0o600)

	// A file it does not know stays, and so does the folder.
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o600)
	if err := remove(cfgPath); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "notes.txt" {
		t.Fatalf("left %v, want only notes.txt", entries)
	}
	os.Remove(filepath.Join(dir, "notes.txt"))
	if err := remove(cfgPath); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("the empty folder is still there: %v", err)
	}
}

func TestRunCommandLine(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "agent.yaml")
	var stderr bytes.Buffer
	// What the MSI runs for an unconfigured installation: every
	// property empty.
	code := run([]string{"configure", "--config", cfgPath, "--template", template,
		"--server", "", "--enroll-secret", "", "--ca-file", "", "--labels", ""}, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	stderr.Reset()
	code = run([]string{"configure", "--config", cfgPath, "--template", template,
		"--server", "https://s", "--enroll-secret", "topsecret", "--ca-file", "", "--labels", "team=web,site=paris"}, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	if cfg := readConfig(t, cfgPath); !reflect.DeepEqual(cfg["labels"], map[string]any{"team": "web", "site": "paris"}) {
		t.Errorf("labels = %v", cfg["labels"])
	}
	logged, _ := os.ReadFile(filepath.Join(dir, "installer.log"))
	if !strings.Contains(string(logged), "wrote "+cfgPath) {
		t.Errorf("installer.log = %q", logged)
	}
	if strings.Contains(string(logged)+stderr.String(), "topsecret") {
		t.Error("the secret was logged")
	}
	stderr.Reset()
	if code := run([]string{"configure", "--config", cfgPath, "--server", "gopher://x"}, &stderr); code != 1 {
		t.Errorf("bad server: exit %d, want 1", code)
	}
	before, _ := os.ReadFile(cfgPath)
	if code := run([]string{"configure", "--config", cfgPath, "--labels", "team"}, &stderr); code != 1 || !strings.Contains(stderr.String(), "STEWARD_LABELS") {
		t.Errorf("bad labels: exit %d, want 1 with a message naming STEWARD_LABELS: %s", code, stderr.String())
	}
	if after, _ := os.ReadFile(cfgPath); !bytes.Equal(before, after) {
		t.Errorf("refused labels changed agent.yaml:\n%s", after)
	}
	if code := run([]string{"configure"}, &stderr); code != 2 {
		t.Errorf("no --config: exit %d, want 2", code)
	}
	if code := run([]string{"frobnicate", "--config", cfgPath}, &stderr); code != 2 {
		t.Errorf("unknown command: exit %d, want 2", code)
	}
	if code := run([]string{"remove", "--config", cfgPath}, &stderr); code != 0 {
		t.Errorf("remove: exit %d: %s", code, stderr.String())
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("remove left %s", dir)
	}
}

// INSECURE_HTTP=1 writes insecure_http, which the agent needs for a plain
// http:// server on another machine; anything but 1 (or nothing) is
// refused.
func TestConfigureInsecureHTTP(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "agent.yaml")
	if _, err := configure(options{Config: cfgPath, Template: template, Server: "http://10.0.0.5:8080", EnrollSecret: "x", InsecureHTTP: "1"}); err != nil {
		t.Fatal(err)
	}
	if cfg := readConfig(t, cfgPath); cfg["insecure_http"] != "true" {
		t.Errorf("insecure_http = %v, want \"true\"", cfg["insecure_http"])
	}
	other := filepath.Join(dir, "other.yaml")
	if _, err := configure(options{Config: other, Template: template, Server: "https://s", EnrollSecret: "x"}); err != nil {
		t.Fatal(err)
	}
	if cfg := readConfig(t, other); cfg["insecure_http"] != nil {
		t.Errorf("insecure_http written without INSECURE_HTTP: %v", cfg)
	}
	if _, err := configure(options{Config: other, Template: template, InsecureHTTP: "maybe"}); err == nil {
		t.Error("INSECURE_HTTP=maybe accepted")
	}
}
