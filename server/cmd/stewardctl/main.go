// Command stewardctl is the admin command line for a Steward server; the
// work is done in server/internal/ctl.
package main

import (
	"context"
	"net/http"
	"os"
	"os/signal"
	"time"

	"github.com/steward-project/steward/server/internal/ctl"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := ctl.Run(ctx, os.Args[1:], ctl.Env{
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
		Getenv:     os.Getenv,
		HTTPClient: &http.Client{Timeout: time.Minute},
	})
	stop()
	os.Exit(code)
}
