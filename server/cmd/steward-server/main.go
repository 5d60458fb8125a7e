// Command steward-server stores agent inventory and serves the admin API.
package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/steward-project/steward/server/internal/config"
	"github.com/steward-project/steward/server/internal/server"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `usage: steward-server <command> [flags]

commands:
  serve     run the server (flags: --listen --db --data-dir --config --tls-cert --tls-key --log-level)
  migrate   apply database schema migrations and exit (flags as serve)
  version   print the version

Every flag can also be set as STEWARD_<FLAG>, e.g. STEWARD_DB=postgres://...
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "version", "--version":
		fmt.Fprintf(stdout, "steward-server %s\n", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	case "serve", "migrate":
	default:
		fmt.Fprintf(stderr, "steward-server: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	cfg, err := config.Load(cmd, rest, os.Getenv, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "steward-server %s: %v\n", cmd, err)
		return 2
	}
	log := newLogger(stderr, cfg.LogLevel)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if cmd == "migrate" {
		err = server.Migrate(ctx, cfg, log)
	} else {
		err = server.Run(ctx, cfg, log, version)
	}
	if err != nil {
		fmt.Fprintf(stderr, "steward-server %s: %v\n", cmd, err)
		return 1
	}
	return 0
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level)) // validated by config
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}
