package ctl

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/steward-project/steward/server/internal/apitypes"
)

// credentialExpiry reads --expires of a token or enroll secret; "" is
// no expiry, and one more than a year away needs --force.
func credentialExpiry(s string, now time.Time, force bool) (time.Time, error) {
	at, err := apitypes.CredentialExpiry(s, now, force)
	if err != nil {
		return time.Time{}, &usageError{msg: "--expires " + err.Error()}
	}
	return at, nil
}

type tokenInput struct {
	role, expires string
	force         bool
}

func tokensCreate(ctx context.Context, s *session, name string, in tokenInput) error {
	expires, err := credentialExpiry(in.expires, s.now(), in.force)
	if err != nil {
		return err
	}
	raw, err := s.client.Do(ctx, http.MethodPost, "/api/v1/tokens", nil,
		apitypes.NewToken{Name: name, Role: in.role, ExpiresAt: expires})
	if err != nil {
		return err
	}
	if s.output == outputJSON {
		return printJSON(s.out, raw)
	}
	var res apitypes.NewTokenResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return fmt.Errorf("decode the new token: %w", err)
	}
	return printf(s.out, "Created %s token %q%s. It is shown this once; store it now:\n\n%s\n",
		res.Detail.Role, res.Detail.Name, expiryNote(res.Detail.ExpiresAt), res.Token)
}

func expiryNote(t time.Time) string {
	if t.IsZero() {
		return ", with no expiry"
	}
	return ", expiring " + t.UTC().Format(time.RFC3339)
}

func tokensList(ctx context.Context, s *session, revoked bool) error {
	raw, err := s.client.Get(ctx, "/api/v1/tokens", url.Values{"revoked": {strconv.FormatBool(revoked)}})
	if err != nil {
		return err
	}
	if s.output == outputJSON {
		return printJSON(s.out, raw)
	}
	var list apitypes.TokenList
	if err := json.Unmarshal(raw, &list); err != nil {
		return fmt.Errorf("decode tokens: %w", err)
	}
	tw := newTable(s.out)
	tw.row("NAME", "ROLE", "CREATED", "EXPIRES", "LAST USED", "REVOKED")
	for _, t := range list.Tokens {
		tw.row(cell(t.Name), cell(t.Role), timeCell(t.CreatedAt, "-"), timeCell(t.ExpiresAt, "never"),
			timeCell(t.LastUsedAt, "never"), timeCell(t.RevokedAt, "-"))
	}
	return tw.Flush()
}

func tokensRevoke(ctx context.Context, s *session, name string) error {
	raw, err := s.client.Do(ctx, http.MethodDelete, "/api/v1/tokens/"+url.PathEscape(name), nil, nil)
	if err != nil {
		return err
	}
	if s.output == outputJSON {
		return printJSON(s.out, raw)
	}
	return printf(s.out, "Revoked token %q; requests carrying it are refused from now on.\n", name)
}

type secretInput struct {
	expires string
	maxUses int64
	force   bool
}

func enrollSecretsCreate(ctx context.Context, s *session, name string, in secretInput) error {
	if in.maxUses < 0 {
		return &usageError{msg: fmt.Sprintf("--max-uses %d: want a positive number, or 0 for no limit", in.maxUses)}
	}
	expires, err := credentialExpiry(in.expires, s.now(), in.force)
	if err != nil {
		return err
	}
	raw, err := s.client.Do(ctx, http.MethodPost, "/api/v1/enroll-secrets", nil,
		apitypes.NewEnrollSecret{Name: name, ExpiresAt: expires, MaxUses: in.maxUses})
	if err != nil {
		return err
	}
	if s.output == outputJSON {
		return printJSON(s.out, raw)
	}
	var res apitypes.NewEnrollSecretResult
	if err := json.Unmarshal(raw, &res); err != nil {
		return fmt.Errorf("decode the new enroll secret: %w", err)
	}
	uses := "any number of hosts"
	if res.Detail.MaxUses > 0 {
		uses = fmt.Sprintf("at most %d hosts", res.Detail.MaxUses)
	}
	return printf(s.out, "Created enroll secret %q for %s%s. It is shown this once; store it now:\n\n%s\n",
		res.Detail.Name, uses, expiryNote(res.Detail.ExpiresAt), res.Secret)
}

func enrollSecretsList(ctx context.Context, s *session, revoked bool) error {
	raw, err := s.client.Get(ctx, "/api/v1/enroll-secrets", url.Values{"revoked": {strconv.FormatBool(revoked)}})
	if err != nil {
		return err
	}
	if s.output == outputJSON {
		return printJSON(s.out, raw)
	}
	var list apitypes.EnrollSecretList
	if err := json.Unmarshal(raw, &list); err != nil {
		return fmt.Errorf("decode enroll secrets: %w", err)
	}
	tw := newTable(s.out)
	tw.row("NAME", "USES", "CREATED", "EXPIRES", "REVOKED")
	for _, e := range list.Secrets {
		uses := strconv.FormatInt(e.Uses, 10)
		if e.MaxUses > 0 {
			uses += "/" + strconv.FormatInt(e.MaxUses, 10)
		}
		tw.row(cell(e.Name), uses, timeCell(e.CreatedAt, "-"), timeCell(e.ExpiresAt, "never"), timeCell(e.RevokedAt, "-"))
	}
	return tw.Flush()
}

func enrollSecretsRevoke(ctx context.Context, s *session, name string) error {
	raw, err := s.client.Do(ctx, http.MethodDelete, "/api/v1/enroll-secrets/"+url.PathEscape(name), nil, nil)
	if err != nil {
		return err
	}
	if s.output == outputJSON {
		return printJSON(s.out, raw)
	}
	return printf(s.out, "Revoked enroll secret %q; hosts already enrolled with it keep working.\n", name)
}

func hostsRetire(ctx context.Context, s *session, id string) error {
	raw, err := s.client.Do(ctx, http.MethodPost, "/api/v1/hosts/"+url.PathEscape(id)+"/retire", nil, nil)
	if err != nil {
		return err
	}
	if s.output == outputJSON {
		return printJSON(s.out, raw)
	}
	var h apitypes.Host
	if err := json.Unmarshal(raw, &h); err != nil {
		return fmt.Errorf("decode host: %w", err)
	}
	return printf(s.out, "Retired host %d (%s): its node key is refused, its connection closed, and it left the counts.\n"+
		"Its inventory and history stay; \"stewardctl hosts delete %d\" removes them.\n", h.ID, cell(h.Hostname), h.ID)
}

func hostsDelete(ctx context.Context, s *session, id string) error {
	raw, err := s.client.Do(ctx, http.MethodDelete, "/api/v1/hosts/"+url.PathEscape(id), nil, nil)
	if err != nil {
		return err
	}
	if s.output == outputJSON {
		return printJSON(s.out, raw)
	}
	return printf(s.out, "Deleted host %s and everything stored about it. An agent still holding an enroll secret enrolls again as a new host.\n", id)
}
