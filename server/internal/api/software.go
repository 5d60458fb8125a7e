package api

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/server/internal/pkgver"
	"github.com/steward-project/steward/server/internal/store"
)

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
	limit, after, err := readPage[softwareCursor](q)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	sq.AfterSoftwareID, sq.AfterHostID = after.SoftwareID, after.HostID
	sq.Limit = limit + 1 // one more tells whether a next page exists
	rows, err := s.store.SearchSoftware(r.Context(), sq)
	if err != nil {
		s.storeFailed(w, r, "search software", err)
		return
	}
	out := apitypes.SoftwareList{Software: make([]apitypes.SoftwareHit, 0, min(len(rows), limit))}
	rows, out.NextCursor = nextPage(rows, limit, func(last store.SoftwareHit) softwareCursor {
		return softwareCursor{SoftwareID: last.SoftwareID, HostID: last.HostID}
	})
	for _, h := range rows {
		out.Software = append(out.Software, apitypes.SoftwareHit{
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
	out := apitypes.SoftwareVersionList{Versions: make([]apitypes.SoftwareVersion, 0, len(rows))}
	for _, v := range rows {
		out.Versions = append(out.Versions, apitypes.SoftwareVersion(v))
	}
	writeJSON(w, http.StatusOK, out)
}
