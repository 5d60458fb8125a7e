package api_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/steward-project/steward/server/internal/api"
	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
)

const twoPolicies = `policies:
  - id: os-debian
    title: Runs Debian
    severity: low
    check:
      expr: inventory.os.platform == "debian"
  - id: ssh-root
    title: SSH forbids root login
    severity: high
    platforms: [linux]
    tags: [cis, ssh]
    check:
      file: {path: /etc/ssh/sshd_config, matches: '(?m)^PermitRootLogin no'}
`

// apply posts a policy file as YAML.
func (f *fixture) apply(t *testing.T, query, body string) *httptest.ResponseRecorder {
	t.Helper()
	return f.send(t, http.MethodPost, "/api/v1/policies"+query, "Bearer "+token, "application/yaml", body)
}

func TestApplyPolicies(t *testing.T) {
	f := newFixture(t)
	res := decode[apitypes.ApplyResult](t, f.apply(t, "?filename=base.yaml", twoPolicies), http.StatusOK)
	want := apitypes.ApplyResult{Revision: 1, Applied: []string{"os-debian", "ssh-root"}, Added: []string{"os-debian", "ssh-root"},
		Updated: []string{}, Unchanged: []string{}}
	if !equalJSON(res, want) {
		t.Errorf("first apply = %+v, want %+v", res, want)
	}
	if got := f.policiesChanged(); !slices.Equal(got, []int64{1}) {
		t.Errorf("PoliciesChanged calls %v, want [1]", got)
	}

	// The same file again changes nothing and tells nobody.
	res = decode[apitypes.ApplyResult](t, f.apply(t, "", twoPolicies), http.StatusOK)
	if res.Revision != 1 || len(res.Applied) != 0 || !slices.Equal(res.Unchanged, []string{"os-debian", "ssh-root"}) {
		t.Errorf("same file again = %+v", res)
	}
	// A dry run of a change reports it and applies nothing.
	changed := strings.Replace(twoPolicies, "severity: low", "severity: medium", 1)
	res = decode[apitypes.ApplyResult](t, f.apply(t, "?validate_only=true", changed), http.StatusOK)
	if !res.ValidateOnly || res.Revision != 2 || !slices.Equal(res.Updated, []string{"os-debian"}) {
		t.Errorf("validate_only = %+v, want os-debian updated at revision 2", res)
	}
	if got := f.policiesChanged(); len(got) != 1 {
		t.Errorf("PoliciesChanged after unchanged and dry-run applies: %v", got)
	}
	// A file with other policies adds them and keeps the rest.
	res = decode[apitypes.ApplyResult](t, f.send(t, http.MethodPost, "/api/v1/policies", "Bearer "+token, "application/json",
		`{"policies":[{"id":"extra","title":"Extra","severity":"info","check":{"expr":"true"}}]}`), http.StatusOK)
	if res.Revision != 2 || !slices.Equal(res.Added, []string{"extra"}) {
		t.Errorf("JSON apply = %+v", res)
	}

	list := decode[apitypes.PolicyList](t, f.get(t, "/api/v1/policies"), http.StatusOK)
	var ids []string
	for _, p := range list.Policies {
		ids = append(ids, p.ID)
	}
	if list.Revision != 2 || !slices.Equal(ids, []string{"extra", "os-debian", "ssh-root"}) {
		t.Errorf("list = revision %d, %q", list.Revision, ids)
	}
	ssh := list.Policies[2]
	if ssh.ExprOnly || ssh.Severity != "high" || !slices.Equal(ssh.Platforms, []string{"linux"}) ||
		ssh.Policy != nil || ssh.UpdatedRevision != 1 || !ssh.CreatedAt.Equal(now) {
		t.Errorf("ssh-root in the list = %+v", ssh)
	}
	if !list.Policies[1].ExprOnly {
		t.Error("os-debian is not marked expr_only")
	}

	one := decode[apitypes.Policy](t, f.get(t, "/api/v1/policies/ssh-root"), http.StatusOK)
	if one.Policy == nil || one.Policy.Check.File == nil || one.Policy.Check.File.Path != "/etc/ssh/sshd_config" {
		t.Errorf("shown policy lacks its check: %+v", one.Policy)
	}
	wantError(t, f.get(t, "/api/v1/policies/nope"), http.StatusNotFound, `policy "nope" not found`)
	// One policy reads its own counts, never the whole set's.
	f.store.FailWith(errors.New("whole set counted"), "Compliance")
	decode[apitypes.Policy](t, f.get(t, "/api/v1/policies/ssh-root"), http.StatusOK)
	f.store.FailWith(nil, "Compliance")

	// Applies are audited under the token's name.
	audit := decode[apitypes.AuditList](t, f.get(t, "/api/v1/audit?action=policy_applied"), http.StatusOK)
	if len(audit.Entries) != 2 || audit.Entries[0].Actor != "ops-token" ||
		string(audit.Entries[0].Detail) != `{"added":["extra"],"revision":2,"updated":[]}` {
		t.Errorf("audit = %+v", audit.Entries)
	}
}

