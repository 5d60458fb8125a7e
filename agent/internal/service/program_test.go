package service

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"
)

var quiet = slog.New(slog.DiscardHandler)

// Start returns while the function runs; Stop cancels it and returns
// once it has returned, with its error.
func TestProgramStartStop(t *testing.T) {
	started := make(chan struct{})
	finished := make(chan struct{})
	p := NewProgram(func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		close(finished) // what the agent does on the way out: flush, save
		return errors.New("saved and closed")
	}, time.Hour)
	if err := p.Start(nil); err != nil {
		t.Fatal(err)
	}
	<-started
	select {
	case <-p.Done():
		t.Fatal("function returned before Stop")
	default:
	}
	if p.Err() != nil || p.Stopping() {
		t.Fatal("error or stopping before Stop")
	}
	err := p.Stop(nil)
	select {
	case <-finished:
	default:
		t.Fatal("Stop returned before the function finished")
	}
	if err == nil || err.Error() != "saved and closed" || !p.Stopping() {
		t.Errorf("Stop = %v, stopping %v", err, p.Stopping())
	}
}

// A function that ignores cancellation does not hold Stop beyond its
// timeout.
func TestProgramStopTimeout(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	p := NewProgram(func(ctx context.Context) error {
		<-release
		return nil
	}, time.Millisecond)
	p.Start(nil)
	if err := p.Stop(nil); !errors.Is(err, ErrStopTimeout) {
		t.Errorf("Stop = %v, want ErrStopTimeout", err)
	}
}

func TestServeEndsWithContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	running := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- serveUntil(ctx, NewProgram(func(ctx context.Context) error {
			close(running)
			<-ctx.Done()
			return nil
		}, time.Hour), quiet)
	}()
	<-running
	cancel() // SIGTERM
	if err := <-done; err != nil {
		t.Errorf("Serve = %v", err)
	}
}

// When the agent stops on its own (a fatal configuration problem), Serve
// returns its error without waiting for a signal.
func TestServeEndsWithProgram(t *testing.T) {
	want := errors.New("no node key and no enroll secret")
	err := Serve(context.Background(), "steward-agent", slog.New(slog.NewTextHandler(io.Discard, nil)),
		func(context.Context) error { return want })
	if !errors.Is(err, want) {
		t.Errorf("Serve = %v, want %v", err, want)
	}
}
