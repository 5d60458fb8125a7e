package inventory

import (
	"testing"
)

func TestCanonicalSortsKeysAndKeepsValues(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"b":1,"a":{"d":[3,2],"c":"x"}}`, `{"a":{"c":"x","d":[3,2]},"b":1}`},
		{` { "html" : "<a&b>" , "n": 1.50, "big": 18446744073709551615 } `, `{"big":18446744073709551615,"html":"<a&b>","n":1.50}`},
		{`[true,false,null,"é"]`, `[true,false,null,"é"]`},
	}
	for _, tc := range tests {
		got, err := CanonicalizeJSON([]byte(tc.in))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tc.want {
			t.Errorf("CanonicalizeJSON(%s) = %s, want %s", tc.in, got, tc.want)
		}
	}
	for _, bad := range []string{`{`, `{} {}`, ``} {
		if _, err := CanonicalizeJSON([]byte(bad)); err == nil {
			t.Errorf("CanonicalizeJSON(%q) accepted", bad)
		}
	}
}

func TestCanonicalOfStructMatchesCanonicalizedJSON(t *testing.T) {
	v := Software{Packages: []Package{{Name: "bash", Version: "5.2", Source: SourceDpkg}}}
	a, err := Canonical(v)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := CanonicalizeJSON(a)
	if string(a) != string(b) {
		t.Errorf("canonical form is not a fixed point: %s vs %s", a, b)
	}
	if string(a) != `{"packages":[{"name":"bash","source":"dpkg","version":"5.2"}]}` {
		t.Errorf("Canonical = %s", a)
	}
}

func TestDigestDependsOnNamesAndHashes(t *testing.T) {
	d1 := Digest(map[string]string{"os": "a", "cpu": "b"})
	if d1 != Digest(map[string]string{"cpu": "b", "os": "a"}) {
		t.Error("digest depends on map order")
	}
	for _, other := range []map[string]string{
		{"os": "b", "cpu": "a"},
		{"os": "a"},
		{"os": "a", "cpu": "b", "disks": "c"},
		{},
	} {
		if Digest(other) == d1 {
			t.Errorf("digest of %v collides", other)
		}
	}
	if len(d1) != 64 {
		t.Errorf("digest length %d", len(d1))
	}
}
