package ctl

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/shared/policy"
)

// resultStatuses are what --status accepts, as the API does.
var resultStatuses = []string{"pass", "fail", "not_applicable", "error", "exempt"}

func policiesResults(ctx context.Context, s *session, id, status string, limit int) error {
	if err := checkLimit(limit); err != nil {
		return err
	}
	if status != "" && !slices.Contains(resultStatuses, status) {
		return &usageError{msg: fmt.Sprintf("--status %q: want one of %s", status, strings.Join(resultStatuses, ", "))}
	}
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if status != "" {
		q.Set("status", status)
	}
	items, err := collectPages(ctx, s.client, "/api/v1/policies/"+url.PathEscape(id)+"/results", q, "results")
	if err != nil {
		return err
	}
	if s.output == outputJSON {
		return printJSON(s.out, struct {
			PolicyID string            `json:"policy_id"`
			Results  []json.RawMessage `json:"results"`
		}{id, items})
	}
	results, err := decodeAll[apitypes.Result](items)
	if err != nil {
		return err
	}
	withParams := slices.ContainsFunc(results, func(r apitypes.Result) bool { return len(r.Parameters) > 0 })
	tw := newTable(s.out)
	tw.row(withParameters(withParams, "HOST_ID", "HOSTNAME", "STATUS", "SINCE", "LAST CHECKED", "PARAMETERS", "EVIDENCE")...)
	for _, r := range results {
		tw.row(withParameters(withParams, r.HostID, cell(r.Hostname), statusCell(r.Status, r.UnderlyingStatus),
			timeCell(r.Since, "-"), timeCell(r.LastCheckedAt, "-"), cell(parametersCell(r.Parameters)), cell(evidenceCell(r)))...)
	}
	return tw.Flush()
}

// withParameters returns a row of a results table, whose second-to-last
// cell is the PARAMETERS column: kept when the table shows parameters
// (some result has them), dropped otherwise.
func withParameters(keep bool, cells ...any) []any {
	if keep {
		return cells
	}
	return append(cells[:len(cells)-2:len(cells)-2], cells[len(cells)-1])
}

// parametersCell shows the parameter values a result was evaluated with
// as name=value pairs in name order, comma-separated.
func parametersCell(params map[string]string) string {
	parts := make([]string, 0, len(params))
	for _, name := range slices.Sorted(maps.Keys(params)) {
		parts = append(parts, name+"="+params[name])
	}
	return strings.Join(parts, ",")
}

// statusCell shows an exempt result with what the check found.
func statusCell(st, underlying policy.Status) string {
	if st == policy.StatusExempt && underlying != "" {
		return fmt.Sprintf("exempt (%s)", underlying)
	}
	return cell(string(st))
}

// maxEvidenceCell keeps a table row on one screen line or so; -o json
// has the evidence in full.
const maxEvidenceCell = 120

// evidenceCell sums a result up on one line: the leaves that decided it
// (the failing ones of a failure), the error, or the exemption's reason.
func evidenceCell(r apitypes.Result) string {
	var parts []string
	if r.Exemption != nil {
		parts = append(parts, fmt.Sprintf("exemption %d until %s: %s", r.Exemption.ID,
			r.Exemption.ExpiresAt.UTC().Format(time.RFC3339), r.Exemption.Reason))
	}
	if r.Error != "" {
		parts = append(parts, r.Error)
	}
	want := r.UnderlyingStatus
	if want == "" {
		want = r.Status
	}
	for _, e := range r.Evidence {
		if want == policy.StatusFail && e.Passed {
			continue // a failure is explained by what failed
		}
		parts = append(parts, e.Detail)
	}
	s := strings.Join(strings.Fields(strings.Join(parts, "; ")), " ")
	if len(s) > maxEvidenceCell {
		cut := maxEvidenceCell
		for cut > 0 && s[cut]&0xC0 == 0x80 {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}

func complianceSummary(ctx context.Context, s *session) error {
	raw, err := s.client.Get(ctx, "/api/v1/compliance", nil)
	if err != nil {
		return err
	}
	if s.output == outputJSON {
		return printJSON(s.out, raw)
	}
	var c apitypes.Compliance
	if err := json.Unmarshal(raw, &c); err != nil {
		return fmt.Errorf("decode compliance: %w", err)
	}
	tw := newTable(s.out)
	tw.row("POLICY", "SEVERITY", "PASS", "FAIL", "N/A", "ERROR", "EXEMPT", "TOTAL")
	row := func(id, severity string, n apitypes.PolicyCounts) {
		tw.row(id, severity, n.Pass, n.Fail, n.NotApplicable, n.Error, n.Exempt, n.Total)
	}
	for _, p := range c.Policies {
		row(p.PolicyID, p.Severity, p.PolicyCounts)
	}
	row("TOTAL", "", c.Totals)
	return tw.Flush()
}
