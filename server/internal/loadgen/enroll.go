package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// enrollPhase returns the fleet's identities: those the state file holds,
// then new enrollments for the rest, which it saves back to the file.
// Agents whose enrollment failed are left out.
func (r *runner) enrollPhase(ctx context.Context, rep *Report) ([]Identity, error) {
	st := &State{Server: r.cfg.Server}
	if r.cfg.StateFile != "" {
		loaded, err := LoadState(r.cfg.StateFile)
		if err != nil {
			return nil, err
		}
		if loaded != nil {
			st = loaded
			if st.Server != r.cfg.Server {
				rep.warn("state file %s was written for %s, not %s; its node keys are likely unknown here", r.cfg.StateFile, st.Server, r.cfg.Server)
			}
		}
	}
	reused := min(len(st.Agents), r.cfg.Agents)
	ids := append([]Identity(nil), st.Agents[:reused]...)
	rep.Enroll.Reused = reused
	missing := r.cfg.Agents - reused
	if missing == 0 {
		return ids, nil
	}
	if r.cfg.EnrollSecret == "" {
		return ids, fmt.Errorf("enroll: %d agents need enrolling and no enroll secret was given", missing)
	}
	hostnames := make([]string, missing)
	for i := range hostnames {
		// The run id keeps hostnames unique across runs that add agents
		// to one state file.
		hostnames[i] = fmt.Sprintf("loadgen-%s-%d", r.cfg.RunID, reused+i+1)
	}
	r.cfg.Logger.Info("enrolling agents", "agents", missing, "reused", reused, "concurrency", r.cfg.Concurrency)
	start := time.Now()
	fresh := r.enrollAll(ctx, hostnames)
	elapsed := time.Since(start)

	e := &rep.Enroll
	e.Attempted = int(r.st.enrollAttempts.Load())
	e.Enrolled = len(fresh)
	e.Failures = r.st.enrollFail.snapshot()
	e.DurationSeconds = elapsed.Seconds()
	if elapsed > 0 {
		e.PerSecond = float64(e.Enrolled) / elapsed.Seconds()
	}
	e.Latency = summarize(&r.st.enrollLat)
	r.cfg.Logger.Info("enroll phase done", "enrolled", e.Enrolled, "failed", sum(e.Failures), "seconds", round(elapsed.Seconds(), 3))

	ids = append(ids, fresh...)
	if r.cfg.StateFile != "" && len(fresh) > 0 {
		st.Agents = append(st.Agents[:len(st.Agents):len(st.Agents)], fresh...)
		if err := SaveState(r.cfg.StateFile, st); err != nil {
			return ids, err
		}
	}
	return ids, nil
}

// enrollAll enrolls every hostname with at most Concurrency requests in
// flight and returns the successful enrollments in hostname order.
func (r *runner) enrollAll(ctx context.Context, hostnames []string) []Identity {
	got := make([]Identity, len(hostnames))
	ok := make([]bool, len(hostnames))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(r.cfg.Concurrency, len(hostnames)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(hostnames) {
					return
				}
				id, err := r.enrollOne(ctx, hostnames[i])
				if err != nil {
					if ctx.Err() == nil {
						r.st.enrollFail.add(reason(err))
					}
					continue
				}
				got[i], ok[i] = id, true
			}
		}()
	}
	wg.Wait()
	var ids []Identity
	for i, id := range got {
		if ok[i] {
			ids = append(ids, id)
		}
	}
	return ids
}

// httpStatusError is a refused request; its reason is the status code.
type httpStatusError struct{ code int }

func (e httpStatusError) Error() string { return fmt.Sprintf("http %d", e.code) }

func (r *runner) enrollOne(ctx context.Context, hostname string) (Identity, error) {
	body, err := json.Marshal(map[string]string{"enroll_secret": r.cfg.EnrollSecret, "hostname": hostname})
	if err != nil {
		return Identity{}, fmt.Errorf("enroll: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.cfg.Server+"/agent/v1/enroll", bytes.NewReader(body))
	if err != nil {
		return Identity{}, fmt.Errorf("enroll: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	r.st.enrollAttempts.Add(1)
	resp, err := r.hc.Do(req)
	if err != nil {
		return Identity{}, fmt.Errorf("enroll: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	r.st.enrollLat.Record(time.Since(start))
	if err != nil {
		return Identity{}, fmt.Errorf("enroll: read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return Identity{}, httpStatusError{resp.StatusCode}
	}
	var out struct {
		HostID  int64  `json:"host_id"`
		NodeKey string `json:"node_key"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || out.NodeKey == "" {
		return Identity{}, errBadAnswer
	}
	return Identity{Hostname: hostname, HostID: out.HostID, NodeKey: out.NodeKey}, nil
}

var errBadAnswer = errors.New("malformed answer")
