package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/server/internal/store"
)

// notificationStates are what ?state= accepts.
var notificationStates = []string{store.NotificationPending, store.NotificationSent, store.NotificationDead, store.NotificationSkipped}

func notificationView(n store.Notification) apitypes.Notification {
	return apitypes.Notification{ID: n.ID, AlertID: n.AlertID, Receiver: n.Receiver, Event: n.Event, State: n.State,
		Attempts: n.Attempts, At: utc(n.At), CreatedAt: utc(n.CreatedAt), NextAttemptAt: utc(n.NextAttemptAt),
		SentAt: utc(n.SentAt), LastStatus: n.LastStatus, LastError: redactURLs(n.LastError)}
}

// urlInText finds URLs in error text.
var urlInText = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s"'<>()]+`)

// redactURLs keeps only the scheme and host of the URLs in s. Senders
// leave receivers' URLs out of their errors, since a URL may be the
// credential (Slack's webhook URL); this is the second guard.
func redactURLs(s string) string {
	return urlInText.ReplaceAllStringFunc(s, func(raw string) string {
		// Punctuation after a URL belongs to the sentence.
		trimmed := strings.TrimRight(raw, ".,;:!?")
		tail := raw[len(trimmed):]
		u, err := url.Parse(trimmed)
		if err != nil || u.Host == "" {
			return "<redacted URL>" + tail
		}
		if u.User == nil && (u.Path == "" || u.Path == "/") && u.RawQuery == "" && u.Fragment == "" {
			return raw
		}
		return u.Scheme + "://" + u.Host + "/<redacted>" + tail
	})
}

// parseNotificationQuery reads receiver, state, dead_letter, alert_id,
// limit and cursor.
func parseNotificationQuery(v url.Values) (store.NotificationQuery, int, error) {
	q := store.NotificationQuery{Receiver: v.Get("receiver"), State: v.Get("state")}
	p, err := parseNewestFirst[notificationCursor](v)
	if err != nil {
		return q, 0, err
	}
	q.BeforeID, q.Limit = p.before, p.limit+1
	if q.AlertID, err = queryID("alert_id", v.Get("alert_id")); err != nil {
		return q, 0, err
	}
	if err := errors.Join(oneOf("state", q.State, notificationStates), checkFilterText("receiver", q.Receiver)); err != nil {
		return q, 0, err
	}
	if raw := v.Get("dead_letter"); raw != "" {
		dead, err := strconv.ParseBool(raw)
		if err != nil {
			return q, 0, fmt.Errorf("dead_letter must be true or false, got %q", raw)
		}
		if dead && q.State != "" && q.State != store.NotificationDead {
			return q, 0, fmt.Errorf("dead_letter=true lists state dead; it contradicts state=%s", q.State)
		}
		if dead {
			q.State = store.NotificationDead
		}
	}
	return q, p.limit, nil
}

// listNotifications serves the outbox, newest first: what was sent, what
// waits for a retry, and the dead letters.
func (s *server) listNotifications(w http.ResponseWriter, r *http.Request) {
	q, limit, err := parseNotificationQuery(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, joinLines(err))
		return
	}
	rows, err := s.alerts.ListNotifications(r.Context(), q)
	if err != nil {
		s.storeFailed(w, r, "list notifications", err)
		return
	}
	out := apitypes.NotificationList{Notifications: make([]apitypes.Notification, 0, min(len(rows), limit))}
	rows, out.NextCursor = nextPage(rows, limit, func(last store.Notification) notificationCursor { return notificationCursor{Before: last.ID} })
	for _, n := range rows {
		out.Notifications = append(out.Notifications, notificationView(n))
	}
	writeJSON(w, http.StatusOK, out)
}
