package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/steward-project/steward/shared/policy"
)

// StoredTailoring is one server-side tailoring (policy.LabelTailoring)
// with who set it last, when, and the policy set revision that did.
type StoredTailoring struct {
	Tailoring       policy.LabelTailoring
	UpdatedAt       time.Time
	UpdatedBy       string
	UpdatedRevision int64
}

// TailoringPut stores Tailoring under its name, replacing the one of the
// same name. Actor is who asked (a token name), for the audit log.
type TailoringPut struct {
	Tailoring policy.LabelTailoring
	Actor     string
	At        time.Time // zero: now
}

// Tailorings holds the server-side tailorings. They are part of the
// policy set: every change moves the policy set revision, in the same
// transaction, so agents receive them with the policies and a signature
// recorded for an earlier revision no longer covers the set. The store
// does not check them against the policies; the caller does
// (policy.LabelTailoring.Check).
type Tailorings interface {
	// PutTailoring stores t.Tailoring and audits it; it returns the
	// revision after the put and whether the name was new. Putting what
	// is stored already changes nothing and keeps the revision.
	PutTailoring(ctx context.Context, t TailoringPut) (revision int64, created bool, err error)
	// DeleteTailoring removes one and audits it, and returns the new
	// revision; ErrNotFound for an unknown name.
	DeleteTailoring(ctx context.Context, name, actor string, at time.Time) (int64, error)
	// GetTailoring returns ErrNotFound for an unknown name.
	GetTailoring(ctx context.Context, name string) (StoredTailoring, error)
	// ListTailorings returns every tailoring ordered by name: the order
	// they apply in (a later one overrides an earlier one).
	ListTailorings(ctx context.Context) ([]StoredTailoring, error)
}

// Audit actions of tailorings.
const (
	AuditTailoringApplied = "tailoring_applied"
	AuditTailoringDeleted = "tailoring_deleted"
)

// EncodeTailoring is a tailoring's stored selector and values, as JSON
// objects compared byte for byte to tell an unchanged put (encoding/json
// sorts map keys).
func EncodeTailoring(t policy.LabelTailoring) (selector, values string, err error) {
	sel := t.Selector
	if sel == nil {
		sel = map[string]string{}
	}
	s, err := json.Marshal(sel)
	if err != nil {
		return "", "", fmt.Errorf("encode tailoring %s: %w", t.Name, err)
	}
	vals := t.Values
	if vals == nil {
		vals = map[string]map[string]string{}
	}
	v, err := json.Marshal(vals)
	if err != nil {
		return "", "", fmt.Errorf("encode tailoring %s: %w", t.Name, err)
	}
	return string(s), string(v), nil
}

// DecodeTailoring reads what EncodeTailoring wrote.
func DecodeTailoring(name, selector, values string) (policy.LabelTailoring, error) {
	t := policy.LabelTailoring{Name: name}
	if err := json.Unmarshal([]byte(selector), &t.Selector); err != nil {
		return t, fmt.Errorf("decode tailoring %s selector: %w", name, err)
	}
	if err := json.Unmarshal([]byte(values), &t.Values); err != nil {
		return t, fmt.Errorf("decode tailoring %s values: %w", name, err)
	}
	return t, nil
}

// TailoringAuditDetail is the detail of a put's audit entry.
func TailoringAuditDetail(t policy.LabelTailoring, revision int64) []byte {
	d, _ := json.Marshal(map[string]any{"revision": revision, "selector": t.Selector, "values": t.Values}) // maps of strings: cannot fail
	return d
}
