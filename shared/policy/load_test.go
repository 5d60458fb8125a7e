package policy

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func ptr[T any](v T) *T { return &v }

// allLeaves is what testdata/policies/all-leaves.{yaml,json} hold.
var allLeaves = []Policy{
	{
		ID: "ssh-no-root-login", Title: "SSH does not allow root login",
		Description: "Root logs in with sudo from a named account.",
		Severity:    SeverityHigh, Platforms: []string{"linux", "darwin"}, Tags: []string{"cis", "ssh"},
		Rationale:   "A shared root password cannot be traced to a person.",
		Remediation: `Set "PermitRootLogin no" in /etc/ssh/sshd_config.`,
		AppliesIf:   &Check{File: &FileCheck{Path: "/etc/ssh/sshd_config", Exists: ptr(true)}},
		Check: Check{All: []Check{
			{File: &FileCheck{Path: "/etc/ssh/sshd_config", Matches: `(?m)^\s*PermitRootLogin\s+no\b`}},
			{File: &FileCheck{Path: "/etc/ssh/sshd_config.d/*.conf", NotMatches: `(?mi)^\s*PermitRootLogin\s+yes`, ModeMax: "0644", Owner: "root"}},
			{None: []Check{{Port: &PortCheck{Listening: 23}}, {Port: &PortCheck{Listening: 69, Proto: "udp"}}}},
		}},
	},
	{
		ID: "packages-and-services", Title: "Packages and services", Severity: SeverityMedium,
		Check: Check{Any: []Check{
			{Package: &PackageCheck{Name: "openssh-server", Installed: ptr(true), MinVersion: "1:9.2p1", MaxVersion: "1:9.9"}},
			{Package: &PackageCheck{Name: "telnetd", Installed: ptr(false)}},
			{Service: &ServiceCheck{Name: "ssh", Running: ptr(true), Enabled: ptr(true)}},
			{Expr: `inventory.os.platform in ["debian", "ubuntu"] && inventory.memory.total_bytes >= 1073741824`},
		}},
	},
	{
		ID: "windows-firewall", Title: "Windows firewall is on", Severity: SeverityCritical, Platforms: []string{"windows"},
		Check: Check{All: []Check{
			{Registry: &RegistryCheck{Key: `HKLM\SYSTEM\CurrentControlSet\Services\SharedAccess\Parameters\FirewallPolicy\StandardProfile`, Value: "EnableFirewall", Equals: "1"}},
			{Registry: &RegistryCheck{Key: `HKLM\SOFTWARE\Policies\Microsoft\Windows Defender`, Value: "DisableAntiSpyware", Matches: "^0$"}},
			{Registry: &RegistryCheck{Key: `HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion`}},
			{File: &FileCheck{Path: `C:\Windows\System32\drivers\etc\hosts`, Exists: ptr(true)}},
		}},
	},
	{
		ID: "firewall-command", Title: "nftables has rules", Severity: SeverityLow,
		Check: Check{Command: &CommandCheck{Run: []string{"nft", "list", "ruleset"}, ExitCode: ptr(0), OutputMatches: "chain input", Timeout: "30s"}},
	},
}

func TestParseAccepts(t *testing.T) {
	for _, name := range []string{"all-leaves.yaml", "all-leaves.json"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "policies", name))
			if err != nil {
				t.Fatal(err)
			}
			got, err := Parse(name, data)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, allLeaves) {
				a, _ := json.MarshalIndent(got, "", " ")
				t.Errorf("Parse gave:\n%s", a)
			}
		})
	}
}

// A decoded set marshalled to JSON (as the server sends it to agents)
// validates again and decodes to the same policies.
func TestValidateRoundTrip(t *testing.T) {
	if err := Validate("policy set 7", allLeaves); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	data, err := json.Marshal(map[string]any{"policies": allLeaves})
	if err != nil {
		t.Fatal(err)
	}
	back, err := Parse("set.json", data)
	if err != nil || !reflect.DeepEqual(back, allLeaves) {
		t.Errorf("round trip: %v\n%+v", err, back)
	}
	bad := append([]Policy(nil), allLeaves...)
	bad[1].Check = Check{Expr: "inventory.os"}
	err = Validate("policy set 8", bad)
	if err == nil || err.Error() != "policy set 8: policy packages-and-services: check.expr: CEL expression must be boolean, is dyn (compare it: x == true)" {
		t.Errorf("Validate(bad) = %v", err)
	}
	if err := Validate("empty set", nil); err != nil {
		t.Errorf("an empty set is valid: %v", err)
	}
}

