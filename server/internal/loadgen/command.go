package loadgen

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"strings"
	"time"
)

// Exit codes of Main.
const (
	ExitOK     = 0
	ExitFailed = 1 // the run failed or found failures
	ExitUsage  = 2
)

const usage = `usage: steward-loadgen --server URL --agents N --duration D [flags]

Simulates N agents against a Steward server: enrolls them, connects each
over the agent WebSocket with a full inventory, then sends heartbeats (and
optionally unchanged inventories) for D, and prints what it measured.
With --results fail|pass, agents answer each policy set with results;
with --alert-receiver, loadgen receives the server's webhook
notifications and measures how long a result took to become one.

flags:
`

// Main runs steward-loadgen with args (without the program name) and
// returns the exit code: 0 when every agent enrolled, connected and had
// every message acknowledged, 1 when not (or the run could not start),
// 2 for a command line mistake.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, output, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return ExitOK
	}
	if err != nil {
		fmt.Fprintf(stderr, "steward-loadgen: %v\n", err)
		return ExitUsage
	}
	if cfg.CPUProfile != "" {
		stop, err := startCPUProfile(cfg.CPUProfile)
		if err != nil {
			fmt.Fprintf(stderr, "steward-loadgen: --cpuprofile: %v\n", err)
			return ExitFailed
		}
		defer stop(stderr)
	}
	rep, err := Run(ctx, cfg)
	if rep != nil {
		var werr error
		if output == "json" {
			werr = rep.WriteJSON(stdout)
		} else {
			werr = rep.WriteText(stdout)
		}
		if werr != nil && err == nil {
			err = werr
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "steward-loadgen: %v\n", err)
		return ExitFailed
	}
	if rep.Failed {
		return ExitFailed
	}
	return ExitOK
}

func parseFlags(args []string, stderr io.Writer) (Config, string, error) {
	var cfg Config
	var secretFile, sourceIPs, output string
	var quiet bool
	fs := flag.NewFlagSet("steward-loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.Server, "server", "", "server base `URL`, http:// or https:// (required)")
	fs.IntVar(&cfg.Agents, "agents", 100, "number of simulated agents")
	fs.DurationVar(&cfg.Duration, "duration", time.Minute, "length of the steady phase (0: stop after the connect phase)")
	fs.StringVar(&cfg.EnrollSecret, "enroll-secret", "", "enroll `secret` for agents not in --state")
	fs.StringVar(&secretFile, "enroll-secret-file", "", "read the enroll secret from `file` (e.g. <data-dir>/enroll-secret)")
	fs.IntVar(&cfg.Packages, "packages", DefaultPackages, "software packages per host")
	fs.DurationVar(&cfg.Heartbeat, "heartbeat", DefaultHeartbeat, "heartbeat interval per agent in the steady phase")
	fs.DurationVar(&cfg.Warmup, "warmup", 0, "send for this long at the start of the steady phase before measuring latency and rate (the post-connect transient)")
	fs.DurationVar(&cfg.Linger, "linger", 0, "after the measured steady phase, keep sending this long, unmeasured, before closing (so one generator's teardown misses another's measured phase)")
	fs.DurationVar(&cfg.InventoryEvery, "inventory-every", 0, "send an unchanged inventory (digest only) at this interval per agent; 0: never")
	fs.IntVar(&cfg.Concurrency, "concurrency", DefaultConcurrency, "enrollments and connection handshakes in flight")
	fs.StringVar(&cfg.StateFile, "state", "", "keep node keys in `file` and reuse them on the next run instead of enrolling")
	fs.StringVar(&sourceIPs, "source-ips", "", "comma-separated local `addresses` to spread connections over (more ephemeral ports)")
	fs.DurationVar(&cfg.ConnectTimeout, "connect-timeout", DefaultConnectTimeout, "how long to wait for every agent's first inventory to be acknowledged")
	fs.StringVar(&cfg.Results, "results", ResultsNone, "on each policy_set, report every policy as `fail`, pass, or none (send no results)")
	fs.StringVar(&cfg.AlertReceiver, "alert-receiver", "", "run a webhook receiver on `host:port` and measure result-to-notification latency of trigger notifications")
	fs.StringVar(&cfg.AlertSecret, "alert-secret", "", "the webhook receiver's HMAC `secret`: refuse deliveries without a valid X-Steward-Signature")
	fs.BoolVar(&cfg.Insecure, "insecure", false, "do not verify the server's TLS certificate")
	fs.BoolVar(&cfg.NoCompression, "no-compression", false, "do not offer per-message deflate (measure the server's fan-out without inflating every copy)")
	fs.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write the generator's own CPU profile (go tool pprof) to `file`: where a run's simulation spends its share of the machine")
	fs.BoolVar(&quiet, "quiet", false, "log only warnings and errors to stderr, no progress")
	fs.StringVar(&output, "o", "text", "report format: text or json")
	if err := fs.Parse(args); err != nil {
		return cfg, "", err
	}
	if fs.NArg() > 0 {
		return cfg, "", fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	if output != "text" && output != "json" {
		return cfg, "", fmt.Errorf("-o must be text or json, not %q", output)
	}
	if secretFile != "" {
		if cfg.EnrollSecret != "" {
			return cfg, "", errors.New("give --enroll-secret or --enroll-secret-file, not both")
		}
		b, err := os.ReadFile(secretFile)
		if err != nil {
			return cfg, "", fmt.Errorf("--enroll-secret-file: %w", err)
		}
		cfg.EnrollSecret = strings.TrimSpace(string(b))
	}
	ips, err := ParseSourceIPs(sourceIPs)
	if err != nil {
		return cfg, "", fmt.Errorf("--source-ips: %w", err)
	}
	cfg.SourceIPs = ips
	level := slog.LevelInfo
	if quiet {
		level = slog.LevelWarn
	}
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if err := cfg.Validate(); err != nil {
		return cfg, "", err
	}
	return cfg, output, nil
}

// startCPUProfile profiles the whole run into path; stop ends the
// profile and reports a failure to close the file.
func startCPUProfile(path string) (stop func(io.Writer), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func(stderr io.Writer) {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			fmt.Fprintf(stderr, "steward-loadgen: --cpuprofile: %v\n", err)
		}
	}, nil
}
