package service

import (
	"log/slog"
	"os"

	"github.com/kardianos/service"
)

// underSCM reports whether the Windows service control manager started
// this process.
func underSCM() bool { return !service.Interactive() }

// serveSCM hands p to the service control manager through kardianos: the
// manager's start and stop requests become p.Start and p.Stop.
func serveSCM(name string, p *Program, log *slog.Logger) error {
	s, err := service.New(p, &service.Config{Name: name})
	if err != nil {
		return err
	}
	go func() {
		<-p.Done()
		if p.Stopping() {
			return
		}
		// The agent ended on its own (a configuration or state dir
		// problem). Exiting with a failure lets the manager's recovery
		// action, set at install, restart it later.
		log.Error("agent stopped on its own; exiting so that the service manager restarts it", "err", p.Err())
		os.Exit(1)
	}()
	return s.Run()
}
