package service

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/kardianos/service"
)

// StopTimeout bounds Stop. On cancellation the agent sends a close frame,
// waits at most a second for the server's answer and saves its state,
// which fits well within it; service managers wait longer than this
// before they kill (systemd 90 s, the SysV script 10 s, Windows 20 s).
const StopTimeout = 5 * time.Second

// ErrStopTimeout is Stop's error when the program has not returned within
// its timeout; the process exits anyway.
var ErrStopTimeout = errors.New("did not stop within the stop timeout")

// Program runs a long-lived function as a kardianos service program:
// Start returns at once with the function running in a goroutine, Stop
// cancels the function's context and waits for it to return, at most the
// timeout. Start must be called once, before Stop.
type Program struct {
	run      func(ctx context.Context) error
	timeout  time.Duration
	cancel   context.CancelFunc
	done     chan struct{}
	err      error // set before done is closed
	stopping atomic.Bool
}

// NewProgram returns a Program for run with the given Stop timeout.
func NewProgram(run func(ctx context.Context) error, timeout time.Duration) *Program {
	return &Program{run: run, timeout: timeout, done: make(chan struct{})}
}

// Start starts the function and returns.
func (p *Program) Start(service.Service) error {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	go func() {
		defer close(p.done)
		p.err = p.run(ctx)
	}()
	return nil
}

// Stop cancels the function and returns its error once it has returned,
// or ErrStopTimeout.
func (p *Program) Stop(service.Service) error {
	p.stopping.Store(true)
	if p.cancel == nil {
		return nil
	}
	p.cancel()
	t := time.NewTimer(p.timeout)
	defer t.Stop()
	select {
	case <-p.done:
		return p.err
	case <-t.C:
		return ErrStopTimeout
	}
}

// Done is closed when the function has returned.
func (p *Program) Done() <-chan struct{} { return p.done }

// Err is the function's error, once Done is closed.
func (p *Program) Err() error {
	select {
	case <-p.done:
		return p.err
	default:
		return nil
	}
}

// Stopping reports whether Stop has been called: when Done closes before
// that, the function ended on its own.
func (p *Program) Stopping() bool { return p.stopping.Load() }

// Serve runs run as this process's program until run returns, ctx ends
// (Ctrl-C in a terminal, SIGTERM from systemd, a SysV or OpenRC script or
// launchd) or, under the Windows service control manager, the manager
// stops the service. It returns run's error, or ErrStopTimeout.
func Serve(ctx context.Context, name string, log *slog.Logger, run func(ctx context.Context) error) error {
	p := NewProgram(run, StopTimeout)
	if underSCM() {
		return serveSCM(name, p, log)
	}
	return serveUntil(ctx, p, log)
}

// serveUntil is Serve outside the Windows service control manager: the
// same Start and Stop, with the end signalled by ctx.
func serveUntil(ctx context.Context, p *Program, log *slog.Logger) error {
	_ = p.Start(nil)
	select {
	case <-ctx.Done():
		log.Info("stopping")
	case <-p.Done():
	}
	err := p.Stop(nil)
	if err == nil {
		log.Info("stopped")
	}
	return err
}
