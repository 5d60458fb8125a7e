package api

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/server/internal/store"
)

// AlertingStore is what the alerting routes read and change: alert
// episodes, silences and the notification outbox.
type AlertingStore interface {
	store.Alerts
	store.Silences
	store.Outbox
}

// needsAlerting wraps the handler of an alerting route: a server without
// an alerting store answers it 503.
func needsAlerting(h func(*server, http.ResponseWriter, *http.Request)) func(*server, http.ResponseWriter, *http.Request) {
	return func(s *server, w http.ResponseWriter, r *http.Request) {
		if s.alerts == nil {
			writeError(w, http.StatusServiceUnavailable, "alerting is not available")
			return
		}
		h(s, w, r)
	}
}

// reloadAlerting re-reads the alerting configuration. The reload itself,
// and its audit entry, are the server's; this only names the actor.
func (s *server) reloadAlerting(w http.ResponseWriter, r *http.Request) {
	if s.reload == nil {
		writeError(w, http.StatusServiceUnavailable, "alerting reload is not available")
		return
	}
	actor, ok := s.actor(w, r)
	if !ok {
		return
	}
	summary, err := s.reload(r.Context(), actor)
	if err != nil {
		problems := []string{}
		for _, line := range strings.Split(err.Error(), "\n") {
			if line = strings.TrimSpace(line); line != "" {
				problems = append(problems, line)
			}
		}
		s.log.Warn("alerting reload refused", "actor", actor, "problems", len(problems))
		writeJSON(w, http.StatusBadRequest, apitypes.ReloadError{
			Error:    fmt.Sprintf("alerting configuration refused, the previous one stays: %d problem(s)", len(problems)),
			Problems: problems,
		})
		return
	}
	s.log.Info("alerting reloaded", "actor", actor)
	writeJSON(w, http.StatusOK, apitypes.ReloadResult{Reloaded: true, Summary: summary})
}

// pathID parses the {id} path value of a thing ("alert", "silence"),
// answering 400 itself when it is not a positive integer.
func pathID(w http.ResponseWriter, r *http.Request, thing string) (int64, bool) {
	raw := r.PathValue("id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id < 1 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("%s id %q is not a positive integer", thing, raw))
		return 0, false
	}
	return id, true
}

// queryID reads an optional positive integer query parameter; absent is 0.
func queryID(name, raw string) (int64, error) {
	if raw == "" {
		return 0, nil
	}
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id < 1 {
		return 0, fmt.Errorf("%s %q is not a positive integer", name, raw)
	}
	return id, nil
}

// oneOf checks an optional enumerated query parameter.
func oneOf(name, v string, allowed []string) error {
	if v == "" || slices.Contains(allowed, v) {
		return nil
	}
	return fmt.Errorf("%s must be one of %s; got %q", name, strings.Join(allowed, ", "), v)
}

// maxFilterText bounds free-text filters (rule, receiver); longer ones
// cannot match anything the server stores.
const maxFilterText = 255

func checkFilterText(name, v string) error {
	if len(v) > maxFilterText {
		return fmt.Errorf("%s must be at most %d bytes", name, maxFilterText)
	}
	return nil
}

// newestFirst is a page of a list ordered newest first by id: its size,
// and the id the page starts below (0: from the newest).
type newestFirst struct {
	limit  int
	before int64
}

// parseNewestFirst reads limit and cursor; the cursor must be one of
// type C, so a cursor of another list is refused. Without a cursor,
// before is 0: from the newest row.
func parseNewestFirst[C interface {
	valid() bool
	id() int64
}](q url.Values) (newestFirst, error) {
	limit, after, err := readPage[C](q)
	if err != nil {
		return newestFirst{}, err
	}
	return newestFirst{limit: limit, before: after.id()}, nil
}

// alertCursor, silenceCursor and notificationCursor are the ids of the
// last row on a page. Their keys differ so that each list refuses the
// others' cursors.
type alertCursor struct {
	Before int64 `json:"alert_before"`
}

func (c alertCursor) valid() bool { return c.Before > 0 }
func (c alertCursor) id() int64   { return c.Before }

type silenceCursor struct {
	Before int64 `json:"silence_before"`
}

func (c silenceCursor) valid() bool { return c.Before > 0 }
func (c silenceCursor) id() int64   { return c.Before }

type notificationCursor struct {
	Before int64 `json:"notification_before"`
}

func (c notificationCursor) valid() bool { return c.Before > 0 }
func (c notificationCursor) id() int64   { return c.Before }

// joinLines puts the lines of a joined error on one line.
func joinLines(err error) string {
	return strings.ReplaceAll(err.Error(), "\n", "; ")
}
