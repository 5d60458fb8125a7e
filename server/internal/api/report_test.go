package api_test

import (
	"context"
	"encoding/csv"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/steward-project/steward/server/internal/api"
	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/server/internal/auth"
	"github.com/steward-project/steward/server/internal/pgtest"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/server/internal/store/postgres"
	"github.com/steward-project/steward/server/internal/store/sqlite"
	"github.com/steward-project/steward/shared/policy"
)

// TestMain stops the PostgreSQL cluster the report tests start.
func TestMain(m *testing.M) { pgtest.Main(m) }

// reportStore is what the report tests need of a real store.
type reportStore interface {
	api.Store
	EnrollHost(ctx context.Context, h store.NewHost) (int64, error)
	Migrate(ctx context.Context) error
	Bootstrap(ctx context.Context, admin, enroll store.Credential) (bool, error)
	Close() error
}

// eachStore runs test against a fresh SQLite store and a fresh
// PostgreSQL database.
func eachStore(t *testing.T, test func(t *testing.T, st reportStore)) {
	open := map[string]func(t *testing.T) (reportStore, error){
		"sqlite": func(t *testing.T) (reportStore, error) {
			return sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "s.db"), nil)
		},
		"postgres": func(t *testing.T) (reportStore, error) {
			return postgres.Open(t.Context(), pgtest.NewDatabase(t), slog.New(slog.DiscardHandler))
		},
	}
	for _, name := range []string{"sqlite", "postgres"} {
		t.Run(name, func(t *testing.T) {
			st, err := open[name](t)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			if err := st.Migrate(t.Context()); err != nil {
				t.Fatal(err)
			}
			if _, err := st.Bootstrap(t.Context(), store.Credential{Name: "ops-token", Hash: auth.Hash(token)},
				store.Credential{Name: "enroll", Hash: auth.Hash("enroll-secret")}); err != nil {
				t.Fatal(err)
			}
			test(t, st)
		})
	}
}

const reportPolicies = `policies:
  - id: ssh-no-root
    title: SSH forbids root login
    severity: high
    tags: [my-pack, cis-l1-server]
    references: {cis: "5.2.10", ssg: sshd_disable_root_login}
    check:
      sshd: {key: permitrootlogin, equals: "no"}
    fix:
      sh: |
        sed -i 's/^#\?PermitRootLogin.*/PermitRootLogin no/' /etc/ssh/sshd_config
      ansible: |
        - name: Disable SSH root login
          ansible.builtin.lineinfile: {path: /etc/ssh/sshd_config, regexp: '^#?PermitRootLogin', line: PermitRootLogin no}
  - id: pass-max-days
    title: Passwords expire
    severity: medium
    tags: [cis-l1-server]
    references: {cis: "5.4.1.1", ssg: [accounts_maximum_age_login_defs]}
    check:
      login_defs: {key: PASS_MAX_DAYS, max: "365"}
  - id: os-debian
    title: Runs Debian
    severity: low
    check:
      expr: inventory.os.platform == "debian"
`

// evilName is a hostname an attacker controlling an agent could report:
// a formula for spreadsheets, markup for browsers, a newline for scripts.
const evilName = "=HYPERLINK(\"x\")<script>alert('x')</script>&\x1b[2J\n rm -rf /"

// evilCell is evilName as a report cell: the escape character replaced,
// the formula defused.
const evilCell = "'=HYPERLINK(\"x\")<script>alert('x')</script>&\uFFFD[2J\n rm -rf /"

