// Package config loads the agent's configuration from its YAML file and
// command-line flags (flags win).
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/steward-project/steward/shared/labels"
)

// Config is the agent's whole configuration, loaded once.
type Config struct {
	Server           string `yaml:"server"`
	EnrollSecret     string `yaml:"enroll_secret"`
	EnrollSecretFile string `yaml:"enroll_secret_file"`
	StateDir         string `yaml:"state_dir"`
	LogLevel         string `yaml:"log_level"`
	// CAFile is a PEM bundle of the certificate authorities the agent
	// trusts for the server's TLS certificate, instead of the system roots.
	CAFile string `yaml:"ca_file"`
	// LogFile, when set, sends the logs to this file (size-capped and
	// rotated) instead of stderr. Service installs set it where the
	// service manager keeps no stderr (SysV, OpenRC, launchd).
	LogFile string `yaml:"log_file"`
	// InventoryInterval and HeartbeatInterval override what the server
	// asks for; zero means use the server's values.
	InventoryInterval time.Duration `yaml:"inventory_interval"`
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	// AllowCommands lets policies run command leaves on this machine. It
	// is read only from this local file: no server and no flag can set it,
	// so whoever controls the server cannot run programs on endpoints.
	AllowCommands bool `yaml:"allow_commands"`
	// PolicyPublicKey pins the key (or keys, during a rotation) policy
	// sets must be signed with; empty accepts every set. It is read only
	// from this local file: no server and no flag can set it.
	PolicyPublicKey PolicyKeys `yaml:"policy_public_key"`
	// Labels are the host labels the agent asks for when it enrolls (a
	// package built with labels writes them here). They are sent once, at
	// enrollment; later changes are made on the server.
	Labels map[string]string `yaml:"labels"`

	// Transport and evidence hardening: set only on this machine.

	// InsecureHTTP lets the agent use a plain http:// server URL that is
	// not a loopback address. Without it such a URL is refused at start.
	InsecureHTTP Switch `yaml:"insecure_http"`
	// CertFile and KeyFile are a PEM client certificate and its private
	// key, presented to the server on enrollment and on the WebSocket
	// (mutual TLS). Both or neither.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// EvidenceContent lists the paths (globs; see docs/policies.md) whose
	// content policy evidence may quote. Like allow_commands it is read
	// only from this local file: no server and no flag can set it.
	EvidenceContent []string `yaml:"evidence_content"`

	// File is where the YAML came from, if anywhere.
	File string `yaml:"-"`
}

// programData is the Windows directory for machine-wide application data.
func programData() string {
	if d := os.Getenv("ProgramData"); d != "" {
		return d
	}
	return `C:\ProgramData`
}

// DefaultDir is the directory of a service install's configuration file
// and enroll secret file.
func DefaultDir() string {
	switch runtime.GOOS {
	case "windows":
		return filepath.Join(programData(), "Steward")
	case "darwin":
		return "/Library/Application Support/Steward"
	default:
		return "/etc/steward"
	}
}

// DefaultFile is the configuration file a service install runs with.
func DefaultFile() string { return filepath.Join(DefaultDir(), "agent.yaml") }

// DefaultStateDir is where a service install keeps its state.
func DefaultStateDir() string {
	switch runtime.GOOS {
	case "windows":
		return filepath.Join(programData(), "Steward", "agent")
	case "darwin":
		return "/Library/Application Support/Steward/agent"
	default:
		return "/var/lib/steward-agent"
	}
}

