package state

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/policysign"
)

// PolicySet is what policies.json holds: the last policy set the server
// sent, so that a restarted agent evaluates it and names its revision in
// hello without waiting for the server to send it again.
//
// Signature is the signature the set came with, if any: an agent that
// pins a policy key checks it again when it starts. SignedSerial and
// SignedDigest are those of the newest signed set the agent accepted; they
// are carried over when a set without a signature replaces it (no key
// pinned then), so that pinning a key later still refuses older sets.
type PolicySet struct {
	Revision uint64          `json:"revision"`
	Policies []policy.Policy `json:"policies"`
	// Tailorings are the server-side tailorings of the set, in the order
	// they apply; the agent picks the ones its host's labels select.
	Tailorings   []policy.LabelTailoring `json:"tailorings,omitempty"`
	Signature    *policysign.Signature   `json:"signature,omitempty"`
	SignedSerial uint64                  `json:"signed_serial,omitempty"`
	SignedDigest string                  `json:"signed_digest,omitempty"`
}

// loadPolicies reads policies.json. A missing file means no set (revision
// 0); a file that does not decode or validate is set aside and logged, and
// the agent starts with no set, so the server sends its own again.
func (d *Dir) loadPolicies(logger *slog.Logger) error {
	name := filepath.Join(d.path, PoliciesFile)
	raw, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", PoliciesFile, err)
	}
	var ps PolicySet
	err = json.Unmarshal(raw, &ps)
	if err == nil {
		err = policy.Validate(PoliciesFile, ps.Policies)
	}
	if err != nil {
		aside := filepath.Join(d.path, CorruptPoliciesFile)
		if rerr := os.Rename(name, aside); rerr != nil {
			return fmt.Errorf("set aside corrupt %s: %w", PoliciesFile, rerr)
		}
		if logger != nil {
			logger.Warn("policy file corrupt, starting without policies", "path", name, "moved_to", aside, "err", err)
		}
		return nil
	}
	d.policies = ps
	return nil
}

// Policies returns the stored policy set (revision 0 and no policies when
// the server has sent none). The slice is shared: callers must not modify
// it.
func (d *Dir) Policies() PolicySet {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.policies
}

// SetPolicies replaces the stored policy set; the caller has validated it.
func (d *Dir) SetPolicies(ps PolicySet) error {
	ps.Policies = slices.Clone(ps.Policies)
	raw, err := json.Marshal(ps)
	if err != nil {
		return fmt.Errorf("store policies: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := writeFileAtomic(filepath.Join(d.path, PoliciesFile), raw); err != nil {
		return fmt.Errorf("store policies: %w", err)
	}
	d.policies = ps
	return nil
}

// AckedResults returns a copy of the last acknowledged policy results.
func (d *Dir) AckedResults() map[string]AckedResult {
	d.mu.Lock()
	defer d.mu.Unlock()
	return maps.Clone(d.st.AckedResults)
}

// SetAckedResults records the policy results the server acknowledged: the
// whole map, which replaces the previous one.
func (d *Dir) SetAckedResults(m map[string]AckedResult) error {
	c := maps.Clone(m)
	if err := d.update(func(st *State) { st.AckedResults = c }); err != nil {
		return fmt.Errorf("set acked results: %w", err)
	}
	return nil
}

// Ack reduces r to what decides whether it must be sent again: its status
// and a hash over its error, evidence and parameter values. Time and
// duration are left out, since they change on every evaluation. A result
// without parameters hashes as it did before they were part of it, so an
// upgraded agent does not send every result again.
func Ack(r policy.Result) AckedResult {
	raw, _ := json.Marshal(struct {
		Error      string            `json:"error"`
		Evidence   []policy.Evidence `json:"evidence"`
		Parameters map[string]string `json:"parameters,omitempty"`
	}{r.Error, r.Evidence, r.Parameters}) // plain strings and bools: cannot fail
	sum := sha256.Sum256(raw)
	return AckedResult{Status: string(r.Status), Hash: hex.EncodeToString(sum[:])}
}
