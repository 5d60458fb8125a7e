package api

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/steward-project/steward/server/internal/pkgver"
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

// softwareQuery reads the name, match and version parameters shared by
// the software routes.
func softwareQuery(q url.Values) (store.SoftwareQuery, error) {
	name := q.Get("name")
	if name == "" {
		return store.SoftwareQuery{}, errors.New("query parameter name is required")
	}
	match, err := store.ParseNameMatch(q.Get("match"))
	if err != nil {
		return store.SoftwareQuery{}, err
	}
	version, err := pkgver.Parse(q.Get("version"))
	if err != nil {
		return store.SoftwareQuery{}, err
	}
	return store.SoftwareQuery{Name: name, Match: match, Version: version}, nil
}

func (s *server) searchSoftware(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	sq, err := softwareQuery(q)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
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
	sq.AfterSoftwareID, sq.AfterHostID = after.SoftwareID, after.HostID
	sq.Limit = limit + 1 // one more tells whether a next page exists
	rows, err := s.store.SearchSoftware(r.Context(), sq)
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

// SoftwareVersion is how many live hosts have one version of a package
// from one source.
type SoftwareVersion struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Source  string `json:"source"`
	Hosts   int64  `json:"hosts"`
}

// SoftwareVersionList is every version matching a software query.
type SoftwareVersionList struct {
	Versions []SoftwareVersion `json:"versions"`
}

func (s *server) softwareVersions(w http.ResponseWriter, r *http.Request) {
	sq, err := softwareQuery(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	rows, err := s.store.SoftwareVersions(r.Context(), sq)
	if err != nil {
		s.storeFailed(w, r, "software versions", err)
		return
	}
	out := SoftwareVersionList{Versions: make([]SoftwareVersion, 0, len(rows))}
	for _, v := range rows {
		out.Versions = append(out.Versions, SoftwareVersion(v))
	}
	writeJSON(w, http.StatusOK, out)
}
