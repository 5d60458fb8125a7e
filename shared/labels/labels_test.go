package labels

import (
	"fmt"
	"maps"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	many := map[string]string{}
	for i := range MaxLabels + 1 {
		many[fmt.Sprintf("k%d", i)] = "v"
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		bad    string // part of the error, "" when valid
	}{
		{"none", nil, ""},
		{"ordinary", map[string]string{"team": "web", "site/room": "b-2", "env.tier": ""}, ""},
		{"space in key", map[string]string{"my team": "x"}, "label key"},
		{"leading dash", map[string]string{"-x": "y"}, "label key"},
		{"key too long", map[string]string{strings.Repeat("k", 64): "y"}, "label key"},
		{"control in value", map[string]string{"team": "a\x1b[31m"}, "printable"},
		{"value too long", map[string]string{"team": strings.Repeat("v", 256)}, "at most 255"},
		{"invalid utf-8", map[string]string{"team": "\xff"}, "printable"},
		{"too many", many, "at most 64"},
	} {
		err := Check(c.labels)
		if (err != nil) != (c.bad != "") || err != nil && !strings.Contains(err.Error(), c.bad) {
			t.Errorf("%s: Check = %v, want error containing %q", c.name, err, c.bad)
		}
	}
}

func TestParse(t *testing.T) {
	got, err := Parse("team=web, site=paris,empty=")
	if err != nil || !maps.Equal(got, map[string]string{"team": "web", "site": "paris", "empty": ""}) {
		t.Errorf("Parse = %v, %v", got, err)
	}
	if got, err := Parse(" "); err != nil || len(got) != 0 {
		t.Errorf("Parse(blank) = %v, %v", got, err)
	}
	for _, bad := range []string{"team", "team=a,team=b", "bad key=x", "a=b,,c=d"} {
		if _, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}
