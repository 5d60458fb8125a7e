package collect

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/steward-project/steward/shared/inventory"
)

// These tests run only on a Mac. The parsers and file readers behind them
// are tested everywhere on fixtures in macinv; here the darwin collectors
// are run whole: on macinv's fixture tree as an offline root, and on the
// machine itself against Apple's own tools.

func TestDarwinOfflineRoot(t *testing.T) {
	t.Parallel()
	doc := Collect(context.Background(), Config{Root: "macinv/testdata/root"})
	var host inventory.Host
	section(t, doc, inventory.SectionHost, &host)
	if host.Hostname != "Alices-MacBook-Pro.local" || host.Serial != "" {
		t.Errorf("host = %+v, want the image's host name and nothing the live machine knows", host)
	}
	var o inventory.OS
	section(t, doc, inventory.SectionOS, &o)
	if o.Version != "14.4.1" || o.Kernel != "" || o.SIPEnabled != nil {
		t.Errorf("os = %+v", o)
	}
	var sw inventory.Software
	section(t, doc, inventory.SectionSoftware, &sw)
	if len(sw.Packages) < 20 {
		t.Errorf("software: %d packages", len(sw.Packages))
	}
	var svcs inventory.Services
	section(t, doc, inventory.SectionServices, &svcs)
	for _, s := range svcs.Services {
		if s.State != inventory.ServiceUnknown {
			t.Errorf("offline service %s state %q, want unknown", s.Name, s.State)
		}
	}
	var users inventory.Users
	section(t, doc, inventory.SectionUsers, &users)
	if len(users.Users) == 0 {
		t.Error("no users")
	}
	if doc.Errors[inventory.SectionPorts] != errLiveOnly.Error() {
		t.Errorf("ports error = %q, want %q", doc.Errors[inventory.SectionPorts], errLiveOnly)
	}
}

func TestDarwinLive(t *testing.T) {
	t.Parallel()
	doc := Collect(context.Background(), Config{})
	var o inventory.OS
	section(t, doc, inventory.SectionOS, &o)
	if want := toolOutput(t, "/usr/bin/sw_vers", "-productVersion"); o.Version != want {
		t.Errorf("os version %q, sw_vers says %q", o.Version, want)
	}
	if want := toolOutput(t, "/usr/bin/sw_vers", "-buildVersion"); o.Build != want {
		t.Errorf("os build %q, sw_vers says %q", o.Build, want)
	}
	if want := toolOutput(t, "/usr/bin/uname", "-r"); o.Kernel != want {
		t.Errorf("kernel %q, uname says %q", o.Kernel, want)
	}
	if o.SIPEnabled == nil {
		t.Error("SIP status unknown")
	}
	var host inventory.Host
	section(t, doc, inventory.SectionHost, &host)
	if host.Model == "" || host.HardwareUUID == "" || host.BootTime.IsZero() {
		t.Errorf("host = %+v, want model, hardware UUID and boot time", host)
	}
	var sw inventory.Software
	section(t, doc, inventory.SectionSoftware, &sw)
	if !hasBundle(sw, "com.apple.Safari") {
		t.Error("Safari not among the applications")
	}
	var svcs inventory.Services
	section(t, doc, inventory.SectionServices, &svcs)
	found := false
	for _, s := range svcs.Services {
		found = found || s.Name == "com.openssh.sshd"
	}
	if !found {
		t.Error("com.openssh.sshd not among the services")
	}
	var ports inventory.Ports
	section(t, doc, inventory.SectionPorts, &ports)
}

func section(t *testing.T, doc inventory.Document, name string, v any) {
	t.Helper()
	raw, ok := doc.Sections[name]
	if !ok {
		t.Fatalf("section %s missing: %s", name, doc.Errors[name])
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatalf("section %s: %v", name, err)
	}
}

func toolOutput(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return strings.TrimSpace(string(out))
}

func hasBundle(sw inventory.Software, id string) bool {
	for _, p := range sw.Packages {
		if p.BundleID == id {
			return true
		}
	}
	return false
}
