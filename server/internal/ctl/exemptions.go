package ctl

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/steward-project/steward/server/internal/apitypes"
)

// exemptionInput is what `exemptions add` collects from its flags.
type exemptionInput struct {
	policy, reason, owner, expires string
	host                           int64
	labels                         stringList
	force                          bool
}

func exemptionsAdd(ctx context.Context, s *session, in exemptionInput) error {
	body := apitypes.NewExemption{PolicyID: in.policy, HostID: in.host, Reason: in.reason, Owner: in.owner}
	var missing []string
	for _, f := range []struct{ flag, value string }{{"--policy", in.policy}, {"--reason", in.reason}, {"--owner", in.owner}, {"--expires", in.expires}} {
		if strings.TrimSpace(f.value) == "" {
			missing = append(missing, f.flag)
		}
	}
	if len(missing) > 0 {
		return &usageError{msg: "exemptions add needs " + strings.Join(missing, ", ")}
	}
	if (in.host != 0) == (len(in.labels) > 0) {
		return &usageError{msg: "exemptions add needs --host ID or --label KEY=VALUE (repeatable), not both"}
	}
	if in.host < 0 {
		return &usageError{msg: fmt.Sprintf("--host %d is not a positive integer", in.host)}
	}
	for _, l := range in.labels {
		k, v, ok := strings.Cut(l, "=")
		if !ok || k == "" {
			return &usageError{msg: fmt.Sprintf("--label %q: want KEY=VALUE", l)}
		}
		if body.Labels == nil {
			body.Labels = map[string]string{}
		}
		body.Labels[k] = v
	}
	exp, err := apitypes.CredentialExpiry(in.expires, s.now(), in.force)
	if err != nil {
		return &usageError{msg: "--expires " + err.Error()}
	}
	body.ExpiresAt = exp
	raw, err := s.client.Do(ctx, http.MethodPost, "/api/v1/exemptions", nil, body)
	if err != nil {
		return err
	}
	return printExemption(s, raw, "Added")
}

// parseExpiry reads an RFC 3339 time, a date (2027-01-01) or a duration
// ahead of now (36h, 30d).
func parseExpiry(v string, now time.Time) (time.Time, error) { return apitypes.ParseExpiry(v, now) }

func printExemption(s *session, raw json.RawMessage, verb string) error {
	if s.output == outputJSON {
		return printJSON(s.out, raw)
	}
	var e apitypes.Exemption
	if err := json.Unmarshal(raw, &e); err != nil {
		return fmt.Errorf("decode exemption: %w", err)
	}
	return printf(s.out, "%s exemption %d: %s for %s until %s (owner %s).\n", verb, e.ID, e.PolicyID,
		exemptionTarget(e), e.ExpiresAt.UTC().Format(time.RFC3339), e.Owner)
}

func exemptionTarget(e apitypes.Exemption) string {
	if e.HostID != 0 {
		return "host " + strconv.FormatInt(e.HostID, 10)
	}
	keys := make([]string, 0, len(e.Labels))
	for k := range e.Labels {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		keys[i] = k + "=" + e.Labels[k]
	}
	return "hosts with " + strings.Join(keys, ",")
}

func exemptionsList(ctx context.Context, s *session, all bool, policyID string, limit int) error {
	if err := checkLimit(limit); err != nil {
		return err
	}
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if all {
		q.Set("all", "true")
	}
	if policyID != "" {
		q.Set("policy_id", policyID)
	}
	items, err := collectPages(ctx, s.client, "/api/v1/exemptions", q, "exemptions")
	if err != nil {
		return err
	}
	if s.output == outputJSON {
		return printJSON(s.out, struct {
			Exemptions []json.RawMessage `json:"exemptions"`
		}{items})
	}
	es, err := decodeAll[apitypes.Exemption](items)
	if err != nil {
		return err
	}
	tw := newTable(s.out)
	tw.row("ID", "POLICY", "APPLIES TO", "EXPIRES", "STATE", "OWNER", "REASON")
	for _, e := range es {
		state := "active"
		switch {
		case !e.RevokedAt.IsZero():
			state = "revoked"
		case !e.Active:
			state = "expired"
		}
		tw.row(e.ID, e.PolicyID, exemptionTarget(e),
			timeCell(e.ExpiresAt, "-"), state, e.Owner, strings.Join(strings.Fields(e.Reason), " "))
	}
	return tw.Flush()
}

func exemptionsRemove(ctx context.Context, s *session, arg string) error {
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil || id < 1 {
		return &usageError{msg: fmt.Sprintf("exemption ID %q is not a positive integer", arg)}
	}
	raw, err := s.client.Do(ctx, http.MethodDelete, "/api/v1/exemptions/"+strconv.FormatInt(id, 10), nil, nil)
	if err != nil {
		return err
	}
	return printExemption(s, raw, "Revoked")
}
