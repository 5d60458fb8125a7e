package ctl_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/ctl"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
)

// TestResultParametersShown: once a result carries parameters, policies
// results and hosts policies add a PARAMETERS column (name=value in name
// order, "-" for results without any), in tables and CSV; -o json passes
// the API's "parameters" through. Without parameters the column stays
// out (the other goldens pin that).
func TestResultParametersShown(t *testing.T) {
	ts := newTestServer(t)
	ts.seedPolicies(t)
	// db-1 checks no-telnet again, same status, with the values it used.
	if _, err := ts.store.ApplyResults(t.Context(), []store.ResultBatch{{HostID: 2, Revision: 1, Results: []policy.Result{
		{PolicyID: "no-telnet", Status: policy.StatusFail, CheckedAt: now.Add(-time.Hour),
			Evidence:   []policy.Evidence{{Check: "check", Detail: "telnet-server 0.17-85 is installed (rpm)"}},
			Parameters: map[string]string{"package": "telnet-server", "allowed_versions": "none"}}}}}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		args   []string
		golden string
	}{
		{"policies results", []string{"policies", "results", "no-telnet"}, "policies_results_parameters.txt"},
		{"policies results csv", []string{"policies", "results", "no-telnet", "-o", "csv"}, "policies_results_parameters.csv"},
		{"policies results json", []string{"policies", "results", "no-telnet", "-o", "json"}, "policies_results_parameters.json"},
		{"hosts policies", []string{"hosts", "policies", "2"}, "hosts_policies_parameters.txt"},
		{"hosts policies csv", []string{"hosts", "policies", "2", "-o", "csv"}, "hosts_policies_parameters.csv"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := run(t, nil, append([]string{"--server", ts.URL, "--token", token}, tc.args...)...)
			if r.code != ctl.ExitOK || r.stderr != "" {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
			if !strings.Contains(r.stdout, "allowed_versions") || !strings.Contains(r.stdout, "telnet-server") {
				t.Errorf("output lacks the parameters:\n%s", r.stdout)
			}
			if strings.HasSuffix(tc.golden, ".json") {
				var page struct {
					Results []struct {
						HostID     int64             `json:"host_id"`
						Parameters map[string]string `json:"parameters"`
					} `json:"results"`
				}
				if err := json.Unmarshal([]byte(r.stdout), &page); err != nil {
					t.Fatalf("-o json printed invalid JSON: %v\n%s", err, r.stdout)
				}
				for _, res := range page.Results {
					if got := len(res.Parameters); (res.HostID == 2) != (got == 2) {
						t.Errorf("host %d has %d parameters in JSON", res.HostID, got)
					}
				}
			} else if !strings.Contains(r.stdout, "PARAMETERS") || !strings.Contains(r.stdout, "allowed_versions=none,package=telnet-server") {
				t.Errorf("no PARAMETERS column with name=value pairs:\n%s", r.stdout)
			}
			golden(t, tc.golden, r.stdout)
		})
	}
}
