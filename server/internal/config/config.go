// Package config loads the server's configuration from defaults, a YAML
// file, STEWARD_* environment variables and flags, in rising precedence.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/steward-project/steward/server/internal/alerting/alertconf"
	"github.com/steward-project/steward/server/internal/alerting/notify"
)

// Config is the whole server configuration, loaded once and passed down.
type Config struct {
	Listen   string  `yaml:"listen"`
	DB       string  `yaml:"db"`
	DataDir  string  `yaml:"data_dir"`
	TLSCert  string  `yaml:"tls_cert"`
	TLSKey   string  `yaml:"tls_key"`
	LogLevel string  `yaml:"log_level"`
	Agent    Agent   `yaml:"agent"`
	Metrics  Metrics `yaml:"metrics"`
	// Alerting is the file's alerting: section, parsed and checked by
	// alertconf (a reload reads it again with alertconf.LoadFile).
	Alerting alertconf.Config `yaml:"-"`
	// File is where the YAML came from, if anywhere.
	File string `yaml:"-"`

	// TLSClientCA and TLSClientAuth ask agents for client certificates
	// (tlsclient.go); Readiness tunes /readyz.
	TLSClientCA   string    `yaml:"tls_client_ca"`
	TLSClientAuth string    `yaml:"tls_client_auth"`
	Readiness     Readiness `yaml:"readiness"`

	// Limits caps connections and authentication rates at the HTTP
	// edge (limits.go).
	Limits Limits `yaml:"limits"`
	// TrustedProxies are the reverse proxies (CIDRs or addresses) whose
	// X-Forwarded-For header names the client; without any, the TCP
	// peer is the client.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// Ingest bounds queued agent data and commits (ingest.go).
	Ingest Ingest `yaml:"ingest"`
	// Debug turns on the profiling endpoint (debug.go).
	Debug Debug `yaml:"debug"`
	// Retention bounds how long history tables keep rows (retention.go).
	Retention Retention `yaml:"retention"`
}

// fileConfig is what a config file holds: Config's keys and the
// alerting section, which is left as a node for alertconf.Parse.
type fileConfig struct {
	Config   `yaml:",inline"`
	Alerting yaml.Node `yaml:"alerting"`
}

// Metrics configures the /metrics endpoint.
type Metrics struct {
	// Token, when set, must come with every scrape as a bearer token;
	// given inline, as {file: PATH} or as {env: NAME}.
	Token notify.Secret `yaml:"token"`
	// FleetInterval is how often the fleet gauges (hosts, agent
	// versions, policy results, compliance) are computed from the store.
	FleetInterval time.Duration `yaml:"fleet_interval"`
}

// UnmarshalYAML reads the metrics section, reporting a token that cannot
// be read (a missing file, an unset variable) at its line.
func (m *Metrics) UnmarshalYAML(n *yaml.Node) error {
	type plain Metrics
	p := plain(*m) // keys the file leaves out keep their defaults
	if err := n.Decode(&p); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return err
		}
		line := n.Line
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "token" {
				line = n.Content[i+1].Line
			}
		}
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: metrics.token: %v", line, err)}}
	}
	*m = Metrics(p)
	return nil
}

// Agent holds what the server tells agents in its welcome.
type Agent struct {
	InventoryInterval time.Duration `yaml:"inventory_interval"`
	HeartbeatInterval time.Duration `yaml:"heartbeat_interval"`
	// AckDelay is how long a connection's writer, woken by an ack, waits
	// for more acks to send with it (0: the gateway's default of 1 ms;
	// negative: none).
	AckDelay time.Duration `yaml:"ack_delay"`
}

// Default returns the configuration used when nothing is set.
func Default() Config {
	return Config{
		Listen:   "127.0.0.1:8080",
		DB:       "sqlite://./data/steward.db",
		DataDir:  "./data",
		LogLevel: "info",
		Agent: Agent{
			InventoryInterval: time.Hour,
			HeartbeatInterval: 30 * time.Second,
		},
		Metrics:  Metrics{FleetInterval: 30 * time.Second},
		Alerting: alertconf.Default(),
		// Readiness (tlsclient.go).
		Readiness: Readiness{CommitFailures: 3},
		Limits:    DefaultLimits(),
		Ingest:    DefaultIngest(),
		Retention: DefaultRetention(),
	}
}