// NewFlagSet returns the flags run and install share, bound to the
// returned Config: a field left at its zero value was not given.
func NewFlagSet(name string, stderr io.Writer) (*flag.FlagSet, *Config) {
	var fl Config
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&fl.Server, "server", "", "server URL, e.g. https://steward.example.com")
	fs.StringVar(&fl.EnrollSecret, "enroll-secret", "", "enroll secret (visible in the process list: prefer --enroll-secret-file or "+EnvEnrollSecret+")")
	fs.StringVar(&fl.EnrollSecretFile, "enroll-secret-file", "", "file holding the enroll secret (keeps it out of the process list)")
	fs.StringVar(&fl.StateDir, "state-dir", "", "directory for the node key and agent state (default "+DefaultStateDir()+")")
	fs.StringVar(&fl.File, "config", "", "YAML configuration file")
	fs.StringVar(&fl.LogLevel, "log-level", "", "debug, info, warn or error")
	fs.StringVar(&fl.CAFile, "ca-file", "", "PEM file of the CAs trusted for the server's certificate (instead of the system roots)")
	fs.StringVar(&fl.LogFile, "log-file", "", "write logs to this file, rotated by size, instead of stderr")
	fs.DurationVar(&fl.InventoryInterval, "inventory-interval", 0, "override the server's inventory interval")
	fs.DurationVar(&fl.HeartbeatInterval, "heartbeat-interval", 0, "override the server's heartbeat interval")
	fs.StringVar(&fl.CertFile, "cert-file", "", "PEM client certificate presented to the server (mutual TLS; with --key-file)")
	fs.StringVar(&fl.KeyFile, "key-file", "", "PEM private key of --cert-file")
	fs.BoolVar((*bool)(&fl.InsecureHTTP), "insecure-http", false, "allow a plain http:// server URL that is not this machine (sends the node key unencrypted)")
	return fs, &fl
}

// Override copies every field given in fl (non-zero) over c. File,
// AllowCommands, PolicyPublicKey and EvidenceContent are not flags and
// are left alone.
func (c *Config) Override(fl Config) {
	for _, p := range []struct{ from, to *string }{
		{&fl.Server, &c.Server}, {&fl.EnrollSecret, &c.EnrollSecret},
		{&fl.EnrollSecretFile, &c.EnrollSecretFile}, {&fl.StateDir, &c.StateDir},
		{&fl.LogLevel, &c.LogLevel}, {&fl.CAFile, &c.CAFile}, {&fl.LogFile, &c.LogFile},
		{&fl.CertFile, &c.CertFile}, {&fl.KeyFile, &c.KeyFile},
	} {
		if *p.from != "" {
			*p.to = *p.from
		}
	}
	if fl.InventoryInterval != 0 {
		c.InventoryInterval = fl.InventoryInterval
	}
	if fl.HeartbeatInterval != 0 {
		c.HeartbeatInterval = fl.HeartbeatInterval
	}
	if fl.InsecureHTTP {
		c.InsecureHTTP = true
	}
}

// Switch is a boolean setting that also reads as the strings "true" and
// "false": `steward-agent install` writes every setting as a string.
type Switch bool

// UnmarshalYAML takes true, false, "true" and "false".
func (s *Switch) UnmarshalYAML(n *yaml.Node) error {
	switch n.Value {
	case "true":
		*s = true
	case "false":
		*s = false
	default:
		return fmt.Errorf("line %d: %q is not true or false", n.Line, n.Value)
	}
	return nil
}

// EnvEnrollSecret is the environment variable an enroll secret may come
// from, keeping it off the command line and out of files.
const EnvEnrollSecret = "STEWARD_ENROLL_SECRET"

// TakeEnvSecret returns the enroll secret in the environment, trimmed, and
// removes it from this process's environment so that no command a policy
// runs inherits it.
func TakeEnvSecret() string {
	v, ok := os.LookupEnv(EnvEnrollSecret)
	if !ok {
		return ""
	}
	_ = os.Unsetenv(EnvEnrollSecret)
	return strings.TrimSpace(v)
}

