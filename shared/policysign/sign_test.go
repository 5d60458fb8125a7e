package policysign

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/shared/policy"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func testSet() []policy.Policy {
	return []policy.Policy{
		{ID: "ssh-no-root-login", Title: "SSH does not allow root login", Severity: policy.SeverityHigh, Platforms: []string{"linux"},
			Check: policy.Check{File: &policy.FileCheck{Path: "/etc/ssh/sshd_config", Matches: `(?m)^\s*PermitRootLogin\s+no\b`}}},
		{ID: "bash-recent", Title: "bash 5", Severity: policy.SeverityLow,
			Check: policy.Check{Package: &policy.PackageCheck{Name: "bash", MinVersion: "5.0"}}},
	}
}

func mustKey(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func mustSign(t *testing.T, priv ed25519.PrivateKey, ps []policy.Policy, at time.Time, valid time.Duration) *Signature {
	t.Helper()
	sig, err := Sign(priv, ps, at, at.Add(valid))
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func code(err error) string {
	var re *RefusalError
	if errors.As(err, &re) {
		return re.Code
	}
	if err == nil {
		return ""
	}
	return "not a refusal: " + err.Error()
}

// TestSignVerify: a set signed with the pinned key verifies, in any order
// of its policies, and Accept takes it as the first set.
func TestSignVerify(t *testing.T) {
	pub, priv := mustKey(t)
	ps := testSet()
	sig := mustSign(t, priv, ps, t0, 24*time.Hour)
	reversed := slices.Clone(ps)
	slices.Reverse(reversed)
	st, err := Check([]ed25519.PublicKey{pub}, sig, reversed, Held{}, t0.Add(time.Hour))
	if err != nil {
		t.Fatalf("Check = %v", err)
	}
	if st.Serial != uint64(t0.UnixNano()) || st.Policies != 2 || st.KeyID != KeyID(pub) || !st.ExpiresAt.Equal(t0.Add(24*time.Hour)) {
		t.Errorf("statement %+v", st)
	}
	// A second pinned key (a rotation in progress) does not get in the way.
	other, _ := mustKey(t)
	if _, err := Check([]ed25519.PublicKey{other, pub}, sig, ps, Held{}, t0); err != nil {
		t.Errorf("with two pinned keys: %v", err)
	}
}

// TestVerifyRefuses covers each way a set is refused: unsigned, tampered
// policies, another key, a tampered statement, expired, and rolled back.
func TestVerifyRefuses(t *testing.T) {
	pub, priv := mustKey(t)
	_, otherPriv := mustKey(t)
	keys := []ed25519.PublicKey{pub}
	ps := testSet()
	sig := mustSign(t, priv, ps, t0, 24*time.Hour)
	digest, _ := Digest(ps)

	tampered := slices.Clone(ps)
	tampered[0].Check.File = &policy.FileCheck{Path: "/etc/ssh/sshd_config", Matches: `.*`}
	added := append(slices.Clone(ps), policy.Policy{ID: "extra", Title: "x", Severity: "low",
		Check: policy.Check{Command: &policy.CommandCheck{Run: []string{"/bin/true"}}}})

	stmt, _ := ParseStatement(sig.Statement)
	stmt.ExpiresAt = stmt.ExpiresAt.Add(365 * 24 * time.Hour)
	longer, _ := json.Marshal(stmt)

	for _, tc := range []struct {
		name string
		sig  *Signature
		ps   []policy.Policy
		held Held
		now  time.Time
		want string
	}{
		{"unsigned", nil, ps, Held{}, t0, CodeUnsigned},
		{"tampered check", sig, tampered, Held{}, t0, CodeContentMismatch},
		{"policy added", sig, added, Held{}, t0, CodeContentMismatch},
		{"policy dropped", sig, ps[:1], Held{}, t0, CodeContentMismatch},
		{"wrong key", mustSign(t, otherPriv, ps, t0, time.Hour), ps, Held{}, t0, CodeBadSignature},
		{"statement edited (expiry pushed out)", &Signature{Statement: longer, Signature: sig.Signature}, ps, Held{}, t0, CodeBadSignature},
		{"signature bytes cut", &Signature{Statement: sig.Statement, Signature: sig.Signature[:10]}, ps, Held{}, t0, CodeBadSignature},
		{"expired", sig, ps, Held{}, t0.Add(24 * time.Hour), CodeExpired},
		{"rollback", sig, ps, Held{Serial: uint64(t0.UnixNano()) + 1, Digest: "sha256:x"}, t0, CodeRollback},
		{"same serial, other policies", sig, ps, Held{Serial: uint64(t0.UnixNano()), Digest: "sha256:other"}, t0, CodeRollback},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Check(keys, tc.sig, tc.ps, tc.held, tc.now)
			if got := code(err); got != tc.want {
				t.Errorf("Check = %v, want code %s", err, tc.want)
			}
		})
	}
	// The same set sent again under a new revision is accepted.
	if _, err := Check(keys, sig, ps, Held{Serial: uint64(t0.UnixNano()), Digest: digest}, t0); err != nil {
		t.Errorf("the held set again: %v", err)
	}
	// A newer set is accepted over an older one.
	newer := mustSign(t, priv, tampered, t0.Add(time.Minute), time.Hour)
	if _, err := Check(keys, newer, tampered, Held{Serial: uint64(t0.UnixNano()), Digest: digest}, t0.Add(2*time.Minute)); err != nil {
		t.Errorf("a newer set: %v", err)
	}
}

