package policy

import (
	"context"
	"strings"
	"testing"

	"github.com/steward-project/steward/shared/inventory"
)

func TestUnitLines(t *testing.T) {
	got := unitLines("# c\n[Service]\n; c\nExecStart=/bin/a \\\n  # skipped inside\n  -x\nType=simple\n")
	want := []unitLine{{"[Service]", 2}, {"ExecStart=/bin/a  -x", 4}, {"Type=simple", 7}}
	if len(got) != len(want) {
		t.Fatalf("got %+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

// The fixture is a systemd tree: wants links in /etc, a vendor wants link
// in /usr/lib, an Alias link (sshd.service), an alias-only unit (gdm3 as
// display-manager.service), a /dev/null mask in /etc and one in /run, an
// empty file as a mask, a template with an enabled instance, and a link
// loop.
func TestSystemdUnitLeaf(t *testing.T) {
	env := loadTree(t, "unit/root")
	runSysCases(t, env, "systemd_unit", []sysCase{
		{"enabled via wants", `{name: nftables, enabled: true, exists: true}`, StatusPass,
			"nftables.service: unit file /usr/lib/systemd/system/nftables.service; nftables.service: enabled via /etc/systemd/system/sysinit.target.wants/nftables.service"},
		{"timer", `{name: apt-daily.timer, enabled: true}`, StatusPass,
			"apt-daily.timer: enabled via /etc/systemd/system/timers.target.wants/apt-daily.timer"},
		{"disabled", `{name: rsync.service, enabled: false}`, StatusPass,
			"rsync.service: disabled (/usr/lib/systemd/system/rsync.service has [Install] at line 8 but no link enables it)"},
		{"static with vendor link", `{name: systemd-logind, enabled: true}`, StatusPass,
			"systemd-logind.service: static via /usr/lib/systemd/system/multi-user.target.wants/systemd-logind.service"},
		{"static without link", `{name: emergency, enabled: true}`, StatusFail,
			"emergency.service: static (/usr/lib/systemd/system/emergency.service has no [Install] section and no .wants/.requires link)"},
		{"masked by /dev/null", `{name: avahi-daemon, masked: true, enabled: false, exists: true}`, StatusPass,
			"avahi-daemon.service: unit file /usr/lib/systemd/system/avahi-daemon.service; avahi-daemon.service: masked, /etc/systemd/system/avahi-daemon.service is linked to /dev/null; avahi-daemon.service: masked (/etc/systemd/system/avahi-daemon.service is linked to /dev/null)"},
		{"masked by empty file", `{name: cups, masked: true}`, StatusPass,
			"cups.service: masked, /etc/systemd/system/cups.service is empty"},
		{"runtime mask, no unit file", `{name: bluetooth, exists: false, enabled: false}`, StatusPass,
			"bluetooth.service: no unit file (only the mask /run/systemd/system/bluetooth.service); bluetooth.service: masked-runtime (/run/systemd/system/bluetooth.service is linked to /dev/null)"},
		{"not masked", `{name: ssh, masked: false}`, StatusPass, "ssh.service: not masked"},
		{"alias name", `{name: sshd, enabled: true}`, StatusPass,
			"sshd.service: alias (/etc/systemd/system/sshd.service links to ssh.service; ssh.service: enabled via /etc/systemd/system/multi-user.target.wants/ssh.service)"},
		{"enabled through an alias link only", `{name: gdm3, enabled: true}`, StatusPass,
			"gdm3.service: enabled via alias /etc/systemd/system/display-manager.service"},
		{"template instance", `{name: getty@tty1, enabled: true}`, StatusPass,
			"getty@tty1.service: enabled via /etc/systemd/system/getty.target.wants/getty@tty1.service"},
		{"other instance", `{name: getty@tty2.service, enabled: false}`, StatusPass,
			"getty@tty2.service: disabled (/usr/lib/systemd/system/getty@.service has [Install] at line 7 but no link enables it)"},
		{"missing", `{name: telnet.socket, exists: false, enabled: false}`, StatusPass,
			"telnet.socket: no unit file; telnet.socket: not-found (no unit file in /etc/systemd/system, /run/systemd/system, /usr/local/lib/systemd/system, /usr/lib/systemd/system, /lib/systemd/system)"},
		{"link loop", `{name: loop-a, exists: true}`, StatusError,
			"error: stat /etc/systemd/system/loop-a.service: /etc/systemd/system/loop-a.service: too many levels of symbolic links"},
		{"active from the inventory", `{name: ssh, active: true}`, StatusPass, "ssh.service: state running"},
		{"inactive", `{name: rsync, active: false, enabled: false}`, StatusPass,
			"rsync.service: disabled (/usr/lib/systemd/system/rsync.service has [Install] at line 8 but no link enables it); rsync.service: state stopped"},
		{"state unknown", `{name: mystery, active: false}`, StatusError, "error: mystery.service: service state unknown"},
		{"active of a timer", `{name: apt-daily.timer, active: true}`, StatusError,
			"error: not available here: active is known only for .service units (from the service inventory)"},
	})
	runSysCases(t, env.image(), "systemd_unit", []sysCase{
		{"image: active skipped", `{name: ssh, active: true, enabled: true}`, StatusPass,
			"ssh.service: enabled via /etc/systemd/system/multi-user.target.wants/ssh.service; active: skipped, no running kernel (/proc/sys/kernel/osrelease not readable: offline image)"},
	})
}

// noLinks hides the LinkEnv of a sysFake.
type noLinks struct{ Env }

func TestSystemdUnitWithoutLinkEnv(t *testing.T) {
	env := noLinks{loadTree(t, "unit/root")}
	// A wants link is found by name alone; an absent one needs a look at
	// alias links, which this Env cannot give.
	runSysCases(t, env, "systemd_unit", []sysCase{
		{"wants link", `{name: nftables, enabled: true}`, StatusPass,
			"nftables.service: enabled via /etc/systemd/system/sysinit.target.wants/nftables.service"},
		{"aliases unknown", `{name: gdm3, enabled: true}`, StatusError,
			"error: not available here: looking for alias links needs symbolic links, which this Env cannot show"},
	})
	if _, ok := Env(env).(LinkEnv); ok {
		t.Fatal("noLinks is a LinkEnv")
	}
	_ = context.Background()
}

func TestSystemdUnitParseErrors(t *testing.T) {
	got := sysProblems(t, sysPolicy(`      all:
        - systemd_unit: {name: nftables}
        - systemd_unit: {name: "/etc/systemd/system/x.service", enabled: true}
        - systemd_unit: {enabled: true, running: true}
`))
	for _, want := range []string{
		`p.yaml:7: policy p: check.all[0].systemd_unit: needs at least one of exists, enabled, masked, active`,
		`p.yaml:8: policy p: check.all[1].systemd_unit.name: "/etc/systemd/system/x.service" is not a unit name`,
		`p.yaml:9: policy p: check.all[2].systemd_unit.name: required`,
		`p.yaml:9: policy p: check.all[2].systemd_unit.running: unknown field (known: name, exists, enabled, masked, active)`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing problem %q in:\n%s", want, got)
		}
	}
}

// TestSystemdUnitMaskWithoutDevNull: an image exported without /dev (an
// OCI layer, a tarball) still has its masks, because systemd decides a
// mask by the link's target path, not by what the target is.
func TestSystemdUnitMaskWithoutDevNull(t *testing.T) {
	env := loadTree(t, "unit/root")
	delete(env.files, "/dev/null")
	runSysCases(t, env, "systemd_unit", []sysCase{
		{"masked by a dangling /dev/null link", `{name: avahi-daemon, masked: true, enabled: false}`, StatusPass,
			"avahi-daemon.service: masked, /etc/systemd/system/avahi-daemon.service is linked to /dev/null; avahi-daemon.service: masked (/etc/systemd/system/avahi-daemon.service is linked to /dev/null)"},
	})
}

// TestSystemdUnitSysVScript: a service that ships only an init script is a
// unit systemd generates at boot, enabled by a start link in a multi-user
// runlevel, as systemd-sysv-install reports it.
func TestSystemdUnitSysVScript(t *testing.T) {
	env := loadTree(t, "unit/root")
	env.files["/etc/init.d/tftpd-hpa"] = fakeFile{data: "#!/bin/sh\n", mode: 0o755, owner: "root", uid: "0"}
	env.files["/etc/init.d/xinetd"] = fakeFile{data: "#!/bin/sh\n", mode: 0o755, owner: "root", uid: "0"}
	env.files["/etc/rc1.d/K01xinetd"] = fakeFile{data: "#!/bin/sh\n", mode: 0o755}
	env.links["/etc/rc2.d/S01tftpd-hpa"] = "../init.d/tftpd-hpa"
	env.files["/etc/rc2.d/S01tftpd-hpa"] = fakeFile{data: "#!/bin/sh\n", mode: 0o755}
	runSysCases(t, env, "systemd_unit", []sysCase{
		{"enabled init script", `{name: tftpd-hpa, exists: true, enabled: true}`, StatusPass,
			"tftpd-hpa.service: unit file /etc/init.d/tftpd-hpa; tftpd-hpa.service: enabled (generated from /etc/init.d/tftpd-hpa, started via /etc/rc2.d/S01tftpd-hpa)"},
		{"disabled init script", `{name: xinetd, enabled: false}`, StatusPass,
			"xinetd.service: disabled (generated from /etc/init.d/xinetd, which no /etc/rc[2-5].d/S* link starts)"},
		{"an init script is not absent", `{name: xinetd, exists: false}`, StatusFail,
			"xinetd.service: unit file /etc/init.d/xinetd"},
	})
}

// noServices is a sysFake whose service inventory is empty, as in an image
// that ships a /proc of its own but whose services were not collected.
type noServices struct{ *sysFake }

func (noServices) Services(context.Context) ([]inventory.Service, error) { return nil, nil }

// TestSystemdUnitActiveWithoutServiceInventory: with a running kernel but
// no services listed, active cannot be judged; it is an error, not a
// silent "not running".
func TestSystemdUnitActiveWithoutServiceInventory(t *testing.T) {
	env := noServices{loadTree(t, "unit/root")}
	runSysCases(t, env, "systemd_unit", []sysCase{
		{"no service inventory", `{name: ssh, active: false}`, StatusError,
			"error: not available here: active needs the service inventory, which is empty"},
	})
}
