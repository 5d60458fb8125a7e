// Command steward-server stores agent inventory and serves the admin API.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/server/internal/config"
	"github.com/steward-project/steward/server/internal/server"
	"github.com/steward-project/steward/server/internal/service"
	"github.com/steward-project/steward/server/internal/store"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// serviceName and serviceUser are the service's name and account; tests
// build with -ldflags "-X main.serviceName=... -X main.serviceUser=..." to
// install a service of their own.
var (
	serviceName = service.ServerName
	serviceUser = service.ServerUser
)

const usage = `usage: steward-server <command> [flags]

commands:
  serve     run the server (flags: --listen --db --data-dir --config --tls-cert --tls-key
            --tls-client-ca --tls-client-auth --log-level)
  migrate   apply database schema migrations and exit (flags as serve)
  token create NAME [--role admin|viewer] [--expires D] [--force] [serve's --db --data-dir --config]
            create an API token straight in the database and print it once: for when
            no admin token is left (stewardctl tokens create is the everyday way)
  install   [serve's flags] [--service-manager systemd|sysv|openrc]
            Linux only: write the config file (--config, default /etc/steward/server.yaml),
            create the steward user and the data dir (/var/lib/steward), and register
            the service that runs "steward-server serve --config FILE" as steward
  uninstall | start | stop | restart [--service-manager M]
            manage the service (uninstall keeps config, data and user)
  status    print running, stopped or not installed (exit 0, 3, 4)
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
	case "token":
		return tokenMain(rest, stdout, stderr)
	case "serve", "migrate":
	case "install", "uninstall", "start", "stop", "restart", "status":
		return service.ServerMain(cmd, rest, serviceName, serviceUser, stdout, stderr)
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

// tokenMain runs "steward-server token create NAME ...".
func tokenMain(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprintf(stderr, "steward-server token: want \"token create NAME\"\n\n%s", usage)
		return 2
	}
	var role, expiresFlag string
	var force bool
	cfg, pos, err := config.LoadCommand("token create", args[1:], 1, os.Getenv, stderr, func(fs *flag.FlagSet) {
		fs.StringVar(&role, "role", store.RoleAdmin, "admin, or viewer for read-only")
		fs.StringVar(&expiresFlag, "expires", "", "when it expires: a date (2027-01-01), RFC 3339, or a duration (90d, 720h)")
		fs.BoolVar(&force, "force", false, "allow an expiry more than a year away")
	})
	if err == nil && role != store.RoleAdmin && role != store.RoleViewer {
		err = fmt.Errorf("--role %q: want admin or viewer", role)
	}
	var expires time.Time
	if err == nil {
		if expires, err = apitypes.CredentialExpiry(expiresFlag, time.Now(), force); err != nil {
			err = fmt.Errorf("--expires %w", err)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "steward-server token create: %v\n", err)
		return 2
	}
	log := newLogger(stderr, "warn")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	secret, t, err := server.CreateToken(ctx, cfg, log, pos[0], role, expires)
	if errors.Is(err, store.ErrConflict) {
		fmt.Fprintf(stderr, "steward-server token create: a live token is already named %q; pick another name\n", pos[0])
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "steward-server token create: %v\n", err)
		return 1
	}
	fmt.Fprintf(stderr, "Created %s token %q in %s. It is shown this once; store it now:\n", t.Role, t.Name, config.Redact(cfg.DB))
	fmt.Fprintln(stdout, secret)
	return 0
}
