package ctl

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/steward-project/steward/server/internal/apitypes"
)

// checkPoll is how often `hosts check --wait` asks whether the agent has
// reported the evaluation.
const checkPoll = 500 * time.Millisecond

// hostsCheckWait asks a host's agent to evaluate its policies, waits
// until the agent reports a finished evaluation (the host's
// policies_checked_at moves past what it was), at most timeout, and then
// prints the host's results.
func hostsCheckWait(ctx context.Context, s *session, id string, timeout time.Duration) error {
	if timeout <= 0 {
		return &usageError{msg: fmt.Sprintf("--timeout %s: want a positive duration such as 30s or 2m", timeout)}
	}
	path := "/api/v1/hosts/" + url.PathEscape(id)
	before, err := hostChecked(ctx, s, path)
	if err != nil {
		return err
	}
	if _, err := s.client.Do(ctx, http.MethodPost, path+"/check", nil, nil); err != nil {
		return err
	}
	deadline := time.Now().Add(timeout)
	for {
		at, err := hostChecked(ctx, s, path)
		if err != nil {
			return err
		}
		if at.After(before) {
			if s.output != outputJSON {
				if err := printf(s.out, "Host %s's agent evaluated its policies at %s.\n\n", id, at.UTC().Format(time.RFC3339)); err != nil {
					return err
				}
			}
			return hostsPolicies(ctx, s, id, "")
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("host %s's agent did not report an evaluation within %s (last evaluation: %s); "+
				"an agent older than the server does not report evaluations that changed nothing",
				id, timeout, timeCell(before, "never"))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(checkPoll):
		}
	}
}

// hostChecked reads when the host's agent last finished an evaluation.
func hostChecked(ctx context.Context, s *session, path string) (time.Time, error) {
	raw, err := s.client.Get(ctx, path, nil)
	if err != nil {
		return time.Time{}, err
	}
	var h apitypes.Host
	if err := json.Unmarshal(raw, &h); err != nil {
		return time.Time{}, fmt.Errorf("decode host: %w", err)
	}
	return h.PoliciesCheckedAt, nil
}