func TestSignRefusesExpiryBeforeSigning(t *testing.T) {
	_, priv := mustKey(t)
	if _, err := Sign(priv, testSet(), t0, t0.Add(-time.Second)); err == nil {
		t.Error("Sign accepted an expiry in the past")
	}
}

func TestParseStatementRefuses(t *testing.T) {
	good := `{"format":"steward-policy-set/1","key_id":"k","serial":1,"signed_at":"2026-11-25T12:00:00Z","expires_at":"2026-11-26T12:00:00Z","policies":1,"digest":"sha256:` + strings.Repeat("a", 64) + `"}`
	if _, err := ParseStatement([]byte(good)); err != nil {
		t.Fatalf("good statement: %v", err)
	}
	for name, raw := range map[string]string{
		"other format":  strings.Replace(good, "set/1", "set/2", 1),
		"no serial":     strings.Replace(good, `"serial":1`, `"serial":0`, 1),
		"unknown field": strings.Replace(good, `"key_id"`, `"extra":1,"key_id"`, 1),
		"bad digest":    strings.Replace(good, "sha256:", "md5:", 1),
		"trailing data": good + "{}",
		"too long":      good + strings.Repeat(" ", MaxStatementBytes),
	} {
		if _, err := ParseStatement([]byte(raw)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestKeyEncodings(t *testing.T) {
	pub, priv := mustKey(t)
	pemPriv, err := MarshalPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParsePrivateKey(pemPriv)
	if err != nil || !back.Equal(priv) {
		t.Fatalf("private key round trip: %v", err)
	}
	pemPub, _ := MarshalPublicKey(pub)
	for _, in := range [][]byte{pemPub, []byte(EncodePublicKey(pub) + "\n")} {
		got, err := ParsePublicKey(in)
		if err != nil || !got.Equal(pub) {
			t.Errorf("ParsePublicKey(%q) = %v", in, err)
		}
	}
	for _, bad := range []string{"", "not base64!", "AAAA", string(pemPriv)} {
		if _, err := ParsePublicKey([]byte(bad)); err == nil {
			t.Errorf("ParsePublicKey(%q) accepted", bad)
		}
	}
}

func TestAgentPolicies(t *testing.T) {
	ps := append(testSet(), policy.Policy{ID: "expr", Title: "x", Severity: "low", Check: policy.Check{Expr: "true"}})
	got := AgentPolicies(ps)
	if len(got) != 2 || slices.ContainsFunc(got, func(p policy.Policy) bool { return p.ID == "expr" }) {
		t.Errorf("AgentPolicies = %v", got)
	}
}
