// Package auth creates and checks the server's secrets: admin API tokens,
// enroll secrets and agent node keys.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/steward-project/steward/server/internal/store"
)

// File names under the data directory written on first start.
const (
	AdminTokenFile   = "admin-token"
	EnrollSecretFile = "enroll-secret"
)

// NewSecret returns 32 random bytes as hex.
func NewSecret() string {
	var b [32]byte
	// crypto/rand.Read never returns an error on supported platforms.
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Hash returns the hex SHA-256 of a secret, the only form stored.
func Hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Bootstrapper is the part of the store that Bootstrap needs.
type Bootstrapper interface {
	Bootstrap(ctx context.Context, admin, enroll store.Credential) (bool, error)
}

// Bootstrap creates the first admin token and enroll secret when the store
// has none, writing them mode 0600 to dataDir. It reports whether it did.
// The files are written before the store commits, so a crash between the
// two leaves files that do not work rather than credentials nobody knows.
func Bootstrap(ctx context.Context, st Bootstrapper, dataDir string) (bool, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return false, fmt.Errorf("create data dir: %w", err)
	}
	admin, enroll := NewSecret(), NewSecret()
	adminPath := filepath.Join(dataDir, AdminTokenFile)
	enrollPath := filepath.Join(dataDir, EnrollSecretFile)
	tmpAdmin, tmpEnroll := adminPath+".new", enrollPath+".new"
	if err := writeSecret(tmpAdmin, admin); err != nil {
		return false, err
	}
	defer os.Remove(tmpAdmin)
	if err := writeSecret(tmpEnroll, enroll); err != nil {
		return false, err
	}
	defer os.Remove(tmpEnroll)
	created, err := st.Bootstrap(ctx,
		store.Credential{Name: "bootstrap", Hash: Hash(admin)},
		store.Credential{Name: "bootstrap", Hash: Hash(enroll)})
	if err != nil {
		return false, fmt.Errorf("bootstrap credentials: %w", err)
	}
	if !created {
		return false, nil
	}
	if err := os.Rename(tmpAdmin, adminPath); err != nil {
		return false, fmt.Errorf("install admin token: %w", err)
	}
	if err := os.Rename(tmpEnroll, enrollPath); err != nil {
		return false, fmt.Errorf("install enroll secret: %w", err)
	}
	return true, nil
}

func writeSecret(path, secret string) error {
	err := os.WriteFile(path, []byte(secret+"\n"), 0o600)
	if errors.Is(err, fs.ErrExist) {
		err = nil
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	// WriteFile keeps the mode of an existing file; make sure it is 0600.
	if err := os.Chmod(path, 0o600); err != nil {
		return fmt.Errorf("chmod %s: %w", filepath.Base(path), err)
	}
	return nil
}
