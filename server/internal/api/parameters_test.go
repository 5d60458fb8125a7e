package api_test

import (
	"maps"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
)

// TestResultParameters: the parameter values a result was evaluated with
// reach a policy's results, a host's policies and the history; results
// without any have no "parameters" key.
func TestResultParameters(t *testing.T) {
	f := newFixture(t)
	fleet(t, f)
	params := map[string]string{"max_days": "90", "warn_days": "7"}
	// Host 1 checks ssh-root again (same status: no transition), with
	// the values it used; host 3 starts failing with them.
	if _, err := f.store.ApplyResults(t.Context(), []store.ResultBatch{
		{HostID: 1, Revision: 1, Results: []policy.Result{{PolicyID: "ssh-root", Status: policy.StatusFail,
			CheckedAt: now.Add(-30 * time.Second), Parameters: params}}},
		{HostID: 3, Revision: 1, Results: []policy.Result{{PolicyID: "ssh-root", Status: policy.StatusFail,
			CheckedAt: now.Add(-30 * time.Second), Parameters: params}}},
	}); err != nil {
		t.Fatal(err)
	}
	rec := f.get(t, "/api/v1/policies/ssh-root/results")
	body := rec.Body.String() // decode reads the body
	list := decode[apitypes.ResultList](t, rec, http.StatusOK)
	for _, r := range list.Results {
		want := map[string]string(nil)
		if r.HostID == 1 || r.HostID == 3 {
			want = params
		}
		if !maps.Equal(r.Parameters, want) || (want == nil) != (r.Parameters == nil) {
			t.Errorf("host %d: parameters %v, want %v", r.HostID, r.Parameters, want)
		}
		if r.HostID == 1 && !r.Since.Equal(now.Add(-time.Minute)) {
			t.Errorf("host 1: since %v moved on new parameters alone", r.Since)
		}
	}
	if n := strings.Count(body, `"parameters"`); n != 2 {
		t.Errorf(`%d results carry "parameters", want the 2 that have them: %s`, n, body)
	}

	hp := decode[apitypes.HostPolicies](t, f.get(t, "/api/v1/hosts/1/policies"), http.StatusOK)
	for _, p := range hp.Policies {
		switch {
		case p.PolicyID == "ssh-root" && !maps.Equal(p.Parameters, params):
			t.Errorf("host 1 ssh-root: parameters %v, want %v", p.Parameters, params)
		case p.PolicyID != "ssh-root" && p.Parameters != nil:
			t.Errorf("host 1 %s: parameters %v, want none", p.PolicyID, p.Parameters)
		}
	}

	hist := decode[apitypes.TransitionList](t, f.get(t, "/api/v1/policies/ssh-root/history?host_id=3"), http.StatusOK)
	if len(hist.Transitions) != 2 || !maps.Equal(hist.Transitions[0].Parameters, params) || hist.Transitions[1].Parameters != nil {
		t.Errorf("host 3 history = %+v, want pass>fail with %v, then the first result without", hist.Transitions, params)
	}
}

// TestOpenAPIResultFields keeps the document's result schemas listing
// every field the API's result types send.
func TestOpenAPIResultFields(t *testing.T) {
	doc := loadOpenAPI(t)
	for name, v := range map[string]any{"Result": apitypes.Result{}, "HostPolicy": apitypes.HostPolicy{},
		"Transition": apitypes.Transition{}} {
		schema, err := resolve(doc, "#/components/schemas/"+name)
		if err != nil {
			t.Fatal(err)
		}
		props, _ := schema["properties"].(map[string]any)
		typ := reflect.TypeOf(v)
		for i := range typ.NumField() {
			field, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			if field == "" || field == "-" {
				continue
			}
			if _, ok := props[field]; !ok {
				t.Errorf("schema %s lacks %s's field %q", name, typ, field)
			}
		}
	}
}
