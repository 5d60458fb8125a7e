package ctl

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/steward-project/steward/server/internal/alerting/match"
	"github.com/steward-project/steward/server/internal/apitypes"
)

// silenceInput is what `silences add` collects from its flags.
type silenceInput struct {
	matchers                        stringList
	comment, duration, ends, starts string
}

// body checks the flags and builds the request; every mistake is a usage
// error, found before anything is sent.
func (in silenceInput) body() (apitypes.NewSilence, error) {
	var out apitypes.NewSilence
	var missing []string
	if len(in.matchers) == 0 {
		missing = append(missing, "--match")
	}
	if strings.TrimSpace(in.comment) == "" {
		missing = append(missing, "--comment")
	}
	if len(missing) > 0 {
		return out, &usageError{msg: "silences add needs " + strings.Join(missing, ", ")}
	}
	if (in.duration == "") == (in.ends == "") {
		return out, &usageError{msg: "silences add needs --duration or --ends, not both"}
	}
	for _, m := range in.matchers {
		if _, err := match.Parse(m); err != nil {
			return out, &usageError{msg: "--match: " + err.Error()}
		}
		raw, err := json.Marshal(m)
		if err != nil {
			return out, fmt.Errorf("encode matcher: %w", err)
		}
		out.Matchers = append(out.Matchers, raw)
	}
	out.Comment, out.Duration = in.comment, in.duration
	if in.duration != "" && !validDuration(in.duration) {
		return out, &usageError{msg: fmt.Sprintf("--duration %q: want a positive duration such as 90m, 2h or 7d", in.duration)}
	}
	for _, t := range []struct {
		flag, value string
		into        *time.Time
	}{{"--ends", in.ends, &out.EndsAt}, {"--starts", in.starts, &out.StartsAt}} {
		if t.value == "" {
			continue
		}
		v, err := time.Parse(time.RFC3339Nano, t.value)
		if err != nil {
			return out, &usageError{msg: fmt.Sprintf("%s %q: want an RFC 3339 time such as 2025-03-01T18:00:00Z", t.flag, t.value)}
		}
		*t.into = v.UTC()
	}
	return out, nil
}

// validDuration accepts what the server does: a Go duration or whole
// days, above zero.
func validDuration(v string) bool {
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		return err == nil && n > 0
	}
	d, err := time.ParseDuration(v)
	return err == nil && d > 0
}

func silencesAdd(ctx context.Context, s *session, in silenceInput) error {
	body, err := in.body()
	if err != nil {
		return err
	}
	raw, err := s.client.Do(ctx, http.MethodPost, "/api/v1/silences", nil, body)
	if err != nil {
		return err
	}
	return printSilence(s, raw, "Added")
}

func printSilence(s *session, raw json.RawMessage, verb string) error {
	if s.output == outputJSON {
		return printJSON(s.out, raw)
	}
	var sl apitypes.Silence
	if err := json.Unmarshal(raw, &sl); err != nil {
		return fmt.Errorf("decode silence: %w", err)
	}
	return printf(s.out, "%s silence %d (%s): %s\n", verb, sl.ID, silenceWhen(sl), matcherList(sl.Matchers))
}

// silenceWhen says when a silence applies, by its state.
func silenceWhen(sl apitypes.Silence) string {
	switch {
	case !sl.ExpiredAt.IsZero():
		return "expired " + timeCell(sl.ExpiredAt, "-") + " by " + cell(sl.ExpiredBy)
	case sl.State == apitypes.SilencePending:
		return "from " + timeCell(sl.StartsAt, "-") + " until " + timeCell(sl.EndsAt, "-")
	case sl.State == apitypes.SilenceExpired:
		return "ended " + timeCell(sl.EndsAt, "-")
	}
	return "active until " + timeCell(sl.EndsAt, "-")
}

func matcherList(ms []match.Matcher) string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.String()
	}
	return strings.Join(out, ", ")
}

func silencesList(ctx context.Context, s *session, all bool, limit int) error {
	if err := checkLimit(limit); err != nil {
		return err
	}
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if all {
		q.Set("all", "true")
	}
	items, err := collectPages(ctx, s.client, "/api/v1/silences", q, "silences")
	if err != nil {
		return err
	}
	if s.output == outputJSON {
		return printJSON(s.out, struct {
			Silences []json.RawMessage `json:"silences"`
		}{items})
	}
	ss, err := decodeAll[apitypes.Silence](items)
	if err != nil {
		return err
	}
	tw := newTable(s.out)
	tw.row("ID", "STATE", "MATCHERS", "STARTS", "ENDS", "CREATED BY", "COMMENT")
	for _, sl := range ss {
		ends := sl.EndsAt
		if !sl.ExpiredAt.IsZero() {
			ends = sl.ExpiredAt
		}
		tw.row(sl.ID, sl.State, matcherList(sl.Matchers), timeCell(sl.StartsAt, "-"),
			timeCell(ends, "-"), cell(sl.CreatedBy), oneLine(sl.Comment))
	}
	return tw.Flush()
}

func silencesExpire(ctx context.Context, s *session, arg string) error {
	id, err := parseID("silence", arg)
	if err != nil {
		return err
	}
	raw, err := s.client.Do(ctx, http.MethodDelete, "/api/v1/silences/"+strconv.FormatInt(id, 10), nil, nil)
	if err != nil {
		return err
	}
	return printSilence(s, raw, "Expired")
}
