package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/steward-project/steward/server/internal/alerting/match"
	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/server/internal/store"
)

func (s *server) silenceView(sl store.Silence) apitypes.Silence {
	state := apitypes.SilenceActive
	switch now := s.now(); {
	case !sl.ExpiredAt.IsZero() || !now.Before(sl.EndsAt):
		state = apitypes.SilenceExpired
	case now.Before(sl.StartsAt):
		state = apitypes.SilencePending
	}
	ms := sl.Matchers
	if ms == nil {
		ms = []match.Matcher{}
	}
	return apitypes.Silence{ID: sl.ID, Matchers: ms, Comment: sl.Comment, CreatedBy: sl.CreatedBy, CreatedAt: utc(sl.CreatedAt),
		StartsAt: utc(sl.StartsAt), EndsAt: utc(sl.EndsAt), ExpiredAt: utc(sl.ExpiredAt), ExpiredBy: sl.ExpiredBy, State: state}
}

// parseMatchers reads the matchers of a new silence. At least one must
// not match an empty value, as in Alertmanager: a silence whose matchers
// all match an alert without those labels would mute nearly everything.
func parseMatchers(raws []json.RawMessage) ([]match.Matcher, error) {
	if len(raws) == 0 {
		return nil, errors.New("matchers: a silence needs at least one matcher")
	}
	var errs []error
	out := make([]match.Matcher, 0, len(raws))
	narrow := false
	for i, raw := range raws {
		m, err := parseMatcher(raw)
		if err != nil {
			errs = append(errs, fmt.Errorf("matchers[%d]: %w", i, err))
			continue
		}
		narrow = narrow || !m.Matches(map[string]string{})
		out = append(out, m)
	}
	if len(errs) == 0 && !narrow {
		errs = append(errs, errors.New("matchers: at least one must not match an empty value (a silence of every alert is refused)"))
	}
	return out, errors.Join(errs...)
}

// parseMatcher reads "name=value" (or !=, =~, !~) or {name, op, value}.
func parseMatcher(raw json.RawMessage) (match.Matcher, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case bytes.HasPrefix(raw, []byte(`"`)):
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return match.Matcher{}, err
		}
		return match.Parse(s)
	case bytes.HasPrefix(raw, []byte(`{`)):
		var m struct {
			Name  string   `json:"name"`
			Op    match.Op `json:"op"`
			Value string   `json:"value"`
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&m); err != nil {
			return match.Matcher{}, fmt.Errorf("want {\"name\", \"op\", \"value\"}: %v", err)
		}
		return match.New(m.Name, m.Op, m.Value)
	}
	return match.Matcher{}, errors.New(`want a string such as "rule=host-offline" or an object {"name", "op", "value"}`)
}

// parseSilenceDuration reads a Go duration or whole days ("7d").
func parseSilenceDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if days, ok := strings.CutSuffix(v, "d"); ok {
		var n int
		n, err = strconv.Atoi(days)
		d = time.Duration(n) * 24 * time.Hour
		if err == nil && d/(24*time.Hour) != time.Duration(n) {
			err = errors.New("too long") // overflowed
		}
	}
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("duration %q: want a positive duration such as 90m, 2h or 7d", v)
	}
	return d, nil
}

// silenceWindow works out when a new silence starts and ends.
func silenceWindow(in apitypes.NewSilence, now time.Time) (starts, ends time.Time, err error) {
	starts = in.StartsAt.UTC()
	if starts.IsZero() {
		starts = now
	}
	switch {
	case in.Duration != "" && !in.EndsAt.IsZero():
		return starts, ends, errors.New("give ends_at or duration, not both")
	case in.Duration != "":
		d, err := parseSilenceDuration(in.Duration)
		if err != nil {
			return starts, ends, err
		}
		ends = starts.Add(d)
	case !in.EndsAt.IsZero():
		ends = in.EndsAt.UTC()
	default:
		return starts, ends, errors.New("ends_at or duration is required")
	}
	if !ends.After(now) {
		return starts, ends, fmt.Errorf("the silence would end at %s, which is not in the future", ends.Format(time.RFC3339))
	}
	if !ends.After(starts) {
		return starts, ends, errors.New("ends_at must be after starts_at")
	}
	return starts, ends, nil
}

