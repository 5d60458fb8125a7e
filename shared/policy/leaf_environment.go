package policy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// EnvironmentCheck tests what kind of system is being checked, mostly for
// applies_if: a container, a virtual machine, its init system, its kernel.
// Every key given must hold.
type EnvironmentCheck struct {
	// Container: true passes inside a container, false outside one.
	Container *bool `json:"container,omitempty" yaml:"container,omitempty"`
	// Virtual: true passes on a virtual machine (a hypervisor guest),
	// false on hardware. A container is not a virtual machine; a
	// container running in one sees the machine's hypervisor.
	Virtual *bool `json:"virtual,omitempty" yaml:"virtual,omitempty"`
	// InitSystem is one of initSystems.
	InitSystem string `json:"init_system,omitempty" yaml:"init_system,omitempty"`
	// Kernel judges the kernel release (uname -r).
	Kernel *ValueTest `json:"kernel,omitempty" yaml:"kernel,omitempty"`
}

// Init systems the init_system key may name.
const (
	InitSystemd  = "systemd"
	InitSysvinit = "sysvinit"
	InitOpenRC   = "openrc"
	InitLaunchd  = "launchd"
	InitWindows  = "windows"
	InitUnknown  = "unknown"
)

var initSystems = []string{InitSystemd, InitSysvinit, InitOpenRC, InitLaunchd, InitWindows, InitUnknown}

// Fact is one environment fact and where it came from.
type Fact struct {
	// Value is the fact: a container manager or hypervisor name
	// (systemd-detect-virt's names: "docker", "kvm", ...; "" for none),
	// an init system, a kernel release.
	Value string
	// From says how it was found, for evidence: "/.dockerenv exists",
	// "/proc/1/comm is \"systemd\"", or, when not Known, why not.
	From string
	// Known is false when this Env cannot tell.
	Known bool
}

// Facts are the environment facts of the checked system.
type Facts struct {
	Container  Fact
	Virtual    Fact
	InitSystem Fact
	Kernel     Fact
}

// FactEnv is implemented by an Env that can tell the environment facts
// itself (the agent's live Env). Other Envs are answered from their
// inventory document (InventoryFacts).
type FactEnv interface {
	Facts(ctx context.Context) (Facts, error)
}

// Container managers in systemd-detect-virt's vocabulary: a
// virtualization value from the inventory that is one of these is a
// container; any other non-empty value is a hypervisor.
var containerNames = []string{"docker", "podman", "lxc", "lxc-libvirt", "systemd-nspawn", "rkt", "wsl",
	"proot", "pouch", "openvz", "container-other"}

// IsContainerName reports whether a virtualization name (as the inventory
// and systemd-detect-virt write it) is a container manager.
func IsContainerName(name string) bool { return slices.Contains(containerNames, name) }

func (ps *parser) environmentCheck(n *yaml.Node, p string) *EnvironmentCheck {
	fields := ps.fields(n, p, []string{"container", "virtual", "init_system", "kernel"})
	if fields == nil {
		return &EnvironmentCheck{}
	}
	c := &EnvironmentCheck{}
	if v := fields["container"]; v != nil {
		c.Container = ps.boolean(v, join(p, "container"))
	}
	if v := fields["virtual"]; v != nil {
		c.Virtual = ps.boolean(v, join(p, "virtual"))
	}
	if v := fields["init_system"]; v != nil {
		if s, ok := ps.str(v, join(p, "init_system")); ok {
			if !slices.Contains(initSystems, s) {
				ps.add(ps.deref(v), join(p, "init_system"), "%q is not one of %s", s, strings.Join(initSystems, ", "))
			}
			c.InitSystem = s
		}
	}
	if v := fields["kernel"]; v != nil {
		kp := join(p, "kernel")
		if kf := ps.fields(v, kp, valueTestKeys); kf != nil {
			vt := ps.valueTest(kf, kp)
			if vt.Empty() {
				ps.add(ps.deref(v), kp, "give at least one of %s", strings.Join(valueTestKeys, ", "))
			}
			c.Kernel = &vt
		}
	}
	if len(fields) == 0 && len(ps.deref(n).Content) == 0 {
		ps.add(ps.deref(n), p, "give at least one of container, virtual, init_system, kernel")
	}
	return c
}

