package policysign

import (
	"crypto/ed25519"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/shared/policy"
)

func testTailorings() []policy.LabelTailoring {
	return []policy.LabelTailoring{
		{Name: "prod", Selector: map[string]string{"env": "prod"}, Values: map[string]map[string]string{"bash-recent": {"min": "5.2"}}},
		{Name: "all", Values: map[string]map[string]string{"bash-recent": {"min": "5.1"}}},
	}
}

// TestSignedTailorings: a signature over a set with tailorings covers
// them, whatever order they arrive in; adding, dropping or changing one
// makes the set fail with content_mismatch, so the server cannot weaken
// a signed policy with an unsigned override.
func TestSignedTailorings(t *testing.T) {
	pub, priv := mustKey(t)
	keys := []ed25519.PublicKey{pub}
	ts := testTailorings()
	sig, err := SignSet(priv, testSet(), ts, t0, t0.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	st, err := VerifySet(keys, sig, testSet(), ts)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if st.Tailorings != 2 || !strings.HasPrefix(st.TailoringsDigest, "sha256:") {
		t.Errorf("statement %+v", st)
	}
	reversed := slices.Clone(ts)
	slices.Reverse(reversed)
	if _, err := VerifySet(keys, sig, testSet(), reversed); err != nil {
		t.Errorf("order changed the digest: %v", err)
	}
	// An empty selector travels as {} or not at all: the same set.
	nilSel := testTailorings()
	nilSel[1].Selector = map[string]string{}
	if _, err := VerifySet(keys, sig, testSet(), nilSel); err != nil {
		t.Errorf("an empty selector map changed the digest: %v", err)
	}
	weaker := testTailorings()
	weaker[0].Values["bash-recent"]["min"] = "1.0"
	extra := append(testTailorings(), policy.LabelTailoring{Name: "zz", Values: map[string]map[string]string{"bash-recent": {"min": "1"}}})
	for name, bad := range map[string][]policy.LabelTailoring{"changed": weaker, "added": extra, "dropped": ts[:1], "none": nil} {
		_, err := VerifySet(keys, sig, testSet(), bad)
		var re *RefusalError
		if !errors.As(err, &re) || re.Code != CodeContentMismatch {
			t.Errorf("%s tailorings: %v, want content_mismatch", name, err)
		}
	}
	if _, err := CheckSet(keys, sig, testSet(), ts, Held{}, t0.Add(time.Minute)); err != nil {
		t.Errorf("check: %v", err)
	}
}

// TestStatementWithoutTailorings: a statement made before tailorings
// existed (no tailorings fields) still verifies a set without them, and
// refuses one that gained a tailoring.
func TestStatementWithoutTailorings(t *testing.T) {
	pub, priv := mustKey(t)
	keys := []ed25519.PublicKey{pub}
	sig := mustSign(t, priv, testSet(), t0, time.Hour)
	if strings.Contains(string(sig.Statement), "tailorings") {
		t.Errorf("a set without tailorings names them: %s", sig.Statement)
	}
	if _, err := Verify(keys, sig, testSet()); err != nil {
		t.Errorf("verify: %v", err)
	}
	if _, err := VerifySet(keys, sig, testSet(), nil); err != nil {
		t.Errorf("verify set without tailorings: %v", err)
	}
	var re *RefusalError
	if _, err := VerifySet(keys, sig, testSet(), testTailorings()); !errors.As(err, &re) || re.Code != CodeContentMismatch {
		t.Errorf("set that gained tailorings: %v, want content_mismatch", err)
	}
}

func TestParseStatementTailorings(t *testing.T) {
	digest := "sha256:" + strings.Repeat("a", 64)
	base := `{"format":"steward-policy-set/1","key_id":"k","serial":1,"signed_at":"2026-11-25T12:00:00Z","expires_at":"2026-12-25T12:00:00Z","policies":1,"digest":"` + digest + `"`
	cases := map[string]struct {
		raw string
		ok  bool
	}{
		"none":              {base + `}`, true},
		"both":              {base + `,"tailorings":2,"tailorings_digest":"` + digest + `"}`, true},
		"count only":        {base + `,"tailorings":2}`, false},
		"digest only":       {base + `,"tailorings_digest":"` + digest + `"}`, false},
		"negative":          {base + `,"tailorings":-1,"tailorings_digest":"` + digest + `"}`, false},
		"malformed digest":  {base + `,"tailorings":1,"tailorings_digest":"md5:00"}`, false},
		"unknown new field": {base + `,"tailoringz":1}`, false},
	}
	for name, tc := range cases {
		_, err := ParseStatement([]byte(tc.raw))
		if (err == nil) != tc.ok {
			t.Errorf("%s: err = %v, want ok %v", name, err, tc.ok)
		}
	}
}
