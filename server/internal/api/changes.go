package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/steward-project/steward/server/internal/changes"
	"github.com/steward-project/steward/server/internal/store"
)

// Change is one recorded inventory change. OldValue is empty for
// something that appeared, NewValue for something that went; Details,
// when present, is a JSON object that depends on Kind.
type Change struct {
	ID        int64           `json:"id"`
	HostID    int64           `json:"host_id"`
	Kind      string          `json:"kind"`
	Subject   string          `json:"subject"`
	OldValue  string          `json:"old_value"`
	NewValue  string          `json:"new_value"`
	Details   json.RawMessage `json:"details,omitempty"`
	FirstSeen time.Time       `json:"first_seen"`
	Seq       uint64          `json:"seq"`
}

// ChangeList is one page of changes, newest first. NextCursor is absent on
// the last page.
type ChangeList struct {
	Changes    []Change `json:"changes"`
	NextCursor string   `json:"next_cursor,omitempty"`
}

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
	out := ChangeList{Changes: make([]Change, 0, min(len(rows), limit))}
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[len(rows)-1]
		out.NextCursor = encodeCursor(changeCursor{FirstSeen: last.FirstSeen.UTC(), ID: last.ID})
	}
	for _, c := range rows {
		out.Changes = append(out.Changes, Change{
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
	limit, err := parseLimit(v.Get("limit"))
	if err != nil {
		return q, 0, err
	}
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
	if c := v.Get("cursor"); c != "" {
		var after changeCursor
		if err := decodeCursor(c, &after); err != nil {
			return q, 0, err
		}
		q.AfterFirstSeen, q.AfterID = after.FirstSeen, after.ID
	}
	return q, limit, nil
}
