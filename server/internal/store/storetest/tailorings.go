package storetest

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
)

var tailoringTests = []subtest{
	{"put, get, list and delete move the policy revision", testTailoringLifecycle},
	{"putting the same tailoring again changes nothing", testTailoringUnchanged},
	{"a tailoring change leaves a signed set unsigned", testTailoringUnsigns},
	{"unknown names", testTailoringNotFound},
}

func testTailoring(name string, selector map[string]string, maxDays string) policy.LabelTailoring {
	return policy.LabelTailoring{Name: name, Selector: selector,
		Values: map[string]map[string]string{"a": {"max_days": maxDays}}}
}

func putTailoring(t *testing.T, st store.Store, tl policy.LabelTailoring, when time.Time) (int64, bool) {
	t.Helper()
	rev, created, err := st.PutTailoring(t.Context(), store.TailoringPut{Tailoring: tl, Actor: "admin", At: when})
	if err != nil {
		t.Fatalf("put tailoring %s: %v", tl.Name, err)
	}
	return rev, created
}

func testTailoringLifecycle(t *testing.T, st store.Store) {
	ctx := t.Context()
	applyPolicies(t, st, at(0), spec("a", "true"))
	prod := testTailoring("prod", map[string]string{"env": "prod"}, "90")
	rev, created := putTailoring(t, st, prod, at(time.Minute))
	if rev != 2 || !created {
		t.Errorf("first put: revision %d created %v, want 2 true", rev, created)
	}
	all := testTailoring("all", nil, "180")
	if rev, created = putTailoring(t, st, all, at(2*time.Minute)); rev != 3 || !created {
		t.Errorf("second put: revision %d created %v, want 3 true", rev, created)
	}
	prod.Values["a"]["max_days"] = "60"
	if rev, created = putTailoring(t, st, prod, at(3*time.Minute)); rev != 4 || created {
		t.Errorf("replacing put: revision %d created %v, want 4 false", rev, created)
	}
	got, err := st.GetTailoring(ctx, "prod")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.Tailoring, prod) || got.UpdatedRevision != 4 || !got.UpdatedAt.Equal(at(3*time.Minute)) || got.UpdatedBy != "admin" {
		t.Errorf("get = %+v, want %+v at revision 4 by admin", got, prod)
	}
	list, err := st.ListTailorings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Tailoring.Name != "all" || list[1].Tailoring.Name != "prod" {
		t.Fatalf("list = %+v, want all then prod", list)
	}
	if len(list[0].Tailoring.Selector) != 0 {
		t.Errorf("an empty selector came back as %v", list[0].Tailoring.Selector)
	}
	if rev, err := st.DeleteTailoring(ctx, "all", "admin", at(4*time.Minute)); err != nil || rev != 5 {
		t.Errorf("delete: revision %d, %v; want 5", rev, err)
	}
	if list, _ := st.ListTailorings(ctx); len(list) != 1 || revision(t, st) != 5 {
		t.Errorf("after delete: %+v at revision %d", list, revision(t, st))
	}
	audit := auditActions(t, st)
	if len(audit) < 4 || !strings.HasPrefix(audit[0], "admin "+store.AuditTailoringDeleted+" all ") ||
		!strings.HasPrefix(audit[1], "admin "+store.AuditTailoringApplied+" prod ") || !strings.Contains(audit[1], `"max_days":"60"`) {
		t.Errorf("audit = %q", audit)
	}
}

func testTailoringUnchanged(t *testing.T, st store.Store) {
	applyPolicies(t, st, at(0), spec("a", "true"))
	tl := testTailoring("prod", map[string]string{"env": "prod", "role": "web"}, "90")
	putTailoring(t, st, tl, at(time.Minute))
	// The same content in another map order is the same tailoring.
	again := policy.LabelTailoring{Name: "prod", Selector: map[string]string{"role": "web", "env": "prod"},
		Values: map[string]map[string]string{"a": {"max_days": "90"}}}
	if rev, created := putTailoring(t, st, again, at(2*time.Minute)); rev != 2 || created {
		t.Errorf("same put again: revision %d created %v, want 2 false", rev, created)
	}
	if n := len(auditActions(t, st)); n != 2 {
		t.Errorf("%d audit entries, want 2 (the apply and the first put)", n)
	}
}

func testTailoringUnsigns(t *testing.T, st store.Store) {
	ctx := t.Context()
	if _, err := st.ApplyPolicies(ctx, store.PolicyApply{Policies: []store.PolicySpec{spec("a", "true")}, Actor: "ci", At: at(0),
		Replace: true, Signature: testSignature(1)}); err != nil {
		t.Fatal(err)
	}
	putTailoring(t, st, testTailoring("prod", map[string]string{"env": "prod"}, "90"), at(time.Minute))
	sig, err := st.PolicySignature(ctx)
	if err != nil || sig.Revision != 1 || revision(t, st) != 2 {
		t.Errorf("signature %+v (%v) at revision %d: want the signature kept for revision 1 and the set at 2", sig, err, revision(t, st))
	}
}

func testTailoringNotFound(t *testing.T, st store.Store) {
	ctx := t.Context()
	if _, err := st.GetTailoring(ctx, "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("get unknown: %v, want ErrNotFound", err)
	}
	if _, err := st.DeleteTailoring(ctx, "nope", "admin", at(0)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete unknown: %v, want ErrNotFound", err)
	}
	if revision(t, st) != 0 {
		t.Errorf("a failed delete moved the revision to %d", revision(t, st))
	}
	if list, err := st.ListTailorings(ctx); err != nil || len(list) != 0 {
		t.Errorf("list of none: %+v, %v", list, err)
	}
}
