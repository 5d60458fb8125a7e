package storetest

import (
	"errors"
	"sync"
	"testing"

	"github.com/steward-project/steward/server/internal/store"
)

var authTests = []subtest{
	{"bootstrap once", testBootstrapOnce},
	{"bootstrap concurrently", testBootstrapConcurrent},
	{"revoked credentials", testRevoked},
	{"no bootstrap after revoke", testNoBootstrapAfterRevoke},
}

var (
	admin  = store.Credential{Name: "admin", Hash: "a1a1"}
	secret = store.Credential{Name: "default", Hash: "e1e1"}
)

func admins(t *testing.T, st store.Store) CredentialAdmin {
	t.Helper()
	a, ok := st.(CredentialAdmin)
	if !ok {
		t.Fatalf("%T does not implement storetest.CredentialAdmin", st)
	}
	return a
}

func tokenValid(t *testing.T, st store.Store, hash string) bool {
	t.Helper()
	ok, err := st.AdminTokenValid(t.Context(), hash)
	if err != nil {
		t.Fatalf("admin token valid: %v", err)
	}
	return ok
}

func testBootstrapOnce(t *testing.T, st store.Store) {
	ctx := t.Context()
	if tokenValid(t, st, admin.Hash) {
		t.Fatal("token valid before bootstrap")
	}
	if _, err := st.EnrollSecretID(ctx, secret.Hash); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("enroll secret before bootstrap: %v, want ErrNotFound", err)
	}
	created, err := st.Bootstrap(ctx, admin, secret)
	if err != nil || !created {
		t.Fatalf("first bootstrap = %v, %v; want true", created, err)
	}
	created, err = st.Bootstrap(ctx, store.Credential{Name: "x", Hash: "a2a2"}, store.Credential{Name: "y", Hash: "e2e2"})
	if err != nil || created {
		t.Fatalf("second bootstrap = %v, %v; want false", created, err)
	}
	if !tokenValid(t, st, admin.Hash) || tokenValid(t, st, "a2a2") || tokenValid(t, st, "") {
		t.Error("only the first bootstrap's admin token must be valid")
	}
	id, err := st.EnrollSecretID(ctx, secret.Hash)
	if err != nil || id <= 0 {
		t.Fatalf("enroll secret id = %d, %v", id, err)
	}
	if _, err := st.EnrollSecretID(ctx, "e2e2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second bootstrap's enroll secret: %v, want ErrNotFound", err)
	}
	// Hosts record the secret they enrolled with.
	if _, err := st.EnrollHost(ctx, store.NewHost{NodeKeyHash: "k", Hostname: "h", EnrollSecretID: id, EnrolledAt: t0}); err != nil {
		t.Errorf("enroll with secret %d: %v", id, err)
	}
}

func testBootstrapConcurrent(t *testing.T, st store.Store) {
	const n = 4
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		created int
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := st.Bootstrap(t.Context(), store.Credential{Name: "admin", Hash: string(rune('a'+i)) + "aa"},
				store.Credential{Name: "enroll", Hash: string(rune('a'+i)) + "ee"})
			if err != nil {
				t.Errorf("bootstrap %d: %v", i, err)
			}
			if ok {
				mu.Lock()
				created++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if created != 1 {
		t.Errorf("%d concurrent bootstraps created credentials, want exactly 1", created)
	}
}

func testRevoked(t *testing.T, st store.Store) {
	ctx := t.Context()
	a := admins(t, st)
	if _, err := st.Bootstrap(ctx, admin, secret); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	tok, err := a.CreateAPIToken(ctx, store.Credential{Name: "ci", Hash: "t2"})
	if err != nil {
		t.Fatalf("create token: %v", err)
	}
	sec, err := a.CreateEnrollSecret(ctx, store.Credential{Name: "lab", Hash: "s2"})
	if err != nil {
		t.Fatalf("create secret: %v", err)
	}
	if !tokenValid(t, st, "t2") {
		t.Fatal("new token not valid")
	}
	if got, err := st.EnrollSecretID(ctx, "s2"); err != nil || got != sec {
		t.Fatalf("new secret id = %d, %v; want %d", got, err, sec)
	}
	for range 2 { // revoking twice is fine
		if err := a.RevokeAPIToken(ctx, tok); err != nil {
			t.Fatalf("revoke token: %v", err)
		}
		if err := a.RevokeEnrollSecret(ctx, sec); err != nil {
			t.Fatalf("revoke secret: %v", err)
		}
	}
	if tokenValid(t, st, "t2") {
		t.Error("revoked token still valid")
	}
	if !tokenValid(t, st, admin.Hash) {
		t.Error("revoking one token revoked another")
	}
	if _, err := st.EnrollSecretID(ctx, "s2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoked secret: %v, want ErrNotFound", err)
	}
	if err := a.RevokeAPIToken(ctx, tok+1000); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoke unknown token: %v, want ErrNotFound", err)
	}
	if err := a.RevokeEnrollSecret(ctx, sec+1000); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoke unknown secret: %v, want ErrNotFound", err)
	}
}

// testNoBootstrapAfterRevoke pins that any admin token row, even a revoked
// one, stops Bootstrap: an operator who revoked every token must not find
// a fresh one written to disk on the next start.
func testNoBootstrapAfterRevoke(t *testing.T, st store.Store) {
	ctx := t.Context()
	a := admins(t, st)
	id, err := a.CreateAPIToken(ctx, store.Credential{Name: "only", Hash: "t1"})
	if err != nil {
		t.Fatalf("create token: %v", err)
	}
	if err := a.RevokeAPIToken(ctx, id); err != nil {
		t.Fatalf("revoke token: %v", err)
	}
	created, err := st.Bootstrap(ctx, admin, secret)
	if err != nil || created {
		t.Errorf("bootstrap with a revoked token present = %v, %v; want false", created, err)
	}
	if tokenValid(t, st, admin.Hash) {
		t.Error("bootstrap token stored although bootstrap reported false")
	}
}