func TestLoad(t *testing.T) {
	dir := filepath.Join("testdata", "load")
	t.Run("directory tree", func(t *testing.T) {
		ps, err := Load([]string{filepath.Join(dir, "good")})
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		var ids []string
		for _, p := range ps {
			ids = append(ids, p.ID)
		}
		// Lexical file order; hidden files and directories and other
		// extensions skipped, and so is testdata/ (a pack's fixtures).
		if want := "a-first c-third b-second"; strings.Join(ids, " ") != want {
			t.Errorf("ids %v, want %s", ids, want)
		}
	})
	t.Run("files named directly", func(t *testing.T) {
		ps, err := Load([]string{filepath.Join(dir, "good", "linux", "more.json"), filepath.Join(dir, "good", "base.yaml")})
		if err != nil || len(ps) != 2 || ps[0].ID != "c-third" {
			t.Errorf("Load = %v, %v", ps, err)
		}
	})
	empty := t.TempDir()
	cases := []struct {
		name  string
		paths []string
		want  []string
	}{
		{"duplicate across files", []string{filepath.Join(dir, "dup")}, []string{
			filepath.Join(dir, "dup", "two.yaml") + ":7: policy same: id: duplicate id (first defined at " + filepath.Join(dir, "dup", "one.yaml") + ":2)",
		}},
		{"same file twice", []string{filepath.Join(dir, "good", "base.yaml"), filepath.Join(dir, "good")}, []string{
			filepath.Join(dir, "good", "base.yaml") + ":2: policy a-first: id: duplicate id (first defined at " + filepath.Join(dir, "good", "base.yaml") + ":2)",
		}},
		{"one bad file rejects the set", []string{filepath.Join(dir, "bad")}, []string{
			filepath.Join(dir, "bad", "typo.yaml") + ":5: policy typo: check.file.exist: unknown field (known: path, exists, matches, not_matches, mode_max, owner, group, bits_set, bits_clear, suid, sgid, sticky, type)",
			filepath.Join(dir, "bad", "typo.yaml") + ":5: policy typo: check.file: needs at least one of exists, matches, not_matches, mode_max, owner, group, bits_set, bits_clear, suid, sgid, sticky, type",
		}},
		{"missing path", []string{filepath.Join(dir, "nope")}, []string{
			filepath.Join(dir, "nope") + ": stat " + filepath.Join(dir, "nope") + ": no such file or directory",
		}},
		{"directory without policies", []string{empty}, []string{empty + ": no *.yaml, *.yml or *.json files in directory"}},
		{"hidden file named directly is read", []string{filepath.Join(dir, "good", ".swp.yaml")}, []string{
			filepath.Join(dir, "good", ".swp.yaml") + ":1: invalid YAML: did not find expected node content",
		}},
		{"nothing given", nil, []string{"no policy files given"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ps, err := Load(c.paths)
			var ve *ValidationError
			if ps != nil || !errors.As(err, &ve) {
				t.Fatalf("Load = %d policies, %v; want nil and a *ValidationError", len(ps), err)
			}
			if c.want == nil {
				return
			}
			var got []string
			for _, p := range ve.Problems {
				got = append(got, p.String())
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

func TestLoadWithSourcesNamesEachPolicysFile(t *testing.T) {
	dir := filepath.Join("testdata", "load", "good")
	ps, sources, err := LoadWithSources([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"a-first":  filepath.Join(dir, "base.yaml"),
		"b-second": filepath.Join(dir, "linux", "ssh.yml"),
		"c-third":  filepath.Join(dir, "linux", "more.json"),
	}
	if len(ps) != len(want) || len(sources) != len(want) {
		t.Fatalf("%d policies, sources %v; want %v", len(ps), sources, want)
	}
	for id, f := range want {
		if sources[id] != f {
			t.Errorf("%s from %q, want %q", id, sources[id], f)
		}
	}
}
