package policy

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/version"
)

// packageLeaf tests installed software. Name matches the package name or a
// macOS bundle id, case-insensitively, and may be a glob ("linux-image-*").
// installed: false passes when nothing matches. With min_version or
// max_version every matching package must be within the bounds: a second,
// older copy (another architecture, another source) is still exposed.
func packageLeaf(ctx context.Context, env Env, c *PackageCheck) (bool, string, error) {
	pkgs, err := env.Packages(ctx)
	if err != nil {
		return false, "", fmt.Errorf("packages: %w", err)
	}
	var found []inventory.Package
	for _, p := range pkgs {
		if nameMatches(c.Name, p.Name) || (p.BundleID != "" && nameMatches(c.Name, p.BundleID)) {
			found = append(found, p)
		}
	}
	if c.Installed != nil && !*c.Installed {
		if len(found) == 0 {
			return true, fmt.Sprintf("%s is not installed", c.Name), nil
		}
		return false, "installed: " + describePackages(found), nil
	}
	if len(found) == 0 {
		return false, fmt.Sprintf("%s is not installed", c.Name), nil
	}
	if c.MinVersion == "" && c.MaxVersion == "" {
		return true, "installed: " + describePackages(found), nil
	}
	var failed, passed []string
	for _, p := range found {
		desc := fmt.Sprintf("%s %s (%s)", p.Name, p.Version, p.Source)
		var notes []string
		ok := true
		for _, bound := range []struct {
			name, v string
			bad     int
			op      string
		}{{"min_version", c.MinVersion, -1, ">="}, {"max_version", c.MaxVersion, 1, "<="}} {
			if bound.v == "" {
				continue
			}
			cmp, err := CompareVersions(p.Source, p.Version, bound.v)
			if err != nil {
				return false, desc, fmt.Errorf("compare %s with %s %s by %s rules: %w", p.Version, bound.name, bound.v, ruleName(p.Source), err)
			}
			if cmp == bound.bad {
				ok = false
				notes = append(notes, fmt.Sprintf("not %s %s %s", bound.op, bound.name, bound.v))
			} else {
				notes = append(notes, fmt.Sprintf("%s %s", bound.op, bound.v))
			}
		}
		line := desc + " " + strings.Join(notes, ", ") + " by " + ruleName(p.Source) + " rules"
		if ok {
			passed = append(passed, line)
		} else {
			failed = append(failed, line)
		}
	}
	if len(failed) > 0 {
		return false, strings.Join(append(failed, passed...), "; "), nil
	}
	return true, strings.Join(passed, "; "), nil
}

// CompareVersions orders two versions of a package from source by that
// source's rules (dpkg, rpm/pacman); for every other source it compares
// dotted numbers and, failing that, semantic versions.
func CompareVersions(source, a, b string) (int, error) {
	c, err := version.Compare(source, a, b)
	if errors.Is(err, version.ErrNotComparable) && !strictSource(source) {
		return version.CompareSemver(a, b)
	}
	return c, err
}

func strictSource(source string) bool {
	return source == inventory.SourceDpkg || source == inventory.SourceRPM || source == inventory.SourcePacman
}

func ruleName(source string) string {
	if strictSource(source) {
		return source
	}
	return "dotted/semver"
}

func nameMatches(pattern, name string) bool {
	if strings.EqualFold(pattern, name) {
		return true
	}
	if !strings.ContainsAny(pattern, "*?[") {
		return false
	}
	ok, _ := path.Match(strings.ToLower(pattern), strings.ToLower(name))
	return ok
}

func describePackages(ps []inventory.Package) string {
	parts := make([]string, 0, len(ps))
	for _, p := range ps {
		s := fmt.Sprintf("%s %s (%s", p.Name, p.Version, p.Source)
		if p.Arch != "" {
			s += ", " + p.Arch
		}
		parts = append(parts, s+")")
	}
	return strings.Join(parts, "; ")
}

// serviceLeaf tests a service found by name (systemd's ".service" suffix
// optional), or failing that by display name. A service that is not
// there is neither running nor enabled. An unknown state or start mode is
// an error rather than a guess.
func serviceLeaf(ctx context.Context, env Env, c *ServiceCheck) (bool, string, error) {
	svcs, err := env.Services(ctx)
	if err != nil {
		return false, "", fmt.Errorf("services: %w", err)
	}
	svc, ok := findService(svcs, c.Name)
	if !ok {
		if (c.Running != nil && *c.Running) || (c.Enabled != nil && *c.Enabled) {
			return false, fmt.Sprintf("service %s not found", c.Name), nil
		}
		return true, fmt.Sprintf("service %s not found, so neither running nor enabled", c.Name), nil
	}
	detail := fmt.Sprintf("service %s: state %s, start mode %s", svc.Name, svc.State, svc.StartMode)
	pass := true
	if c.Running != nil {
		switch svc.State {
		case inventory.ServiceRunning:
			pass = pass && *c.Running
		case inventory.ServiceStopped, inventory.ServiceFailed:
			pass = pass && !*c.Running
		default:
			return false, detail, fmt.Errorf("service %s: state is %q, cannot tell whether it runs", svc.Name, svc.State)
		}
	}
	if c.Enabled != nil {
		switch svc.StartMode {
		case inventory.StartAuto:
			pass = pass && *c.Enabled
		case inventory.StartManual, inventory.StartDisabled:
			pass = pass && !*c.Enabled
		default:
			return false, detail, fmt.Errorf("service %s: start mode is %q, cannot tell whether it is enabled", svc.Name, svc.StartMode)
		}
	}
	return pass, detail, nil
}

func findService(svcs []inventory.Service, name string) (inventory.Service, bool) {
	want := strings.TrimSuffix(name, ".service")
	for _, s := range svcs {
		if strings.EqualFold(s.Name, want) || strings.EqualFold(s.Name, name) {
			return s, true
		}
	}
	for _, s := range svcs {
		if s.DisplayName != "" && strings.EqualFold(s.DisplayName, name) {
			return s, true
		}
	}
	return inventory.Service{}, false
}

// portLeaf passes when a socket listens on the port with the protocol
// (tcp unless proto says udp), on any address.
func portLeaf(ctx context.Context, env Env, c *PortCheck) (bool, string, error) {
	ports, err := env.Ports(ctx)
	if err != nil {
		return false, "", fmt.Errorf("ports: %w", err)
	}
	proto := c.Proto
	if proto == "" {
		proto = "tcp"
	}
	var found []string
	for _, p := range ports {
		if p.Port != c.Listening || !strings.HasPrefix(p.Proto, proto) {
			continue
		}
		s := fmt.Sprintf("%s %s", p.Proto, hostPort(p.Address, p.Port))
		if p.Process != "" {
			s += " process " + p.Process
		}
		if p.User != "" {
			s += " user " + p.User
		}
		found = append(found, s)
	}
	if len(found) == 0 {
		return false, fmt.Sprintf("nothing listens on %s port %d", proto, c.Listening), nil
	}
	return true, "listening: " + strings.Join(found, "; "), nil
}

func hostPort(addr string, port int) string {
	if strings.Contains(addr, ":") {
		return fmt.Sprintf("[%s]:%d", addr, port)
	}
	return fmt.Sprintf("%s:%d", addr, port)
}
