package loadgen

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/wire"
)

// resultDetail is the evidence every simulated result carries: short, and
// plainly not from a real check.
const resultDetail = "simulated by steward-loadgen"

// policySetIDs is what a simulated agent keeps of a policy_set: the
// revision and the policy ids, nothing of the checks.
type policySetIDs struct {
	Revision uint64
	IDs      []string
}

// decodePolicySet reads a policy_set payload's revision and policy ids.
// policySetPrefix starts every policy_set frame the server sends: Go
// encodes the envelope's and the set's fields in declaration order.
const policySetPrefix = `{"type":"policy_set","payload":{"revision":`

// policySetRevision reads the revision of a policy_set frame from its
// first bytes, without decoding the policies. ok is false for any other
// frame, and for a policy set framed any other way, which the caller then
// decodes in full.
func policySetRevision(frame []byte) (revision uint64, ok bool) {
	rest, found := bytes.CutPrefix(frame, []byte(policySetPrefix))
	if !found {
		return 0, false
	}
	end := bytes.IndexByte(rest, ',')
	if end < 0 {
		return 0, false
	}
	rev, err := strconv.ParseUint(string(rest[:end]), 10, 64)
	if err != nil {
		return 0, false
	}
	return rev, true
}

func decodePolicySet(env wire.Envelope) (policySetIDs, error) {
	var set struct {
		Revision uint64 `json:"revision"`
		Policies []struct {
			ID string `json:"id"`
		} `json:"policies"`
	}
	if err := json.Unmarshal(env.Payload, &set); err != nil {
		return policySetIDs{}, err
	}
	out := policySetIDs{Revision: set.Revision, IDs: make([]string, 0, len(set.Policies))}
	for _, p := range set.Policies {
		if p.ID != "" {
			out.IDs = append(out.IDs, p.ID)
		}
	}
	return out, nil
}

// resultsFor is the results message an agent sends for set: one result
// with status for every policy of the set, evaluated against the set's
// revision as the agent does, and, in Removed, the policies it reported
// before that the set no longer has. It satisfies the gateway's checks: an
// agent status, a policy id, checked_at set, evidence far below the cap.
func resultsFor(set policySetIDs, status policy.Status, reported map[string]bool, now time.Time) wire.Results {
	msg := wire.Results{Revision: set.Revision}
	now = now.UTC()
	in := make(map[string]bool, len(set.IDs))
	for _, id := range set.IDs {
		in[id] = true
		msg.Results = append(msg.Results, policy.Result{
			PolicyID:  id,
			Status:    status,
			Evidence:  []policy.Evidence{{Check: "check", Passed: status == policy.StatusPass, Detail: resultDetail + ": " + string(status)}},
			CheckedAt: now,
			Duration:  time.Millisecond,
		})
	}
	for id := range reported {
		if !in[id] {
			msg.Removed = append(msg.Removed, id)
		}
	}
	slices.Sort(msg.Removed)
	return msg
}

// policyStatus is the status --results asks for.
func policyStatus(mode string) policy.Status {
	if mode == ResultsPass {
		return policy.StatusPass
	}
	return policy.StatusFail
}

// resultKey names one agent's result for one policy.
type resultKey struct {
	agent  int
	policy string
}

// resultsLog records when the agents sent their results, so that the
// alert receiver can match a notification to the result that raised it.
// Times are monotonic, since runner.base, like every other time the load
// generator keeps; the receiver stamps arrivals on the same clock.
type resultsLog struct {
	mu     sync.Mutex
	hosts  map[string]int              // hostname -> agent index
	sentAt map[resultKey]time.Duration // first send per agent and policy
	first  time.Duration
	last   time.Duration
	any    bool
}

// setHosts names the fleet's agents by hostname.
func (l *resultsLog) setHosts(ids []Identity) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.hosts = make(map[string]int, len(ids))
	for i, id := range ids {
		l.hosts[id.Hostname] = i
	}
}

// sent records one results message of agent idx, queued at at. Only the
// first send of a policy's result counts: with one status per run it is
// the one that changed the server's state; later copies (a policy set
// that grew) change nothing and raise nothing.
func (l *resultsLog) sent(idx int, msg *wire.Results, at time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.sentAt == nil {
		l.sentAt = make(map[resultKey]time.Duration)
	}
	for _, r := range msg.Results {
		k := resultKey{idx, r.PolicyID}
		if _, ok := l.sentAt[k]; !ok {
			l.sentAt[k] = at
		}
	}
	if !l.any || at < l.first {
		l.first = at
	}
	l.last = max(l.last, at)
	l.any = true
}

// lookup finds the result a notification about hostname and policyID is
// about, and when it was sent.
func (l *resultsLog) lookup(hostname, policyID string) (resultKey, time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	idx, ok := l.hosts[hostname]
	if !ok {
		return resultKey{}, 0, false
	}
	k := resultKey{idx, policyID}
	at, ok := l.sentAt[k]
	return k, at, ok
}

// span returns when the first and the last results were sent.
func (l *resultsLog) span() (first, last time.Duration, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.first, l.last, l.any
}

// without counts the results sent whose key has no entry in got.
func (l *resultsLog) without(got map[resultKey]bool) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var n int64
	for k := range l.sentAt {
		if !got[k] {
			n++
		}
	}
	return n
}
