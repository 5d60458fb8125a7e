package policy

import (
	"encoding/json"
	"strings"
	"testing"
)

const fixPolicy = `policies:
  - id: ssh-no-root
    title: No root SSH login
    severity: high
    check:
      sshd: {key: permitrootlogin, equals: "no"}
    fix:
      sh: |
        sed -i 's/^#\?PermitRootLogin.*/PermitRootLogin no/' /etc/ssh/sshd_config
      ansible: |
        - name: Disable SSH root login
          ansible.builtin.lineinfile: {path: /etc/ssh/sshd_config, regexp: '^#?PermitRootLogin', line: PermitRootLogin no}
`

func TestFixParses(t *testing.T) {
	ps, err := Parse("p.yaml", []byte(fixPolicy))
	if err != nil {
		t.Fatal(err)
	}
	f := ps[0].Fix
	if f == nil || !strings.HasPrefix(f.Sh, "sed -i") || !strings.Contains(f.Ansible, "lineinfile") {
		t.Fatalf("fix = %+v", f)
	}
	if f.Text(FixShell) != f.Sh || f.Text(FixAnsible) != f.Ansible || f.Text("bat") != "" || (*Fix)(nil).Text(FixShell) != "" {
		t.Fatal("Text")
	}
	// The fix survives the JSON round trip the server stores and sends.
	raw, _ := json.Marshal(ps[0])
	if !strings.Contains(string(raw), `"fix":{"sh":`) {
		t.Fatalf("json = %s", raw)
	}
	if err := Validate("set", ps); err != nil {
		t.Fatal(err)
	}
	var back Policy
	if err := json.Unmarshal(raw, &back); err != nil || *back.Fix != *f {
		t.Fatalf("round trip: %v %+v", err, back.Fix)
	}
}

func TestFixOptional(t *testing.T) {
	ps, err := Parse("p.yaml", []byte(strings.SplitN(fixPolicy, "    fix:", 2)[0]))
	if err != nil || ps[0].Fix != nil {
		t.Fatalf("%v %+v", err, ps)
	}
	only := strings.SplitN(fixPolicy, "      ansible:", 2)[0]
	ps, err = Parse("p.yaml", []byte(only))
	if err != nil || ps[0].Fix == nil || ps[0].Fix.Ansible != "" || ps[0].Fix.Sh == "" {
		t.Fatalf("%v %+v", err, ps)
	}
}

func TestFixProblems(t *testing.T) {
	head := strings.SplitN(fixPolicy, "    fix:", 2)[0]
	for _, tc := range []struct {
		name, fix, want string
	}{
		{"empty mapping", "    fix: {}\n", "p.yaml:7: policy ssh-no-root: fix: give sh, ansible or both"},
		{"not a mapping", "    fix: sed\n", "p.yaml:7: policy ssh-no-root: fix: fix must be a mapping with keys sh, ansible, not"},
		{"unknown key", "    fix: {bat: x}\n", "p.yaml:7: policy ssh-no-root: fix.bat: unknown field (known: sh, ansible)"},
		{"empty sh", "    fix: {sh: \" \"}\n", "p.yaml:7: policy ssh-no-root: fix.sh: must not be empty"},
		{"number", "    fix: {sh: 12}\n", ""},
		{"bool", "    fix: {sh: true}\n", "p.yaml:7: policy ssh-no-root: fix.sh: must be a string"},
		{"too long", "    fix: {sh: " + strings.Repeat("x", MaxFixBytes+1) + "}\n", "p.yaml:7: policy ssh-no-root: fix.sh: longer than 16384 bytes"},
		{"ansible not a list", "    fix:\n      ansible: |\n        name: x\n", "p.yaml:8: policy ssh-no-root: fix.ansible: must be a YAML list of one or more tasks (mappings), not a mapping"},
		{"ansible empty list", "    fix: {ansible: \"[]\"}\n", "p.yaml:7: policy ssh-no-root: fix.ansible: must be a YAML list"},
		{"ansible scalar task", "    fix:\n      ansible: |\n        - x\n", "p.yaml:8: policy ssh-no-root: fix.ansible: task 1 must be a mapping"},
		{"ansible bad yaml", "    fix:\n      ansible: |\n        - {name: [\n", "p.yaml:8: policy ssh-no-root: fix.ansible: not valid YAML"},
		{"ansible two docs", "    fix:\n      ansible: |\n        - a: 1\n        ---\n        - b: 2\n", "p.yaml:8: policy ssh-no-root: fix.ansible: holds more than one YAML document"},
		{"ansible comment only", "    fix:\n      ansible: |\n        # nothing\n", "p.yaml:8: policy ssh-no-root: fix.ansible: empty"},
		{"twice", "    fix: {sh: a}\n    fix: {sh: b}\n", "p.yaml:8: policy ssh-no-root: fix: given twice (first at line 7)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("p.yaml", []byte(head+tc.fix))
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v\nwant %s", err, tc.want)
			}
		})
	}
}
