package service

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/steward-project/steward/agent/internal/config"
	"github.com/steward-project/steward/agent/internal/state"
	"github.com/steward-project/steward/agent/internal/transport"
	"github.com/steward-project/steward/installers/systemd"
	svc "github.com/steward-project/steward/shared/service"
)

// AgentName is the agent's service name under every manager.
const AgentName = "steward-agent"

// launchdLogDir is where the agent logs on macOS.
const launchdLogDir = "/Library/Logs/Steward"

// agentHeader heads a configuration file that install creates.
const agentHeader = "steward-agent configuration, written by `steward-agent install`.\n" +
	"Keys: server, enroll_secret_file, state_dir, log_level, ca_file, log_file,\n" +
	"inventory_interval, heartbeat_interval, allow_commands, insecure_http,\n" +
	"cert_file, key_file, evidence_content. See docs/service.md."

// NewAgentTool returns steward-agent's service commands for the service
// called name. open opens a service manager for a --service-manager value;
// nil means the machine's own, through kardianos.
func NewAgentTool(name string, stdout, stderr io.Writer, open func(manager string) (svc.Manager, error)) *svc.Tool {
	if open == nil {
		open = func(manager string) (svc.Manager, error) { return svc.Open(name, manager) }
	}
	t := &svc.Tool{Prog: "steward-agent", Name: name, Stdout: stdout, Stderr: stderr, Open: open, Admin: isAdmin}
	t.Install = func(args []string) int { return agentInstall(t, args) }
	t.LogHint = func(platform string) string { return agentLogHint(name, platform) }
	return t
}

// agentLogFile is the log file a service install passes with --log-file:
// none where the manager keeps the logs (the journal, the event log).
func agentLogFile(name, platform string) string {
	switch platform {
	case svc.Systemd, svc.Windows:
		return ""
	case svc.Launchd:
		return launchdLogDir + "/" + name + ".log"
	default:
		return "/var/log/" + name + ".log"
	}
}

// agentOutputFile is where an init script sends the agent's own stdout
// and stderr: only what comes before the log file opens, and panics.
func agentOutputFile(name string) string { return "/var/log/" + name + ".err.log" }

func agentLogHint(name, platform string) string {
	switch platform {
	case svc.Systemd:
		return "the journal: journalctl -u " + name
	case svc.Windows:
		return "the Application event log, source " + name
	case svc.Launchd:
		return agentLogFile(name, platform) + " and " + launchdLogDir + "/" + name + ".err.log"
	default:
		return agentLogFile(name, platform) + " and " + agentOutputFile(name)
	}
}

// AgentSpec is how the agent is registered under platform: to run
// `steward-agent run --config FILE`, plus --log-file where the manager
// keeps no stderr and cfg names no log file, with the manager's own
// definition (the hardened systemd unit, the init scripts of
// shared/service) and options (launchd keeps it alive; Windows restarts
// it 5 s after a failure).
func AgentSpec(name, platform, file string, cfg config.Config) svc.Spec {
	args := []string{"run", "--config", file}
	if lf := agentLogFile(name, platform); lf != "" && cfg.LogFile == "" {
		args = append(args, "--log-file", lf)
	}
	opts := map[string]any{}
	switch platform {
	case svc.Systemd:
		var writable []string
		if filepath.Clean(cfg.StateDir) != "/var/lib/steward-agent" {
			writable = append(writable, cfg.StateDir)
		}
		if cfg.LogFile != "" {
			writable = append(writable, filepath.Dir(cfg.LogFile))
		}
		opts["SystemdScript"] = svc.WritablePaths(systemd.AgentUnit, "StateDirectoryMode=", writable)
	case svc.SysV:
		opts["SysvScript"] = svc.SysVScript(name, agentOutputFile(name), "")
	case svc.OpenRC:
		opts["OpenRCScript"] = svc.OpenRCScript(name, agentOutputFile(name), "")
	case svc.Launchd:
		opts["KeepAlive"] = true
		opts["RunAtLoad"] = true
		opts["LogDirectory"] = launchdLogDir
	case svc.Windows:
		opts["StartType"] = "automatic"
		opts["DelayedAutoStart"] = true
		opts["OnFailure"] = "restart"
		opts["OnFailureDelayDuration"] = "5s"
		opts["OnFailureResetPeriod"] = 3600
	}
	return svc.Spec{
		Name:        name,
		DisplayName: "Steward agent",
		Description: "Steward agent: inventory and policy checks for this machine",
		Arguments:   args,
		Options:     opts,
	}
}

