package auth

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/steward-project/steward/server/internal/store"
)

type fakeBootstrapper struct {
	admin, enroll store.Credential
	has           bool
}

func (f *fakeBootstrapper) Bootstrap(_ context.Context, admin, enroll store.Credential) (bool, error) {
	if f.has {
		return false, nil
	}
	f.admin, f.enroll, f.has = admin, enroll, true
	return true, nil
}

func TestBootstrapWritesFilesOnce(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	st := &fakeBootstrapper{}
	created, err := Bootstrap(context.Background(), st, dir)
	if err != nil || !created {
		t.Fatalf("first bootstrap: created=%v err=%v", created, err)
	}
	for name, cred := range map[string]store.Credential{AdminTokenFile: st.admin, EnrollSecretFile: st.enroll} {
		path := filepath.Join(dir, name)
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", name, fi.Mode().Perm())
		}
		b, _ := os.ReadFile(path)
		secret := strings.TrimSpace(string(b))
		if len(secret) != 64 {
			t.Errorf("%s: secret %q is not 32 bytes of hex", name, secret)
		}
		if Hash(secret) != cred.Hash {
			t.Errorf("%s: stored hash does not match the file's secret", name)
		}
	}
	first, _ := os.ReadFile(filepath.Join(dir, AdminTokenFile))
	created, err = Bootstrap(context.Background(), st, dir)
	if err != nil || created {
		t.Fatalf("second bootstrap: created=%v err=%v", created, err)
	}
	again, _ := os.ReadFile(filepath.Join(dir, AdminTokenFile))
	if string(first) != string(again) {
		t.Error("second bootstrap overwrote the admin token file")
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, "*.new"))
	if len(leftovers) != 0 {
		t.Errorf("temporary files left behind: %v", leftovers)
	}
}

func TestHashIsStable(t *testing.T) {
	if got := Hash("abc"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Errorf("Hash(abc) = %s", got)
	}
	if NewSecret() == NewSecret() {
		t.Error("two secrets are equal")
	}
}
