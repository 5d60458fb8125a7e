package service

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/kardianos/service"
	svc "github.com/steward-project/steward/shared/service"
)

// Limits of the log file: it is rotated when it would pass LogMaxBytes,
// and LogKeep rotated files are kept, so the logs take at most
// (LogKeep+1) x LogMaxBytes.
const (
	LogMaxBytes = 10 << 20
	LogKeep     = 4
)

// NewLogger returns the agent's logger and a function that closes what it
// opened. The logs go, in order of precedence:
//   - to file, when it is set (log_file, --log-file), rotated by size:
//     what service installs under SysV, OpenRC and launchd ask for;
//   - to the Windows event log when the service control manager started
//     this process;
//   - to stderr with journald priority prefixes when stderr is the
//     journal (JOURNAL_STREAM names it): systemd;
//   - to stderr as text otherwise: a terminal, or whatever the caller
//     made of stderr.
func NewLogger(name, file string, level slog.Level, stderr io.Writer) (*slog.Logger, func() error, error) {
	opts := &slog.HandlerOptions{Level: level}
	nothing := func() error { return nil }
	switch {
	case file != "":
		rf, err := OpenRotating(file, LogMaxBytes, LogKeep)
		if err != nil {
			return nil, nil, fmt.Errorf("log file: %w", err)
		}
		return slog.New(slog.NewTextHandler(rf, opts)), rf.Close, nil
	case underSCM():
		sink, err := systemLogSink(name)
		if err != nil {
			return nil, nil, fmt.Errorf("event log: %w", err)
		}
		return slog.New(newSinkHandler(sink, opts)), nothing, nil
	case isJournal(stderr):
		return slog.New(newSinkHandler(journalSink(stderr), opts)), nothing, nil
	default:
		return slog.New(slog.NewTextHandler(stderr, opts)), nothing, nil
	}
}

// sinkFunc takes one formatted log line and the level of its record.
type sinkFunc func(level slog.Level, line []byte) error

// sinkHandler formats records as slog's text handler does (without the
// time: the journal and the event log stamp entries themselves) and hands
// each line to a sink along with its level.
type sinkHandler struct {
	inner slog.Handler
	st    *sinkState
}

// sinkState is shared by a handler and those derived from it: the text
// handler writes a record in one Write, during which level is that
// record's level.
type sinkState struct {
	mu    sync.Mutex
	level slog.Level
	sink  sinkFunc
}

func (s *sinkState) Write(p []byte) (int, error) {
	if err := s.sink(s.level, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func newSinkHandler(sink sinkFunc, opts *slog.HandlerOptions) slog.Handler {
	st := &sinkState{sink: sink}
	o := *opts
	o.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}
	return &sinkHandler{inner: slog.NewTextHandler(st, &o), st: st}
}

func (h *sinkHandler) Enabled(ctx context.Context, l slog.Level) bool {
	return h.inner.Enabled(ctx, l)
}

func (h *sinkHandler) Handle(ctx context.Context, r slog.Record) error {
	h.st.mu.Lock()
	defer h.st.mu.Unlock()
	h.st.level = r.Level
	return h.inner.Handle(ctx, r)
}

func (h *sinkHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &sinkHandler{inner: h.inner.WithAttrs(attrs), st: h.st}
}

func (h *sinkHandler) WithGroup(name string) slog.Handler {
	return &sinkHandler{inner: h.inner.WithGroup(name), st: h.st}
}

// journalSink writes each line to w (stderr, which systemd connects to
// the journal) behind the "<N>" syslog priority prefix journald reads, so
// that `journalctl -p warning` finds warnings and errors.
func journalSink(w io.Writer) sinkFunc {
	return func(level slog.Level, line []byte) error {
		prio := "<6>" // info
		switch {
		case level >= slog.LevelError:
			prio = "<3>"
		case level >= slog.LevelWarn:
			prio = "<4>"
		case level < slog.LevelInfo:
			prio = "<7>"
		}
		_, err := w.Write(append([]byte(prio), line...))
		return err
	}
}

// eventLogger is the part of kardianos' Logger a sink needs.
type eventLogger interface {
	Error(v ...any) error
	Warning(v ...any) error
	Info(v ...any) error
}

// loggerSink sends each line to l at the matching severity.
func loggerSink(l eventLogger) sinkFunc {
	return func(level slog.Level, line []byte) error {
		msg := string(trimNewline(line))
		switch {
		case level >= slog.LevelError:
			return l.Error(msg)
		case level >= slog.LevelWarn:
			return l.Warning(msg)
		default:
			return l.Info(msg)
		}
	}
}

func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// systemLogSink opens kardianos' system logger for the service name: the
// Windows event log, with the event source that install registered.
func systemLogSink(name string) (sinkFunc, error) {
	s, err := service.New(svc.NoProgram{}, &service.Config{Name: name})
	if err != nil {
		return nil, err
	}
	l, err := s.SystemLogger(nil)
	if err != nil {
		return nil, err
	}
	return loggerSink(l), nil
}

// ReportStartError records an error that ends `run` before its logger
// exists (a bad configuration) where the service manager's operator will
// look: stderr is the journal under systemd and a file under SysV, OpenRC
// and launchd, but under the Windows service control manager nobody
// reads it, so there it also goes to the event log. Best effort.
func ReportStartError(name string, err error) {
	if !underSCM() {
		return
	}
	if sink, serr := systemLogSink(name); serr == nil {
		_ = sink(slog.LevelError, []byte("steward-agent run: "+err.Error()))
	}
}
