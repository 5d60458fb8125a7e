// Command steward-agent collects this machine's inventory and streams it
// to a steward-server.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/steward-project/steward/agent/internal/collect"
	"github.com/steward-project/steward/agent/internal/config"
	"github.com/steward-project/steward/agent/internal/runner"
	"github.com/steward-project/steward/agent/internal/service"
	"github.com/steward-project/steward/agent/internal/transport"
	"github.com/steward-project/steward/shared/inventory"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// serviceName is the agent's name in the service manager; tests build
// with -ldflags "-X main.serviceName=..." to install a service of their own.
var serviceName = service.AgentName

const usage = `usage: steward-agent <command> [flags]

commands:
  inventory [--root DIR]   collect once and print the inventory document as JSON
  check --policy PATH [--policy PATH...] [--format json|table|junit|html]
        [--fail-on info|low|medium|high|critical] [--root DIR] [--config FILE]
                           evaluate policy files locally once and print the results
                           (exit 0 whatever the results, or with --fail-on 1 when a policy
                           at or above that severity fails or errors; 2 when a policy file
                           is invalid)
  run --server URL --enroll-secret-file FILE [--state-dir DIR] [--config FILE]
      [--ca-file PEM] [--cert-file PEM --key-file PEM] [--insecure-http]
      [--log-file FILE] [--log-level L]
                           run in the foreground, streaming to the server; the enroll
                           secret comes from --enroll-secret-file, else from the
                           environment variable STEWARD_ENROLL_SECRET (--enroll-secret
                           SECRET also works but shows it in the process list)
  install [run's flags] [--service-manager systemd|sysv|openrc|launchd|windows]
                           write the config file (--config, default /etc/steward/agent.yaml,
                           %ProgramData%\Steward\agent.yaml on Windows, /Library/Application
                           Support/Steward/agent.yaml on macOS) and register the service
                           that runs "steward-agent run --config FILE"; exit 2 when the
                           server URL or the enroll secret is missing
  uninstall | start | stop | restart [--service-manager M]
                           manage the service (uninstall keeps config and state)
  status [--service-manager M]
                           print running, stopped or not installed (exit 0, 3, 4)
  version                  print the version
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "inventory":
		return inventoryCmd(ctx, args[1:], stdout, stderr)
	case "check":
		return checkCmd(ctx, args[1:], stdout, stderr)
	case "run":
		return runCmd(ctx, args[1:], stderr)
	case "install", "uninstall", "start", "stop", "restart", "status":
		return service.NewAgentTool(serviceName, stdout, stderr, nil).Run(args[0], args[1:])
	case "version", "--version":
		fmt.Fprintf(stdout, "steward-agent %s\n", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "steward-agent: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
}

func inventoryCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("inventory", flag.ContinueOnError)
	fs.SetOutput(stderr)
	root := fs.String("root", "", "inventory the system image or container root file system mounted at DIR")
	timeout := fs.Duration("timeout", collect.DefaultTimeout, "time limit for each collector")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "steward-agent inventory: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *root != "" {
		if fi, err := os.Stat(*root); err != nil || !fi.IsDir() {
			fmt.Fprintf(stderr, "steward-agent inventory: --root %s is not a directory\n", *root)
			return 2
		}
	}
	doc := collect.Collect(ctx, collect.Config{Root: *root, Timeout: *timeout})
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		fmt.Fprintf(stderr, "steward-agent inventory: %v\n", err)
		return 1
	}
	return 0
}

func runCmd(ctx context.Context, args []string, stderr io.Writer) int {
	cfg, err := config.Load(args, stderr)
	var roots *x509.CertPool // nil: the system's
	if err == nil && cfg.CAFile != "" {
		roots, err = transport.LoadCAFile(cfg.CAFile)
	}
	var clientCert *tls.Certificate // nil: none presented
	if err == nil && cfg.CertFile != "" {
		var c tls.Certificate
		if c, err = transport.LoadClientCert(cfg.CertFile, cfg.KeyFile); err == nil {
			clientCert = &c
		}
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel)) // validated by config
	var log *slog.Logger
	closeLog := func() error { return nil }
	if err == nil {
		log, closeLog, err = service.NewLogger(serviceName, cfg.LogFile, level, stderr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "steward-agent run: %v\n", err)
		service.ReportStartError(serviceName, err)
		return 2
	}
	defer closeLog()
	if w := config.PlainHTTPWarning(cfg.Server); w != "" {
		log.Warn(w)
	}
	hostname, _ := os.Hostname()
	policyKeys, _ := cfg.PolicyPublicKey.Keys() // checked by config.Load
	// Serve runs the agent in a goroutine as a service program (Start,
	// Stop): until ctx ends on SIGTERM or Ctrl-C, or the Windows service
	// control manager stops it. Either way Stop cancels the runner, which
	// closes its connection and saves its state.
	err = service.Serve(ctx, serviceName, log, func(ctx context.Context) error {
		return runner.Run(ctx, runner.Config{
			ServerURL:         cfg.Server,
			EnrollSecret:      cfg.EnrollSecret,
			StateDir:          cfg.StateDir,
			AgentVersion:      version,
			Hostname:          hostname,
			Labels:            cfg.Labels,
			InventoryInterval: cfg.InventoryInterval,
			HeartbeatInterval: cfg.HeartbeatInterval,
			// Root stays "": run mode collects and checks the live machine.
			AllowCommands:   cfg.AllowCommands,
			PolicyKeys:      policyKeys,
			EvidenceContent: cfg.EvidenceContent,
			Logger:          log,
			HTTPClient:      transport.NewMutualTLSClient(roots, clientCert),
			Collect: func(ctx context.Context) inventory.Document {
				start := time.Now()
				doc := collect.Collect(ctx, collect.Config{Logger: log})
				log.Debug("inventory collected", "duration", time.Since(start), "sections", len(doc.Sections), "errors", len(doc.Errors))
				return doc
			},
		})
	})
	if err != nil {
		log.Error("agent stopped", "err", err)
		return 1
	}
	return 0
}

// pathList is a repeatable string flag.
type pathList []string

func (p *pathList) String() string { return strings.Join(*p, ",") }

func (p *pathList) Set(v string) error {
	*p = append(*p, v)
	return nil
}
