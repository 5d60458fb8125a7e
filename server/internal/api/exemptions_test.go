package api_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/server/internal/store"
)

func TestAddExemptionRefuses(t *testing.T) {
	f := newFixture(t)
	fleet(t, f)
	valid := map[string]any{"policy_id": "ssh-root", "host_id": 1, "reason": "lab", "owner": "alice", "expires_at": "2025-03-02T00:00:00Z"}
	cases := []struct {
		name   string
		change map[string]any // nil value: delete the key
		status int
		want   string
	}{
		{"no reason", map[string]any{"reason": nil}, http.StatusBadRequest, "reason is required"},
		{"blank owner", map[string]any{"owner": "  "}, http.StatusBadRequest, "owner is required"},
		{"no expiry", map[string]any{"expires_at": nil}, http.StatusBadRequest, "expires_at is required"},
		{"expiry in the past", map[string]any{"expires_at": "2025-03-01T11:00:00Z"}, http.StatusBadRequest, "not in the future"},
		{"expiry now", map[string]any{"expires_at": "2025-03-01T12:00:00Z"}, http.StatusBadRequest, "not in the future"},
		{"host and labels", map[string]any{"labels": map[string]string{"env": "lab"}}, http.StatusBadRequest, "either host_id or labels"},
		{"neither", map[string]any{"host_id": nil}, http.StatusBadRequest, "either host_id or labels"},
		{"bad label key", map[string]any{"host_id": nil, "labels": map[string]string{"env lab": "x"}}, http.StatusBadRequest, "label key"},
		{"unknown field", map[string]any{"expires_in": "30d"}, http.StatusBadRequest, "unknown field"},
		{"reason too long", map[string]any{"reason": strings.Repeat("r", 1025)}, http.StatusBadRequest, "at most 1024"},
		{"unknown policy", map[string]any{"policy_id": "nope"}, http.StatusNotFound, `policy "nope" not found`},
		{"unknown host", map[string]any{"host_id": 99}, http.StatusNotFound, "host 99 not found"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body := map[string]any{}
			for k, v := range valid {
				body[k] = v
			}
			for k, v := range tc.change {
				if v == nil {
					delete(body, k)
				} else {
					body[k] = v
				}
			}
			raw, _ := json.Marshal(body)
			wantError(t, f.send(t, http.MethodPost, "/api/v1/exemptions", "Bearer "+token, "application/json", string(raw)), tc.status, tc.want)
		})
	}
	wantError(t, f.send(t, http.MethodPost, "/api/v1/exemptions", "Bearer "+token, "application/json", `{"policy_id":"x"} {}`),
		http.StatusBadRequest, "one JSON object")
	all := decode[apitypes.ExemptionList](t, f.get(t, "/api/v1/exemptions?all=true"), http.StatusOK)
	if len(all.Exemptions) != 0 {
		t.Errorf("refused exemptions stored: %+v", all.Exemptions)
	}
}

