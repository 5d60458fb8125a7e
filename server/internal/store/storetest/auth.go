package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/store"
)

var authTests = []subtest{
	{"bootstrap once", testBootstrapOnce},
	{"bootstrap concurrently", testBootstrapConcurrent},
	{"no bootstrap after revoke", testNoBootstrapAfterRevoke},
}

var (
	admin  = store.Credential{Name: "admin", Hash: "a1a1"}
	secret = store.Credential{Name: "default", Hash: "e1e1"}
)

func tokenValid(t *testing.T, st store.Store, hash string) bool {
	t.Helper()
	_, err := st.APITokenByHash(t.Context(), hash, time.Now())
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("api token by hash: %v", err)
	}
	return err == nil
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

// testNoBootstrapAfterRevoke pins that any admin token row, even a revoked
// one, stops Bootstrap: an operator who revoked every token must not find
// a fresh one written to disk on the next start.
func testNoBootstrapAfterRevoke(t *testing.T, st store.Store) {
	ctx := t.Context()
	if _, err := st.CreateAPIToken(ctx, store.NewAPIToken{Name: "only", Hash: "t1", Role: store.RoleAdmin}); err != nil {
		t.Fatalf("create token: %v", err)
	}
	if _, err := st.RevokeAPIToken(ctx, "only", "test", time.Time{}); err != nil {
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
