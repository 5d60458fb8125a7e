package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/policysign"
)

// bigFile is a policy file of n agent policies whose descriptions make it
// about n*size bytes, with ids prefix-0, prefix-1...
func bigFile(prefix string, n, size int) string {
	var b strings.Builder
	b.WriteString("policies:\n")
	for i := range n {
		fmt.Fprintf(&b, "  - id: %s-%d\n    title: padding\n    severity: low\n    description: %s\n    check:\n      file: {path: /etc/motd, exists: true}\n",
			prefix, i, strings.Repeat("x", size))
	}
	return b.String()
}

// TestApplyRefusesOversizedSet: each file is within the per-file limit,
// but the set they add up to passes what agents accept; the apply that
// would cross it is refused with 413 naming the total and the limit, and
// nothing of it is applied, with or without validate_only. Expr-only
// policies, which agents never receive, do not count.
func TestApplyRefusesOversizedSet(t *testing.T) {
	f := newFixture(t)
	const size = 100 << 10
	for _, prefix := range []string{"a", "b"} {
		if rec := f.apply(t, "", bigFile(prefix, 15, size)); rec.Code != http.StatusOK {
			t.Fatalf("file %s: %d %s", prefix, rec.Code, rec.Body)
		}
	}
	for _, q := range []string{"", "?validate_only=true"} {
		rec := f.apply(t, q, bigFile("c", 15, size))
		body := decode[apitypes.Error](t, rec, http.StatusRequestEntityTooLarge)
		if !strings.Contains(body.Error, "bytes in total") || !strings.Contains(body.Error, fmt.Sprint(policy.MaxSetBytes)) {
			t.Errorf("413 %q does not name the total and the limit %d", body.Error, policy.MaxSetBytes)
		}
	}
	list := decode[apitypes.PolicyList](t, f.get(t, "/api/v1/policies?limit=1000"), http.StatusOK)
	if list.Revision != 2 || len(list.Policies) != 30 {
		t.Errorf("after the refused apply: revision %d with %d policies, want 2 with 30", list.Revision, len(list.Policies))
	}
	// Replacing the set with the big file alone fits.
	raw, _ := json.Marshal(mustParse(t, bigFile("c", 15, size)))
	if rec := f.replace(t, "", apitypes.PolicySetReplace{Policies: raw}); rec.Code != http.StatusOK {
		t.Errorf("replace with a set that fits: %d %s", rec.Code, rec.Body)
	}
	// Expr-only padding does not count against agents' limit.
	expr := strings.ReplaceAll(bigFile("e", 15, size), "file: {path: /etc/motd, exists: true}", `expr: "true"`)
	if rec := f.apply(t, "", expr); rec.Code != http.StatusOK {
		t.Errorf("expr-only policies: %d %s", rec.Code, rec.Body)
	}
}

