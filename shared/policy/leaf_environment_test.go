package policy

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestEnvironmentParseProblems(t *testing.T) {
	head := "policies:\n  - id: p\n    title: T\n    severity: low\n    check:\n      environment: "
	for _, c := range []struct{ src, want string }{
		{"{}", "f.yaml:6: policy p: check.environment: give at least one of container, virtual, init_system, kernel"},
		{"{container: yes}", `f.yaml:6: policy p: check.environment.container: must be true or false, not "yes"`},
		{"{virtual: 1}", "f.yaml:6: policy p: check.environment.virtual: must be true or false, not a number"},
		{"{init_system: upstart}", `f.yaml:6: policy p: check.environment.init_system: "upstart" is not one of systemd, sysvinit, openrc, launchd, windows, unknown`},
		{"{kernel: {}}", "f.yaml:6: policy p: check.environment.kernel: give at least one of " + strings.Join(valueTestKeys, ", ")},
		{"{kernel: {matches: '('}}", "f.yaml:6: policy p: check.environment.kernel.matches: invalid regular expression: error parsing regexp: missing closing ): `(`"},
		{"{kernel: '6.1'}", "f.yaml:6: policy p: check.environment.kernel: check.environment.kernel must be a mapping with keys " + strings.Join(valueTestKeys, ", ") + `, not "6.1"`},
		{"{hypervisor: kvm}", "f.yaml:6: policy p: check.environment.hypervisor: unknown field (known: container, virtual, init_system, kernel)"},
		{"[container]", "f.yaml:6: policy p: check.environment: check.environment must be a mapping with keys container, virtual, init_system, kernel, not a list"},
	} {
		_, err := Parse("f.yaml", []byte(head+c.src+"\n"))
		if err == nil || err.Error() != c.want {
			t.Errorf("%s:\ngot  %v\nwant %s", c.src, err, c.want)
		}
	}
}

func TestEnvironmentEvaluate(t *testing.T) {
	env := debianFacts(t)
	for _, c := range []struct {
		check  string
		status Status
		detail string
	}{
		{"{environment: {container: false}}", StatusPass, "container: none, from no container marker (want false)"},
		{"{environment: {container: true}}", StatusFail, "container: none, from no container marker (want true)"},
		{"{environment: {virtual: true}}", StatusPass, `virtual: kvm, from /sys/class/dmi/id/sys_vendor "QEMU" (want true)`},
		{"{environment: {init_system: systemd}}", StatusPass, `init_system: systemd, from /proc/1/comm "systemd" (want systemd)`},
		{"{environment: {init_system: openrc}}", StatusFail, `init_system: systemd, from /proc/1/comm "systemd" (want openrc)`},
		{`{environment: {kernel: {matches: '^6\.1\.'}}}`, StatusPass, `kernel: "6.1.0-37-amd64", from uname`},
		// Every key must hold; only the failing ones are listed.
		{"{environment: {container: false, virtual: false, init_system: systemd}}", StatusFail, `virtual: kvm, from /sys/class/dmi/id/sys_vendor "QEMU" (want false)`},
		{"{environment: {container: false, virtual: true}}", StatusPass, `container: none, from no container marker (want false); virtual: kvm, from /sys/class/dmi/id/sys_vendor "QEMU" (want true)`},
	} {
		p := onePolicy(t, c.check)
		res := Evaluate(context.Background(), p, env)
		if res.Status != c.status || len(res.Evidence) != 1 || res.Evidence[0].Detail != c.detail {
			t.Errorf("%s: %s\n%s", c.check, res.Status, evidenceText(res.Evidence))
		}
	}

	// A fact the Env cannot tell is an error, never a guess.
	env.facts.Virtual = Fact{From: "an offline image has no hardware"}
	res := Evaluate(context.Background(), onePolicy(t, "{environment: {container: false, virtual: true}}"), env)
	if res.Status != StatusError || res.Error != "check.environment: virtual: not available here: an offline image has no hardware" {
		t.Errorf("unknown fact: %s %q", res.Status, res.Error)
	}
	env.err = errors.New("boom")
	res = Evaluate(context.Background(), onePolicy(t, "{environment: {container: false}}"), env)
	if res.Status != StatusError || res.Error != "check.environment: environment facts: boom" {
		t.Errorf("facts error: %s %q", res.Status, res.Error)
	}
}