// Load builds the configuration for one command from its arguments and
// the environment (getenv is os.Getenv outside tests). Precedence: flag,
// then STEWARD_<FLAG> variable, then the --config file, then defaults.
func Load(name string, args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	cfg, _, err := LoadCommand(name, args, 0, getenv, stderr, nil)
	return cfg, err
}

// LoadCommand is Load for a command that has flags of its own, which
// extra registers, and exactly positional positional arguments, which it
// returns; flags and positional arguments may come in any order.
func LoadCommand(name string, args []string, positional int, getenv func(string) string, stderr io.Writer,
	extra func(*flag.FlagSet)) (Config, []string, error) {
	cfg := Default()
	var flagged Config
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	if extra != nil {
		extra(fs)
	}
	fs.StringVar(&flagged.Listen, "listen", cfg.Listen, "address to listen on")
	fs.StringVar(&flagged.DB, "db", "", "database: sqlite://PATH or postgres://... (default sqlite://DATA-DIR/steward.db)")
	fs.StringVar(&flagged.DataDir, "data-dir", cfg.DataDir, "directory for the admin token and enroll secret files")
	fs.StringVar(&flagged.File, "config", "", "YAML configuration file")
	fs.StringVar(&flagged.TLSCert, "tls-cert", "", "TLS certificate file (PEM)")
	fs.StringVar(&flagged.TLSKey, "tls-key", "", "TLS private key file (PEM)")
	fs.StringVar(&flagged.TLSClientCA, "tls-client-ca", "", "CA file (PEM) that agents' client certificates must chain to")
	fs.StringVar(&flagged.TLSClientAuth, "tls-client-auth", "", "agent client certificates: none, request or require")
	fs.StringVar(&flagged.LogLevel, "log-level", cfg.LogLevel, "debug, info, warn or error")
	fs.BoolVar(&flagged.Debug.Pprof, "pprof", false, "serve runtime profiles under /debug/pprof/ to admin tokens")
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return cfg, nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		pos, args = append(pos, fs.Arg(0)), fs.Args()[1:]
	}
	if len(pos) != positional {
		if len(pos) > positional {
			return cfg, nil, fmt.Errorf("unexpected argument %q", pos[positional])
		}
		return cfg, nil, fmt.Errorf("want %d argument(s), got %d", positional, len(pos))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	value := func(flagName, flagValue string) (string, bool) {
		if set[flagName] {
			return flagValue, true
		}
		env := "STEWARD_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
		if v := getenv(env); v != "" {
			return v, true
		}
		return "", false
	}
	// dbSet: a database named by flag, variable or file; without one the
	// SQLite file lives in the data directory, wherever that ends up.
	dbSet := false
	if file, ok := value("config", flagged.File); ok {
		var err error
		if dbSet, err = loadFile(&cfg, file); err != nil {
			return cfg, nil, err
		}
		cfg.File = file
	}
	for _, f := range []struct {
		name string
		flag string
		dst  *string
	}{
		{"listen", flagged.Listen, &cfg.Listen},
		{"db", flagged.DB, &cfg.DB},
		{"data-dir", flagged.DataDir, &cfg.DataDir},
		{"tls-cert", flagged.TLSCert, &cfg.TLSCert},
		{"tls-key", flagged.TLSKey, &cfg.TLSKey},
		{"tls-client-ca", flagged.TLSClientCA, &cfg.TLSClientCA},
		{"tls-client-auth", flagged.TLSClientAuth, &cfg.TLSClientAuth},
		{"log-level", flagged.LogLevel, &cfg.LogLevel},
	} {
		if v, ok := value(f.name, f.flag); ok {
			*f.dst = v
			dbSet = dbSet || f.name == "db"
		}
	}
	if set["pprof"] {
		cfg.Debug.Pprof = flagged.Debug.Pprof
	} else if v := getenv("STEWARD_PPROF"); v != "" {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return cfg, nil, fmt.Errorf("STEWARD_PPROF=%q: want true or false", v)
		}
		cfg.Debug.Pprof = on
	}
	if !dbSet {
		cfg.DB = DataDirDB(cfg.DataDir)
	}
	return cfg, pos, cfg.Validate()
}