func mustParse(t *testing.T, file string) []policy.Policy {
	t.Helper()
	ps, err := policy.Parse("test.yaml", []byte(file))
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func (f *fixture) replace(t *testing.T, query string, in apitypes.PolicySetReplace) *httptest.ResponseRecorder {
	t.Helper()
	body, _ := json.Marshal(in)
	return f.send(t, http.MethodPut, "/api/v1/policies"+query, "Bearer "+token, "application/json", string(body))
}

// TestReplacePoliciesSigned: a signed replace makes exactly the given set,
// records the signature for the new revision (shown in the list), and is
// refused when the statement does not describe the policies; a later
// apply leaves the set unsigned.
func TestReplacePoliciesSigned(t *testing.T) {
	f := newFixture(t)
	if rec := f.apply(t, "", twoPolicies); rec.Code != http.StatusOK {
		t.Fatal(rec.Body)
	}
	_, key, _ := policysign.GenerateKey()
	ps := mustParse(t, strings.Replace(twoPolicies, "id: os-debian", "id: os-debian-2", 1))
	sig, err := policysign.Sign(key, policysign.AgentPolicies(ps), now, now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(ps)

	// A statement for other policies is refused before anything is stored.
	other, _ := policysign.Sign(key, policysign.AgentPolicies(ps[:1]), now, now.Add(time.Hour))
	rec := f.replace(t, "", apitypes.PolicySetReplace{Policies: raw, Signature: other})
	if body := decode[apitypes.Error](t, rec, http.StatusBadRequest); !strings.Contains(body.Error, policysign.CodeContentMismatch) {
		t.Errorf("mismatched statement: %q", body.Error)
	}

	res := decode[apitypes.ApplyResult](t, f.replace(t, "", apitypes.PolicySetReplace{Policies: raw, Signature: sig}), http.StatusOK)
	if res.Revision != 2 || !slices.Equal(res.Added, []string{"os-debian-2"}) || !slices.Equal(res.Deleted, []string{"os-debian"}) ||
		!slices.Equal(res.Unchanged, []string{"ssh-root"}) {
		t.Errorf("signed replace = %+v", res)
	}
	list := decode[apitypes.PolicyList](t, f.get(t, "/api/v1/policies"), http.StatusOK)
	st, _ := policysign.ParseStatement(sig.Statement)
	if list.Signature == nil || list.Signature.Serial != st.Serial || list.Signature.KeyID != st.KeyID {
		t.Errorf("list signature %+v, want serial %d key %s", list.Signature, st.Serial, st.KeyID)
	}
	// The same signed set again still makes a revision: agents need it.
	res = decode[apitypes.ApplyResult](t, f.replace(t, "", apitypes.PolicySetReplace{Policies: raw, Signature: sig}), http.StatusOK)
	if res.Revision != 3 || len(res.Applied) != 0 {
		t.Errorf("signed replace again = %+v, want revision 3 with nothing applied", res)
	}
	if got := f.policiesChanged(); !slices.Equal(got, []int64{1, 2, 3}) {
		t.Errorf("PoliciesChanged %v, want [1 2 3]", got)
	}
	// An unsigned change leaves the set unsigned.
	if rec := f.apply(t, "", strings.Replace(twoPolicies, "severity: high", "severity: critical", 1)); rec.Code != http.StatusOK {
		t.Fatal(rec.Body)
	}
	if list := decode[apitypes.PolicyList](t, f.get(t, "/api/v1/policies"), http.StatusOK); list.Signature != nil {
		t.Errorf("after an unsigned apply the list still shows %+v", list.Signature)
	}
	// Malformed bodies.
	for _, body := range []string{`{}`, `{"policies":[],"extra":1}`, `not json`} {
		rec := f.send(t, http.MethodPut, "/api/v1/policies", "Bearer "+token, "application/json", body)
		if rec.Code != http.StatusBadRequest {
			t.Errorf("PUT %s: %d, want 400", body, rec.Code)
		}
	}
}

// TestHostShowsPolicyRefusal: a host's current refusal is in GET
// /hosts/{id}, and absent once cleared.
func TestHostShowsPolicyRefusal(t *testing.T) {
	f := newFixture(t)
	f.store.AddHost(store.Host{ID: 7, Hostname: "web-1", EnrolledAt: now})
	if h := decode[apitypes.Host](t, f.get(t, "/api/v1/hosts/7"), http.StatusOK); h.PolicyRefusal != nil {
		t.Fatalf("refusal %+v before any", h.PolicyRefusal)
	}
	ref := &store.PolicyRefusal{Revision: 4, Code: policysign.CodeRollback, Reason: "signed before the held set", At: now}
	if err := f.store.SetPolicyRefusal(context.Background(), 7, ref); err != nil {
		t.Fatal(err)
	}
	h := decode[apitypes.Host](t, f.get(t, "/api/v1/hosts/7"), http.StatusOK)
	if r := h.PolicyRefusal; r == nil || r.Revision != 4 || r.Code != policysign.CodeRollback || !r.At.Equal(now) {
		t.Errorf("refusal %+v", h.PolicyRefusal)
	}
	f.store.SetPolicyRefusal(context.Background(), 7, nil)
	if h := decode[apitypes.Host](t, f.get(t, "/api/v1/hosts/7"), http.StatusOK); h.PolicyRefusal != nil {
		t.Errorf("refusal %+v after clearing", h.PolicyRefusal)
	}
}
