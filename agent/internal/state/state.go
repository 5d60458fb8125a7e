package state

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// File names inside the state directory.
const (
	NodeKeyFile         = "node_key"
	RejectedNodeKeyFile = "node_key.rejected"
	StateFile           = "state.json"
	CorruptStateFile    = "state.json.corrupt"
	PoliciesFile        = "policies.json"
	CorruptPoliciesFile = "policies.json.corrupt"
)

// ErrNoNodeKey means the agent has not enrolled yet (or its key was
// rejected and set aside).
var ErrNoNodeKey = errors.New("no node key")

// State is what state.json holds.
type State struct {
	// NextSeq is the sequence number the next data message will use.
	NextSeq uint64 `json:"next_seq"`
	HostID  int64  `json:"host_id,omitempty"`
	// AckedHashes maps section name to the hash the server acknowledged
	// last; the next inventory is diffed against it.
	AckedHashes map[string]string `json:"acked_hashes"`
	// AckedResults maps policy id to the result the server acknowledged
	// last, reduced to what decides whether to send it again.
	AckedResults map[string]AckedResult `json:"acked_results,omitempty"`
}

// AckedResult is an acknowledged policy result: its status and a hash of
// its evidence (see ResultHash).
type AckedResult struct {
	Status string `json:"status"`
	Hash   string `json:"hash"`
}

// Dir is an open state directory. Its methods are safe for concurrent use
// and every mutation is on disk before it returns.
type Dir struct {
	path string

	mu       sync.Mutex
	st       State
	policies PolicySet
}

// Open creates path (mode 0700) if needed and loads state.json. A missing
// file means a fresh agent; a corrupt one is renamed to state.json.corrupt,
// logged, and replaced by a fresh state (see the package comment). Open
// writes the state back at once so an unwritable directory is reported
// here rather than at the first message.
func Open(path string, logger *slog.Logger) (*Dir, error) {
	if path == "" {
		return nil, errors.New("open state dir: empty path")
	}
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, fmt.Errorf("open state dir: %w", err)
	}
	// MkdirAll leaves an existing directory's mode alone; the node key is a
	// credential, so the directory is tightened even if it pre-existed.
	if err := os.Chmod(path, 0o700); err != nil {
		return nil, fmt.Errorf("open state dir: %w", err)
	}
	d := &Dir{path: path, st: fresh()}
	if err := d.load(logger); err != nil {
		return nil, fmt.Errorf("open state dir: %w", err)
	}
	if err := d.loadPolicies(logger); err != nil {
		return nil, fmt.Errorf("open state dir: %w", err)
	}
	if err := d.save(); err != nil {
		return nil, fmt.Errorf("open state dir: %w", err)
	}
	return d, nil
}

func fresh() State {
	return State{NextSeq: 1, AckedHashes: map[string]string{}}
}

func (d *Dir) load(logger *slog.Logger) error {
	name := filepath.Join(d.path, StateFile)
	raw, err := os.ReadFile(name)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", StateFile, err)
	}
	var st State
	if err := json.Unmarshal(raw, &st); err != nil {
		aside := filepath.Join(d.path, CorruptStateFile)
		if rerr := os.Rename(name, aside); rerr != nil {
			return fmt.Errorf("set aside corrupt %s: %w", StateFile, rerr)
		}
		if logger != nil {
			logger.Warn("state file corrupt, starting fresh", "path", name, "moved_to", aside, "err", err)
		}
		return nil
	}
	if st.NextSeq == 0 {
		st.NextSeq = 1
	}
	if st.AckedHashes == nil {
		st.AckedHashes = map[string]string{}
	}
	d.st = st
	return nil
}

// save writes d.st; the caller holds d.mu (or owns d exclusively).
func (d *Dir) save() error {
	raw, err := json.Marshal(d.st)
	if err != nil {
		return fmt.Errorf("encode %s: %w", StateFile, err)
	}
	if err := writeFileAtomic(filepath.Join(d.path, StateFile), raw); err != nil {
		return fmt.Errorf("write %s: %w", StateFile, err)
	}
	return nil
}

// update applies fn to the state and persists it; on a write error the
// in-memory state is rolled back so memory never runs ahead of disk.
func (d *Dir) update(fn func(*State)) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	old := d.st
	old.AckedHashes = maps.Clone(d.st.AckedHashes)
	old.AckedResults = maps.Clone(d.st.AckedResults)
	fn(&d.st)
	if err := d.save(); err != nil {
		d.st = old
		return err
	}
	return nil
}

