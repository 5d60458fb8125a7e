package ctl

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/steward-project/steward/server/internal/apitypes"
)

// changeFilter is what `hosts changes` narrows the history by.
type changeFilter struct {
	kinds        stringList
	since, until string
	subject      string
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }

func (l *stringList) Set(v string) error {
	*l = append(*l, v)
	return nil
}

func hostsChanges(ctx context.Context, s *session, arg string, f changeFilter, limit int) error {
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || id < 1 {
		return &usageError{msg: fmt.Sprintf("host ID %q is not a positive integer", arg)}
	}
	q, err := f.query(limit, s.now())
	if err != nil {
		return err
	}
	items, err := collectPages(ctx, s.client, "/api/v1/hosts/"+strconv.FormatInt(id, 10)+"/changes", q, "changes")
	if err != nil {
		return err
	}
	return printChanges(s, items, false)
}

// query checks the filter and the page size and turns them into the
// query of GET /hosts/{id}/changes and GET /changes.
func (f changeFilter) query(limit int, now time.Time) (url.Values, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	for _, k := range f.kinds {
		q.Add("kind", k)
	}
	if f.subject != "" {
		q.Set("subject", f.subject)
	}
	for _, p := range []struct{ flag, value string }{{"since", f.since}, {"until", f.until}} {
		if p.value == "" {
			continue
		}
		t, err := parseWhen(p.value, now)
		if err != nil {
			return nil, &usageError{msg: fmt.Sprintf("--%s: %v", p.flag, err)}
		}
		q.Set(p.flag, t.UTC().Format(time.RFC3339Nano))
	}
	return q, nil
}

// printChanges prints changes as the API sent them; withHost adds a
// column naming each change's host.
func printChanges(s *session, items []json.RawMessage, withHost bool) error {
	if s.output == outputJSON {
		return printJSON(s.out, struct {
			Changes []json.RawMessage `json:"changes"`
		}{items})
	}
	changes, err := decodeAll[apitypes.Change](items)
	if err != nil {
		return err
	}
	tw := newTable(s.out)
	if withHost {
		tw.row("TIME", "HOST", "KIND", "SUBJECT", "OLD", "NEW")
	} else {
		tw.row("TIME", "KIND", "SUBJECT", "OLD", "NEW")
	}
	for _, c := range changes {
		cells := []any{timeCell(c.FirstSeen, "-"), c.Kind, cell(c.Subject), cell(c.OldValue), cell(c.NewValue)}
		if withHost {
			cells = slices.Insert(cells, 1, any(c.HostID))
		}
		tw.row(cells...)
	}
	return tw.Flush()
}

// parseWhen reads an RFC 3339 time, or a duration back from now: a Go
// duration ("36h", "90m") or whole days ("7d").
func parseWhen(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 {
			return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a duration such as 24h or 7d", s)
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil || d < 0 {
			return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a duration such as 24h or 7d", s)
		}
	}
	return now.Add(-d), nil
}