func TestExemptionLifecycle(t *testing.T) {
	f := newFixture(t)
	fleet(t, f)
	f.exempt(t, `{"policy_id":"ssh-root","host_id":1,"reason":"lab box","owner":"alice","expires_at":"2025-04-01T00:00:00Z"}`)
	byLabel := f.exempt(t, `{"policy_id":"ssh-root","labels":{"env":"lab"},"reason":"lab fleet","owner":"bob","expires_at":"2025-04-01T00:00:00Z"}`)
	if byLabel.HostID != 0 || byLabel.Labels["env"] != "lab" {
		t.Errorf("label exemption = %+v", byLabel)
	}
	// Host 2 gets the label and becomes exempt too.
	labels := decode[apitypes.Labels](t, f.send(t, http.MethodPut, "/api/v1/hosts/2/labels", "Bearer "+token, "application/json",
		`{"labels":{"env":"lab","team":"qa"}}`), http.StatusOK)
	if labels.HostID != 2 || labels.Labels["team"] != "qa" {
		t.Errorf("set labels = %+v", labels)
	}
	got := decode[apitypes.Labels](t, f.get(t, "/api/v1/hosts/2/labels"), http.StatusOK)
	if len(got.Labels) != 2 {
		t.Errorf("get labels = %+v", got)
	}
	c := decode[apitypes.Compliance](t, f.get(t, "/api/v1/compliance"), http.StatusOK)
	if ssh := c.Policies[1]; ssh.Fail != 0 || ssh.Exempt != 2 {
		t.Errorf("ssh-root with both exemptions = %+v", ssh.PolicyCounts)
	}

	// Revoking the host exemption brings host 1's failure back.
	revoked := decode[apitypes.Exemption](t, f.do(t, http.MethodDelete, "/api/v1/exemptions/1", "Bearer "+token), http.StatusOK)
	if revoked.Active || revoked.RevokedBy != "ops-token" || revoked.RevokedAt.IsZero() {
		t.Errorf("revoked = %+v", revoked)
	}
	wantError(t, f.do(t, http.MethodDelete, "/api/v1/exemptions/1", "Bearer "+token), http.StatusConflict, "already revoked")
	wantError(t, f.do(t, http.MethodDelete, "/api/v1/exemptions/9", "Bearer "+token), http.StatusNotFound, "exemption 9 not found")
	wantError(t, f.get(t, "/api/v1/exemptions/x"), http.StatusBadRequest, "positive integer")
	failing := decode[apitypes.ResultList](t, f.get(t, "/api/v1/policies/ssh-root/results?status=fail"), http.StatusOK)
	if len(failing.Results) != 1 || failing.Results[0].HostID != 1 {
		t.Errorf("failing after revoke = %+v", failing.Results)
	}

	active := decode[apitypes.ExemptionList](t, f.get(t, "/api/v1/exemptions"), http.StatusOK)
	all := decode[apitypes.ExemptionList](t, f.get(t, "/api/v1/exemptions?all=true"), http.StatusOK)
	if len(active.Exemptions) != 1 || active.Exemptions[0].ID != byLabel.ID || len(all.Exemptions) != 2 {
		t.Errorf("active %+v, all %+v", active.Exemptions, all.Exemptions)
	}
	one := decode[apitypes.Exemption](t, f.get(t, "/api/v1/exemptions/2"), http.StatusOK)
	if one.Owner != "bob" || !one.Active {
		t.Errorf("exemption 2 = %+v", one)
	}

	audit := decode[apitypes.AuditList](t, f.get(t, "/api/v1/audit"), http.StatusOK)
	var actions []string
	for _, a := range audit.Entries {
		actions = append(actions, a.Action+" "+a.Subject)
	}
	want := []string{"exemption_revoked 1", "host_labels_set 2", "exemption_added 2", "exemption_added 1", "policy_applied "}
	if !slices.Equal(actions, want) {
		t.Errorf("audit %q, want %q", actions, want)
	}
	wantError(t, f.get(t, "/api/v1/audit?action=nope"), http.StatusBadRequest, "unknown action")
	// Two adds, one label change and one revoke told the alert engine;
	// the refused revokes did not.
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.exempted != 4 {
		t.Errorf("ExemptionsChanged called %d times, want 4", f.exempted)
	}
}

func TestHostLabelsRefused(t *testing.T) {
	f := newFixture(t)
	f.store.AddHost(store.Host{ID: 1, Hostname: "a"})
	cases := []struct {
		path, body string
		status     int
		want       string
	}{
		{"/api/v1/hosts/1/labels", `{}`, http.StatusBadRequest, `"labels"`},
		{"/api/v1/hosts/1/labels", `{"labels":{"-x":"1"}}`, http.StatusBadRequest, "label key"},
		{"/api/v1/hosts/1/labels", `{"labels":{"x":"a\u0001b"}}`, http.StatusBadRequest, "printable"},
		{"/api/v1/hosts/1/labels", `{"host_id":2,"labels":{}}`, http.StatusBadRequest, "path host 1"},
		{"/api/v1/hosts/9/labels", `{"labels":{}}`, http.StatusNotFound, "host 9 not found"},
	}
	for _, tc := range cases {
		wantError(t, f.send(t, http.MethodPut, tc.path, "Bearer "+token, "application/json", tc.body), tc.status, tc.want)
	}
	wantError(t, f.get(t, "/api/v1/hosts/9/labels"), http.StatusNotFound, "host 9 not found")
	empty := decode[apitypes.Labels](t, f.send(t, http.MethodPut, "/api/v1/hosts/1/labels", "Bearer "+token, "application/json", `{"labels":{}}`), http.StatusOK)
	if empty.Labels == nil || len(empty.Labels) != 0 {
		t.Errorf("labels %+v", empty)
	}
}
