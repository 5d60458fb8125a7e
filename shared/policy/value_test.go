package policy

import (
	"context"
	"strings"
	"testing"
)

func strp(s string) *string { return &s }

func TestValueTestJudgesEffectiveValues(t *testing.T) {
	no, yes := false, true
	ctx := withParams(context.Background(), map[string]string{"max_days": "365", "umask": "027"})
	cases := []struct {
		name   string
		v      ValueTest
		got    *string
		pass   bool
		detail string
	}{
		{"equal", ValueTest{Equals: "0"}, strp("0"), true, `"0"`},
		{"not equal", ValueTest{Equals: "0"}, strp("1"), false, `"1" (want = "0")`},
		{"unset fails a test", ValueTest{Equals: "0"}, nil, false, `not set (want = "0")`},
		{"unset with set:false", ValueTest{Set: &no}, nil, true, "not set"},
		{"set with set:false", ValueTest{Set: &no}, strp("x"), false, `set to "x" (want it unset)`},
		{"unset with set:true", ValueTest{Set: &yes}, nil, false, "not set (want it set)"},
		{"min inclusive", ValueTest{Min: "14"}, strp("14"), true, `"14"`},
		{"below min", ValueTest{Min: "14"}, strp("8"), false, `"8" (want >= 14)`},
		{"non-number fails min", ValueTest{Min: "14"}, strp("abc"), false, `"abc" (want >= 14)`},
		{"parameter max", ValueTest{Max: "${max_days}"}, strp("99999"), false, `"99999" (want <= 365)`},
		{"parameter max passes", ValueTest{Max: "${max_days}", Min: "1"}, strp("365"), true, `"365"`},
		{"umask bits set", ValueTest{BitsSet: "${umask}"}, strp("077"), true, `"077"`},
		{"umask too open", ValueTest{BitsSet: "027"}, strp("022"), false, `"022" (want bits 027 set)`},
		{"bits clear", ValueTest{BitsClear: "0022"}, strp("0644"), true, `"0644"`},
		{"bits not clear", ValueTest{BitsClear: "0022"}, strp("0664"), false, `"0664" (want bits 0022 clear)`},
		{"one of", ValueTest{OneOf: []string{"persistent", "auto"}}, strp("volatile"), false, `"volatile" (want one of ["persistent" "auto"])`},
		{"matches and not_matches", ValueTest{Matches: "^aes", NotMatches: "cbc"}, strp("aes128-cbc"), false, `"aes128-cbc" (want not matching "cbc")`},
		{"not_equals", ValueTest{NotEquals: "none"}, strp("/etc/issue.net"), true, `"/etc/issue.net"`},
		{"several failures listed", ValueTest{Min: "5", Max: "9"}, strp("12"), false, `"12" (want <= 9)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ok, detail, err := c.v.Test(ctx, c.got)
			if err != nil {
				t.Fatal(err)
			}
			if ok != c.pass || detail != c.detail {
				t.Errorf("Test(%v) = %v, %q; want %v, %q", c.got, ok, detail, c.pass, c.detail)
			}
		})
	}
}

func TestValueTestParameterWithoutValueIsAnError(t *testing.T) {
	_, _, err := ValueTest{Max: "${max_days}"}.Test(context.Background(), strp("1"))
	if err == nil || !strings.Contains(err.Error(), "max_days has no value") {
		t.Fatalf("err = %v, want the missing parameter named", err)
	}
	ctx := withParams(context.Background(), map[string]string{"max_days": "lots"})
	if _, _, err := (ValueTest{Max: "${max_days}"}).Test(ctx, strp("1")); err == nil || !strings.Contains(err.Error(), `"lots" is not a whole number`) {
		t.Fatalf("err = %v, want the bad parameter value named", err)
	}
}

func TestValueTestEmpty(t *testing.T) {
	if !(ValueTest{}).Empty() {
		t.Error("zero ValueTest is not Empty")
	}
	yes := true
	for _, v := range []ValueTest{{Set: &yes}, {Equals: "x"}, {OneOf: []string{"a"}}, {BitsClear: "022"}} {
		if v.Empty() {
			t.Errorf("%+v reported Empty", v)
		}
	}
}