// Load parses run's flags, reading --config first so flags override it.
func Load(args []string, stderr io.Writer) (Config, error) {
	cfg := Config{StateDir: DefaultStateDir(), LogLevel: "info"}
	fs, fl := NewFlagSet("run", stderr)
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if fl.File != "" {
		if err := loadFile(&cfg, fl.File); err != nil {
			return cfg, err
		}
		cfg.File = fl.File
	}
	// The secret's sources, first wins: --enroll-secret, --enroll-secret-file,
	// the environment, then the file's enroll_secret and enroll_secret_file.
	if env := TakeEnvSecret(); env != "" && fl.EnrollSecret == "" && fl.EnrollSecretFile == "" {
		cfg.EnrollSecret, cfg.EnrollSecretFile = env, ""
	}
	cfg.Override(*fl)
	if fl.EnrollSecretFile != "" && fl.EnrollSecret == "" {
		cfg.EnrollSecret = "" // the flag's file wins over the file's inline secret
	}
	if cfg.EnrollSecret == "" && cfg.EnrollSecretFile != "" {
		secret, err := ReadSecretFile(cfg.EnrollSecretFile)
		if err != nil {
			return cfg, err
		}
		cfg.EnrollSecret = secret
	}
	if _, err := cfg.PolicyPublicKey.Keys(); err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}

// ReadSecretFile reads an enroll secret file, trimmed of surrounding
// white space.
func ReadSecretFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("enroll secret file: %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}

// LoadFile reads only the YAML file at path, without flags or validation
// for run: what `steward-agent check --config` needs (allow_commands).
func LoadFile(path string) (Config, error) {
	cfg := Config{StateDir: DefaultStateDir(), LogLevel: "info"}
	if err := loadFile(&cfg, path); err != nil {
		return Config{}, err
	}
	cfg.File = path
	return cfg, nil
}

func loadFile(cfg *Config, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	for _, pattern := range cfg.EvidenceContent {
		if err := CheckEvidencePattern(pattern); err != nil {
			return fmt.Errorf("config file %s: %w", path, err)
		}
	}
	return nil
}

// Validate checks the configuration is usable for run.
func (c Config) Validate() error {
	if c.Server == "" {
		return errors.New("--server is required")
	}
	if err := ValidateServer(c.Server); err != nil {
		return err
	}
	if c.StateDir == "" {
		return errors.New("--state-dir must not be empty")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log-level %q: want debug, info, warn or error", c.LogLevel)
	}
	if c.InventoryInterval < 0 || c.HeartbeatInterval < 0 {
		return errors.New("intervals must not be negative")
	}
	if err := labels.Check(c.Labels); err != nil {
		return fmt.Errorf("labels: %w", err)
	}
	if (c.CertFile == "") != (c.KeyFile == "") {
		return errors.New("cert_file and key_file go together: give both for mutual TLS, or neither")
	}
	for _, pattern := range c.EvidenceContent {
		if err := CheckEvidencePattern(pattern); err != nil {
			return err
		}
	}
	if w := PlainHTTPWarning(c.Server); w != "" && !c.InsecureHTTP {
		return fmt.Errorf("refusing %s. To accept the risk, set insecure_http: true in the agent's config file (or give --insecure-http)", w)
	}
	return nil
}

// CheckEvidencePattern checks one evidence_content entry: an absolute
// path, a glob in filepath.Match syntax, optionally ending in ** (every
// file below the directory); on Windows also a registry KEY\value glob.
func CheckEvidencePattern(pattern string) error {
	if pattern == "" {
		return errors.New("evidence_content: empty entry")
	}
	glob := strings.TrimSuffix(pattern, "**")
	if strings.Contains(glob, "**") {
		return fmt.Errorf("evidence_content %q: ** is allowed only at the end", pattern)
	}
	if _, err := filepath.Match(glob, ""); err != nil {
		return fmt.Errorf("evidence_content %q: %w", pattern, err)
	}
	return nil
}

// PlainHTTPWarning says why a server URL is unsafe when it is plain
// http:// to another machine (the node key, inventory and policies would
// cross the network unencrypted and unauthenticated), and is "" for
// https:// and for loopback addresses.
func PlainHTTPWarning(server string) string {
	u, err := url.Parse(server)
	if err != nil || u.Scheme != "http" {
		return ""
	}
	host := u.Hostname()
	if host == "localhost" {
		return ""
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return ""
	}
	return "the server URL " + server + " is plain http:// to another machine: the node key, the inventory and the policies cross the network unencrypted, and anyone in between can impersonate the server; use https://"
}

// ValidateServer checks a server URL: http or https with a host.
func ValidateServer(server string) error {
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("--server %q: want http(s)://host[:port]", server)
	}
	return nil
}