// reportFleet is four hosts: web-1, web-2 and the evil one labelled
// env=prod, db-1 env=dev. ssh-no-root fails on the prod hosts and passes
// on db-1; pass-max-days passes on web-1, fails on web-2 (exempt) and
// the evil host, and db-1 has no result for it; os-debian passes on all.
func reportFleet(t *testing.T, st reportStore) map[string]int64 {
	t.Helper()
	ctx := t.Context()
	ps, err := policy.Parse("report.yaml", []byte(reportPolicies))
	if err != nil {
		t.Fatal(err)
	}
	var specs []store.PolicySpec
	for _, p := range ps {
		specs = append(specs, store.PolicySpec{Policy: p, ExprOnly: policy.ExprOnly(p)})
	}
	res, err := st.ApplyPolicies(ctx, store.PolicyApply{Policies: specs, Actor: "test", At: now})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]int64{}
	for i, h := range []struct{ name, env string }{{"web-1", "prod"}, {"web-2", "prod"}, {"db-1", "dev"}, {evilName, "prod"}} {
		id, err := st.EnrollHost(ctx, store.NewHost{NodeKeyHash: fmt.Sprintf("key-%d", i), Hostname: h.name, EnrolledAt: now.Add(-time.Hour),
			Labels: map[string]string{"env": h.env}})
		if err != nil {
			t.Fatal(err)
		}
		ids[h.name] = id
	}
	result := func(id string, st policy.Status, detail string) policy.Result {
		return policy.Result{PolicyID: id, Status: st, CheckedAt: now.Add(-time.Minute), Duration: time.Millisecond,
			Evidence: []policy.Evidence{{Check: "check", Passed: st == policy.StatusPass, Detail: detail}}}
	}
	batches := []store.ResultBatch{
		{HostID: ids["web-1"], Revision: res.Revision, Results: []policy.Result{
			result("ssh-no-root", policy.StatusFail, "PermitRootLogin is yes"),
			result("pass-max-days", policy.StatusPass, "PASS_MAX_DAYS is 90"),
			result("os-debian", policy.StatusPass, "debian")}},
		{HostID: ids["web-2"], Revision: res.Revision, Results: []policy.Result{
			result("ssh-no-root", policy.StatusFail, "PermitRootLogin is yes"),
			result("pass-max-days", policy.StatusFail, "PASS_MAX_DAYS is 99999"),
			result("os-debian", policy.StatusPass, "debian")}},
		{HostID: ids["db-1"], Revision: res.Revision, Results: []policy.Result{
			result("ssh-no-root", policy.StatusPass, "PermitRootLogin is no"),
			result("os-debian", policy.StatusPass, "debian")}},
		{HostID: ids[evilName], Revision: res.Revision, Results: []policy.Result{
			result("ssh-no-root", policy.StatusFail, "<img src=x onerror=alert(1)> PermitRootLogin\nyes"),
			result("pass-max-days", policy.StatusFail, "-2+3"),
			result("os-debian", policy.StatusPass, "debian")}},
	}
	if _, err := st.ApplyResults(ctx, batches); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddExemption(ctx, store.Exemption{PolicyID: "pass-max-days", HostID: ids["web-2"], Reason: "legacy app <b>",
		Owner: "alice", ExpiresAt: now.Add(7 * 24 * time.Hour), CreatedAt: now, CreatedBy: "test"}); err != nil {
		t.Fatal(err)
	}
	return ids
}

func reportHandler(st reportStore) http.Handler {
	return api.New(api.Config{Store: st, Now: func() time.Time { return now }})
}

