// Package policysign signs policy sets and verifies them: an admin signs
// the set agents will evaluate with an ed25519 key kept off the server,
// and an agent that pins the public key evaluates only sets that carry a
// valid, unexpired signature newer than the last one it accepted. See
// "Signed policy sets" in docs/policies.md.
package policysign

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/steward-project/steward/shared/policy"
)

// Format names the statement layout; a statement of another format is
// refused.
const Format = "steward-policy-set/1"

// signingContext is prepended to the statement bytes before signing, so
// that a signature made for a policy set can never be taken for a
// signature over anything else made with the same key.
const signingContext = "steward policy set signature\x00"

// MaxStatementBytes bounds a statement: it holds a few short fields.
const MaxStatementBytes = 1024

// Signature travels with a policy set. Statement is the exact JSON the
// signer produced (see Statement); Signature is the ed25519 signature over
// signingContext followed by those bytes. Both are base64 in JSON.
type Signature struct {
	Statement []byte `json:"statement"`
	Signature []byte `json:"signature"`
}

// Statement is what an admin signs. It binds the policies agents evaluate
// (Digest and Policies) and the server-side tailorings that adjust their
// parameters (TailoringsDigest and Tailorings), a signer-chosen Serial that only ever grows (the
// signing time in Unix nanoseconds) so that an older set is refused, and
// ExpiresAt after which no agent accepts the set.
type Statement struct {
	Format string `json:"format"`
	// KeyID names the signing key (see KeyID); informational, for
	// refusal messages during a key rotation.
	KeyID     string    `json:"key_id"`
	Serial    uint64    `json:"serial"`
	SignedAt  time.Time `json:"signed_at"`
	ExpiresAt time.Time `json:"expires_at"`
	// Policies is how many policies the set holds; Digest is "sha256:"
	// and the hex SHA-256 of their canonical encoding (see Digest).
	Policies int    `json:"policies"`
	Digest   string `json:"digest"`
	// Tailorings is how many server-side tailorings the set holds and
	// TailoringsDigest their digest (see TailoringsDigest). Both are left
	// out for a set without tailorings, so statements made before
	// tailorings existed still describe such a set, and a set that gained
	// a tailoring no longer matches them.
	Tailorings       int    `json:"tailorings,omitempty"`
	TailoringsDigest string `json:"tailorings_digest,omitempty"`
}

// Refusal codes: why a set was refused.
const (
	CodeUnsigned        = "unsigned"
	CodeBadSignature    = "bad_signature"
	CodeContentMismatch = "content_mismatch"
	CodeExpired         = "expired"
	CodeRollback        = "rollback"
	// CodeInvalid is used by the agent for a set that fails validation or
	// the size limit, signed or not.
	CodeInvalid = "invalid"
)

// RefusalError says why a set is refused, with one of the codes above.
type RefusalError struct {
	Code   string
	Reason string
}

func (e *RefusalError) Error() string { return e.Code + ": " + e.Reason }

func refuse(code, format string, args ...any) error {
	return &RefusalError{Code: code, Reason: fmt.Sprintf(format, args...)}
}

// AgentPolicies is the part of a set that agents receive and therefore
// the part a signature covers: every policy but the expr-only ones, which
// the server evaluates itself against stored inventory.
func AgentPolicies(ps []policy.Policy) []policy.Policy {
	out := make([]policy.Policy, 0, len(ps))
	for _, p := range ps {
		if !policy.ExprOnly(p) {
			out = append(out, p)
		}
	}
	return out
}

