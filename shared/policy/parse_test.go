package policy

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// head is a valid policy up to its check: lines 1 to 4.
const head = "policies:\n  - id: p1\n    title: T\n    severity: high\n"

// withCheck puts check (YAML indented for the check: key) at line 5.
func withCheck(check string) string { return head + "    check:\n" + check }

// prob builds an expected problem in p.yaml for policy p1. A message
// ending in "*" matches by prefix (for long CEL messages).
func prob(line int, field, msg string) Problem {
	return Problem{File: "p.yaml", Line: line, Policy: "p1", Field: field, Message: msg}
}

func TestParseRejects(t *testing.T) {
	cases := []struct {
		name string
		in   string
		want []Problem
	}{
		{"yaml syntax", "policies:\n  - id: a\n    title: T: U\n", []Problem{{File: "p.yaml", Line: 3, Message: "invalid YAML: mapping values are not allowed in this context"}}},
		// The parser blames the list item's first line; the problem is the
		// key indented one space too few on line 4.
		{"yaml indentation", "policies:\n  - id: a\n    title: T\n   severity: low\n    check:\n      expr: 'true'\n", []Problem{{File: "p.yaml", Line: 4, Message: "invalid YAML: did not find expected '-' indicator"}}},
		{"yaml indentation, further down", "policies:\n  - id: a\n    title: T\n    severity: low\n    check:\n      all:\n        - expr: 'true'\n       - expr: 'false'\n", []Problem{{File: "p.yaml", Line: 8, Message: "invalid YAML: did not find expected key"}}},
		{"json syntax", "{\"policies\": [\n  {\"id\": \"a\",}\n]}", []Problem{{File: "p.yaml", Line: 2, Message: "invalid JSON: invalid character '}' looking for beginning of object key string"}}},
		{"empty file", " \n", []Problem{{File: "p.yaml", Message: "file is empty; want a policies: list"}}},
		{"comment only", "# nothing\n", []Problem{{File: "p.yaml", Message: "file is empty; want a policies: list"}}},
		{"top is a list", "- id: a\n", []Problem{{File: "p.yaml", Line: 1, Message: "the file must be a mapping with keys policies, not a list"}}},
		{"unknown top key", "policy:\n  - id: a\n", []Problem{
			{File: "p.yaml", Line: 1, Field: "policy", Message: "unknown field (known: policies)"},
			{File: "p.yaml", Line: 1, Message: "missing policies: list"},
		}},
		{"policies not a list", "policies: {id: a}\n", []Problem{{File: "p.yaml", Line: 1, Field: "policies", Message: "must be a list of policies"}}},
		{"policies empty", "policies: []\n", []Problem{{File: "p.yaml", Line: 1, Field: "policies", Message: "list is empty"}}},
		{"two documents", head + "    check: {expr: 'true'}\n---\npolicies: []\n", []Problem{{File: "p.yaml", Line: 6, Message: "more than one YAML document; put every policy under one policies: list"}}},
		{"policy not a mapping", "policies:\n  - just-a-string\n", []Problem{{File: "p.yaml", Line: 2, Policy: "#1", Message: "the file must be a mapping with keys id, title, description, severity, platforms, tags, rationale, remediation, fix, parameters, references, applies_if, check, not \"just-a-string\""}}},
		{"required fields", "policies:\n  - description: d\n", []Problem{
			{File: "p.yaml", Line: 2, Policy: "#1", Field: "id", Message: "required"},
			{File: "p.yaml", Line: 2, Policy: "#1", Field: "title", Message: "required"},
			{File: "p.yaml", Line: 2, Policy: "#1", Field: "severity", Message: "required"},
			{File: "p.yaml", Line: 2, Policy: "#1", Field: "check", Message: "required"},
		}},
		{"bad id", strings.Replace(head, "id: p1", "id: SSH_root", 1) + "    check: {expr: 'true'}\n", []Problem{
			{File: "p.yaml", Line: 2, Policy: "#1", Field: "id", Message: `"SSH_root" must match ^[a-z0-9][a-z0-9-]*$ (lower-case letters, digits and hyphens)`},
		}},
		{"id starting with hyphen", strings.Replace(head, "id: p1", "id: -x", 1) + "    check: {expr: 'true'}\n", []Problem{
			{File: "p.yaml", Line: 2, Policy: "#1", Field: "id", Message: `"-x" must match ^[a-z0-9][a-z0-9-]*$ (lower-case letters, digits and hyphens)`},
		}},
		{"long id", strings.Replace(head, "id: p1", "id: "+strings.Repeat("a", 129), 1) + "    check: {expr: 'true'}\n", []Problem{
			{File: "p.yaml", Line: 2, Policy: "#1", Field: "id", Message: "longer than 128 characters"},
		}},
		{"duplicate id", head + "    check: {expr: 'true'}\n" + strings.TrimPrefix(head, "policies:\n") + "    check: {expr: 'true'}\n", []Problem{
			prob(6, "id", "duplicate id (first defined at line 2)"),
		}},
		{"bad severity", strings.Replace(head, "high", "urgent", 1) + "    check: {expr: 'true'}\n", []Problem{
			prob(4, "severity", `"urgent" is not one of info, low, medium, high, critical`),
		}},
		{"severity wrong type", strings.Replace(head, "high", "[high]", 1) + "    check: {expr: 'true'}\n", []Problem{
			prob(4, "severity", "must be a string, not a list"),
		}},
		{"empty title", strings.Replace(head, "title: T", "title: ' '", 1) + "    check: {expr: 'true'}\n", []Problem{
			prob(3, "title", "must not be empty"),
		}},
		{"null title", strings.Replace(head, "title: T", "title:", 1) + "    check: {expr: 'true'}\n", []Problem{
			prob(3, "title", "must be a string, not null"),
		}},
		{"platforms", head + "    platforms: [linux, beos, linux]\n    check: {expr: 'true'}\n", []Problem{
			prob(5, "platforms[1]", `"beos" is not one of linux, windows, darwin`),
			prob(5, "platforms[2]", `"linux" listed twice`),
		}},
		{"platforms not a list", head + "    platforms: linux\n    check: {expr: 'true'}\n", []Problem{
			prob(5, "platforms", `must be a list of strings, not "linux"`),
		}},
		{"empty tag", head + "    tags: [cis, '']\n    check: {expr: 'true'}\n", []Problem{
			prob(5, "tags[1]", "empty tag"),
		}},
		{"unknown policy field", head + "    colour: red\n    check: {expr: 'true'}\n", []Problem{
			prob(5, "colour", "unknown field (known: id, title, description, severity, platforms, tags, rationale, remediation, fix, parameters, references, applies_if, check)"),
		}},
		{"duplicate key", head + "    title: U\n    check: {expr: 'true'}\n", []Problem{
			prob(5, "title", "given twice (first at line 3)"),
		}},
		{"merge key", "base: &b {title: T, severity: low}\npolicies:\n  - id: p1\n    <<: *b\n    check: {expr: 'true'}\n", []Problem{
			{File: "p.yaml", Line: 1, Field: "base", Message: "unknown field (known: policies)"},
			prob(3, "title", "required"),
			prob(3, "severity", "required"),
			prob(4, "", "YAML merge keys (<<) are not supported; write the fields out"),
		}},

		{"empty check", withCheck("      {}\n"), []Problem{
			prob(6, "check", "empty check: want one of all, any, none, file, package, service, port, registry, command, expr, find, sysctl, mount, kernel_module, systemd_unit, apparmor, selinux, pam, sshd, login_defs, shadow, accounts, setting, environment"),
		}},
		{"two kinds", withCheck("      {expr: 'true', port: {listening: 22}}\n"), []Problem{
			prob(6, "check", "has port and expr: a check holds exactly one of them (combine with all/any/none)"),
		}},
		{"unknown leaf", withCheck("      filez: {path: /etc/passwd}\n"), []Problem{
			prob(6, "check.filez", "unknown field (known: all, any, none, file, package, service, port, registry, command, expr, find, sysctl, mount, kernel_module, systemd_unit, apparmor, selinux, pam, sshd, login_defs, shadow, accounts, setting, environment)"),
		}},
		{"check not a mapping", withCheck("      - expr: 'true'\n"), []Problem{
			prob(6, "check", "check must be a mapping with keys all, any, none, file, package, service, port, registry, command, expr, find, sysctl, mount, kernel_module, systemd_unit, apparmor, selinux, pam, sshd, login_defs, shadow, accounts, setting, environment, not a list"),
		}},
		{"empty all", withCheck("      all: []\n"), []Problem{prob(6, "check.all", "must hold at least one check")}},
		{"any not a list", withCheck("      any: {expr: 'true'}\n"), []Problem{prob(6, "check.any", "must be a list of checks, not a mapping")}},
		{"nested error path", withCheck("      all:\n        - expr: 'true'\n        - none:\n            - port: {listening: 0}\n"), []Problem{
			prob(9, "check.all[1].none[0].port.listening", "port 0 is outside 1..65535"),
		}},
		{"too deep", withCheck("      " + strings.Repeat("{all: [", 34) + "{expr: 'true'}" + strings.Repeat("]}", 34) + "\n"), []Problem{
			prob(6, "check"+strings.Repeat(".all[0]", 33), "checks nested more than 32 deep"),
		}},
		{"applies_if path", head + "    applies_if: {file: {path: relative, exists: true}}\n    check: {expr: 'true'}\n", []Problem{
			prob(5, "applies_if.file.path", `"relative" must be absolute (start with / or a drive letter)`),
		}},

		{"file without path", withCheck("      file: {exists: true}\n"), []Problem{prob(6, "check.file.path", "required")}},
		{"file empty path", withCheck("      file: {path: '', exists: true}\n"), []Problem{prob(6, "check.file.path", "must not be empty")}},
		{"file bad glob", withCheck("      file: {path: '/etc/[x', exists: true}\n"), []Problem{
			prob(6, "check.file.path", `"/etc/[x" is not a valid glob: syntax error in pattern`),
		}},
		{"file nothing to test", withCheck("      file: {path: /etc/passwd}\n"), []Problem{
			prob(6, "check.file", "needs at least one of exists, matches, not_matches, mode_max, owner, group, bits_set, bits_clear, suid, sgid, sticky, type"),
		}},
		{"file exists false and more", withCheck("      file: {path: /etc/x, exists: false, matches: a, owner: root}\n"), []Problem{
			prob(6, "check.file.exists", "exists: false cannot be combined with matches, owner"),
		}},
		{"file exists not a bool", withCheck("      file: {path: /etc/x, exists: yes}\n"), []Problem{
			prob(6, "check.file.exists", `must be true or false, not "yes"`),
		}},
		{"file bad regexes", withCheck("      file:\n        path: /etc/x\n        matches: '(foo'\n        not_matches: 'a{2,1}'\n"), []Problem{
			prob(8, "check.file.matches", "invalid regular expression: error parsing regexp: missing closing ): `(foo`"),
			prob(9, "check.file.not_matches", "invalid regular expression: error parsing regexp: invalid repeat count: `{2,1}`"),
		}},
		{"file lookbehind is not RE2", withCheck("      file: {path: /etc/x, matches: '(?<=a)b'}\n"), []Problem{
			prob(6, "check.file.matches", "invalid regular expression: error parsing regexp: invalid named capture: `(?<=a)b`"),
		}},
		{"file empty regex", withCheck("      file: {path: /etc/x, matches: ''}\n"), []Problem{
			prob(6, "check.file.matches", "empty regular expression"),
		}},
		{"file mode not octal", withCheck("      file: {path: /etc/x, mode_max: '0999'}\n"), []Problem{
			prob(6, "check.file.mode_max", `"0999" is not an octal mode like 0644`),
		}},
		{"file mode too big", withCheck("      file: {path: /etc/x, mode_max: 017777}\n"), []Problem{
			prob(6, "check.file.mode_max", `"017777" is above 07777`),
		}},
		{"file windows path on linux policy", head + "    platforms: [linux]\n    check: {file: {path: 'C:\\Windows\\win.ini', exists: true}}\n", []Problem{
			prob(6, "check.file.path", `"C:\\Windows\\win.ini" is a Windows path but the policy's platforms do not include windows`),
		}},

		{"package without name", withCheck("      package: {installed: true}\n"), []Problem{prob(6, "check.package.name", "required")}},
		{"package removed with versions", withCheck("      package: {name: telnetd, installed: false, max_version: '1.0'}\n"), []Problem{
			prob(6, "check.package.installed", "installed: false cannot be combined with min_version or max_version"),
		}},
		{"package empty version", withCheck("      package: {name: bash, min_version: ''}\n"), []Problem{
			prob(6, "check.package.min_version", "must not be empty"),
		}},
		{"package bad pattern", withCheck("      package: {name: 'linux-image-[', installed: true}\n"), []Problem{
			prob(6, "check.package.name", `"linux-image-[" is not a valid name pattern: syntax error in pattern`),
		}},
		{"package unknown key", withCheck("      package: {name: bash, version: '5'}\n"), []Problem{
			prob(6, "check.package.version", "unknown field (known: name, installed, min_version, max_version)"),
		}},

		{"service without name", withCheck("      service: {running: true}\n"), []Problem{prob(6, "check.service.name", "required")}},
		{"service nothing to test", withCheck("      service: {name: ssh}\n"), []Problem{prob(6, "check.service", "needs at least one of running, enabled")}},
		{"service running not a bool", withCheck("      service: {name: ssh, running: 1}\n"), []Problem{
			prob(6, "check.service.running", "must be true or false, not a number"),
		}},

		{"port without number", withCheck("      port: {proto: tcp}\n"), []Problem{prob(6, "check.port.listening", "required")}},
		{"port out of range", withCheck("      port: {listening: 70000, proto: sctp}\n"), []Problem{
			prob(6, "check.port.listening", "port 70000 is outside 1..65535"),
			prob(6, "check.port.proto", `"sctp" is not tcp or udp`),
		}},
		{"port as string", withCheck("      port: {listening: '22'}\n"), []Problem{
			prob(6, "check.port.listening", `must be a whole number, not "22"`),
		}},

		{"registry without key", withCheck("      registry: {value: v}\n"), []Problem{prob(6, "check.registry.key", "required")}},
		{"registry bad hive", withCheck("      registry: {key: 'HKXX\\Software'}\n"), []Problem{
			prob(6, "check.registry.key", `"HKXX\\Software" must start with a hive and a subkey, as in HKLM\SOFTWARE\... (hives: HKLM, HKEY_LOCAL_MACHINE, HKCU, HKEY_CURRENT_USER, HKCR, HKEY_CLASSES_ROOT, HKU, HKEY_USERS, HKCC, HKEY_CURRENT_CONFIG)`),
		}},
		{"registry hive only", withCheck("      registry: {key: 'HKLM\\'}\n"), []Problem{
			prob(6, "check.registry.key", `"HKLM\\" must start with a hive and a subkey, as in HKLM\SOFTWARE\... (hives: HKLM, HKEY_LOCAL_MACHINE, HKCU, HKEY_CURRENT_USER, HKCR, HKEY_CLASSES_ROOT, HKU, HKEY_USERS, HKCC, HKEY_CURRENT_CONFIG)`),
		}},
		{"registry equals and matches", withCheck("      registry: {key: 'HKLM\\Software\\X', value: V, equals: '1', matches: '^1$'}\n"), []Problem{
			prob(6, "check.registry.matches", "equals and matches are exclusive; give one"),
		}},
		{"registry equals without value", withCheck("      registry: {key: 'HKLM\\Software\\X', equals: '1'}\n"), []Problem{
			prob(6, "check.registry.value", "required with equals or matches (the value's name)"),
		}},

		{"command without run", withCheck("      command: {exit_code: 0}\n"), []Problem{prob(6, "check.command.run", "required")}},
		{"command empty run", withCheck("      command: {run: []}\n"), []Problem{prob(6, "check.command.run", "must name a program: [program, args...]")}},
		{"command run as string", withCheck("      command: {run: 'sshd -T'}\n"), []Problem{
			prob(6, "check.command.run", `must be a list of strings, not "sshd -T"`),
		}},
		{"command empty program", withCheck("      command: {run: ['', -T]}\n"), []Problem{prob(6, "check.command.run[0]", "program name must not be empty")}},
		{"command bad exit code", withCheck("      command: {run: ['true'], exit_code: zero}\n"), []Problem{
			prob(6, "check.command.exit_code", `must be a whole number, not "zero"`),
		}},
		{"command bad timeout", withCheck("      command: {run: ['true'], timeout: soon}\n"), []Problem{
			prob(6, "check.command.timeout", `"soon" is not a duration like 30s or 2m`),
		}},
		{"command timeout too long", withCheck("      command: {run: ['true'], timeout: 6m}\n"), []Problem{
			prob(6, "check.command.timeout", "6m0s is outside (0, 5m0s]"),
		}},
		{"command timeout zero", withCheck("      command: {run: ['true'], timeout: 0s}\n"), []Problem{
			prob(6, "check.command.timeout", "0s is outside (0, 5m0s]"),
		}},
		{"command bad output regex", withCheck("      command: {run: ['true'], output_matches: '['}\n"), []Problem{
			prob(6, "check.command.output_matches", "invalid regular expression: error parsing regexp: missing closing ]: `[`"),
		}},

		{"expr not boolean", withCheck("      expr: inventory.os.platform\n"), []Problem{
			prob(6, "check.expr", "CEL expression must be boolean, is dyn (compare it: x == true)"),
		}},
		{"expr string result", withCheck("      expr: '\"a\" + \"b\"'\n"), []Problem{
			prob(6, "check.expr", "CEL expression must be boolean, is string (compare it: x == true)"),
		}},
		{"expr syntax", withCheck("      expr: inventory.os.platform ==\n"), []Problem{
			prob(6, "check.expr", "invalid CEL expression: at 1:25: Syntax error: mismatched input '<EOF>' expecting*"),
		}},
		{"expr undeclared", withCheck("      expr: host.name == 'x'\n"), []Problem{
			prob(6, "check.expr", "invalid CEL expression: at 1:1: undeclared reference to 'host'"),
		}},
		{"expr unknown function", withCheck("      expr: inventory.os.platform.lowerAscii() == 'x'\n"), []Problem{
			prob(6, "check.expr", "invalid CEL expression: at 1:33: undeclared reference to 'lowerAscii'"),
		}},
		{"expr not a string", withCheck("      expr: true\n"), []Problem{prob(6, "check.expr", "must be a string, not a boolean")}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ps, err := Parse("p.yaml", []byte(c.in))
			if ps != nil {
				t.Errorf("Parse returned %d policies alongside problems", len(ps))
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Parse error = %v (%T), want *ValidationError", err, err)
			}
			if !problemsMatch(ve.Problems, c.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", listProblems(ve.Problems), listProblems(c.want))
			}
		})
	}
}