func getWith(h http.Handler, path, tok string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func readCSV(t *testing.T, rec *httptest.ResponseRecorder) []map[string]string {
	t.Helper()
	if rec.Code != http.StatusOK {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Fatalf("Content-Type %q", ct)
	}
	rows, err := csv.NewReader(rec.Body).ReadAll()
	if err != nil {
		t.Fatalf("parse CSV: %v", err)
	}
	if !slices.Equal(rows[0], apitypes.ReportCSVHeader) {
		t.Fatalf("header %q", rows[0])
	}
	var out []map[string]string
	for _, row := range rows[1:] {
		m := map[string]string{}
		for i, col := range rows[0] {
			m[col] = row[i]
		}
		out = append(out, m)
	}
	return out
}

func findRow(t *testing.T, rows []map[string]string, hostname, policyID string) map[string]string {
	t.Helper()
	for _, r := range rows {
		if r["hostname"] == hostname && r["policy_id"] == policyID {
			return r
		}
	}
	t.Fatalf("no row for %s × %s", hostname, policyID)
	return nil
}

func TestComplianceReportCSV(t *testing.T) {
	eachStore(t, func(t *testing.T, st reportStore) {
		ids := reportFleet(t, st)
		h := reportHandler(st)
		rows := readCSV(t, getWith(h, "/api/v1/compliance/report?format=csv", token))
		if len(rows) != 4*3 {
			t.Fatalf("%d rows, want 12", len(rows))
		}
		r := findRow(t, rows, "web-1", "ssh-no-root")
		want := map[string]string{"host_id": fmt.Sprint(ids["web-1"]), "labels": "env=prod", "title": "SSH forbids root login",
			"severity": "high", "references": "cis:5.2.10; ssg:sshd_disable_root_login", "status": "fail",
			"since": "2025-03-01T11:59:00Z", "last_checked": "2025-03-01T11:59:00Z", "evidence": "PermitRootLogin is yes"}
		for k, v := range want {
			if r[k] != v {
				t.Errorf("web-1 ssh-no-root %s = %q, want %q", k, r[k], v)
			}
		}
		r = findRow(t, rows, "web-2", "pass-max-days")
		if r["status"] != "exempt" || r["underlying_status"] != "fail" || r["exemption_reason"] != "legacy app <b>" {
			t.Errorf("exempt row = %v", r)
		}
		r = findRow(t, rows, "db-1", "pass-max-days")
		if r["status"] != apitypes.NoResult || r["since"] != "" {
			t.Errorf("no result row = %v", r)
		}
		// Formula-looking cells are defused, and survive the round trip.
		r = findRow(t, rows, evilCell, "pass-max-days")
		if r["evidence"] != "'-2+3" || r["labels"] != "env=prod" {
			t.Errorf("evil row = %v", r)
		}
		// Hosts are in hostname order, then policies by id.
		if rows[0]["hostname"] != evilCell || rows[3]["hostname"] != "db-1" || rows[3]["policy_id"] != "os-debian" {
			t.Errorf("order: %v, %v", rows[0], rows[3])
		}

		rows = readCSV(t, getWith(h, "/api/v1/compliance/report?format=csv&tag=cis-l1-server&label=env=prod", token))
		if len(rows) != 3*2 {
			t.Fatalf("tag and label: %d rows, want 6", len(rows))
		}
		for _, r := range rows {
			if r["hostname"] == "db-1" || r["policy_id"] == "os-debian" {
				t.Errorf("row outside the selection: %v", r)
			}
		}
		rows = readCSV(t, getWith(h, "/api/v1/compliance/report?format=csv&pack=my-pack&label=env=prod", token))
		if len(rows) != 3 {
			t.Fatalf("pack and label: %d rows, want 3", len(rows))
		}
		for _, r := range rows {
			if r["policy_id"] != "ssh-no-root" {
				t.Errorf("row outside the pack: %v", r)
			}
		}
		rows = readCSV(t, getWith(h, "/api/v1/compliance/report?format=csv&reference=ssg:accounts_maximum_age_login_defs", token))
		if len(rows) != 4 || rows[0]["policy_id"] != "pass-max-days" {
			t.Fatalf("by reference: %v", rows)
		}
		rows = readCSV(t, getWith(h, "/api/v1/compliance/report?format=csv&label=env=none", token))
		if len(rows) != 0 {
			t.Fatalf("no host: %v", rows)
		}

		// A viewer token may read the report.
		if _, err := st.CreateAPIToken(t.Context(), store.NewAPIToken{Name: "auditor", Hash: auth.Hash("viewer-token"),
			Role: store.RoleViewer, Actor: "test", At: now}); err != nil {
			t.Fatal(err)
		}
		readCSV(t, getWith(h, "/api/v1/compliance/report?format=csv", "viewer-token"))

		for path, status := range map[string]int{
			"/api/v1/compliance/report?format=pdf":                http.StatusBadRequest,
			"/api/v1/compliance/report?label=env":                 http.StatusBadRequest,
			"/api/v1/compliance/report?reference=:5.1":            http.StatusBadRequest,
			"/api/v1/compliance/report?reference=cis:":            http.StatusBadRequest,
			"/api/v1/policies/ssh-no-root/remediation?format=bat": http.StatusBadRequest,
		} {
			if rec := getWith(h, path, token); rec.Code != status {
				t.Errorf("%s: status %d, want %d", path, rec.Code, status)
			}
		}
	})
}

func TestComplianceReportHTML(t *testing.T) {
	eachStore(t, func(t *testing.T, st reportStore) {
		ids := reportFleet(t, st)
		rec := getWith(reportHandler(st), "/api/v1/compliance/report?format=html", token)
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d: %s", rec.Code, rec.Body)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("Content-Type %q", ct)
		}
		if csp := rec.Header().Get("Content-Security-Policy"); !strings.HasPrefix(csp, "default-src 'none'") {
			t.Errorf("Content-Security-Policy %q", csp)
		}
		page := rec.Body.String()
		lower := strings.ToLower(page)
		for _, bad := range []string{"\x1b", "<script", "<img", "<b>", "onerror=alert(1)>", "http://", "https://", "@import", "url("} {
			if strings.Contains(lower, bad) {
				t.Errorf("page contains %q", bad)
			}
		}
		for _, want := range []string{
			"&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;",
			"&lt;img src=x onerror=alert(1)&gt;",
			"legacy app &lt;b&gt;",
			fmt.Sprintf("<a href=\"#host-%d\">web-1</a>", ids["web-1"]),
			fmt.Sprintf("<section id=\"host-%d\">", ids["db-1"]),
			"env=dev",
			"cis:5.4.1.1; ssg:accounts_maximum_age_login_defs",
		} {
			if !strings.Contains(page, want) {
				t.Errorf("page lacks %q", want)
			}
		}
		// Results: 12, of which pass 6, fail 4, exempt 1 and no result 1:
		// the pass rate is 6/10.
		if !strings.Contains(page, "<td class=\"n\">4</td><td class=\"n\">3</td><td class=\"n\">12</td><td class=\"n\">60.0%</td>") {
			t.Errorf("summary row missing; page:\n%s", page)
		}
		if !strings.HasSuffix(page, "</html>\n") {
			t.Error("page is not complete")
		}
	})
}

