// Command steward-agent collects this machine's inventory and streams it
// to a steward-server.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/steward-project/steward/agent/internal/collect"
	"github.com/steward-project/steward/agent/internal/config"
	"github.com/steward-project/steward/agent/internal/runner"
	"github.com/steward-project/steward/shared/inventory"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `usage: steward-agent <command> [flags]

commands:
  inventory [--root DIR]   collect once and print the inventory document as JSON
  run --server URL --enroll-secret SECRET [--state-dir DIR] [--config FILE]
                           run in the foreground, streaming to the server
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
	case "run":
		return runCmd(ctx, args[1:], stderr)
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
	if err != nil {
		fmt.Fprintf(stderr, "steward-agent run: %v\n", err)
		return 2
	}
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel)) // validated by config
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	hostname, _ := os.Hostname()
	err = runner.Run(ctx, runner.Config{
		ServerURL:         cfg.Server,
		EnrollSecret:      cfg.EnrollSecret,
		StateDir:          cfg.StateDir,
		AgentVersion:      version,
		Hostname:          hostname,
		InventoryInterval: cfg.InventoryInterval,
		HeartbeatInterval: cfg.HeartbeatInterval,
		Logger:            log,
		Collect: func(ctx context.Context) inventory.Document {
			start := time.Now()
			doc := collect.Collect(ctx, collect.Config{Logger: log})
			log.Debug("inventory collected", "duration", time.Since(start), "sections", len(doc.Sections), "errors", len(doc.Errors))
			return doc
		},
	})
	if err != nil {
		log.Error("agent stopped", "err", err)
		return 1
	}
	return 0
}
