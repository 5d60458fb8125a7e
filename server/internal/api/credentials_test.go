package api_test

import (
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/api"
	"github.com/steward-project/steward/server/internal/api/apitest"
	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/server/internal/store"
)

// lifecycleFixture is an API over a fake store with a clock the test
// moves and a record of the hosts reported gone.
type lifecycleFixture struct {
	*fixture
	mu    sync.Mutex
	clock time.Time
	gone  []int64
}

func newLifecycleFixture(t *testing.T) *lifecycleFixture {
	t.Helper()
	st := apitest.NewStore()
	st.AddNamedToken(token, "ops-token")
	f := &lifecycleFixture{fixture: &fixture{store: st}, clock: now}
	f.handler = api.New(api.Config{
		Store:  st,
		Logger: slog.New(slog.DiscardHandler),
		Now: func() time.Time {
			f.mu.Lock()
			defer f.mu.Unlock()
			return f.clock
		},
		HostGone: func(id int64) {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.gone = append(f.gone, id)
		},
	})
	return f
}

func (f *lifecycleFixture) advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.clock = f.clock.Add(d)
}

func (f *lifecycleFixture) goneHosts() []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.gone)
}

func TestTokenLifecycle(t *testing.T) {
	f := newLifecycleFixture(t)
	rec := f.send(t, http.MethodPost, "/api/v1/tokens", "Bearer "+token, "application/json",
		`{"name":"grafana","role":"viewer","expires_at":"`+now.Add(48*time.Hour).Format(time.RFC3339)+`"}`)
	created := decode[apitypes.NewTokenResult](t, rec, http.StatusCreated)
	if len(created.Token) < 32 || created.Detail.Name != "grafana" || created.Detail.Role != store.RoleViewer ||
		!created.Detail.ExpiresAt.Equal(now.Add(48*time.Hour)) {
		t.Fatalf("created %+v", created)
	}
	viewer := created.Token

	// A viewer reads, and is refused every change and the credentials.
	if rec := f.do(t, http.MethodGet, "/api/v1/hosts", "Bearer "+viewer); rec.Code != http.StatusOK {
		t.Errorf("viewer GET /hosts: %d %s", rec.Code, rec.Body)
	}
	for _, c := range []struct{ method, path string }{
		{http.MethodPost, "/api/v1/policies"},
		{http.MethodDelete, "/api/v1/hosts/1"},
		{http.MethodPost, "/api/v1/hosts/1/retire"},
		{http.MethodGet, "/api/v1/tokens"},
		{http.MethodPost, "/api/v1/tokens"},
		{http.MethodGet, "/api/v1/enroll-secrets"},
	} {
		wantError(t, f.do(t, c.method, c.path, "Bearer "+viewer), http.StatusForbidden, "viewer")
	}

	// Bad requests.
	for body, want := range map[string]string{
		`{"name":"grafana","role":"viewer"}`:                        "already named",
		`{"name":"x","role":"root"}`:                                "role",
		`{"name":"bad name\u001b[31m"}`:                             "name",
		`{"name":"old","expires_at":"2020-01-01T00:00:00Z"}`:        "not in the future",
		`{"name":"` + strings.Repeat("n", 65) + `","role":"admin"}`: "name",
	} {
		rec := f.send(t, http.MethodPost, "/api/v1/tokens", "Bearer "+token, "application/json", body)
		status := http.StatusBadRequest
		if want == "already named" {
			status = http.StatusConflict
		}
		wantError(t, rec, status, want)
	}

	// The list shows names, roles and times, never a secret or a hash.
	rec = f.get(t, "/api/v1/tokens")
	raw := rec.Body.String()
	list := decode[apitypes.TokenList](t, rec, http.StatusOK)
	var names []string
	for _, tok := range list.Tokens {
		names = append(names, tok.Name+"/"+tok.Role)
	}
	if want := []string{"grafana/viewer", "ops-token/admin"}; !slices.Equal(names, want) {
		t.Errorf("tokens %q, want %q", names, want)
	}
	if strings.Contains(raw, viewer) || strings.Contains(raw, "hash") {
		t.Errorf("token list reveals a secret: %s", raw)
	}
	for _, tok := range list.Tokens {
		if tok.Name == "grafana" && !tok.LastUsedAt.Equal(now) {
			t.Errorf("grafana last used %v, want %v (it read /hosts)", tok.LastUsedAt, now)
		}
	}

	// Expiry: refused from the instant it passes.
	f.advance(48 * time.Hour)
	wantError(t, f.do(t, http.MethodGet, "/api/v1/hosts", "Bearer "+viewer), http.StatusUnauthorized, "expired")

	// Revoke by name; the revoked token no longer works, a second revoke
	// finds nothing, and the audit names who did it.
	rec = f.send(t, http.MethodPost, "/api/v1/tokens", "Bearer "+token, "application/json", `{"name":"ci"}`)
	ci := decode[apitypes.NewTokenResult](t, rec, http.StatusCreated)
	if ci.Detail.Role != store.RoleAdmin {
		t.Errorf("default role %q, want admin", ci.Detail.Role)
	}
	if rec := f.do(t, http.MethodGet, "/api/v1/tokens", "Bearer "+ci.Token); rec.Code != http.StatusOK {
		t.Fatalf("new admin token: %d", rec.Code)
	}
	revoked := decode[apitypes.Token](t, f.do(t, http.MethodDelete, "/api/v1/tokens/ci", "Bearer "+token), http.StatusOK)
	if revoked.RevokedAt.IsZero() {
		t.Errorf("revoked %+v", revoked)
	}
	wantError(t, f.do(t, http.MethodGet, "/api/v1/hosts", "Bearer "+ci.Token), http.StatusUnauthorized, "revoked")
	wantError(t, f.do(t, http.MethodDelete, "/api/v1/tokens/ci", "Bearer "+token), http.StatusNotFound, "no live token")
	var actions []string
	for _, e := range f.store.CredentialAudit() {
		actions = append(actions, e.Action+" "+e.Subject+" by "+e.Actor)
	}
	want := []string{"token_created grafana by ops-token", "token_created ci by ops-token", "token_revoked ci by ops-token"}
	if !slices.Equal(actions, want) {
		t.Errorf("audit %q, want %q", actions, want)
	}
}

