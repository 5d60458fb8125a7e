package ctl

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/steward-project/steward/server/internal/apitypes"
)

// noResult is what --status of `hosts policies` takes for the policies a
// host has not reported on yet.
const noResult = "none"

// hostsPolicies shows every policy of the set with its result on one
// host. The API answers in one piece; --status filters here.
func hostsPolicies(ctx context.Context, s *session, arg, status string) error {
	id, err := parseID("host", arg)
	if err != nil {
		return err
	}
	if status != "" && status != noResult && !slices.Contains(resultStatuses, status) {
		return &usageError{msg: fmt.Sprintf("--status %q: want one of %s, or %s for no result yet",
			status, strings.Join(resultStatuses, ", "), noResult)}
	}
	raw, err := s.client.Get(ctx, "/api/v1/hosts/"+strconv.FormatInt(id, 10)+"/policies", nil)
	if err != nil {
		return err
	}
	var page struct {
		HostID   int64             `json:"host_id"`
		Revision int64             `json:"revision"`
		Policies []json.RawMessage `json:"policies"`
	}
	if err := json.Unmarshal(raw, &page); err != nil || page.Policies == nil {
		return fmt.Errorf("GET /api/v1/hosts/%d/policies: response has no \"policies\" list", id)
	}
	all, err := decodeAll[apitypes.HostPolicy](page.Policies)
	if err != nil {
		return err
	}
	var keep []apitypes.HostPolicy
	var keepRaw []json.RawMessage
	for i, p := range all {
		st := string(p.Status)
		if st == "" {
			st = noResult
		}
		if status == "" || st == status {
			keep, keepRaw = append(keep, p), append(keepRaw, page.Policies[i])
		}
	}
	if s.output == outputJSON {
		if status == "" {
			return printJSON(s.out, raw)
		}
		page.Policies = keepRaw
		if page.Policies == nil {
			page.Policies = []json.RawMessage{}
		}
		return printJSON(s.out, page)
	}
	withParams := slices.ContainsFunc(keep, func(p apitypes.HostPolicy) bool { return len(p.Parameters) > 0 })
	tw := newTable(s.out)
	tw.row(withParameters(withParams, "POLICY", "SEVERITY", "STATUS", "SINCE", "LAST CHECKED", "PARAMETERS", "EVIDENCE")...)
	for _, p := range keep {
		st := statusCell(p.Status, p.UnderlyingStatus)
		if p.Status == "" {
			st = "(no result)"
		}
		r := apitypes.Result{Status: p.Status, UnderlyingStatus: p.UnderlyingStatus, Evidence: p.Evidence,
			Error: p.Error, Exemption: p.Exemption}
		tw.row(withParameters(withParams, p.PolicyID, cell(p.Severity), st, timeCell(p.Since, "-"),
			timeCell(p.LastCheckedAt, "-"), cell(parametersCell(p.Parameters)), cell(evidenceCell(r)))...)
	}
	return tw.Flush()
}
