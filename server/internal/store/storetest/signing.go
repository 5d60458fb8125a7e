package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policysign"
)

var signingTests = []subtest{
	{"signed replace records the signature and deletes the rest", testSignedReplace},
	{"a signature always moves the revision", testSignatureMovesRevision},
	{"no signature before the first signed apply", testNoSignature},
	{"policy refusals per host", testPolicyRefusals},
}

// testSignature is an opaque signature: the store keeps the bytes as
// they are and does not check them.
func testSignature(n byte) *policysign.Signature {
	return &policysign.Signature{Statement: []byte(`{"format":"steward-policy-set/1","serial":` + string('0'+n) + `}`),
		Signature: []byte{n, 0, 0xff, 1}}
}

func testSignedReplace(t *testing.T, st store.Store) {
	ctx := t.Context()
	applyPolicies(t, st, at(0), spec("a", "true"), spec("b", "true"), spec("c", "true"))
	sig := testSignature(1)
	changedA := spec("a", "false")
	dry, err := st.ApplyPolicies(ctx, store.PolicyApply{Policies: []store.PolicySpec{changedA, spec("d", "true")},
		Actor: "ci", At: at(time.Minute), Replace: true, Signature: sig, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if dry.Revision != 2 || !slices.Equal(dry.Deleted, []string{"b", "c"}) {
		t.Errorf("dry run = %+v, want revision 2 deleting b and c", dry)
	}
	if _, err := st.PolicySignature(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a dry run recorded a signature: %v", err)
	}
	res, err := st.ApplyPolicies(ctx, store.PolicyApply{Policies: []store.PolicySpec{changedA, spec("d", "true")},
		Actor: "ci", At: at(time.Minute), Replace: true, Signature: sig})
	if err != nil {
		t.Fatal(err)
	}
	wantApply(t, res, 2, []string{"d"}, []string{"a"}, nil)
	if !slices.Equal(res.Deleted, []string{"b", "c"}) {
		t.Errorf("deleted %q, want [b c]", res.Deleted)
	}
	ps, err := st.ListPolicies(ctx, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range ps {
		ids = append(ids, p.Policy.ID)
	}
	if !slices.Equal(ids, []string{"a", "d"}) {
		t.Errorf("policies after the replace: %q, want [a d]", ids)
	}
	got, err := st.PolicySignature(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got.Revision != 2 || string(got.Signature.Statement) != string(sig.Statement) || string(got.Signature.Signature) != string(sig.Signature) {
		t.Errorf("signature = %+v, want revision 2 and the bytes as given", got)
	}
	audit := auditActions(t, st)
	if len(audit) == 0 || !strings.Contains(audit[0], `"deleted":["b","c"]`) {
		t.Errorf("audit of the replace: %q", audit)
	}
}

func testSignatureMovesRevision(t *testing.T, st store.Store) {
	ctx := t.Context()
	set := []store.PolicySpec{spec("a", "true")}
	for i, want := range []int64{1, 2} {
		res, err := st.ApplyPolicies(ctx, store.PolicyApply{Policies: set, Actor: "ci", At: at(0), Replace: true, Signature: testSignature(byte(i))})
		if err != nil {
			t.Fatal(err)
		}
		if res.Revision != want {
			t.Errorf("signed apply %d: revision %d, want %d", i, res.Revision, want)
		}
	}
	got, err := st.PolicySignature(ctx)
	if err != nil || got.Revision != 2 || got.Signature.Signature[0] != 1 {
		t.Errorf("signature after two signed applies: %+v, %v", got, err)
	}
	// An unsigned change moves the set past the signature, which stays
	// recorded for the revision it was made for.
	applyPolicies(t, st, at(time.Minute), spec("b", "true"))
	if got, err := st.PolicySignature(ctx); err != nil || got.Revision != 2 || revision(t, st) != 3 {
		t.Errorf("after an unsigned apply: signature %+v (%v), revision %d", got, err, revision(t, st))
	}
	// An unsigned replace that changes nothing keeps the revision.
	res, err := st.ApplyPolicies(ctx, store.PolicyApply{Policies: []store.PolicySpec{spec("a", "true"), spec("b", "true")}, Actor: "ci", At: at(0), Replace: true})
	if err != nil || res.Revision != 3 || len(res.Deleted) != 0 {
		t.Errorf("unsigned replace with nothing to change: %+v, %v", res, err)
	}
}

func testNoSignature(t *testing.T, st store.Store) {
	applyPolicies(t, st, at(0), spec("a", "true"))
	if _, err := st.PolicySignature(t.Context()); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("PolicySignature = %v, want ErrNotFound", err)
	}
}

func testPolicyRefusals(t *testing.T, st store.Store) {
	ctx := t.Context()
	host := enroll(t, st, "web-1")
	other := enroll(t, st, "web-2")
	if r, err := st.PolicyRefusal(ctx, host); err != nil || r != nil {
		t.Fatalf("refusal before any: %+v, %v", r, err)
	}
	first := store.PolicyRefusal{Revision: 3, Code: "unsigned", Reason: "no signature", At: t0}
	second := store.PolicyRefusal{Revision: 5, Code: "rollback", Reason: "älter als die gehaltene", At: at(time.Hour)}
	for _, want := range []store.PolicyRefusal{first, second} {
		if err := st.SetPolicyRefusal(ctx, host, &want); err != nil {
			t.Fatal(err)
		}
		got, err := st.PolicyRefusal(ctx, host)
		if err != nil || got == nil || *got != want {
			t.Fatalf("refusal = %+v, %v; want %+v", got, err, want)
		}
	}
	if r, err := st.PolicyRefusal(ctx, other); err != nil || r != nil {
		t.Errorf("the other host's refusal: %+v, %v", r, err)
	}
	// Read together: the refusing host with its refusal, the other with
	// none (present, nil), an unknown host absent.
	rs, err := st.PolicyRefusals(ctx, []int64{host, other, 1 << 40})
	if err != nil || len(rs) != 2 || rs[host] == nil || *rs[host] != second {
		t.Fatalf("refusals read together = %v, %v; want %d's %+v and %d's none", rs, err, host, second, other)
	}
	if r, ok := rs[other]; !ok || r != nil {
		t.Errorf("refusals read together: other host %v, %v; want present without one", r, ok)
	}
	if rs, err := st.PolicyRefusals(ctx, nil); err != nil || len(rs) != 0 {
		t.Errorf("refusals of no hosts = %v, %v", rs, err)
	}
	if err := st.SetPolicyRefusal(ctx, host, nil); err != nil {
		t.Fatal(err)
	}
	if r, err := st.PolicyRefusal(ctx, host); err != nil || r != nil {
		t.Errorf("refusal after clearing: %+v, %v", r, err)
	}
	if err := st.SetPolicyRefusal(ctx, host, nil); err != nil {
		t.Errorf("clearing twice: %v", err)
	}
	if _, err := st.PolicyRefusal(ctx, 1<<40); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown host read: %v, want ErrNotFound", err)
	}
	for _, r := range []*store.PolicyRefusal{&first, nil} {
		if err := st.SetPolicyRefusal(ctx, 1<<40, r); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("unknown host write %v: %v, want ErrNotFound", r, err)
		}
	}
}