func TestEnrollSecretLifecycle(t *testing.T) {
	f := newLifecycleFixture(t)
	rec := f.send(t, http.MethodPost, "/api/v1/enroll-secrets", "Bearer "+token, "application/json", `{"name":"lab","max_uses":5}`)
	created := decode[apitypes.NewEnrollSecretResult](t, rec, http.StatusCreated)
	if len(created.Secret) < 32 || created.Detail.Name != "lab" || created.Detail.MaxUses != 5 {
		t.Fatalf("created %+v", created)
	}
	wantError(t, f.send(t, http.MethodPost, "/api/v1/enroll-secrets", "Bearer "+token, "application/json", `{"name":"lab"}`),
		http.StatusConflict, "already named")
	wantError(t, f.send(t, http.MethodPost, "/api/v1/enroll-secrets", "Bearer "+token, "application/json", `{"name":"x","max_uses":-1}`),
		http.StatusBadRequest, "max_uses")
	rec = f.get(t, "/api/v1/enroll-secrets")
	if strings.Contains(rec.Body.String(), created.Secret) {
		t.Errorf("list reveals the secret: %s", rec.Body)
	}
	list := decode[apitypes.EnrollSecretList](t, rec, http.StatusOK)
	if len(list.Secrets) != 1 || list.Secrets[0].Name != "lab" {
		t.Errorf("secrets %+v", list)
	}
	decode[apitypes.EnrollSecret](t, f.do(t, http.MethodDelete, "/api/v1/enroll-secrets/lab", "Bearer "+token), http.StatusOK)
	if list := decode[apitypes.EnrollSecretList](t, f.get(t, "/api/v1/enroll-secrets"), http.StatusOK); len(list.Secrets) != 0 {
		t.Errorf("live secrets after revoke: %+v", list)
	}
	if list := decode[apitypes.EnrollSecretList](t, f.get(t, "/api/v1/enroll-secrets?revoked=true"), http.StatusOK); len(list.Secrets) != 1 || list.Secrets[0].RevokedAt.IsZero() {
		t.Errorf("with revoked: %+v", list)
	}
	wantError(t, f.do(t, http.MethodDelete, "/api/v1/enroll-secrets/lab", "Bearer "+token), http.StatusNotFound, "no live enroll secret")
}

func TestRetireAndDeleteHost(t *testing.T) {
	f := newLifecycleFixture(t)
	f.store.AddHost(store.Host{ID: 7, Hostname: "old-laptop", EnrolledAt: now.Add(-time.Hour)})
	f.store.AddHost(store.Host{ID: 8, Hostname: "web-1", EnrolledAt: now.Add(-time.Hour)})

	h := decode[apitypes.Host](t, f.send(t, http.MethodPost, "/api/v1/hosts/7/retire", "Bearer "+token, "", ""), http.StatusOK)
	if h.ID != 7 || !h.RetiredAt.Equal(now) {
		t.Errorf("retired %+v", h)
	}
	if got := f.goneHosts(); !slices.Equal(got, []int64{7}) {
		t.Errorf("HostGone calls %v, want [7]: the gateway must close its socket", got)
	}
	wantError(t, f.send(t, http.MethodPost, "/api/v1/hosts/7/retire", "Bearer "+token, "", ""), http.StatusConflict, "already retired")
	wantError(t, f.send(t, http.MethodPost, "/api/v1/hosts/99/retire", "Bearer "+token, "", ""), http.StatusNotFound, "not found")

	listed := decode[apitypes.HostList](t, f.get(t, "/api/v1/hosts"), http.StatusOK)
	if len(listed.Hosts) != 1 || listed.Hosts[0].ID != 8 {
		t.Errorf("hosts %+v, want only web-1", listed.Hosts)
	}
	listed = decode[apitypes.HostList](t, f.get(t, "/api/v1/hosts?retired=true"), http.StatusOK)
	if len(listed.Hosts) != 2 {
		t.Errorf("with retired: %+v", listed.Hosts)
	}
	shown := decode[apitypes.Host](t, f.get(t, "/api/v1/hosts/7"), http.StatusOK)
	if shown.RetiredAt.IsZero() {
		t.Errorf("GET retired host %+v: retired_at missing", shown)
	}

	if del := decode[apitypes.HostDeleted](t, f.do(t, http.MethodDelete, "/api/v1/hosts/8", "Bearer "+token), http.StatusOK); del.ID != 8 || !del.Deleted {
		t.Errorf("delete answered %+v", del)
	}
	if got := f.goneHosts(); !slices.Equal(got, []int64{7, 8}) {
		t.Errorf("HostGone calls %v, want [7 8]", got)
	}
	wantError(t, f.get(t, "/api/v1/hosts/8"), http.StatusNotFound, "not found")
	wantError(t, f.do(t, http.MethodDelete, "/api/v1/hosts/8", "Bearer "+token), http.StatusNotFound, "not found")
	var actions []string
	for _, e := range f.store.CredentialAudit() {
		actions = append(actions, e.Action+" "+e.Subject+" by "+e.Actor)
	}
	if want := []string{"host_retired old-laptop by ops-token", "host_deleted web-1 by ops-token"}; !slices.Equal(actions, want) {
		t.Errorf("audit %q, want %q", actions, want)
	}
}