// agentInstall writes the configuration file from the flags (keeping an
// existing file's other keys, and the file as it is when no flag changes
// it), the enroll secret to its own file, and registers the service.
func agentInstall(t *svc.Tool, args []string) int {
	flags, fl := config.NewFlagSet("install", t.Stderr)
	manager := svc.ManagerFlag(flags)
	if err := flags.Parse(args); err != nil {
		return svc.ExitUsage
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(t.Stderr, "steward-agent install: unexpected argument %q\n", flags.Arg(0))
		return svc.ExitUsage
	}
	if fl.EnrollSecret != "" && fl.EnrollSecretFile != "" {
		fmt.Fprintln(t.Stderr, "steward-agent install: give --enroll-secret or --enroll-secret-file, not both")
		return svc.ExitUsage
	}
	// A secret in the environment is written to the secret file, as
	// --enroll-secret is, when no flag names one.
	if env := config.TakeEnvSecret(); env != "" && fl.EnrollSecret == "" && fl.EnrollSecretFile == "" {
		fl.EnrollSecret = env
	}
	if !t.CheckManagerName("install", *manager) {
		return svc.ExitUsage
	}
	if !t.CheckAdmin("install") {
		return svc.ExitFailure
	}
	file := fl.File
	if file == "" {
		file = config.DefaultFile()
	}
	// The service starts in / (C:\Windows\System32 on Windows): every
	// path it is given must be absolute.
	for _, p := range []*string{&file, &fl.EnrollSecretFile, &fl.StateDir, &fl.CAFile, &fl.LogFile, &fl.CertFile, &fl.KeyFile} {
		if *p == "" {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			fmt.Fprintf(t.Stderr, "steward-agent install: %v\n", err)
			return svc.ExitUsage
		}
		*p = abs
	}

	src, err := os.ReadFile(file)
	exists := err == nil
	cfg := config.Config{StateDir: config.DefaultStateDir(), LogLevel: "info"}
	switch {
	case exists:
		if cfg, err = config.LoadFile(file); err != nil {
			fmt.Fprintf(t.Stderr, "steward-agent install: %v\n", err)
			return svc.ExitUsage
		}
	case !errors.Is(err, fs.ErrNotExist):
		fmt.Fprintf(t.Stderr, "steward-agent install: config file: %v\n", err)
		return svc.ExitFailure
	}
	cfg.Override(*fl)

	// What the flags change in the file; the rest of it stays.
	secretFile := filepath.Join(filepath.Dir(file), "enroll-secret")
	var settings []svc.Setting
	set := func(key, value string) { settings = append(settings, svc.Setting{Key: key, Value: value}) }
	if fl.Server != "" {
		set("server", fl.Server)
	}
	switch {
	case fl.EnrollSecret != "":
		// The secret goes to a file of its own; an inline one would win
		// over it, so it goes.
		set("enroll_secret_file", secretFile)
		set("enroll_secret", "")
		cfg.EnrollSecretFile = secretFile
	case fl.EnrollSecretFile != "":
		set("enroll_secret_file", fl.EnrollSecretFile)
		set("enroll_secret", "")
		cfg.EnrollSecret = ""
	}
	if fl.StateDir != "" || !exists {
		set("state_dir", cfg.StateDir)
	}
	for _, s := range []svc.Setting{{Key: "log_level", Value: fl.LogLevel}, {Key: "ca_file", Value: fl.CAFile}, {Key: "log_file", Value: fl.LogFile},
		{Key: "cert_file", Value: fl.CertFile}, {Key: "key_file", Value: fl.KeyFile}} {
		if s.Value != "" {
			settings = append(settings, s)
		}
	}
	if fl.InventoryInterval != 0 {
		set("inventory_interval", fl.InventoryInterval.String())
	}
	if fl.HeartbeatInterval != 0 {
		set("heartbeat_interval", fl.HeartbeatInterval.String())
	}
	if fl.InsecureHTTP {
		set("insecure_http", "true")
	}

	if code := checkAgentConfig(t.Stderr, file, cfg); code != svc.ExitOK {
		return code
	}
	out, changed, err := svc.ApplySettings(src, agentHeader, settings)
	if err != nil {
		fmt.Fprintf(t.Stderr, "steward-agent install: config file %s: %v\n", file, err)
		return svc.ExitUsage
	}
	// Nothing is written before the manager is known to be usable.
	m, code := t.OpenManager("install", *manager)
	if m == nil {
		return code
	}

	dir := filepath.Dir(file)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return t.Fail("install", m, err)
	}
	// Only Steward's own directory gets Steward's access list: a
	// directory named with --config is the operator's to protect.
	if filepath.Clean(dir) == filepath.Clean(config.DefaultDir()) {
		if err := secureDir(dir); err != nil {
			return t.Fail("install", m, fmt.Errorf("restrict %s: %w", dir, err))
		}
	}
	if fl.EnrollSecret != "" {
		if err := writeSecret(t, secretFile, []byte(fl.EnrollSecret+"\n")); err != nil {
			return t.Fail("install", m, err)
		}
	}
	if fl.EnrollSecretFile != "" {
		if err := tighten(t, fl.EnrollSecretFile); err != nil {
			return t.Fail("install", m, err)
		}
	}
	if changed {
		if _, err := svc.WriteFile(file, out, 0o600); err != nil {
			return t.Fail("install", m, err)
		}
		t.Say("wrote %s (%s)", file, secretAccess(file))
	} else {
		t.Say("%s unchanged", file)
	}
	if err := tighten(t, file); err != nil {
		return t.Fail("install", m, err)
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return t.Fail("install", m, err)
	}
	if m.Platform() == svc.Launchd {
		if err := os.MkdirAll(launchdLogDir, 0o755); err != nil {
			return t.Fail("install", m, err)
		}
	}
	return t.Register(m, AgentSpec(t.Name, m.Platform(), file, cfg))
}

