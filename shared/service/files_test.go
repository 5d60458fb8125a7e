//go:build !windows

package service

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestApplySettings(t *testing.T) {
	src := "# head\nserver: https://a.example.com # trailing\nenroll_secret: x\n\n# about commands\nallow_commands: true\ninventory_interval: 5m\n"
	cases := []struct {
		name     string
		src      string
		settings []Setting
		changed  bool
		want     map[string]string // key -> value; "" must be absent
		keep     []string          // text that must survive
	}{
		{name: "nothing to do", src: src, settings: []Setting{{"server", "https://a.example.com"}, {"inventory_interval", "5m0s"}, {"ca_file", ""}},
			want: map[string]string{"server": "https://a.example.com"}},
		{name: "replace and add and remove", src: src,
			settings: []Setting{{"server", "https://b.example.com"}, {"enroll_secret", ""}, {"enroll_secret_file", "/etc/steward/enroll-secret"}},
			changed:  true,
			want:     map[string]string{"server": "https://b.example.com", "enroll_secret": "", "enroll_secret_file": "/etc/steward/enroll-secret", "allow_commands": "true"},
			keep:     []string{"# head", "# trailing", "# about commands"}},
		{name: "new file", src: "", settings: []Setting{{"server", "http://x:1"}, {"log_level", "true"}}, changed: true,
			want: map[string]string{"server": "http://x:1", "log_level": "true"}, keep: []string{"# written here"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, changed, err := ApplySettings([]byte(c.src), "written here", c.settings)
			if err != nil {
				t.Fatal(err)
			}
			if changed != c.changed {
				t.Errorf("changed = %v, want %v", changed, c.changed)
			}
			if !changed && string(out) != c.src {
				t.Errorf("unchanged output differs from the input:\n%s", out)
			}
			var got map[string]any
			if err := yaml.Unmarshal(out, &got); err != nil {
				t.Fatalf("output is not YAML: %v\n%s", err, out)
			}
			for k, v := range c.want {
				g, ok := got[k]
				switch {
				case v == "" && ok:
					t.Errorf("%s still present: %v", k, g)
				case v != "" && (!ok || strings.TrimSpace(toString(g)) != v):
					t.Errorf("%s = %v (%T), want %q\n%s", k, g, g, v, out)
				}
			}
			for _, k := range c.keep {
				if !strings.Contains(string(out), k) {
					t.Errorf("%q lost:\n%s", k, out)
				}
			}
		})
	}
	// A value that YAML would read as another type stays a string.
	out, _, _ := ApplySettings(nil, "", []Setting{{"log_level", "true"}})
	var typed map[string]any
	yaml.Unmarshal(out, &typed)
	if _, ok := typed["log_level"].(string); !ok {
		t.Errorf("log_level written as %T:\n%s", typed["log_level"], out)
	}
	for _, bad := range []string{"- a list\n", "just text\n", "a: [\n"} {
		if _, _, err := ApplySettings([]byte(bad), "", []Setting{{"server", "x"}}); err == nil {
			t.Errorf("ApplySettings accepted %q", bad)
		}
	}
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := yaml.Marshal(v)
	return string(b)
}

func TestWriteFileAndEnsureMode(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	if changed, err := WriteFile(p, []byte("one"), 0o600); err != nil || !changed {
		t.Fatalf("first write: %v %v", changed, err)
	}
	if changed, err := WriteFile(p, []byte("one"), 0o600); err != nil || changed {
		t.Fatalf("same content rewritten: %v %v", changed, err)
	}
	// file returns p's content and permission bits.
	file := func() (string, os.FileMode) {
		t.Helper()
		b, err := os.ReadFile(p)
		fi, serr := os.Stat(p)
		if err != nil || serr != nil {
			t.Fatal(err, serr)
		}
		return string(b), fi.Mode().Perm()
	}
	if changed, err := WriteFile(p, []byte("two"), 0o640); err != nil || !changed {
		t.Fatalf("second write: %v %v", changed, err)
	}
	if text, perm := file(); text != "two" || perm != 0o640 {
		t.Fatalf("second write left %q, mode %v", text, perm)
	}
	if changed, err := EnsureMode(p, 0o600); err != nil || !changed {
		t.Fatalf("EnsureMode: %v %v", changed, err)
	}
	if _, perm := file(); perm != 0o600 {
		t.Fatalf("EnsureMode left mode %v", perm)
	}
	if changed, err := EnsureMode(p, 0o600); err != nil || changed {
		t.Fatalf("EnsureMode again: %v %v", changed, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

func TestWritablePaths(t *testing.T) {
	unit := "[Service]\nStateDirectory=x\nStateDirectoryMode=0700\nProtectSystem=strict\n"
	if got := WritablePaths(unit, "StateDirectoryMode=", nil); got != unit {
		t.Errorf("no paths changed the unit:\n%s", got)
	}
	want := "[Service]\nStateDirectory=x\nStateDirectoryMode=0700\nReadWritePaths=\"-/a/b\"\nReadWritePaths=\"-/c d\"\nProtectSystem=strict\n"
	if got := WritablePaths(unit, "StateDirectoryMode=", []string{"/a/b/", "/c d"}); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}
