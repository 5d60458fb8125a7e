package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/labels"
)

// maxJSONBody bounds the small JSON bodies (exemptions, labels).
const maxJSONBody = 64 << 10

func (s *server) exemptionView(e store.Exemption) apitypes.Exemption {
	return apitypes.Exemption{ID: e.ID, PolicyID: e.PolicyID, HostID: e.HostID, Labels: e.Labels, Reason: e.Reason,
		Owner: e.Owner, ExpiresAt: utc(e.ExpiresAt), CreatedAt: utc(e.CreatedAt), CreatedBy: e.CreatedBy,
		RevokedAt: utc(e.RevokedAt), RevokedBy: e.RevokedBy, Active: e.Active(s.now())}
}

// decodeBody reads a small JSON body into v, refusing unknown fields and
// trailing data; it answers 400 itself.
func decodeBody(w http.ResponseWriter, r *http.Request, v any) bool {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSONBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", maxJSONBody))
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil || dec.More() {
		msg := "body must be one JSON object"
		if err != nil {
			msg += ": " + err.Error()
		}
		writeError(w, http.StatusBadRequest, msg)
		return false
	}
	return true
}

// checkText refuses empty, oversized or control-character text fields.
func checkText(field, v string) error {
	if strings.TrimSpace(v) == "" {
		return fmt.Errorf("%s is required", field)
	}
	if len(v) > 1024 || !utf8.ValidString(v) || strings.ContainsFunc(v, func(r rune) bool { return unicode.IsControl(r) && r != '\n' }) {
		return fmt.Errorf("%s must be at most 1024 bytes of printable UTF-8", field)
	}
	return nil
}

func (s *server) addExemption(w http.ResponseWriter, r *http.Request) {
	var in apitypes.NewExemption
	if !decodeBody(w, r, &in) {
		return
	}
	now := s.now()
	e := store.Exemption{PolicyID: in.PolicyID, HostID: in.HostID, Labels: in.Labels, Reason: in.Reason,
		Owner: in.Owner, ExpiresAt: in.ExpiresAt.UTC(), CreatedAt: now}
	errs := []error{e.Validate(), labels.Check(in.Labels)}
	if in.Reason != "" {
		errs = append(errs, checkText("reason", in.Reason))
	}
	if in.Owner != "" {
		errs = append(errs, checkText("owner", in.Owner))
	}
	if !in.ExpiresAt.IsZero() && !in.ExpiresAt.After(now) {
		errs = append(errs, fmt.Errorf("expires_at %s is not in the future", in.ExpiresAt.UTC().Format(time.RFC3339)))
	}
	if err := errors.Join(errs...); err != nil {
		writeError(w, http.StatusBadRequest, strings.ReplaceAll(err.Error(), "\n", "; "))
		return
	}
	if _, err := s.store.GetPolicy(r.Context(), in.PolicyID); errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("policy %q not found", in.PolicyID))
		return
	} else if err != nil {
		s.storeFailed(w, r, "get policy", err)
		return
	}
	if in.HostID != 0 {
		if _, err := s.store.GetHost(r.Context(), in.HostID); errors.Is(err, store.ErrNotFound) {
			writeError(w, http.StatusNotFound, fmt.Sprintf("host %d not found", in.HostID))
			return
		} else if err != nil {
			s.storeFailed(w, r, "get host", err)
			return
		}
	}
	actor, ok := s.actor(w, r)
	if !ok {
		return
	}
	e.CreatedBy = actor
	id, err := s.store.AddExemption(r.Context(), e)
	if errors.Is(err, store.ErrNotFound) {
		// The policy or host went away since the checks above.
		writeError(w, http.StatusNotFound, "the policy or host no longer exists")
		return
	}
	if err != nil {
		s.storeFailed(w, r, "add exemption", err)
		return
	}
	s.log.Info("exemption added", "exemption_id", id, "policy_id", e.PolicyID, "actor", actor)
	s.exempted()
	s.writeExemption(w, r, id)
}

func (s *server) writeExemption(w http.ResponseWriter, r *http.Request, id int64) {
	e, err := s.store.GetExemption(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("exemption %d not found", id))
		return
	}
	if err != nil {
		s.storeFailed(w, r, "get exemption", err)
		return
	}
	writeJSON(w, http.StatusOK, s.exemptionView(e))
}

// exemptionID parses the {id} path value, answering 400 itself.
func exemptionID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	raw := r.PathValue("id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id < 1 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("exemption id %q is not a positive integer", raw))
		return 0, false
	}
	return id, true
}

func (s *server) getExemption(w http.ResponseWriter, r *http.Request) {
	if id, ok := exemptionID(w, r); ok {
		s.writeExemption(w, r, id)
	}
}