func TestApplyPoliciesRefusesBadFiles(t *testing.T) {
	cases := []struct {
		name, body string
		want       policy.Problem
	}{
		{"malformed YAML", "policies: [\n", policy.Problem{Line: 1, Message: "invalid YAML"}},
		{"unknown leaf", strings.Replace(twoPolicies, "file: {", "files: {", 1), policy.Problem{Line: 13, Policy: "ssh-root", Field: "check.files"}},
		{"bad regex", strings.Replace(twoPolicies, "(?m)^", "(?m)^(", 1), policy.Problem{Line: 13, Policy: "ssh-root", Field: "check.file.matches", Message: "regular expression"}},
		{"bad CEL", strings.Replace(twoPolicies, `== "debian"`, `==`, 1), policy.Problem{Line: 6, Policy: "os-debian", Field: "check.expr", Message: "CEL"}},
		{"duplicate ids", strings.Replace(twoPolicies, "id: ssh-root", "id: os-debian", 1), policy.Problem{Line: 7, Policy: "os-debian", Field: "id", Message: "duplicate"}},
		{"wrong type", strings.Replace(twoPolicies, "platforms: [linux]", "platforms: linux", 1), policy.Problem{Line: 10, Policy: "ssh-root", Field: "platforms"}},
		{"empty file", "", policy.Problem{Message: "empty"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			decode[apitypes.ApplyResult](t, f.apply(t, "", twoPolicies), http.StatusOK)
			for _, q := range []string{"?filename=dir/bad.yaml", "?filename=dir/bad.yaml&validate_only=true"} {
				e := decode[apitypes.Error](t, f.apply(t, q, tc.body), http.StatusBadRequest)
				if !strings.Contains(e.Error, "bad.yaml rejected, nothing applied") || len(e.Problems) == 0 {
					t.Fatalf("error %+v", e)
				}
				if !hasProblem(e.Problems, tc.want) {
					t.Errorf("problems %+v, want one like %+v in file bad.yaml", e.Problems, tc.want)
				}
			}
			// Nothing applied: the set and its revision are the first apply's.
			list := decode[apitypes.PolicyList](t, f.get(t, "/api/v1/policies"), http.StatusOK)
			if list.Revision != 1 || len(list.Policies) != 2 || list.Policies[0].Severity != "low" {
				t.Errorf("policy set after a refused file: revision %d, %+v", list.Revision, list.Policies)
			}
			if got := f.policiesChanged(); len(got) != 1 {
				t.Errorf("PoliciesChanged after a refused file: %v", got)
			}
		})
	}
}

// hasProblem reports whether some problem is in bad.yaml and matches
// want's set fields (Message as a substring).
func hasProblem(ps []policy.Problem, want policy.Problem) bool {
	for _, p := range ps {
		if p.File == "bad.yaml" && (want.Line == 0 || p.Line == want.Line) && p.Policy == want.Policy &&
			(want.Field == "" || p.Field == want.Field) && strings.Contains(p.Message, want.Message) {
			return true
		}
	}
	return false
}

func TestApplyPoliciesBadRequests(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name, query, contentType, body string
		status                         int
		want                           string
	}{
		{"text/plain", "", "text/plain", twoPolicies, http.StatusUnsupportedMediaType, "Content-Type"},
		{"form", "", "application/x-www-form-urlencoded", twoPolicies, http.StatusUnsupportedMediaType, "application/yaml"},
		{"validate_only not a bool", "?validate_only=maybe", "application/yaml", twoPolicies, http.StatusBadRequest, "validate_only"},
		{"too large", "", "application/yaml", strings.Repeat("#", api.MaxPolicyFileBytes+1), http.StatusRequestEntityTooLarge, "larger"},
		{"no policies", "", "application/yaml", "policies: []\n", http.StatusBadRequest, "rejected"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := f.send(t, http.MethodPost, "/api/v1/policies"+tc.query, "Bearer "+token, tc.contentType, tc.body)
			wantError(t, rec, tc.status, tc.want)
		})
	}
	// Without a Content-Type the content decides.
	decode[apitypes.ApplyResult](t, f.send(t, http.MethodPost, "/api/v1/policies", "Bearer "+token, "", twoPolicies), http.StatusOK)
}

func TestDeletePolicy(t *testing.T) {
	f := newFixture(t)
	f.store.AddHost(store.Host{ID: 1, Hostname: "web-1"})
	decode[apitypes.ApplyResult](t, f.apply(t, "", twoPolicies), http.StatusOK)
	applyResults(t, f, 1, 1, policy.StatusFail, "ssh-root")
	res := decode[apitypes.DeleteResult](t, f.do(t, http.MethodDelete, "/api/v1/policies/ssh-root", "Bearer "+token), http.StatusOK)
	if res.Revision != 2 || res.Deleted != "ssh-root" {
		t.Errorf("delete = %+v", res)
	}
	if got := f.policiesChanged(); !slices.Equal(got, []int64{1, 2}) {
		t.Errorf("PoliciesChanged calls %v, want [1 2]", got)
	}
	wantError(t, f.do(t, http.MethodDelete, "/api/v1/policies/ssh-root", "Bearer "+token), http.StatusNotFound, "not found")
	wantError(t, f.get(t, "/api/v1/policies/ssh-root/results"), http.StatusNotFound, "not found")
	c := decode[apitypes.Compliance](t, f.get(t, "/api/v1/compliance"), http.StatusOK)
	if len(c.Policies) != 1 || c.Totals.Total != 0 {
		t.Errorf("compliance after delete = %+v", c)
	}
	audit := decode[apitypes.AuditList](t, f.get(t, "/api/v1/audit"), http.StatusOK)
	if len(audit.Entries) != 2 || audit.Entries[0].Action != store.AuditPolicyDeleted || audit.Entries[0].Subject != "ssh-root" {
		t.Errorf("audit = %+v", audit.Entries)
	}
}

