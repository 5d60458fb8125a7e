package api

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"

	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
)

// alertStates are what ?state= accepts; "open" is firing or acknowledged.
var alertStates = []string{store.AlertFiring, store.AlertAcknowledged, store.AlertResolved, "open"}

// severities are what ?severity= accepts.
var severities = []string{policy.SeverityInfo, policy.SeverityLow, policy.SeverityMedium, policy.SeverityHigh, policy.SeverityCritical}

func alertView(a store.Alert) apitypes.Alert {
	return apitypes.Alert{ID: a.ID, DedupKey: a.DedupKey(), Rule: a.Rule, HostID: a.HostID, Subject: a.Subject,
		Severity: a.Severity, State: a.State, Labels: nonNil(a.Labels), Annotations: nonNil(a.Annotations),
		StartedAt: utc(a.StartedAt), AckedAt: utc(a.AckedAt), AckedBy: a.AckedBy, AckComment: a.AckComment,
		ResolvedAt: utc(a.ResolvedAt), Muted: a.Muted, Notified: a.Notified}
}

// parseAlertQuery reads state, severity, rule, host_id, limit and cursor.
func parseAlertQuery(v url.Values) (store.AlertQuery, int, error) {
	q := store.AlertQuery{State: v.Get("state"), Severity: v.Get("severity"), Rule: v.Get("rule")}
	p, err := parseNewestFirst[alertCursor](v)
	if err != nil {
		return q, 0, err
	}
	q.BeforeID, q.Limit = p.before, p.limit+1
	if q.HostID, err = queryID("host_id", v.Get("host_id")); err != nil {
		return q, 0, err
	}
	err = errors.Join(oneOf("state", q.State, alertStates), oneOf("severity", q.Severity, severities),
		checkFilterText("rule", q.Rule))
	return q, p.limit, err
}

func (s *server) listAlerts(w http.ResponseWriter, r *http.Request) {
	q, limit, err := parseAlertQuery(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, joinLines(err))
		return
	}
	rows, err := s.alerts.ListAlerts(r.Context(), q)
	if err != nil {
		s.storeFailed(w, r, "list alerts", err)
		return
	}
	out := apitypes.AlertList{Alerts: make([]apitypes.Alert, 0, min(len(rows), limit))}
	rows, out.NextCursor = nextPage(rows, limit, func(last store.Alert) alertCursor { return alertCursor{Before: last.ID} })
	for _, a := range rows {
		out.Alerts = append(out.Alerts, alertView(a))
	}
	writeJSON(w, http.StatusOK, out)
}

// getAlert serves the alert with its notifications, oldest first.
func (s *server) getAlert(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "alert")
	if !ok {
		return
	}
	a, err := s.alerts.GetAlert(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("alert %d not found", id))
		return
	}
	if err != nil {
		s.storeFailed(w, r, "get alert", err)
		return
	}
	// An alert has a few rows per receiver; the loop only guards against
	// an outbox that grew past one page.
	var rows []store.Notification
	for before := int64(0); ; {
		page, err := s.alerts.ListNotifications(r.Context(), store.NotificationQuery{AlertID: id, BeforeID: before, Limit: MaxLimit})
		if err != nil {
			s.storeFailed(w, r, "list alert notifications", err)
			return
		}
		rows = append(rows, page...)
		if len(page) < MaxLimit {
			break
		}
		before = page[len(page)-1].ID
	}
	slices.Reverse(rows)
	out := apitypes.AlertDetail{Alert: alertView(a), Notifications: make([]apitypes.Notification, 0, len(rows))}
	for _, n := range rows {
		out.Notifications = append(out.Notifications, notificationView(n))
	}
	writeJSON(w, http.StatusOK, out)
}

// ackAlert acknowledges an open alert: the receivers sent its trigger get
// an acknowledge, and the store audits it. A second acknowledge changes
// nothing and answers the alert as the first left it.
func (s *server) ackAlert(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "alert")
	if !ok {
		return
	}
	var in apitypes.AlertAck
	if !decodeOptionalBody(w, r, &in) {
		return
	}
	if in.Comment != "" {
		if err := checkText("comment", in.Comment); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	before, err := s.alerts.GetAlert(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("alert %d not found", id))
		return
	}
	if err != nil {
		s.storeFailed(w, r, "get alert", err)
		return
	}
	actor, ok := s.actor(w, r)
	if !ok {
		return
	}
	a, err := s.alerts.AckAlert(r.Context(), id, actor, in.Comment, s.now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, fmt.Sprintf("alert %d not found", id))
		return
	case errors.Is(err, store.ErrAlertResolved):
		writeError(w, http.StatusConflict, fmt.Sprintf("alert %d is already resolved", id))
		return
	case err != nil:
		s.storeFailed(w, r, "ack alert", err)
		return
	}
	if before.State == store.AlertFiring {
		s.log.Info("alert acknowledged", "alert_id", id, "rule", a.Rule, "host_id", a.HostID, "actor", actor)
		s.acked(a)
	}
	writeJSON(w, http.StatusOK, alertView(a))
}

// decodeOptionalBody is decodeBody for a body that may be left out: an
// empty body leaves v as it is.
func decodeOptionalBody(w http.ResponseWriter, r *http.Request, v any) bool {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSONBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", maxJSONBody))
		return false
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return true
	}
	r.Body = io.NopCloser(bytes.NewReader(raw))
	return decodeBody(w, r, v)
}
