package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/server/internal/store"
)

// Online reports whether a host counts as online at now: its latest
// connection is still open (connected after it last disconnected) and it
// spoke within window. The second condition catches a server that died
// without recording the disconnect.
func Online(h store.Host, now time.Time, window time.Duration) bool {
	open := h.DisconnectedAt.IsZero() || h.ConnectedAt.After(h.DisconnectedAt)
	return open && !h.LastSeen.IsZero() && now.Sub(h.LastSeen) <= window
}

func (s *server) hostView(h store.Host, now time.Time) apitypes.Host {
	return apitypes.Host{
		ID:           h.ID,
		Hostname:     h.Hostname,
		OS:           h.OS,
		Platform:     h.Platform,
		OSVersion:    h.OSVersion,
		Arch:         h.Arch,
		AgentVersion: h.AgentVersion,
		Online:       Online(h, now, s.window),
		LastSeen:     utc(h.LastSeen),
		EnrolledAt:   utc(h.EnrolledAt),

		HardwareUUID:       h.HardwareUUID,
		MachineID:          h.MachineID,
		Serial:             h.Serial,
		PossibleDuplicates: h.PossibleDuplicates,
		RetiredAt:          utc(h.RetiredAt),
		PoliciesCheckedAt:  utc(h.PoliciesCheckedAt),
	}
}

func (s *server) listHosts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, after, err := readPage[hostCursor](q)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	dups := false
	if d := q.Get("duplicates"); d != "" {
		if dups, err = strconv.ParseBool(d); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("duplicates must be true or false, got %q", d))
			return
		}
	}
	retired := false
	if v := q.Get("retired"); v != "" {
		if retired, err = strconv.ParseBool(v); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("retired must be true or false, got %q", v))
			return
		}
	}
	// One row more than asked tells whether another page exists, so the
	// last page never carries a cursor to an empty page.
	rows, err := s.store.ListHosts(r.Context(), store.HostPage{
		AfterHostname: after.Hostname, AfterID: after.ID, Limit: limit + 1, Duplicates: dups, Retired: retired,
	})
	if err != nil {
		s.storeFailed(w, r, "list hosts", err)
		return
	}
	out := apitypes.HostList{Hosts: make([]apitypes.Host, 0, min(len(rows), limit))}
	rows, out.NextCursor = nextPage(rows, limit, func(last store.Host) hostCursor { return hostCursor{Hostname: last.Hostname, ID: last.ID} })
	now := s.now()
	for _, h := range rows {
		out.Hosts = append(out.Hosts, s.hostView(h, now))
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *server) getHost(w http.ResponseWriter, r *http.Request) {
	id, ok := hostID(w, r)
	if !ok {
		return
	}
	h, err := s.store.GetHost(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("host %d not found", id))
		return
	}
	if err != nil {
		s.storeFailed(w, r, "get host", err)
		return
	}
	v := s.hostView(h, s.now())
	if v.PolicyRefusal, err = s.refusalView(r, id); err != nil {
		s.storeFailed(w, r, "policy refusal", err)
		return
	}
	writeJSON(w, http.StatusOK, v)
}

// checkHost asks the host's agent to evaluate its policies now.
func (s *server) checkHost(w http.ResponseWriter, r *http.Request) {
	id, ok := hostID(w, r)
	if !ok {
		return
	}
	if _, err := s.store.GetHost(r.Context(), id); errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("host %d not found", id))
		return
	} else if err != nil {
		s.storeFailed(w, r, "get host", err)
		return
	}
	if !s.check(id) {
		writeError(w, http.StatusConflict, fmt.Sprintf("host %d's agent is not connected to this server", id))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"host_id": id, "requested": true})
}

func (s *server) getInventory(w http.ResponseWriter, r *http.Request) {
	id, ok := hostID(w, r)
	if !ok {
		return
	}
	doc, err := s.store.Inventory(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("host %d not found", id))
		return
	}
	if err != nil {
		s.storeFailed(w, r, "get inventory", err)
		return
	}
	// Empty maps, not null, so clients can index without a nil check.
	out := apitypes.Inventory{
		HostID:      id,
		CollectedAt: utc(doc.CollectedAt),
		Sections:    nonNil(doc.Sections),
		Hashes:      nonNil(doc.Hashes),
		Errors:      nonNil(doc.Errors),
	}
	writeJSON(w, http.StatusOK, out)
}

// hostID parses the {id} path value, answering 400 itself when it is not
// a positive integer.
func hostID(w http.ResponseWriter, r *http.Request) (int64, bool) {
	raw := r.PathValue("id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id < 1 {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("host id %q is not a positive integer", raw))
		return 0, false
	}
	return id, true
}

func utc(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

func nonNil[V any](m map[string]V) map[string]V {
	if m == nil {
		return map[string]V{}
	}
	return m
}