// DataDirDB is the database used when none is named: steward.db in the
// data directory, so that servers with different data directories never
// share one, whatever their working directory.
func DataDirDB(dataDir string) string {
	if dataDir == "" {
		return ""
	}
	p := filepath.Join(dataDir, "steward.db")
	if !filepath.IsAbs(p) && !strings.HasPrefix(p, ".") {
		p = "." + string(filepath.Separator) + p // ./data/steward.db, as written by hand
	}
	return "sqlite://" + p
}

// loadFile reads the YAML file at path over cfg and reports whether it
// names a database. Unknown keys are errors; the alerting section is
// parsed by alertconf, whose problems come one per line as FILE:LINE:
// message.
func loadFile(cfg *Config, path string) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	doc := fileConfig{Config: *cfg}
	doc.DB = ""
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return false, fileError(path, err)
	}
	alerting, err := alertconf.Parse(path, &doc.Alerting)
	if err != nil {
		return false, fmt.Errorf("config file %s: invalid alerting section:\n%w", path, err)
	}
	named := doc.DB != ""
	if !named {
		doc.DB = cfg.DB
	}
	*cfg = doc.Config
	cfg.Alerting = alerting
	return named, nil
}

var (
	yamlFieldError = regexp.MustCompile(`^line (\d+): field (\S+) not found in type `)
	yamlLineError  = regexp.MustCompile(`^line (\d+): `)
)

// fileError rewrites a decoding error of the config file as lines of
// FILE:LINE: message.
func fileError(path string, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return alertconf.YAMLError(path, err)
	}
	lines := make([]string, len(te.Errors))
	for i, msg := range te.Errors {
		if m := yamlFieldError.FindStringSubmatch(msg); m != nil {
			msg = fmt.Sprintf("%s:%s: unknown key %s", path, m[1], m[2])
		} else {
			msg = yamlLineError.ReplaceAllString(strings.ReplaceAll(msg, "config.fileConfig", "a mapping of keys"), path+":$1: ")
		}
		lines[i] = msg
	}
	return errors.New(strings.Join(lines, "\n"))
}

// Validate checks the configuration is usable.
func (c Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("listen %q: %w", c.Listen, err)
	}
	if _, _, err := ParseDB(c.DB); err != nil {
		return err
	}
	if c.DataDir == "" {
		return errors.New("data-dir must not be empty")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return errors.New("tls-cert and tls-key must be given together")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("log-level %q: want debug, info, warn or error", c.LogLevel)
	}
	if c.Agent.InventoryInterval < time.Second {
		return fmt.Errorf("agent.inventory_interval %v: must be at least 1s", c.Agent.InventoryInterval)
	}
	if c.Metrics.FleetInterval < time.Second {
		return fmt.Errorf("metrics.fleet_interval %v: must be at least 1s", c.Metrics.FleetInterval)
	}
	if c.Agent.HeartbeatInterval < time.Second {
		return fmt.Errorf("agent.heartbeat_interval %v: must be at least 1s", c.Agent.HeartbeatInterval)
	}
	if err := c.validateClientTLS(); err != nil {
		return err
	}
	if err := c.validateLimits(); err != nil {
		return err
	}
	if err := c.validateIngest(); err != nil {
		return err
	}
	if err := c.validateRetention(); err != nil {
		return err
	}
	return nil
}

// Database kinds ParseDB recognises.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// ParseDB splits a --db value into its kind and what the backend opens:
// a file path for SQLite, the URL itself for PostgreSQL.
func ParseDB(db string) (kind, target string, err error) {
	switch {
	case strings.HasPrefix(db, "sqlite://"):
		path := strings.TrimPrefix(db, "sqlite://")
		if path == "" {
			return "", "", fmt.Errorf("db %q: sqlite:// needs a file path", db)
		}
		return SQLite, path, nil
	case strings.HasPrefix(db, "postgres://"), strings.HasPrefix(db, "postgresql://"):
		return Postgres, db, nil
	default:
		return "", "", fmt.Errorf("db %q: want sqlite://PATH or postgres://URL", Redact(db))
	}
}

// Redact hides the password in a database URL for messages and logs.
func Redact(db string) string {
	at := strings.LastIndex(db, "@")
	scheme := strings.Index(db, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return db
	}
	userinfo := db[scheme+3 : at]
	if i := strings.Index(userinfo, ":"); i >= 0 {
		return db[:scheme+3] + userinfo[:i] + ":xxxxx" + db[at:]
	}
	return db
}
