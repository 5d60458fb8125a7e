package match

import (
	"encoding/json"
	"testing"
)

func TestParseAndMatch(t *testing.T) {
	labels := map[string]string{"severity": "high", "hostname": "db-7", "os": "linux"}
	for _, c := range []struct {
		in   string
		want bool
	}{
		{"severity=high", true},
		{"severity=low", false},
		{"severity!=low", true},
		{"team!=db", true}, // absent label reads as ""
		{"team=", true},
		{`hostname=~db-.*`, true},
		{`hostname=~db`, false}, // anchored
		{`hostname!~web-.*`, true},
		{`hostname=~"db-[0-9]+"`, true},
		{` os = linux `, true},
		{`os="linux"`, true},
	} {
		m, err := Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		if got := m.Matches(labels); got != c.want {
			t.Errorf("%q matches %v = %v, want %v", c.in, labels, got, c.want)
		}
		// What String writes, Parse reads back to the same matcher.
		back, err := Parse(m.String())
		if err != nil || back.Name != m.Name || back.Op != m.Op || back.Value != m.Value {
			t.Errorf("round trip of %q via %q = %+v, %v", c.in, m.String(), back, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, in := range []string{"", "severity", "=high", "1abc=x", "host name=x", `hostname=~(`, `a="unterminated`, "a<b"} {
		if m, err := Parse(in); err == nil {
			t.Errorf("Parse(%q) = %+v, want an error", in, m)
		}
	}
	if _, err := ParseAll([]string{"a=b", "bad", "c=~("}); err == nil {
		t.Error("ParseAll accepted bad matchers")
	}
}

func TestJSONRoundTrip(t *testing.T) {
	ms, err := ParseAll([]string{"rule=host-offline", `hostname=~"db-.*"`})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(ms)
	if err != nil {
		t.Fatal(err)
	}
	var back []Matcher
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if !All(back, map[string]string{"rule": "host-offline", "hostname": "db-1"}) || All(back, map[string]string{"rule": "host-offline", "hostname": "web-1"}) {
		t.Errorf("decoded matchers %s match wrongly", raw)
	}
	if err := json.Unmarshal([]byte(`[{"name":"a","op":"=~","value":"("}]`), &back); err == nil {
		t.Error("decoded an invalid regexp matcher")
	}
	if !All(nil, map[string]string{"a": "b"}) {
		t.Error("no matchers must match everything")
	}
}