// Path returns the directory's path.
func (d *Dir) Path() string { return d.path }

// Save writes the current state again.
func (d *Dir) Save() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.save()
}

// Snapshot returns a copy of the current state.
func (d *Dir) Snapshot() State {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.st
	st.AckedHashes = maps.Clone(d.st.AckedHashes)
	st.AckedResults = maps.Clone(d.st.AckedResults)
	return st
}

// NextSeq reserves the next sequence number and persists the reservation
// before returning it, so a number is never used twice, even after a crash.
func (d *Dir) NextSeq() (uint64, error) {
	var seq uint64
	err := d.update(func(st *State) {
		seq = st.NextSeq
		st.NextSeq++
	})
	if err != nil {
		return 0, fmt.Errorf("reserve seq: %w", err)
	}
	return seq, nil
}

// ResumeAfter makes sure the next sequence number is above lastSeq, the
// highest number the server has applied; it reports whether it had to jump
// (the state dir was lost or restored from a backup).
func (d *Dir) ResumeAfter(lastSeq uint64) (bool, error) {
	jumped := false
	err := d.update(func(st *State) {
		if st.NextSeq <= lastSeq {
			st.NextSeq = lastSeq + 1
			jumped = true
		}
	})
	if err != nil {
		return false, fmt.Errorf("resume seq: %w", err)
	}
	return jumped, nil
}

// SetHostID records the host id the server knows this agent by.
func (d *Dir) SetHostID(id int64) error {
	if err := d.update(func(st *State) { st.HostID = id }); err != nil {
		return fmt.Errorf("set host id: %w", err)
	}
	return nil
}

// AckedHashes returns a copy of the last acknowledged section hashes.
func (d *Dir) AckedHashes() map[string]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return maps.Clone(d.st.AckedHashes)
}

// SetAckedHashes records the section hashes of an acknowledged inventory
// (nil or empty after a resync request).
func (d *Dir) SetAckedHashes(h map[string]string) error {
	c := maps.Clone(h)
	if c == nil {
		c = map[string]string{}
	}
	if err := d.update(func(st *State) { st.AckedHashes = c }); err != nil {
		return fmt.Errorf("set acked hashes: %w", err)
	}
	return nil
}

// NodeKey returns the stored node key, or ErrNoNodeKey when there is none.
// An empty file counts as none: it can only come from outside tampering,
// since the key is written atomically.
func (d *Dir) NodeKey() (string, error) {
	raw, err := os.ReadFile(filepath.Join(d.path, NodeKeyFile))
	if errors.Is(err, fs.ErrNotExist) {
		return "", ErrNoNodeKey
	}
	if err != nil {
		return "", fmt.Errorf("read node key: %w", err)
	}
	key := strings.TrimSpace(string(raw))
	if key == "" {
		return "", ErrNoNodeKey
	}
	return key, nil
}

// Enrolled stores a freshly issued node key (mode 0600) and starts the
// bookkeeping for the new host: its id, and no acknowledged hashes, since
// the server holds nothing for it yet. NextSeq is kept: numbers only grow.
func (d *Dir) Enrolled(hostID int64, nodeKey string) error {
	if err := checkNodeKey(nodeKey); err != nil {
		return fmt.Errorf("store node key: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(d.path, NodeKeyFile), []byte(nodeKey+"\n")); err != nil {
		return fmt.Errorf("store node key: %w", err)
	}
	err := d.update(func(st *State) {
		st.HostID = hostID
		st.AckedHashes = map[string]string{}
		st.AckedResults = nil
	})
	if err != nil {
		return fmt.Errorf("store node key: %w", err)
	}
	return nil
}

// RejectNodeKey moves the node key aside to node_key.rejected (replacing an
// older rejected key) so the agent enrolls again, while an admin can still
// see which key the server refused.
func (d *Dir) RejectNodeKey() error {
	from := filepath.Join(d.path, NodeKeyFile)
	to := filepath.Join(d.path, RejectedNodeKeyFile)
	if err := os.Rename(from, to); err != nil {
		return fmt.Errorf("set aside node key: %w", err)
	}
	if err := syncDir(d.path); err != nil {
		return fmt.Errorf("set aside node key: %w", err)
	}
	return nil
}

// checkNodeKey refuses a key that cannot be written to a file and read back
// into an Authorization header unchanged.
func checkNodeKey(key string) error {
	if key == "" {
		return errors.New("empty node key")
	}
	if _, err := hex.DecodeString(key); err != nil {
		return fmt.Errorf("node key is not hex: %w", err)
	}
	return nil
}
