package wire

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/policysign"
)

// goldenSeed makes the golden signing key: ed25519 signatures are
// deterministic, so the golden file is stable.
var goldenSeed = []byte("steward golden policy key seed!!")

// goldenPublicKey is that key's public half, written out rather than
// derived, as an agent's configuration would pin it.
const goldenPublicKey = "Wv0oktJyQ2aCa/HiSW6oQJiu/mGY2rxRT+zHtOcVEbk="

func goldenSignedPolicies() []policy.Policy {
	return []policy.Policy{
		{ID: "telnet-absent", Title: "telnet is not installed", Severity: policy.SeverityMedium,
			Check: policy.Check{Package: &policy.PackageCheck{Name: "telnet", Installed: new(bool)}}},
		{ID: "ssh-no-root-login", Title: "SSH does not allow root login", Severity: policy.SeverityHigh,
			Check: policy.Check{File: &policy.FileCheck{Path: "/etc/ssh/sshd_config", Matches: `(?m)^\s*PermitRootLogin\s+no\b`}}},
	}
}

func goldenSignature(t *testing.T) *policysign.Signature {
	t.Helper()
	key := ed25519.NewKeyFromSeed(goldenSeed)
	signed := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	sig, err := policysign.Sign(key, goldenSignedPolicies(), signed, signed.Add(30*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// checkGoldenSignedSet verifies the golden signed set as an agent would,
// with the pinned key, and checks the statement's digest against the
// canonical encoding written out by hand: the policies sorted by id.
func checkGoldenSignedSet(t *testing.T, env Envelope) {
	t.Helper()
	var ps PolicySet
	if err := DecodePayload(env, &ps); err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(goldenPublicKey)
	st, err := policysign.VerifySet([]ed25519.PublicKey{raw}, ps.Signature, ps.Policies, ps.Tailorings)
	if err != nil {
		t.Fatalf("golden signed set does not verify with the pinned key: %v", err)
	}
	if len(ps.Tailorings) > 0 {
		checkGoldenTailoredSet(t, ps, st, raw)
		return
	}
	canonical := `[{"id":"ssh-no-root-login","title":"SSH does not allow root login","severity":"high","check":{"file":{"path":"/etc/ssh/sshd_config","matches":"(?m)^\\s*PermitRootLogin\\s+no\\b"}}},` +
		`{"id":"telnet-absent","title":"telnet is not installed","severity":"medium","check":{"package":{"name":"telnet","installed":false}}}]`
	sum := sha256.Sum256([]byte(canonical))
	if want := "sha256:" + hex.EncodeToString(sum[:]); st.Digest != want {
		t.Errorf("statement digest %s, want %s (sha256 of the sorted policies' JSON)", st.Digest, want)
	}
	if st.Serial != 1795608000000000000 || st.Policies != 2 || st.ExpiresAt.Format(time.RFC3339) != "2026-12-25T12:00:00Z" {
		t.Errorf("statement %+v", st)
	}
}

func TestPolicyRefusalValidate(t *testing.T) {
	at := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	good := PolicyRefusal{Revision: 3, Code: "bad_signature", Reason: "does not verify", At: at}
	if err := good.Validate(); err != nil {
		t.Fatalf("good refusal: %v", err)
	}
	for name, mut := range map[string]func(*PolicyRefusal){
		"no revision":     func(r *PolicyRefusal) { r.Revision = 0 },
		"revision huge":   func(r *PolicyRefusal) { r.Revision = MaxSeq + 1 },
		"no code":         func(r *PolicyRefusal) { r.Code = "" },
		"code upper case": func(r *PolicyRefusal) { r.Code = "Expired" },
		"code too long":   func(r *PolicyRefusal) { r.Code = strings.Repeat("a", 33) },
		"reason too long": func(r *PolicyRefusal) { r.Reason = strings.Repeat("a", MaxRefusalReason+1) },
		"reason not utf8": func(r *PolicyRefusal) { r.Reason = "\xff" },
		"no time":         func(r *PolicyRefusal) { r.At = time.Time{} },
	} {
		r := good
		mut(&r)
		if err := r.Validate(); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: Validate = %v, want ErrMalformed", name, err)
		}
	}
}