// TestEnvironmentAppliesIf: a container host is not_applicable to a
// policy for full machines.
func TestEnvironmentAppliesIf(t *testing.T) {
	ps := mustParse(t, `policies:
  - id: p
    title: T
    severity: low
    applies_if:
      environment: {container: false}
    check:
      environment: {init_system: systemd}
`)
	env := debianFacts(t)
	if res := Evaluate(context.Background(), ps[0], env); res.Status != StatusPass {
		t.Errorf("machine: %s", res.Status)
	}
	env.facts.Container = Fact{Value: "docker", From: "/.dockerenv exists", Known: true}
	res := Evaluate(context.Background(), ps[0], env)
	if res.Status != StatusNotApplicable || evidenceText(res.Evidence) != "applies_if.environment false container: docker, from /.dockerenv exists (want false)\n" {
		t.Errorf("container: %s\n%s", res.Status, evidenceText(res.Evidence))
	}
}

// TestEnvironmentInventory: an Env without facts (the server's) answers
// from the stored inventory documents in testdata/inventory.
func TestEnvironmentInventory(t *testing.T) {
	for _, c := range []struct {
		doc, check string
		status     Status
		detail     string
	}{
		// debian12.json: host.virtualization "kvm", os.kernel "6.1.0-37-amd64".
		{"debian12.json", "{environment: {virtual: true, container: false}}", StatusPass,
			"container: none, from inventory host.virtualization names a hypervisor (want false); virtual: kvm, from inventory host.virtualization (want true)"},
		{"debian12.json", `{environment: {kernel: {matches: '^6\.1\.0-37-'}}}`, StatusPass, `kernel: "6.1.0-37-amd64", from inventory os.kernel`},
		{"debian12.json", "{environment: {init_system: systemd}}", StatusError, "error: init_system: not available here: the init system is not in the inventory"},
		// rhel9.json has no host section at all.
		{"rhel9.json", "{environment: {virtual: false}}", StatusError, "error: virtual: not available here: the inventory has no host section"},
		{"rhel9.json", `{environment: {kernel: {matches: 'el9'}}}`, StatusPass, `kernel: "5.14.0-427.13.1.el9_4.x86_64", from inventory os.kernel`},
		{"windows11.json", "{environment: {init_system: windows}}", StatusPass, "init_system: windows, from platform windows (want windows)"},
		{"darwin14.json", "{environment: {init_system: launchd}}", StatusPass, "init_system: launchd, from platform darwin (want launchd)"},
	} {
		env := newFakeEnv(t, c.doc)
		res := Evaluate(context.Background(), onePolicy(t, c.check), env)
		if res.Status != c.status || len(res.Evidence) != 1 || res.Evidence[0].Detail != c.detail {
			t.Errorf("%s %s: %s\n%s", c.doc, c.check, res.Status, evidenceText(res.Evidence))
		}
	}
	// A host section without virtualization: the collector found none.
	doc := loadDoc(t, "rhel9.json")
	doc.Sections["host"] = []byte(`{"hostname": "db-1"}`)
	res := Evaluate(context.Background(), onePolicy(t, "{environment: {virtual: false, container: false}}"), InventoryEnv(doc, "linux"))
	if res.Status != StatusPass || res.Evidence[0].Detail != "container: none, from inventory host.virtualization (none recorded) (want false); virtual: none, from inventory host.virtualization (none recorded) (want false)" {
		t.Errorf("no virtualization: %s\n%s", res.Status, evidenceText(res.Evidence))
	}
	// A container recorded in the inventory hides the hypervisor.
	doc = loadDoc(t, "debian12.json")
	doc.Sections["host"] = []byte(`{"hostname": "c1", "virtualization": "docker"}`)
	env := InventoryEnv(doc, "linux")
	f, err := InventoryFacts(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	if f.Container != (Fact{Value: "docker", From: "inventory host.virtualization", Known: true}) || f.Virtual.Known {
		t.Errorf("container facts: %+v", f)
	}
}