// addSilence stores a silence; the store audits it, and the engine
// re-checks which alerts it mutes.
func (s *server) addSilence(w http.ResponseWriter, r *http.Request) {
	var in apitypes.NewSilence
	if !decodeBody(w, r, &in) {
		return
	}
	now := s.now()
	matchers, errM := parseMatchers(in.Matchers)
	starts, ends, errW := silenceWindow(in, now)
	if err := errors.Join(errM, checkText("comment", in.Comment), errW); err != nil {
		writeError(w, http.StatusBadRequest, joinLines(err))
		return
	}
	actor, ok := s.actor(w, r)
	if !ok {
		return
	}
	id, err := s.alerts.AddSilence(r.Context(), store.Silence{Matchers: matchers, Comment: in.Comment, CreatedBy: actor,
		CreatedAt: now, StartsAt: starts, EndsAt: ends})
	if err != nil {
		s.storeFailed(w, r, "add silence", err)
		return
	}
	s.log.Info("silence added", "silence_id", id, "actor", actor)
	s.silenced()
	s.writeSilence(w, r, id, http.StatusCreated)
}

func (s *server) writeSilence(w http.ResponseWriter, r *http.Request, id int64, status int) {
	sl, err := s.alerts.GetSilence(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, fmt.Sprintf("silence %d not found", id))
		return
	}
	if err != nil {
		s.storeFailed(w, r, "get silence", err)
		return
	}
	writeJSON(w, status, s.silenceView(sl))
}

func (s *server) getSilence(w http.ResponseWriter, r *http.Request) {
	if id, ok := pathID(w, r, "silence"); ok {
		s.writeSilence(w, r, id, http.StatusOK)
	}
}

// expireSilence ends a silence now; its row stays, expired. Alerts it
// muted that are still open are notified by the engine.
func (s *server) expireSilence(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "silence")
	if !ok {
		return
	}
	actor, ok := s.actor(w, r)
	if !ok {
		return
	}
	err := s.alerts.ExpireSilence(r.Context(), id, actor, s.now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, fmt.Sprintf("silence %d not found", id))
		return
	case errors.Is(err, store.ErrConflict):
		writeError(w, http.StatusConflict, fmt.Sprintf("silence %d has already ended", id))
		return
	case err != nil:
		s.storeFailed(w, r, "expire silence", err)
		return
	}
	s.log.Info("silence expired", "silence_id", id, "actor", actor)
	s.silenced()
	s.writeSilence(w, r, id, http.StatusOK)
}

// listSilences serves silences not yet ended, or with all=true every one,
// newest first.
func (s *server) listSilences(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	p, err := parseNewestFirst[silenceCursor](q)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	sq := store.SilenceQuery{At: s.now(), BeforeID: p.before, Limit: p.limit + 1}
	if v := q.Get("all"); v != "" {
		if sq.All, err = strconv.ParseBool(v); err != nil {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("all must be true or false, got %q", v))
			return
		}
	}
	rows, err := s.alerts.ListSilences(r.Context(), sq)
	if err != nil {
		s.storeFailed(w, r, "list silences", err)
		return
	}
	out := apitypes.SilenceList{Silences: make([]apitypes.Silence, 0, min(len(rows), p.limit))}
	rows, out.NextCursor = nextPage(rows, p.limit, func(last store.Silence) silenceCursor { return silenceCursor{Before: last.ID} })
	for _, sl := range rows {
		out.Silences = append(out.Silences, s.silenceView(sl))
	}
	writeJSON(w, http.StatusOK, out)
}