// environmentLeaf judges the facts the check names. Evidence names each
// fact, what it is and where that came from. A fact the Env cannot tell
// is an error wrapping ErrUnavailable.
func environmentLeaf(ctx context.Context, env Env, c *EnvironmentCheck) (bool, string, error) {
	var facts Facts
	var err error
	if fe, ok := env.(FactEnv); ok {
		facts, err = fe.Facts(ctx)
	} else {
		facts, err = InventoryFacts(ctx, env)
	}
	if err != nil {
		return false, "", fmt.Errorf("environment facts: %w", err)
	}
	var failed, passed []string
	need := func(name string, f Fact) error {
		if !f.Known {
			return fmt.Errorf("%s: %w: %s", name, ErrUnavailable, f.From)
		}
		return nil
	}
	note := func(ok bool, s string) {
		if ok {
			passed = append(passed, s)
		} else {
			failed = append(failed, s)
		}
	}
	presence := func(name string, want *bool, f Fact) error {
		if want == nil {
			return nil
		}
		if err := need(name, f); err != nil {
			return err
		}
		got := f.Value != ""
		shown := "none"
		if got {
			shown = f.Value
		}
		note(got == *want, fmt.Sprintf("%s: %s, from %s (want %t)", name, shown, f.From, *want))
		return nil
	}
	if err := presence("container", c.Container, facts.Container); err != nil {
		return false, "", err
	}
	if err := presence("virtual", c.Virtual, facts.Virtual); err != nil {
		return false, "", err
	}
	if c.InitSystem != "" {
		if err := need("init_system", facts.InitSystem); err != nil {
			return false, "", err
		}
		note(facts.InitSystem.Value == c.InitSystem, fmt.Sprintf("init_system: %s, from %s (want %s)", facts.InitSystem.Value, facts.InitSystem.From, c.InitSystem))
	}
	if c.Kernel != nil {
		if err := need("kernel", facts.Kernel); err != nil {
			return false, "", err
		}
		k := facts.Kernel.Value
		ok, detail, err := c.Kernel.Test(ctx, &k)
		if err != nil {
			return false, "", fmt.Errorf("kernel: %w", err)
		}
		note(ok, fmt.Sprintf("kernel: %s, from %s", detail, facts.Kernel.From))
	}
	if len(failed) > 0 {
		return false, strings.Join(failed, "; "), nil
	}
	return true, strings.Join(passed, "; "), nil
}

// InventoryFacts answers the environment facts from env's inventory
// document, for an Env that cannot look at the system (the server's
// stored inventory): container and virtual from host.virtualization, the
// kernel from os.kernel, the init system only where the platform decides
// it (windows, darwin). What the document does not hold is not Known.
func InventoryFacts(ctx context.Context, env Env) (Facts, error) {
	var f Facts
	inv, err := env.Inventory(ctx)
	if err != nil && !errors.Is(err, ErrUnavailable) {
		return f, err
	}
	section := func(name string) (map[string]any, bool) {
		m, ok := inv[name].(map[string]any)
		return m, ok
	}
	if host, ok := section("host"); ok {
		virt, _ := host["virtualization"].(string)
		// The collector writes one name: a container manager wins over
		// the hypervisor it may run on, so a container's VM is not seen.
		const from = "inventory host.virtualization"
		switch {
		case virt == "":
			f.Container = Fact{From: from + " (none recorded)", Known: true}
			f.Virtual = Fact{From: from + " (none recorded)", Known: true}
		case IsContainerName(virt):
			f.Container = Fact{Value: virt, From: from, Known: true}
			f.Virtual = Fact{From: from + " names a container, which hides any hypervisor"}
		default:
			f.Container = Fact{From: from + " names a hypervisor", Known: true}
			f.Virtual = Fact{Value: virt, From: from, Known: true}
		}
	} else {
		f.Container = Fact{From: "the inventory has no host section"}
		f.Virtual = f.Container
	}
	if os, ok := section("os"); ok {
		if k, _ := os["kernel"].(string); k != "" {
			f.Kernel = Fact{Value: k, From: "inventory os.kernel", Known: true}
		} else {
			f.Kernel = Fact{From: "the inventory records no os.kernel"}
		}
	} else {
		f.Kernel = Fact{From: "the inventory has no os section"}
	}
	switch env.Platform() {
	case "windows":
		f.InitSystem = Fact{Value: InitWindows, From: "platform windows", Known: true}
	case "darwin":
		f.InitSystem = Fact{Value: InitLaunchd, From: "platform darwin", Known: true}
	default:
		f.InitSystem = Fact{From: "the init system is not in the inventory"}
	}
	return f, nil
}