// Digest is "sha256:" and the hex SHA-256 of the policies' canonical
// encoding: the JSON array of the policies sorted by id, each encoded as
// encoding/json encodes policy.Policy. The order the set arrives in does
// not matter; every field of every policy does.
func Digest(ps []policy.Policy) (string, error) {
	sorted := slices.Clone(ps)
	slices.SortFunc(sorted, func(a, b policy.Policy) int { return strings.Compare(a.ID, b.ID) })
	if sorted == nil {
		sorted = []policy.Policy{}
	}
	raw, err := json.Marshal(sorted)
	if err != nil {
		return "", fmt.Errorf("digest policies: %w", err)
	}
	sum := sha256.Sum256(raw)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// TailoringsDigest is "sha256:" and the hex SHA-256 of the canonical
// encoding of ts: the JSON array sorted by name, each encoded as
// encoding/json encodes policy.LabelTailoring (map keys sorted). It is ""
// for no tailorings.
func TailoringsDigest(ts []policy.LabelTailoring) (string, error) {
	if len(ts) == 0 {
		return "", nil
	}
	sorted := slices.Clone(ts)
	slices.SortFunc(sorted, func(a, b policy.LabelTailoring) int { return strings.Compare(a.Name, b.Name) })
	for i, t := range sorted {
		// A missing map and an empty one select and set the same.
		if t.Selector == nil {
			sorted[i].Selector = map[string]string{}
		}
		if t.Values == nil {
			sorted[i].Values = map[string]map[string]string{}
		}
	}
	raw, err := json.Marshal(sorted)
	if err != nil {
		return "", fmt.Errorf("digest tailorings: %w", err)
	}
	sum := sha256.Sum256(raw)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// Sign signs the agent policies ps (see AgentPolicies) at signedAt, valid
// until expiresAt. The serial is signedAt in Unix nanoseconds.
func Sign(key ed25519.PrivateKey, ps []policy.Policy, signedAt, expiresAt time.Time) (*Signature, error) {
	return SignSet(key, ps, nil, signedAt, expiresAt)
}

// SignSet is Sign for a set that also holds the server-side tailorings ts.
func SignSet(key ed25519.PrivateKey, ps []policy.Policy, ts []policy.LabelTailoring, signedAt, expiresAt time.Time) (*Signature, error) {
	if len(key) != ed25519.PrivateKeySize {
		return nil, errors.New("sign policy set: not an ed25519 private key")
	}
	expiresAt = expiresAt.UTC().Truncate(time.Second)
	if !expiresAt.After(signedAt) {
		return nil, fmt.Errorf("sign policy set: expiry %s is not after the signing time %s",
			expiresAt.UTC().Format(time.RFC3339), signedAt.UTC().Format(time.RFC3339))
	}
	if signedAt.UnixNano() <= 0 {
		return nil, errors.New("sign policy set: signing time before 1970")
	}
	digest, err := Digest(ps)
	if err != nil {
		return nil, err
	}
	tdigest, err := TailoringsDigest(ts)
	if err != nil {
		return nil, err
	}
	st := Statement{
		Format: Format, KeyID: KeyID(key.Public().(ed25519.PublicKey)),
		Serial: uint64(signedAt.UnixNano()), SignedAt: signedAt.UTC(), ExpiresAt: expiresAt,
		Policies: len(ps), Digest: digest, Tailorings: len(ts), TailoringsDigest: tdigest,
	}
	return SignStatement(key, st)
}

// SignStatement signs st as it is, without Sign's checks: for tests and
// tools that need a statement Sign would not make (an expired one).
func SignStatement(key ed25519.PrivateKey, st Statement) (*Signature, error) {
	raw, err := json.Marshal(st)
	if err != nil {
		return nil, fmt.Errorf("sign policy set: %w", err)
	}
	return &Signature{Statement: raw, Signature: ed25519.Sign(key, signedMessage(raw))}, nil
}

func signedMessage(statement []byte) []byte {
	return append([]byte(signingContext), statement...)
}

// ParseStatement decodes a statement without verifying anything but its
// form: the server uses it to show and check what it stores, the agent
// to name the signing key when verification fails.
func ParseStatement(raw []byte) (Statement, error) {
	var st Statement
	if len(raw) > MaxStatementBytes {
		return st, fmt.Errorf("statement is %d bytes, at most %d allowed", len(raw), MaxStatementBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return st, fmt.Errorf("statement: %w", err)
	}
	if dec.More() {
		return st, errors.New("statement: data after the JSON object")
	}
	switch {
	case st.Format != Format:
		return st, fmt.Errorf("statement format %q, want %q", st.Format, Format)
	case st.Serial == 0:
		return st, errors.New("statement has no serial")
	case st.ExpiresAt.IsZero():
		return st, errors.New("statement has no expiry")
	case !strings.HasPrefix(st.Digest, "sha256:") || len(st.Digest) != len("sha256:")+64:
		return st, fmt.Errorf("statement digest %q is not sha256:<64 hex digits>", st.Digest)
	case st.Policies < 0:
		return st, errors.New("statement counts fewer than zero policies")
	case st.Tailorings < 0:
		return st, errors.New("statement counts fewer than zero tailorings")
	case (st.Tailorings == 0) != (st.TailoringsDigest == ""):
		return st, errors.New("statement names tailorings without their digest, or a digest without tailorings")
	case st.TailoringsDigest != "" && (!strings.HasPrefix(st.TailoringsDigest, "sha256:") || len(st.TailoringsDigest) != len("sha256:")+64):
		return st, fmt.Errorf("statement tailorings digest %q is not sha256:<64 hex digits>", st.TailoringsDigest)
	}
	return st, nil
}

// CheckContent is what the server can check without the public key: the
// statement is well formed and describes exactly the agent policies ps
// and no tailorings.
func CheckContent(sig *Signature, ps []policy.Policy) (Statement, error) {
	return CheckSetContent(sig, ps, nil)
}

// CheckSetContent is CheckContent for a set that also holds the
// tailorings ts.
func CheckSetContent(sig *Signature, ps []policy.Policy, ts []policy.LabelTailoring) (Statement, error) {
	st, err := ParseStatement(sig.Statement)
	if err != nil {
		return st, refuse(CodeBadSignature, "%v", err)
	}
	if len(sig.Signature) != ed25519.SignatureSize {
		return st, refuse(CodeBadSignature, "signature is %d bytes, want %d", len(sig.Signature), ed25519.SignatureSize)
	}
	digest, err := Digest(ps)
	if err != nil {
		return st, err
	}
	if st.Policies != len(ps) || st.Digest != digest {
		return st, refuse(CodeContentMismatch, "the set holds %d policies with digest %s; the signed statement names %d with digest %s",
			len(ps), digest, st.Policies, st.Digest)
	}
	tdigest, err := TailoringsDigest(ts)
	if err != nil {
		return st, err
	}
	if st.Tailorings != len(ts) || st.TailoringsDigest != tdigest {
		return st, refuse(CodeContentMismatch, "the set holds %d tailorings with digest %q; the signed statement names %d with digest %q",
			len(ts), tdigest, st.Tailorings, st.TailoringsDigest)
	}
	return st, nil
}

// Verify checks that sig is a valid signature, by one of keys, over a
// statement that describes exactly the policies ps and no tailorings. It
// does not judge expiry or rollback: see Accept.
func Verify(keys []ed25519.PublicKey, sig *Signature, ps []policy.Policy) (Statement, error) {
	return VerifySet(keys, sig, ps, nil)
}

// VerifySet is Verify for a set that also holds the tailorings ts: an
// unsigned tailoring cannot ride along with a signed set.
func VerifySet(keys []ed25519.PublicKey, sig *Signature, ps []policy.Policy, ts []policy.LabelTailoring) (Statement, error) {
	if sig == nil {
		return Statement{}, refuse(CodeUnsigned, "the set carries no signature and this agent pins a policy key")
	}
	// The signature first: nothing of an unauthenticated statement is
	// trusted beyond naming its key in the message.
	verified := false
	for _, k := range keys {
		if len(k) == ed25519.PublicKeySize && len(sig.Signature) == ed25519.SignatureSize &&
			ed25519.Verify(k, signedMessage(sig.Statement), sig.Signature) {
			verified = true
			break
		}
	}
	if !verified {
		claimed := "unknown"
		if st, err := ParseStatement(sig.Statement); err == nil && st.KeyID != "" {
			claimed = st.KeyID
		}
		pinned := make([]string, len(keys))
		for i, k := range keys {
			pinned[i] = KeyID(k)
		}
		return Statement{}, refuse(CodeBadSignature, "the signature does not verify with the pinned key(s) %s (the set names key %s)",
			strings.Join(pinned, ", "), claimed)
	}
	return CheckSetContent(sig, ps, ts)
}

// Held is what an agent remembers of the signed set it accepted last:
// the serial (the highest it ever accepted) and the digest.
type Held struct {
	Serial uint64
	Digest string
}

// Accept decides whether a verified statement may replace the held set
// at now: it must not have expired, and its serial must be above the held
// one (or equal to it for the very same policies, a set sent again under
// a new revision).
func Accept(st Statement, held Held, now time.Time) error {
	if !now.Before(st.ExpiresAt) {
		return refuse(CodeExpired, "the signature expired at %s (signed %s)",
			st.ExpiresAt.UTC().Format(time.RFC3339), st.SignedAt.UTC().Format(time.RFC3339))
	}
	switch {
	case st.Serial < held.Serial:
		return refuse(CodeRollback, "the set was signed at %s (serial %d), before the set this agent already accepted (serial %d)",
			st.SignedAt.UTC().Format(time.RFC3339Nano), st.Serial, held.Serial)
	case st.Serial == held.Serial && st.Digest != held.Digest:
		return refuse(CodeRollback, "the set reuses serial %d with other policies", st.Serial)
	}
	return nil
}

// Check is Verify then Accept: everything an agent with pinned keys
// checks before it evaluates a set.
func Check(keys []ed25519.PublicKey, sig *Signature, ps []policy.Policy, held Held, now time.Time) (Statement, error) {
	return CheckSet(keys, sig, ps, nil, held, now)
}

// CheckSet is Check for a set that also holds the tailorings ts.
func CheckSet(keys []ed25519.PublicKey, sig *Signature, ps []policy.Policy, ts []policy.LabelTailoring, held Held, now time.Time) (Statement, error) {
	st, err := VerifySet(keys, sig, ps, ts)
	if err != nil {
		return st, err
	}
	return st, Accept(st, held, now)
}

// KeyID names a public key: the first 16 hex digits of its SHA-256.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

// GenerateKey makes a new signing key pair.
func GenerateKey() (ed25519.PublicKey, ed25519.PrivateKey, error) {
	return ed25519.GenerateKey(nil)
}

// MarshalPrivateKey encodes key as a PKCS #8 "PRIVATE KEY" PEM block.
func MarshalPrivateKey(key ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParsePrivateKey reads what MarshalPrivateKey wrote.
func ParsePrivateKey(data []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New("not a PEM \"PRIVATE KEY\" block")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a %T, not an ed25519 private key", k)
	}
	return ek, nil
}

// MarshalPublicKey encodes pub as a PKIX "PUBLIC KEY" PEM block.
func MarshalPublicKey(pub ed25519.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// EncodePublicKey is the one-line form agents pin: the standard base64 of
// the 32 raw key bytes.
func EncodePublicKey(pub ed25519.PublicKey) string {
	return base64.StdEncoding.EncodeToString(pub)
}

// ParsePublicKey reads a public key as a PEM "PUBLIC KEY" block or as the
// one-line base64 form of EncodePublicKey.
func ParsePublicKey(data []byte) (ed25519.PublicKey, error) {
	if block, _ := pem.Decode(data); block != nil {
		if block.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("PEM block %q, want \"PUBLIC KEY\"", block.Type)
		}
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		ek, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("a %T, not an ed25519 public key", k)
		}
		return ek, nil
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
	if err != nil {
		return nil, errors.New("neither a PEM public key nor base64")
	}
	if len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("base64 key is %d bytes, an ed25519 public key is %d", len(raw), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(raw), nil
}
