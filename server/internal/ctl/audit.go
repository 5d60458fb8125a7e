package ctl

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"strconv"

	"github.com/steward-project/steward/server/internal/apitypes"
)

// auditList shows the audit log, newest first. The server checks
// --action, and its refusal lists the actions there are.
func auditList(ctx context.Context, s *session, action string, limit int) error {
	if err := checkLimit(limit); err != nil {
		return err
	}
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if action != "" {
		q.Set("action", action)
	}
	items, err := collectPages(ctx, s.client, "/api/v1/audit", q, "entries")
	if err != nil {
		return err
	}
	if s.output == outputJSON {
		return printJSON(s.out, struct {
			Entries []json.RawMessage `json:"entries"`
		}{items})
	}
	entries, err := decodeAll[apitypes.AuditEntry](items)
	if err != nil {
		return err
	}
	tw := newTable(s.out)
	tw.row("ID", "TIME", "ACTOR", "ACTION", "SUBJECT", "DETAIL")
	for _, e := range entries {
		tw.row(e.ID, timeCell(e.At, "-"), cell(e.Actor), e.Action, cell(e.Subject), cell(detailCell(e.Detail)))
	}
	return tw.Flush()
}

// detailCell is an audit detail as compact JSON on one line; the table
// cuts it when it is long, and -o json has it whole.
func detailCell(raw json.RawMessage) string {
	if len(raw) == 0 || string(raw) == "null" {
		return ""
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return string(raw)
	}
	return b.String()
}
