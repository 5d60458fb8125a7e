// Command stewardctl is the admin command line for a Steward server; the
// work is done in server/internal/ctl.
package main

import (
	"context"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"time"

	"github.com/steward-project/steward/server/internal/ctl"
)

// version and commits are set by the build (-X main.version=..., the
// Makefile's VERSION and COMMITS): `stewardctl package` versions the
// installers it builds from them.
var version, commits = "dev", "0"

func main() {
	n, _ := strconv.Atoi(commits)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := ctl.Run(ctx, os.Args[1:], ctl.Env{
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
		Getenv:     os.Getenv,
		HTTPClient: &http.Client{Timeout: time.Minute},
		Version:    version,
		Commits:    n,
	})
	stop()
	os.Exit(code)
}