// checkAgentConfig reports, all at once, what the service would lack to
// run: a server URL, and an enroll secret unless the state dir already
// holds a node key. Then the rest of run's checks.
func checkAgentConfig(stderr io.Writer, file string, cfg config.Config) int {
	var missing []string
	if cfg.Server == "" {
		missing = append(missing, "a server URL: give --server URL, or set server: in "+file)
	}
	secretProblem := ""
	switch {
	case cfg.EnrollSecret != "":
	case cfg.EnrollSecretFile != "":
		secret, err := config.ReadSecretFile(cfg.EnrollSecretFile)
		if err != nil {
			secretProblem = err.Error()
		} else if secret == "" {
			secretProblem = "enroll secret file " + cfg.EnrollSecretFile + " is empty"
		}
	default:
		secretProblem = "none configured"
	}
	if secretProblem != "" && !hasNodeKey(cfg.StateDir) {
		missing = append(missing, fmt.Sprintf("an enroll secret (%s): give --enroll-secret or --enroll-secret-file, "+
			"or set enroll_secret_file: in %s; an agent already enrolled needs none (its node key is %s)",
			secretProblem, file, filepath.Join(cfg.StateDir, state.NodeKeyFile)))
	}
	if len(missing) > 0 {
		fmt.Fprintln(stderr, "steward-agent install: cannot install, missing:")
		for _, m := range missing {
			fmt.Fprintln(stderr, "  - "+m)
		}
		return svc.ExitUsage
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(stderr, "steward-agent install: %v\n", err)
		return svc.ExitUsage
	}
	if cfg.CAFile != "" {
		if _, err := transport.LoadCAFile(cfg.CAFile); err != nil {
			fmt.Fprintf(stderr, "steward-agent install: %v\n", err)
			return svc.ExitUsage
		}
	}
	if cfg.CertFile != "" {
		if _, err := transport.LoadClientCert(cfg.CertFile, cfg.KeyFile); err != nil {
			fmt.Fprintf(stderr, "steward-agent install: %v\n", err)
			return svc.ExitUsage
		}
	}
	return svc.ExitOK
}

// hasNodeKey reports whether the state dir holds the node key of an
// enrolled agent (an empty file counts as none, as for the agent).
func hasNodeKey(stateDir string) bool {
	b, err := os.ReadFile(filepath.Join(stateDir, state.NodeKeyFile))
	return err == nil && strings.TrimSpace(string(b)) != ""
}

// writeSecret writes a secret file readable by the service account only.
func writeSecret(t *svc.Tool, path string, data []byte) error {
	changed, err := svc.WriteFile(path, data, 0o600)
	if err != nil {
		return err
	}
	if changed {
		t.Say("wrote %s (%s)", path, secretAccess(path))
	} else {
		t.Say("%s unchanged", path)
	}
	return tighten(t, path)
}

// tighten makes a file that holds configuration or a secret readable by
// its owner only.
func tighten(t *svc.Tool, path string) error {
	changed, err := svc.EnsureMode(path, 0o600)
	if changed && err == nil {
		t.Say("made %s readable by its owner only (mode 0600)", path)
	}
	return err
}

// secretAccess says who can read a file install wrote.
func secretAccess(path string) string {
	switch {
	case runtime.GOOS != "windows":
		return "mode 0600"
	case filepath.Clean(filepath.Dir(path)) == filepath.Clean(config.DefaultDir()):
		return "readable by SYSTEM and Administrators only"
	}
	return "access as its directory allows"
}