func problemsMatch(got, want []Problem) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range got {
		w, g := want[i], got[i]
		if prefix, ok := strings.CutSuffix(w.Message, "*"); ok && strings.HasPrefix(g.Message, prefix) {
			w.Message = g.Message
		}
		if g != w {
			return false
		}
	}
	return true
}

func listProblems(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		fmt.Fprintf(&b, "  %#v\n", p)
	}
	return b.String()
}

// Every problem in a file is reported, across policies, not just the
// first; and the error text names file, line, policy and field.
func TestParseReportsEveryProblem(t *testing.T) {
	in := `policies:
  - id: one
    title: One
    severity: bad
    check:
      all:
        - file: {path: /etc/x, matches: '('}
        - port: {listening: 0}
  - id: two
    title: Two
    severity: low
    check: {expr: 'inventory.os =='}
`
	_, err := Parse("bad.yaml", []byte(in))
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Parse error = %v, want *ValidationError", err)
	}
	lines := strings.Split(err.Error(), "\n")
	want := []string{
		`bad.yaml:4: policy one: severity: "bad" is not one of info, low, medium, high, critical`,
		"bad.yaml:7: policy one: check.all[0].file.matches: invalid regular expression: error parsing regexp: missing closing ): `(`",
		"bad.yaml:8: policy one: check.all[1].port.listening: port 0 is outside 1..65535",
		"bad.yaml:12: policy two: check.expr: invalid CEL expression: at 1:16: Syntax error:",
	}
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), err)
	}
	for i := range want {
		if !strings.HasPrefix(lines[i], want[i]) {
			t.Errorf("line %d:\n got %s\nwant %s", i, lines[i], want[i])
		}
	}
}

