package ctl

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/steward-project/steward/server/internal/apitypes"
)

// changesList shows inventory changes across the fleet, or of one host
// with --host, newest first.
func changesList(ctx context.Context, s *session, f changeFilter, host int64, limit int) error {
	if host < 0 {
		return &usageError{msg: fmt.Sprintf("--host %d is not a positive integer", host)}
	}
	q, err := f.query(limit, s.now())
	if err != nil {
		return err
	}
	path := "/api/v1/changes"
	if host > 0 {
		path = "/api/v1/hosts/" + strconv.FormatInt(host, 10) + "/changes"
	}
	items, err := collectPages(ctx, s.client, path, q, "changes")
	if err != nil {
		return err
	}
	return printChanges(s, items, true)
}

// policiesHistory shows a policy's status changes, newest first.
func policiesHistory(ctx context.Context, s *session, id string, host int64, since string, limit int) error {
	if err := checkLimit(limit); err != nil {
		return err
	}
	if host < 0 {
		return &usageError{msg: fmt.Sprintf("--host %d is not a positive integer", host)}
	}
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if host > 0 {
		q.Set("host_id", strconv.FormatInt(host, 10))
	}
	if since != "" {
		t, err := parseWhen(since, s.now())
		if err != nil {
			return &usageError{msg: fmt.Sprintf("--since: %v", err)}
		}
		q.Set("since", t.UTC().Format(time.RFC3339Nano))
	}
	items, err := collectPages(ctx, s.client, "/api/v1/policies/"+url.PathEscape(id)+"/history", q, "transitions")
	if err != nil {
		return err
	}
	if s.output == outputJSON {
		return printJSON(s.out, struct {
			PolicyID    string            `json:"policy_id"`
			Transitions []json.RawMessage `json:"transitions"`
		}{id, items})
	}
	ts, err := decodeAll[apitypes.Transition](items)
	if err != nil {
		return err
	}
	tw := newTable(s.out)
	tw.row("TIME", "HOST_ID", "FROM", "TO", "EVIDENCE")
	for _, t := range ts {
		tw.row(timeCell(t.At, "-"), t.HostID, cell(string(t.From)), cell(string(t.To)),
			cell(evidenceCell(apitypes.Result{Status: t.To, Evidence: t.Evidence})))
	}
	return tw.Flush()
}