func TestPolicyRemediation(t *testing.T) {
	eachStore(t, func(t *testing.T, st reportStore) {
		ids := reportFleet(t, st)
		h := reportHandler(st)
		rec := getWith(h, "/api/v1/policies/ssh-no-root/remediation?format=sh", token)
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Fatalf("status %d %q: %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
		}
		script := rec.Body.String()
		if !strings.HasPrefix(script, "#!/bin/sh\n") || strings.Count(script, "sed -i") != 1 {
			t.Errorf("script:\n%s", script)
		}
		for _, want := range []string{fmt.Sprintf("\"web-1\" (host %d)", ids["web-1"]), fmt.Sprintf("\"web-2\" (host %d)", ids["web-2"])} {
			if !strings.Contains(script, want) {
				t.Errorf("script lacks %q:\n%s", want, script)
			}
		}
		if strings.Contains(script, "db-1") {
			t.Errorf("script names a passing host:\n%s", script)
		}
		// Every line before the fix is a comment: the evil hostname's
		// newline did not escape.
		head, _, _ := strings.Cut(script, "sed -i")
		for _, line := range strings.Split(strings.TrimSpace(head), "\n") {
			if line != "" && !strings.HasPrefix(line, "#") {
				t.Errorf("header line %q is not a comment", line)
			}
		}

		rec = getWith(h, "/api/v1/policies/ssh-no-root/remediation?format=ansible&label=env=prod", token)
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "application/yaml" {
			t.Fatalf("status %d %q: %s", rec.Code, rec.Header().Get("Content-Type"), rec.Body)
		}
		var plays []struct {
			Hosts  []string         `yaml:"hosts"`
			Become bool             `yaml:"become"`
			Tasks  []map[string]any `yaml:"tasks"`
		}
		if err := yaml.Unmarshal(rec.Body.Bytes(), &plays); err != nil {
			t.Fatalf("playbook: %v\n%s", err, rec.Body)
		}
		if len(plays) != 1 || !slices.Equal(plays[0].Hosts, []string{"web-1", "web-2"}) || len(plays[0].Tasks) != 1 ||
			plays[0].Tasks[0]["name"] != "Disable SSH root login" || !plays[0].Become {
			t.Errorf("playbook %+v\n%s", plays, rec.Body)
		}
		if !strings.Contains(rec.Body.String(), "# Left out, not usable as an Ansible host name") {
			t.Errorf("the evil host is not named as left out:\n%s", rec.Body)
		}

		rec = getWith(h, fmt.Sprintf("/api/v1/policies/ssh-no-root/remediation?host=%d", ids["web-2"]), token)
		if s := rec.Body.String(); rec.Code != http.StatusOK || strings.Contains(s, "web-1") || !strings.Contains(s, "web-2") {
			t.Errorf("by host: %d\n%s", rec.Code, s)
		}
		rec = getWith(h, "/api/v1/policies/ssh-no-root/remediation?label=env=dev", token)
		if s := rec.Body.String(); rec.Code != http.StatusOK || !strings.Contains(s, "No selected host currently fails") || strings.Contains(s, "sed -i") {
			t.Errorf("no failing host: %d\n%s", rec.Code, s)
		}
		wantError(t, getWith(h, "/api/v1/policies/pass-max-days/remediation", token), http.StatusNotFound, "has no sh fix")
		wantError(t, getWith(h, "/api/v1/policies/nope/remediation", token), http.StatusNotFound, "not found")
	})
}

