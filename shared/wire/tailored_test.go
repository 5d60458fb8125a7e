package wire

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"reflect"
	"testing"
	"time"

	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/policysign"
)

func goldenTailoredPolicies() []policy.Policy {
	return []policy.Policy{{
		ID: "password-max-days", Title: "Passwords expire", Severity: policy.SeverityMedium,
		Parameters: map[string]policy.Parameter{"max_days": {Default: "365"}},
		Check:      policy.Check{LoginDefs: &policy.LoginDefsCheck{Key: "PASS_MAX_DAYS", ValueTest: policy.ValueTest{Max: "${max_days}"}}},
	}}
}

func goldenTailorings() []policy.LabelTailoring {
	return []policy.LabelTailoring{
		{Name: "prod", Selector: map[string]string{"env": "prod"}, Values: map[string]map[string]string{"password-max-days": {"max_days": "90"}}},
		{Name: "prod-web", Selector: map[string]string{"env": "prod", "role": "web"}, Values: map[string]map[string]string{"password-max-days": {"max_days": "60"}}},
	}
}

func goldenTailoredSignature(t *testing.T) *policysign.Signature {
	t.Helper()
	key := ed25519.NewKeyFromSeed(goldenSeed)
	signed := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	sig, err := policysign.SignSet(key, goldenTailoredPolicies(), goldenTailorings(), signed, signed.Add(30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// checkGoldenTailoredSet checks the statement of the golden tailored set
// against the tailorings' canonical encoding written out by hand, and
// that the same policies without their tailorings, or with one value
// changed, no longer verify.
func checkGoldenTailoredSet(t *testing.T, ps PolicySet, st policysign.Statement, pub ed25519.PublicKey) {
	t.Helper()
	canonical := `[{"name":"prod","selector":{"env":"prod"},"values":{"password-max-days":{"max_days":"90"}}},` +
		`{"name":"prod-web","selector":{"env":"prod","role":"web"},"values":{"password-max-days":{"max_days":"60"}}}]`
	sum := sha256.Sum256([]byte(canonical))
	if want := "sha256:" + hex.EncodeToString(sum[:]); st.TailoringsDigest != want || st.Tailorings != 2 {
		t.Errorf("statement tailorings %d %s, want 2 %s", st.Tailorings, st.TailoringsDigest, want)
	}
	keys := []ed25519.PublicKey{pub}
	if _, err := policysign.Verify(keys, ps.Signature, ps.Policies); err == nil {
		t.Error("the signed set verified without its tailorings")
	}
	weaker := goldenTailorings()
	weaker[1].Values["password-max-days"]["max_days"] = "99999"
	if _, err := policysign.VerifySet(keys, ps.Signature, ps.Policies, weaker); err == nil {
		t.Error("the signed set verified with a changed tailoring value")
	}
}

func TestLabelsRoundTrip(t *testing.T) {
	frame, err := Encode(TypeLabels, 0, Labels{Labels: map[string]string{"env": "prod"}})
	if err != nil {
		t.Fatal(err)
	}
	env, err := Decode(frame)
	if err != nil {
		t.Fatal(err)
	}
	var back Labels
	if err := DecodePayload(env, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Labels, map[string]string{"env": "prod"}) {
		t.Errorf("labels %v", back.Labels)
	}
}
