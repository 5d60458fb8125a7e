package policy

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func tailoringTestPolicies() []Policy {
	return []Policy{
		{ID: "password-max-days", Title: "t", Severity: SeverityMedium,
			Parameters: map[string]Parameter{"max_days": {Default: "365"}, "warn_days": {Default: "7"}},
			Check: Check{All: []Check{
				{LoginDefs: &LoginDefsCheck{Key: "PASS_MAX_DAYS", ValueTest: ValueTest{Max: "${max_days}"}}},
				{LoginDefs: &LoginDefsCheck{Key: "PASS_WARN_AGE", ValueTest: ValueTest{Min: "${warn_days}"}}},
			}}},
		{ID: "umask", Title: "t", Severity: SeverityLow,
			Parameters: map[string]Parameter{"mask": {Default: "027"}},
			Check:      Check{LoginDefs: &LoginDefsCheck{Key: "UMASK", ValueTest: ValueTest{BitsSet: "${mask}"}}}},
		{ID: "plain", Title: "t", Severity: SeverityLow, Check: Check{Expr: "true"}},
	}
}

func TestLabelTailoringSelects(t *testing.T) {
	cases := []struct {
		selector, labels map[string]string
		want             bool
	}{
		{nil, nil, true},
		{map[string]string{}, map[string]string{"env": "prod"}, true},
		{map[string]string{"env": "prod"}, map[string]string{"env": "prod", "role": "web"}, true},
		{map[string]string{"env": "prod", "role": "db"}, map[string]string{"env": "prod", "role": "web"}, false},
		{map[string]string{"env": "prod"}, nil, false},
		{map[string]string{"env": ""}, map[string]string{}, false},
		{map[string]string{"env": ""}, map[string]string{"env": ""}, true},
	}
	for _, tc := range cases {
		if got := (LabelTailoring{Selector: tc.selector}).Selects(tc.labels); got != tc.want {
			t.Errorf("selector %v, labels %v: %v, want %v", tc.selector, tc.labels, got, tc.want)
		}
	}
}

func TestEffectiveValuesLaterWins(t *testing.T) {
	ts := []LabelTailoring{
		{Name: "b-prod-web", Selector: map[string]string{"env": "prod", "role": "web"}, Values: map[string]map[string]string{"password-max-days": {"max_days": "60"}}},
		{Name: "a-all", Values: map[string]map[string]string{"password-max-days": {"max_days": "180", "warn_days": "10"}, "umask": {"mask": "077"}}},
		{Name: "c-prod", Selector: map[string]string{"env": "prod"}, Values: map[string]map[string]string{"password-max-days": {"max_days": "90"}}},
	}
	SortTailorings(ts)
	if ts[0].Name != "a-all" || ts[2].Name != "c-prod" {
		t.Fatalf("sorted %v", ts)
	}
	cases := []struct {
		labels map[string]string
		want   map[string]map[string]string
	}{
		{nil, map[string]map[string]string{"password-max-days": {"max_days": "180", "warn_days": "10"}, "umask": {"mask": "077"}}},
		// c-prod comes after b-prod-web by name, so its 90 wins.
		{map[string]string{"env": "prod", "role": "web"}, map[string]map[string]string{"password-max-days": {"max_days": "90", "warn_days": "10"}, "umask": {"mask": "077"}}},
		{map[string]string{"env": "dev"}, map[string]map[string]string{"password-max-days": {"max_days": "180", "warn_days": "10"}, "umask": {"mask": "077"}}},
	}
	for _, tc := range cases {
		if got := EffectiveValues(ts, tc.labels); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("labels %v: %v, want %v", tc.labels, got, tc.want)
		}
	}
	if got := EffectiveValues(ts[2:], map[string]string{"env": "dev"}); got != nil {
		t.Errorf("nothing selected: %v, want nil", got)
	}
}

func TestLabelTailoringCheck(t *testing.T) {
	ps := tailoringTestPolicies()
	good := LabelTailoring{Name: "prod.eu-1", Selector: map[string]string{"env": "prod"},
		Values: map[string]map[string]string{"password-max-days": {"max_days": "90"}, "umask": {"mask": "0077"}}}
	if err := good.Check(ps); err != nil {
		t.Fatalf("good tailoring: %v", err)
	}
	cases := []struct {
		name string
		t    LabelTailoring
		want []string
	}{
		{"bad name", LabelTailoring{Name: "Prod", Values: good.Values}, []string{"name: \"Prod\" must match"}},
		{"no values", LabelTailoring{Name: "x"}, []string{"values: sets no parameter"}},
		{"unknown policy", LabelTailoring{Name: "x", Values: map[string]map[string]string{"nope": {"a": "1"}}}, []string{"values.nope: no policy in the set has id nope"}},
		{"undeclared", LabelTailoring{Name: "x", Values: map[string]map[string]string{"plain": {"a": "1"}}}, []string{"policy plain declares no parameter a"}},
		{"bad values", LabelTailoring{Name: "x", Values: map[string]map[string]string{"password-max-days": {"max_days": "ninety", "warn_days": "-"}, "umask": {"mask": "8"}}},
			[]string{`check.all[0].login_defs.max: parameter max_days = "ninety"`, `check.all[1].login_defs.min: parameter warn_days = "-"`, `check.login_defs.bits_set: parameter mask = "8"`}},
		{"NUL", LabelTailoring{Name: "x", Values: map[string]map[string]string{"umask": {"mask": "07\x007"}}}, []string{"without NUL"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.t.Check(ps)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v, want a ValidationError", err)
			}
			if len(ve.Problems) != len(tc.want) {
				t.Errorf("%d problems, want %d:\n%v", len(ve.Problems), len(tc.want), err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestApplyValuesLenient(t *testing.T) {
	ps := tailoringTestPolicies()
	out, skipped := ApplyValues(ps, map[string]map[string]string{
		"password-max-days": {"max_days": "90", "gone": "1"},
		"umask":             {"mask": "not octal"},
		"deleted-policy":    {"x": "1"},
	})
	if got := out[0].ParameterValues(); !reflect.DeepEqual(got, map[string]string{"max_days": "90", "warn_days": "7"}) {
		t.Errorf("password-max-days values %v", got)
	}
	if out[1].Values != nil {
		t.Errorf("umask evaluated with an unusable value: %v", out[1].Values)
	}
	if ps[0].Values != nil {
		t.Error("ApplyValues changed its input")
	}
	want := []string{"declares no parameter gone", "umask keeps its defaults", "no policy in the set has id deleted-policy"}
	if len(skipped) != len(want) {
		t.Fatalf("skipped %q", skipped)
	}
	for i, w := range want {
		if !strings.Contains(skipped[i], w) {
			t.Errorf("skipped[%d] = %q, want it to say %q", i, skipped[i], w)
		}
	}
}

func TestExpandParameters(t *testing.T) {
	ps := tailoringTestPolicies()
	got, err := ExpandParameters(map[string]string{"max_days": "180", "mask": "077"},
		map[string]map[string]string{"password-max-days": {"max_days": "90"}}, ps)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]map[string]string{"password-max-days": {"max_days": "90"}, "umask": {"mask": "077"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("expanded %v, want %v", got, want)
	}
	if _, err := ExpandParameters(map[string]string{"max_day": "1"}, nil, ps); err == nil || !strings.Contains(err.Error(), "no policy in the set declares parameter max_day") {
		t.Errorf("undeclared global: %v", err)
	}
}
