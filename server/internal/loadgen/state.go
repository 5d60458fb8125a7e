package loadgen

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Identity is one simulated agent's enrollment: what a real agent keeps in
// its state directory.
type Identity struct {
	Hostname string `json:"hostname"`
	HostID   int64  `json:"host_id"`
	NodeKey  string `json:"node_key"`
}

// State is the --state file: the fleet's node keys, so a later run
// reconnects the same hosts without enrolling them again.
type State struct {
	Version int        `json:"version"`
	Server  string     `json:"server"`
	RunID   string     `json:"run_id"`
	Agents  []Identity `json:"agents"`
}

const stateVersion = 1

// LoadState reads a state file; a missing file yields (nil, nil).
func LoadState(path string) (*State, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load state: %w", err)
	}
	var s State
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, fmt.Errorf("load state %s: %w", path, err)
	}
	if s.Version != stateVersion {
		return nil, fmt.Errorf("load state %s: version %d, want %d", path, s.Version, stateVersion)
	}
	return &s, nil
}

// SaveState writes s atomically with mode 0600: it holds node keys, which
// are credentials.
func SaveState(path string, s *State) error {
	s.Version = stateVersion
	b, err := json.MarshalIndent(s, "", " ")
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly after the rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("save state: %w", err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("save state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save state: %w", err)
	}
	return nil
}
