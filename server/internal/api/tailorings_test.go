package api_test

import (
	"maps"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/api"
	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/server/internal/store"
)

// passwordPolicies declares parameters a tailoring can set.
const passwordPolicies = `policies:
  - id: password-max-days
    title: Passwords expire
    severity: medium
    parameters:
      max_days: "365"
      warn_days: "7"
    check:
      all:
        - login_defs: {key: PASS_MAX_DAYS, max: "${max_days}"}
        - login_defs: {key: PASS_WARN_AGE, min: "${warn_days}"}
  - id: umask
    title: Default umask
    severity: low
    parameters:
      mask: "027"
    check:
      login_defs: {key: UMASK, bits_set: "${mask}"}
`

// newFixtureWith is newFixture with a LabelsChanged hook.
func newFixtureWith(t *testing.T, relabel func(hostID int64, labels map[string]string)) *fixture {
	t.Helper()
	f := newFixture(t)
	f.handler = api.New(api.Config{Store: f.store, Now: func() time.Time { return now }, LabelsChanged: relabel})
	return f
}

func TestTailoringLifecycle(t *testing.T) {
	f := newFixture(t)
	decode[apitypes.ApplyResult](t, f.apply(t, "", passwordPolicies), http.StatusOK)

	rec := f.send(t, http.MethodPut, "/api/v1/tailorings/prod", "Bearer "+token, "application/json",
		`{"selector": {"env": "prod"}, "values": {"password-max-days": {"max_days": "90"}}}`)
	res := decode[apitypes.TailoringResult](t, rec, http.StatusCreated)
	if res.Revision != 2 || !res.Created || !res.Changed || res.Name != "prod" {
		t.Errorf("first put = %+v, want revision 2, created", res)
	}
	// The same again changes nothing and pushes nothing.
	rec = f.send(t, http.MethodPut, "/api/v1/tailorings/prod", "Bearer "+token, "application/json",
		`{"name": "prod", "selector": {"env": "prod"}, "values": {"password-max-days": {"max_days": "90"}}}`)
	if res := decode[apitypes.TailoringResult](t, rec, http.StatusOK); res.Revision != 2 || res.Created || res.Changed {
		t.Errorf("same put = %+v, want revision 2 unchanged", res)
	}
	// Global parameters expand to every policy that declares the name;
	// a policy's own value wins.
	rec = f.send(t, http.MethodPut, "/api/v1/tailorings/all", "Bearer "+token, "application/json",
		`{"selector": {}, "parameters": {"max_days": "180", "mask": "077"}, "values": {"password-max-days": {"warn_days": "14"}}}`)
	decode[apitypes.TailoringResult](t, rec, http.StatusCreated)

	list := decode[apitypes.TailoringList](t, f.get(t, "/api/v1/tailorings"), http.StatusOK)
	if list.Revision != 3 || len(list.Tailorings) != 2 || list.Tailorings[0].Name != "all" || list.Tailorings[1].Name != "prod" {
		t.Fatalf("list = %+v, want all then prod at revision 3", list)
	}
	all := list.Tailorings[0]
	if !maps.Equal(all.Values["password-max-days"], map[string]string{"max_days": "180", "warn_days": "14"}) ||
		!maps.Equal(all.Values["umask"], map[string]string{"mask": "077"}) || len(all.Selector) != 0 || all.UpdatedBy != "ops-token" {
		t.Errorf("expanded tailoring = %+v", all)
	}
	got := decode[apitypes.Tailoring](t, f.get(t, "/api/v1/tailorings/prod"), http.StatusOK)
	if got.Selector["env"] != "prod" || got.UpdatedRevision != 2 || !got.UpdatedAt.Equal(now) {
		t.Errorf("get prod = %+v", got)
	}

	del := decode[apitypes.TailoringResult](t, f.send(t, http.MethodDelete, "/api/v1/tailorings/prod", "Bearer "+token, "", ""), http.StatusOK)
	if del.Revision != 4 {
		t.Errorf("delete = %+v, want revision 4", del)
	}
	wantError(t, f.get(t, "/api/v1/tailorings/prod"), http.StatusNotFound, "not found")
	wantError(t, f.send(t, http.MethodDelete, "/api/v1/tailorings/prod", "Bearer "+token, "", ""), http.StatusNotFound, "not found")
	if got := f.policiesChanged(); len(got) != 4 || got[1] != 2 || got[2] != 3 || got[3] != 4 {
		t.Errorf("PoliciesChanged calls %v, want the apply's and revisions 2, 3 and 4", got)
	}

	audit := decode[apitypes.AuditList](t, f.get(t, "/api/v1/audit?action="+store.AuditTailoringApplied), http.StatusOK)
	if len(audit.Entries) != 2 || audit.Entries[0].Subject != "all" || audit.Entries[0].Actor != "ops-token" {
		t.Errorf("audit of puts = %+v", audit.Entries)
	}
	audit = decode[apitypes.AuditList](t, f.get(t, "/api/v1/audit?action="+store.AuditTailoringDeleted), http.StatusOK)
	if len(audit.Entries) != 1 || audit.Entries[0].Subject != "prod" {
		t.Errorf("audit of the delete = %+v", audit.Entries)
	}
}