// revokeExemption ends an exemption at once; its row stays, revoked.
func (s *server) revokeExemption(w http.ResponseWriter, r *http.Request) {
	id, ok := exemptionID(w, r)
	if !ok {
		return
	}
	actor, ok := s.actor(w, r)
	if !ok {
		return
	}
	err := s.store.RevokeExemption(r.Context(), id, actor, s.now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, fmt.Sprintf("exemption %d not found", id))
		return
	case errors.Is(err, store.ErrConflict):
		writeError(w, http.StatusConflict, fmt.Sprintf("exemption %d is already revoked", id))
		return
	case err != nil:
		s.storeFailed(w, r, "revoke exemption", err)
		return
	}
	s.log.Info("exemption revoked", "exemption_id", id, "actor", actor)
	s.exempted()
	s.writeExemption(w, r, id)
}

type exemptionCursor struct {
	ID int64 `json:"id"`
}

func (c exemptionCursor) valid() bool { return c.ID > 0 }

// listExemptions serves active exemptions, or with all=true every one.
func (s *server) listExemptions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, after, err := readPage[exemptionCursor](q)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	eq := store.ExemptionQuery{PolicyID: q.Get("policy_id"), At: s.now(), Limit: limit + 1}
	if v := q.Get("all"); v != "" {
		if eq.All, err = strconv.ParseBool(v); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("all must be true or false, got %q", v))
			return
		}
	}
	eq.AfterID = after.ID
	rows, err := s.store.ListExemptions(r.Context(), eq)
	if err != nil {
		s.storeFailed(w, r, "list exemptions", err)
		return
	}
	out := apitypes.ExemptionList{Exemptions: make([]apitypes.Exemption, 0, min(len(rows), limit))}
	rows, out.NextCursor = nextPage(rows, limit, func(last store.Exemption) exemptionCursor { return exemptionCursor{ID: last.ID} })
	for _, e := range rows {
		out.Exemptions = append(out.Exemptions, s.exemptionView(e))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *server) getHostLabels(w http.ResponseWriter, r *http.Request) {
	id, ok := hostID(w, r)
	if !ok {
		return
	}
	have, err := s.store.HostLabels(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("host %d not found", id))
		return
	}
	if err != nil {
		s.storeFailed(w, r, "host labels", err)
		return
	}
	writeJSON(w, http.StatusOK, apitypes.Labels{HostID: id, Labels: nonNil(have)})
}

// setHostLabels replaces a host's labels; exemptions by label follow at
// once.
func (s *server) setHostLabels(w http.ResponseWriter, r *http.Request) {
	id, ok := hostID(w, r)
	if !ok {
		return
	}
	var in apitypes.Labels
	if !decodeBody(w, r, &in) {
		return
	}
	if in.HostID != 0 && in.HostID != id {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("body names host %d, path host %d", in.HostID, id))
		return
	}
	if in.Labels == nil {
		writeError(w, http.StatusBadRequest, `body must hold "labels": an object, {} to remove every label`)
		return
	}
	if err := labels.Check(in.Labels); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	actor, ok := s.actor(w, r)
	if !ok {
		return
	}
	err := s.store.SetHostLabels(r.Context(), id, in.Labels, actor)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("host %d not found", id))
		return
	}
	if err != nil {
		s.storeFailed(w, r, "set host labels", err)
		return
	}
	s.exempted() // label exemptions may now match the host, or stop matching it
	s.relabel(id, in.Labels)
	writeJSON(w, http.StatusOK, apitypes.Labels{HostID: id, Labels: in.Labels})
}

// auditActions are what ?action= accepts.
var auditActions = []string{store.AuditPolicyApplied, store.AuditPolicyDeleted, store.AuditExemptionAdded,
	store.AuditExemptionRevoked, store.AuditHostLabelsSet, store.AuditAlertAcknowledged, store.AuditSilenceAdded,
	store.AuditSilenceExpired, store.AuditAlertingReloaded, store.AuditTailoringApplied, store.AuditTailoringDeleted}

type auditCursor struct {
	ID int64 `json:"id"`
}

func (c auditCursor) valid() bool { return c.ID > 0 }

func (s *server) listAudit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, after, err := readPage[auditCursor](q)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	aq := store.AuditQuery{Action: q.Get("action"), Limit: limit + 1}
	if aq.Action != "" && !slices.Contains(auditActions, aq.Action) {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("unknown action %q; actions are %s", aq.Action, strings.Join(auditActions, ", ")))
		return
	}
	aq.AfterID = after.ID
	rows, err := s.store.ListAudit(r.Context(), aq)
	if err != nil {
		s.storeFailed(w, r, "list audit", err)
		return
	}
	out := apitypes.AuditList{Entries: make([]apitypes.AuditEntry, 0, min(len(rows), limit))}
	rows, out.NextCursor = nextPage(rows, limit, func(last store.AuditEntry) auditCursor { return auditCursor{ID: last.ID} })
	for _, a := range rows {
		a.At = utc(a.At)
		out.Entries = append(out.Entries, apitypes.AuditEntry(a))
	}
	writeJSON(w, http.StatusOK, out)
}