func TestPolicyWritesNeedALiveTokenName(t *testing.T) {
	f := newFixture(t)
	f.store.FailWith(store.ErrNotFound, "AdminTokenName") // revoked between the check and the write
	wantError(t, f.apply(t, "", twoPolicies), http.StatusUnauthorized, "revoked")
	if list := decode[apitypes.PolicyList](t, f.get(t, "/api/v1/policies"), http.StatusOK); list.Revision != 0 {
		t.Errorf("applied without an actor: %+v", list)
	}
	f.store.FailWith(errors.New("db gone"), "AdminTokenName")
	wantError(t, f.apply(t, "", twoPolicies), http.StatusServiceUnavailable, "unavailable")
}

func equalJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// multipartFiles builds a multipart/form-data body with one file part per
// name/content pair.
func multipartFiles(t *testing.T, files ...[2]string) (string, string) {
	t.Helper()
	var b strings.Builder
	mw := multipart.NewWriter(&b)
	for _, f := range files {
		w, err := mw.CreateFormFile("file", f[0])
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(f[1]))
	}
	mw.Close()
	return mw.FormDataContentType(), b.String()
}

func policyYAML(id string) string {
	return "policies:\n  - id: " + id + "\n    title: " + id + "\n    severity: low\n    check:\n      expr: \"true\"\n"
}

// TestApplyPolicyFiles: several files in one multipart request are one
// apply: one revision, one PoliciesChanged, results split by file.
func TestApplyPolicyFiles(t *testing.T) {
	f := newFixture(t)
	var files [][2]string
	for i := range 6 {
		files = append(files, [2]string{fmt.Sprintf("dir/p%d.yaml", i), policyYAML(fmt.Sprintf("p%d", i))})
	}
	ct, body := multipartFiles(t, files...)
	res := decode[apitypes.ApplyResult](t, f.send(t, http.MethodPost, "/api/v1/policies", "Bearer "+token, ct, body), http.StatusOK)
	if res.Revision != 1 || len(res.Added) != 6 || len(res.Files) != 6 {
		t.Fatalf("apply of 6 files = %+v, want revision 1 with 6 added in 6 files", res)
	}
	for i, fr := range res.Files {
		if fr.File != files[i][0] || !slices.Equal(fr.Added, []string{fmt.Sprintf("p%d", i)}) {
			t.Errorf("files[%d] = %+v", i, fr)
		}
	}
	if got := f.policiesChanged(); !slices.Equal(got, []int64{1}) {
		t.Errorf("PoliciesChanged calls %v, want [1]", got)
	}

	// An id in two files, or a bad file, refuses them all with the
	// client's names and lines.
	ct, body = multipartFiles(t, [2]string{"a/x.yaml", policyYAML("dup")}, [2]string{"b/x.yaml", policyYAML("dup")},
		[2]string{"c.yaml", "policies:\n  - id: bad\n    title: Bad\n    severity: urgent\n    check: {expr: 'true'}\n"})
	e := decode[apitypes.Error](t, f.send(t, http.MethodPost, "/api/v1/policies", "Bearer "+token, ct, body), http.StatusBadRequest)
	if len(e.Problems) != 2 || e.Problems[0].File != "b/x.yaml" || e.Problems[0].Line != 2 ||
		!strings.Contains(e.Problems[0].Message, "first defined at a/x.yaml:2") ||
		e.Problems[1].File != "c.yaml" || e.Problems[1].Line != 4 || !strings.Contains(e.Error, "2 file(s) rejected, nothing applied") {
		t.Errorf("refusal = %+v", e)
	}
	// Two parts of one name are refused.
	ct, body = multipartFiles(t, [2]string{"x.yaml", policyYAML("x1")}, [2]string{"x.yaml", policyYAML("x2")})
	wantError(t, f.send(t, http.MethodPost, "/api/v1/policies", "Bearer "+token, ct, body), http.StatusBadRequest, "two files named x.yaml")
	if got := f.policiesChanged(); len(got) != 1 {
		t.Errorf("PoliciesChanged after refusals: %v", got)
	}
	list := decode[apitypes.PolicyList](t, f.get(t, "/api/v1/policies"), http.StatusOK)
	if list.Revision != 1 || len(list.Policies) != 6 {
		t.Errorf("after refusals: revision %d, %d policies", list.Revision, len(list.Policies))
	}
}
