package api

import (
	"net/http"

	"github.com/steward-project/steward/server/internal/store"
)

// SoftwareHit is one host with one installed package matching a search.
type SoftwareHit struct {
	SoftwareID int64  `json:"software_id"`
	Name       string `json:"name"`
	Version    string `json:"version"`
	Arch       string `json:"arch"`
	Source     string `json:"source"`
	HostID     int64  `json:"host_id"`
	Hostname   string `json:"hostname"`
}

// SoftwareList is one page of software hits. NextCursor is absent on the
// last page.
type SoftwareList struct {
	Software   []SoftwareHit `json:"software"`
	NextCursor string        `json:"next_cursor,omitempty"`
}

func (s *server) searchSoftware(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name := q.Get("name")
	if name == "" {
		writeError(w, http.StatusBadRequest, "query parameter name is required")
		return
	}
	limit, err := parseLimit(q.Get("limit"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var after softwareCursor
	if c := q.Get("cursor"); c != "" {
		if err := decodeCursor(c, &after); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
	}
	rows, err := s.store.SearchSoftware(r.Context(), store.SoftwareQuery{
		Name:            name,
		Version:         q.Get("version"),
		AfterSoftwareID: after.SoftwareID,
		AfterHostID:     after.HostID,
		Limit:           limit + 1, // one more tells whether a next page exists
	})
	if err != nil {
		s.storeFailed(w, r, "search software", err)
		return
	}
	out := SoftwareList{Software: make([]SoftwareHit, 0, min(len(rows), limit))}
	if len(rows) > limit {
		rows = rows[:limit]
		last := rows[len(rows)-1]
		out.NextCursor = encodeCursor(softwareCursor{SoftwareID: last.SoftwareID, HostID: last.HostID})
	}
	for _, h := range rows {
		out.Software = append(out.Software, SoftwareHit{
			SoftwareID: h.SoftwareID,
			Name:       h.Name,
			Version:    h.Version,
			Arch:       h.Arch,
			Source:     h.Source,
			HostID:     h.HostID,
			Hostname:   h.Hostname,
		})
	}
	writeJSON(w, http.StatusOK, out)
}
