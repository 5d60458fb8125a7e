// Command steward-loadgen simulates a fleet of agents against a Steward
// server and reports what it measured; the work is done in
// server/internal/loadgen.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/steward-project/steward/server/internal/loadgen"
)

func main() {
	// The first Ctrl-C (or SIGTERM) ends the run early and still prints the
	// report; restoring the default handler then lets a second one kill a
	// run that is slow to close its connections.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop()
	}()
	code := loadgen.Main(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
