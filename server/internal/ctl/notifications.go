package ctl

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/steward-project/steward/server/internal/apitypes"
)

// notificationStates are what --state takes.
var notificationStates = []string{"pending", "sent", "dead", "skipped"}

// notificationFilter is what `notifications list` narrows the outbox by.
type notificationFilter struct {
	receiver, state string
	dead            bool
	alert           int64
}

func (f notificationFilter) query(limit int) (url.Values, error) {
	if err := checkLimit(limit); err != nil {
		return nil, err
	}
	if f.state != "" && !slices.Contains(notificationStates, f.state) {
		return nil, &usageError{msg: fmt.Sprintf("--state %q: want one of %s", f.state, strings.Join(notificationStates, ", "))}
	}
	if f.dead && f.state != "" && f.state != "dead" {
		return nil, &usageError{msg: "--dead lists state dead; it contradicts --state " + f.state}
	}
	if f.alert < 0 {
		return nil, &usageError{msg: fmt.Sprintf("--alert %d is not a positive integer", f.alert)}
	}
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if f.receiver != "" {
		q.Set("receiver", f.receiver)
	}
	if f.state != "" {
		q.Set("state", f.state)
	}
	if f.dead {
		q.Set("dead_letter", "true")
	}
	if f.alert > 0 {
		q.Set("alert_id", strconv.FormatInt(f.alert, 10))
	}
	return q, nil
}

func notificationsList(ctx context.Context, s *session, f notificationFilter, limit int) error {
	q, err := f.query(limit)
	if err != nil {
		return err
	}
	items, err := collectPages(ctx, s.client, "/api/v1/notifications", q, "notifications")
	if err != nil {
		return err
	}
	if s.output == outputJSON {
		return printJSON(s.out, struct {
			Notifications []json.RawMessage `json:"notifications"`
		}{items})
	}
	ns, err := decodeAll[apitypes.Notification](items)
	if err != nil {
		return err
	}
	tw := newTable(s.out)
	tw.row("ID", "ALERT", "RECEIVER", "EVENT", "STATE", "ATTEMPTS", "CREATED", "LAST ERROR")
	for _, n := range ns {
		tw.row(n.ID, n.AlertID, n.Receiver, n.Event, n.State, n.Attempts,
			timeCell(n.CreatedAt, "-"), cell(oneLine(n.LastError)))
	}
	return tw.Flush()
}