func TestTailoringRefused(t *testing.T) {
	f := newFixture(t)
	decode[apitypes.ApplyResult](t, f.apply(t, "", passwordPolicies), http.StatusOK)
	cases := []struct {
		name, path, body string
		status           int
		want             []string // in the error or its problems
	}{
		{"unknown policy", "t1", `{"selector": {}, "values": {"nope": {"max_days": "1"}}}`, 400, []string{"no policy in the set has id nope"}},
		{"undeclared parameter", "t1", `{"selector": {}, "values": {"umask": {"max_days": "1"}}}`, 400, []string{"policy umask declares no parameter max_days"}},
		{"not a whole number", "t1", `{"selector": {}, "values": {"password-max-days": {"max_days": "abc"}}}`, 400,
			[]string{`parameter max_days = "abc"`, "check.all[0].login_defs.max"}},
		{"not octal", "t1", `{"selector": {}, "parameters": {"mask": "999"}}`, 400, []string{`parameter mask = "999"`}},
		{"global nobody declares", "t1", `{"selector": {}, "parameters": {"max_day": "1"}}`, 400, []string{"no policy in the set declares parameter max_day"}},
		{"nothing set", "t1", `{"selector": {}}`, 400, []string{"sets no parameter"}},
		{"bad name", "Bad_Name", `{"selector": {}, "values": {"umask": {"mask": "077"}}}`, 400, []string{"must match"}},
		{"no selector", "t1", `{"values": {"umask": {"mask": "077"}}}`, 400, []string{`"selector"`}},
		{"bad label key", "t1", `{"selector": {"no spaces": "x"}, "values": {"umask": {"mask": "077"}}}`, 400, []string{"selector: label key"}},
		{"names differ", "t1", `{"name": "t2", "selector": {}, "values": {"umask": {"mask": "077"}}}`, 400, []string{`body names tailoring "t2"`}},
		{"unknown field", "t1", `{"selector": {}, "valuez": {}}`, 400, []string{"valuez"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := f.send(t, http.MethodPut, "/api/v1/tailorings/"+tc.path, "Bearer "+token, "application/json", tc.body)
			e := decode[apitypes.Error](t, rec, tc.status)
			text := e.Error
			for _, p := range e.Problems {
				text += "\n" + p.String()
			}
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("response %s does not say %q", text, w)
				}
			}
		})
	}
	if list := decode[apitypes.TailoringList](t, f.get(t, "/api/v1/tailorings"), http.StatusOK); len(list.Tailorings) != 0 || list.Revision != 1 {
		t.Errorf("refused puts stored something: %+v", list)
	}
}

func TestTailoringViewerReadsOnly(t *testing.T) {
	f := newFixture(t)
	f.store.AddRoleToken("viewer-token-123", "grafana", store.RoleViewer)
	decode[apitypes.ApplyResult](t, f.apply(t, "", passwordPolicies), http.StatusOK)
	body := `{"selector": {}, "values": {"umask": {"mask": "077"}}}`
	wantError(t, f.send(t, http.MethodPut, "/api/v1/tailorings/t1", "Bearer viewer-token-123", "application/json", body), http.StatusForbidden, "may only read")
	decode[apitypes.TailoringResult](t, f.send(t, http.MethodPut, "/api/v1/tailorings/t1", "Bearer "+token, "application/json", body), http.StatusCreated)
	wantError(t, f.send(t, http.MethodDelete, "/api/v1/tailorings/t1", "Bearer viewer-token-123", "", ""), http.StatusForbidden, "may only read")
	if list := decode[apitypes.TailoringList](t, f.do(t, http.MethodGet, "/api/v1/tailorings", "Bearer viewer-token-123"), http.StatusOK); len(list.Tailorings) != 1 {
		t.Errorf("viewer list = %+v", list)
	}
}

func TestHostLabelsNotifyAgent(t *testing.T) {
	var got []map[string]string
	f := newFixtureWith(t, func(hostID int64, labels map[string]string) {
		if hostID == 1 {
			got = append(got, labels)
		}
	})
	fleet(t, f)
	decode[apitypes.Labels](t, f.send(t, http.MethodPut, "/api/v1/hosts/1/labels", "Bearer "+token, "application/json",
		`{"labels": {"env": "prod"}}`), http.StatusOK)
	wantError(t, f.send(t, http.MethodPut, "/api/v1/hosts/1/labels", "Bearer "+token, "application/json",
		`{"labels": {"bad key": "x"}}`), http.StatusBadRequest, "label key")
	if len(got) != 1 || got[0]["env"] != "prod" {
		t.Errorf("LabelsChanged calls %v, want one with env=prod", got)
	}
}