func TestParseLimits(t *testing.T) {
	t.Run("file too large", func(t *testing.T) {
		_, err := Parse("big.yaml", make([]byte, MaxFileSize+1))
		if err == nil || err.Error() != "big.yaml: file is larger than 4194304 bytes" {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("self-referencing alias", func(t *testing.T) {
		// Every path down the tree is too deep: the report stops at
		// maxProblems instead of listing millions.
		_, err := Parse("self.yaml", []byte(head+"    check: &a {all: [*a, *a, *a, *a]}\n"))
		var ve *ValidationError
		if !errors.As(err, &ve) || len(ve.Problems) != maxProblems+1 ||
			ve.Problems[0].Message != "checks nested more than 32 deep" || ve.Problems[maxProblems].Message != tooManyProblems {
			t.Fatalf("err = %.300v", err)
		}
	})
	t.Run("alias bomb", func(t *testing.T) {
		// Each level doubles the tree: 2^20 leaves from a few lines.
		var b strings.Builder
		b.WriteString("x0: &a0 {expr: 'true'}\n")
		for i := 1; i <= 20; i++ {
			fmt.Fprintf(&b, "x%d: &a%d {all: [*a%d, *a%d]}\n", i, i, i-1, i-1)
		}
		b.WriteString(head + "    check: *a20\n")
		_, err := Parse("bomb.yaml", []byte(b.String()))
		if err == nil || !strings.Contains(err.Error(), "file expands to more than 200000 YAML nodes (aliases?)") {
			t.Errorf("err = %v", err)
		}
	})
}