func TestPoliciesByReference(t *testing.T) {
	f := newFixture(t)
	decode[apitypes.ApplyResult](t, f.apply(t, "", reportPolicies), http.StatusOK)
	for ref, want := range map[string][]string{
		"":                                    {"os-debian", "pass-max-days", "ssh-no-root"},
		"cis":                                 {"pass-max-days", "ssh-no-root"},
		"cis:5.4.1.1":                         {"pass-max-days"},
		"ssg:accounts_maximum_age_login_defs": {"pass-max-days"},
		"ssg:nope":                            nil,
		"stig":                                nil,
	} {
		list := decode[apitypes.PolicyList](t, f.get(t, "/api/v1/policies?limit=1&reference="+ref), http.StatusOK)
		var got []string
		for {
			for _, p := range list.Policies {
				got = append(got, p.ID)
			}
			if list.NextCursor == "" {
				break
			}
			list = decode[apitypes.PolicyList](t, f.get(t, "/api/v1/policies?limit=1&reference="+ref+"&cursor="+list.NextCursor), http.StatusOK)
		}
		if !slices.Equal(got, want) {
			t.Errorf("reference %q: %v, want %v", ref, got, want)
		}
	}
	list := decode[apitypes.PolicyList](t, f.get(t, "/api/v1/policies?reference=cis:5.2.10"), http.StatusOK)
	if refs := list.Policies[0].References; len(list.Policies) != 1 || !slices.Equal(refs["ssg"], []string{"sshd_disable_root_login"}) {
		t.Errorf("references in the list: %+v", list.Policies)
	}
	one := decode[apitypes.Policy](t, f.get(t, "/api/v1/policies/ssh-no-root"), http.StatusOK)
	if one.Policy == nil || one.Policy.Fix == nil || !slices.Equal(one.Policy.References["cis"], []string{"5.2.10"}) {
		t.Errorf("policy document: %+v", one.Policy)
	}
	wantError(t, f.get(t, "/api/v1/policies?reference=:x"), http.StatusBadRequest, "reference")
}
