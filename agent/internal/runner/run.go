package runner

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"path/filepath"
	"time"

	"github.com/steward-project/steward/agent/internal/check"
	"github.com/steward-project/steward/agent/internal/state"
	"github.com/steward-project/steward/agent/internal/transport"
	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/wire"
)

// hooks are the runner's clock, sleep and randomness, replaced in tests so
// that waits are observed instead of slept.
type hooks struct {
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
	rand  func() float64 // in [0, 1)
	// newEnv builds the Env policies are evaluated against; nil means
	// check.NewEnv.
	newEnv func(ctx context.Context, cfg check.Config, doc inventory.Document) policy.Env
	// evaluated, when set, is told after each evaluation whether it sent
	// a results message, so tests can see that nothing was sent.
	evaluated func(sent bool)
	// resultsBudget bounds the results JSON of one message; 0 means
	// defaultResultsBudget.
	resultsBudget int
}

func realHooks() hooks {
	return hooks{now: time.Now, sleep: sleepCtx, rand: rand.Float64, newEnv: check.NewEnv}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run keeps the agent connected until ctx ends; it then closes the
// connection with a close frame, persists the state and returns nil. It
// returns an error only for what retrying cannot fix: an invalid config, a
// state dir that cannot be written, no node key and no enroll secret.
// Network and server problems are logged and retried with backoff.
func Run(ctx context.Context, cfg Config) error {
	return run(ctx, cfg, realHooks())
}

func run(ctx context.Context, cfg Config, h hooks) error {
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	log := cfg.Logger.With("server", cfg.ServerURL)
	st, err := state.Open(cfg.StateDir, log)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	if err := checkStoredPolicies(st, cfg.PolicyKeys, log); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	client, err := transport.NewClient(cfg.ServerURL, cfg.HTTPClient)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	if h.newEnv == nil {
		h.newEnv = check.NewEnv
	}
	if h.resultsBudget == 0 {
		h.resultsBudget = defaultResultsBudget
	}
	a := &agent{cfg: cfg, st: st, client: client, log: log, h: h}
	if err := a.loop(ctx); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	return nil
}

// agent is one Run's long-lived parts.
type agent struct {
	cfg    Config
	st     *state.Dir
	client *transport.Client
	log    *slog.Logger
	h      hooks
	// health is reported in heartbeats; it outlives sessions so that
	// what happens between connections (drops, reconnects) is reported
	// by the next one.
	health health
	// refusal is the policy set refusal heartbeats report: set while the
	// newest set the server sent is refused (see policySet).
	refusal *wire.PolicyRefusal
	// labels are the host's labels as the server last told them (in the
	// welcome or a labels message), for picking the policy set's
	// tailorings; nil until a server that sends them has.
	labels map[string]string
}

// outcome is how one connection attempt ended.
type outcome struct {
	err        error         // why it ended; nil when ctx ended it
	fatal      error         // a local problem retrying cannot fix
	retryAfter time.Duration // the server's minimum wait, if it gave one
	welcomed   bool
	upFor      time.Duration // time from welcome to the end
	reenroll   bool          // the node key was set aside
}

func (a *agent) loop(ctx context.Context) error {
	failures := 0
	for {
		o := a.attempt(ctx)
		if o.fatal != nil {
			return o.fatal
		}
		if ctx.Err() != nil {
			return a.st.Save()
		}
		if o.welcomed && o.upFor >= stableAfter {
			failures = 0
		}
		failures++
		wait := max(backoff(failures, a.h.rand()), spreadRetry(o.retryAfter, a.h.rand()))
		a.logOutcome(o, wait)
		if a.h.sleep(ctx, wait) != nil {
			return a.st.Save()
		}
	}
}

// attempt enrolls if needed, dials and runs one session.
func (a *agent) attempt(ctx context.Context) outcome {
	key, err := a.st.NodeKey()
	if errors.Is(err, state.ErrNoNodeKey) {
		if a.cfg.EnrollSecret == "" {
			return outcome{fatal: fmt.Errorf("no node key in %s and no enroll secret configured", a.st.Path())}
		}
		key, err = a.enroll(ctx)
		if err != nil {
			var fe fatalError
			if errors.As(err, &fe) {
				return outcome{fatal: fe.err}
			}
			return outcome{err: err, retryAfter: transport.RetryAfter(err)}
		}
	} else if err != nil {
		return outcome{fatal: err}
	}

	conn, err := a.client.Dial(ctx, key, initialIdle)
	if err != nil {
		if ctx.Err() != nil {
			return outcome{}
		}
		o := outcome{err: err, retryAfter: transport.RetryAfter(err)}
		// Only set the key aside when a secret can replace it; otherwise
		// keep it, since an admin restoring the server's database would
		// make it valid again.
		if errors.Is(err, transport.ErrNodeKeyRejected) && a.cfg.EnrollSecret != "" {
			if err := a.st.RejectNodeKey(); err != nil {
				return outcome{fatal: err}
			}
			o.reenroll = true
		}
		return o
	}
	return newSession(a, conn).run(ctx)
}

// fatalError marks a local failure inside a step that otherwise returns
// retryable errors.
type fatalError struct{ err error }

func (e fatalError) Error() string { return e.err.Error() }

func (a *agent) enroll(ctx context.Context) (string, error) {
	enr, err := a.client.Enroll(ctx, a.cfg.EnrollSecret, a.cfg.Hostname, a.cfg.Labels)
	if err != nil {
		return "", err
	}
	if err := a.st.Enrolled(enr.HostID, enr.NodeKey); err != nil {
		return "", fatalError{err}
	}
	a.log.Info("enrolled", "host_id", enr.HostID)
	return enr.NodeKey, nil
}

// logOutcome says, once per failed attempt, what went wrong and when the
// next try is. The two refusals an admin must act on are logged as errors
// with a message that names the fix.
func (a *agent) logOutcome(o outcome, wait time.Duration) {
	var se *serverError
	switch {
	case errors.Is(o.err, transport.ErrSecretRefused):
		a.log.Error("enroll secret refused by server; check the secret or issue a new one, retrying",
			"err", o.err, "retry_in", wait)
	case o.reenroll:
		a.log.Error("node key refused by server (host deleted or server database reset); enrolling again",
			"err", o.err, "rejected_key", filepath.Join(a.st.Path(), state.RejectedNodeKeyFile), "retry_in", wait)
	case errors.Is(o.err, transport.ErrNodeKeyRejected):
		a.log.Error("node key refused by server and no enroll secret configured to enroll again; retrying",
			"err", o.err, "retry_in", wait)
	case errors.As(o.err, &se):
		a.log.Warn("server closed the connection", "code", se.Code, "message", se.Message, "retry_in", wait)
	case o.welcomed:
		a.log.Warn("disconnected", "err", o.err, "up_for", o.upFor.Round(time.Second), "retry_in", wait)
	default:
		a.log.Warn("connection failed", "err", o.err, "retry_in", wait)
	}
}
