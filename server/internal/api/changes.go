package api

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/server/internal/changes"
	"github.com/steward-project/steward/server/internal/store"
)

// changeCursor is the keyset of the last change on a page: changes are
// ordered by (first_seen, id), newest first.
type changeCursor struct {
	FirstSeen time.Time `json:"first_seen"`
	ID        int64     `json:"id"`
}

func (c changeCursor) valid() bool { return c.ID > 0 && !c.FirstSeen.IsZero() }

// hostChanges serves one host's changes; 404 when the host is unknown.
func (s *server) hostChanges(w http.ResponseWriter, r *http.Request) {
	id, ok := hostID(w, r)
	if !ok {
		return
	}
	s.listChanges(w, r, id)
}

// fleetChanges serves every host's changes.
func (s *server) fleetChanges(w http.ResponseWriter, r *http.Request) {
	s.listChanges(w, r, 0)
}

func (s *server) listChanges(w http.ResponseWriter, r *http.Request, hostID int64) {
	q, limit, err := parseChangeQuery(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	q.HostID = hostID
	q.Limit = limit + 1 // one more tells whether a next page exists
	rows, err := s.store.ListChanges(r.Context(), q)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("host %d not found", hostID))
		return
	}
	if err != nil {
		s.storeFailed(w, r, "list changes", err)
		return
	}
	out := apitypes.ChangeList{Changes: make([]apitypes.Change, 0, min(len(rows), limit))}
	rows, out.NextCursor = nextPage(rows, limit, func(last store.Change) changeCursor {
		return changeCursor{FirstSeen: last.FirstSeen.UTC(), ID: last.ID}
	})
	for _, c := range rows {
		out.Changes = append(out.Changes, apitypes.Change{
			ID: c.ID, HostID: c.HostID, Kind: c.Kind, Subject: c.Subject,
			OldValue: c.OldValue, NewValue: c.NewValue, Details: c.Details,
			FirstSeen: utc(c.FirstSeen), Seq: c.Seq,
		})
	}
	writeJSON(w, http.StatusOK, out)
}

// parseChangeQuery reads kind (repeatable, or comma-separated), subject,
// since, until (RFC 3339), limit and cursor.
func parseChangeQuery(v url.Values) (store.ChangeQuery, int, error) {
	var q store.ChangeQuery
	limit, after, err := readPage[changeCursor](v)
	if err != nil {
		return q, 0, err
	}
	q.AfterFirstSeen, q.AfterID = after.FirstSeen, after.ID
	for _, k := range v["kind"] {
		for _, kind := range strings.Split(k, ",") {
			kind = strings.TrimSpace(kind)
			if kind == "" {
				continue
			}
			if !changes.KnownKind(kind) {
				return q, 0, fmt.Errorf("unknown change kind %q; kinds are %s", kind, strings.Join(changes.Kinds, ", "))
			}
			q.Kinds = append(q.Kinds, kind)
		}
	}
	q.Subject = v.Get("subject")
	for _, p := range []struct {
		name string
		into *time.Time
	}{{"since", &q.Since}, {"until", &q.Until}} {
		raw := v.Get(p.name)
		if raw == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, raw)
		if err != nil {
			return q, 0, fmt.Errorf("%s must be an RFC 3339 time such as 2025-03-01T00:00:00Z, got %q", p.name, raw)
		}
		*p.into = t.UTC()
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
		return q, 0, errors.New("since must be before until")
	}
	return q, limit, nil
}
