package collect

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/steward-project/steward/shared/inventory"
)

const (
	stRunning  = inventory.ServiceRunning
	stStopped  = inventory.ServiceStopped
	stUnknown  = inventory.ServiceUnknown
	smAuto     = inventory.StartAuto
	smManual   = inventory.StartManual
	smDisabled = inventory.StartDisabled
)

// systemdHostServices is what the systemd-host fixture holds. Left out:
// the aliases sshd and display-manager, the dangling link, the templates
// getty@, user@ and systemd-fsck@ (only enabled instances are listed), the
// running but not enabled user@1000, and non-service units.
var systemdHostServices = []inventory.Service{
	{Name: "cron", DisplayName: "Regular background program processing daemon", State: stStopped, StartMode: smAuto, Path: "/usr/lib/systemd/system/cron.service"},
	{Name: "custom-app", DisplayName: "In-house application (custom-app)", State: stStopped, StartMode: smAuto, Path: "/usr/local/lib/systemd/system/custom-app.service"},
	{Name: "empty", State: stStopped, StartMode: smDisabled, Path: "/usr/lib/systemd/system/empty.service"},
	{Name: "gdm3", DisplayName: "GNOME Display Manager", State: stStopped, StartMode: smAuto, Path: "/usr/lib/systemd/system/gdm3.service"},
	{Name: "getty@tty1", DisplayName: "Getty on tty1", State: stRunning, StartMode: smAuto, Path: "/usr/lib/systemd/system/getty@.service"},
	{Name: "getty@ttyS0", State: stStopped, StartMode: smDisabled, Path: "/etc/systemd/system/getty@ttyS0.service"},
	{Name: "hwclock", State: stStopped, StartMode: smDisabled, Path: "/usr/lib/systemd/system/hwclock.service"},
	{Name: "legacy-daemon", DisplayName: "LSB: legacy daemon", State: stRunning, StartMode: smAuto, Path: "/run/systemd/generator.late/legacy-daemon.service"},
	{Name: "linked", DisplayName: "Linked from /opt", State: stStopped, StartMode: smManual, Path: "/opt/app/linked.service"},
	{Name: "local-backup", DisplayName: "Nightly backup written by the admin", State: stStopped, StartMode: smManual, Path: "/etc/systemd/system/local-backup.service"},
	{Name: "nginx", DisplayName: "A high performance web server and a reverse proxy server", State: stRunning, StartMode: smAuto, Path: "/usr/lib/systemd/system/nginx.service"},
	{Name: "rsync", DisplayName: "fast remote file copy program daemon", State: stStopped, StartMode: smManual, Path: "/usr/lib/systemd/system/rsync.service"},
	{Name: "runtime-only", DisplayName: "Unit written at run time", State: stStopped, StartMode: smManual, Path: "/run/systemd/system/runtime-only.service"},
	{Name: "ssh", DisplayName: "OpenBSD Secure Shell server", State: stRunning, StartMode: smAuto, Path: "/usr/lib/systemd/system/ssh.service"},
	{Name: "systemd-journald", DisplayName: "Journal Service", State: stRunning, StartMode: smManual, Path: "/usr/lib/systemd/system/systemd-journald.service"},
	{Name: "telnet", State: stStopped, StartMode: smDisabled, Path: "/etc/systemd/system/telnet.service"},
}

func withState(svcs []inventory.Service, state string) []inventory.Service {
	out := make([]inventory.Service, len(svcs))
	for i, s := range svcs {
		s.State = state
		out[i] = s
	}
	return out
}

func TestServicesFixtures(t *testing.T) {
	t.Parallel()
	offline := func(t *testing.T, name string) Config {
		// No fake kernel: the default for a --root tree.
		return Config{Root: fixture(t, name).Root}.withDefaults()
	}
	live := func(t *testing.T, name string) Config { return fixture(t, name).withDefaults() }
	cases := []struct {
		name, fixture string
		cfg           func(*testing.T, string) Config
		want          []inventory.Service
	}{
		{"systemd as PID 1: unit files and cgroup state", "systemd-host", live, systemdHostServices},
		{"offline image with systemd: unit files, state unknown", "systemd-host", offline, withState(systemdHostServices, stUnknown)},
		// README, the non-executable rsync, skeleton and the dpkg backup
		// are not services.
		{"init scripts with pid files and process names", "sysv-container", live, []inventory.Service{
			{Name: "chronyd", DisplayName: "NTP client and server", State: stRunning, StartMode: smAuto, Path: "/etc/init.d/chronyd"},
			{Name: "complex", DisplayName: "Needs the shell to know its daemon", State: stUnknown, StartMode: smManual, Path: "/etc/init.d/complex"},
			{Name: "cron", DisplayName: "Regular background program processing daemon", State: stRunning, StartMode: smAuto, Path: "/etc/init.d/cron"},
			{Name: "hwclock.sh", DisplayName: "Set system clock", State: stUnknown, StartMode: smAuto, Path: "/etc/init.d/hwclock.sh"},
			{Name: "nginx", DisplayName: "nginx web server", State: stStopped, StartMode: smManual, Path: "/etc/init.d/nginx"},
			{Name: "prometheus-node-exporter", DisplayName: "Prometheus exporter for machine metrics", State: stRunning, StartMode: smManual, Path: "/etc/init.d/prometheus-node-exporter"},
			{Name: "ssh", DisplayName: "OpenBSD Secure Shell server", State: stRunning, StartMode: smAuto, Path: "/etc/init.d/ssh"},
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			v, err := collectServices(context.Background(), c.cfg(t, servicesFixtures+c.fixture))
			if err != nil {
				t.Fatal(err)
			}
			got := v.(inventory.Services).Services
			if len(got) != len(c.want) {
				t.Errorf("%d services, want %d: %+v", len(got), len(c.want), got)
			}
			for i := range min(len(got), len(c.want)) {
				if !reflect.DeepEqual(got[i], c.want[i]) {
					t.Errorf("service %d:\n got %+v\nwant %+v", i, got[i], c.want[i])
				}
			}
		})
	}
}

func TestServicesWithoutInitScripts(t *testing.T) {
	t.Parallel()
	v, err := collectServices(context.Background(), Config{Root: t.TempDir()}.withDefaults())
	if err != nil {
		t.Fatal(err)
	}
	if got := v.(inventory.Services).Services; got == nil || len(got) != 0 {
		t.Errorf("services = %#v, want an empty list", got)
	}
}

func TestInRoot(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for _, d := range []string{"usr/lib/systemd/system", "opt/app", "etc"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	links := map[string]string{
		"lib":              "usr/lib",            // relative, merged /usr
		"bin":              "/usr/bin",           // absolute: must stay in root
		"etc/app":          "/opt/app",           // absolute directory link
		"etc/up":           "../../../../../opt", // climbs past the root
		"etc/loop":         "/etc/loop",
		"usr/lib/x.target": "../../../etc/app/x",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	cases := map[string]string{
		"/lib/systemd/system":    "usr/lib/systemd/system",
		"/bin/sh":                "usr/bin/sh",
		"/etc/app/unit.service":  "opt/app/unit.service",
		"/etc/up/app":            "opt/app",
		"/usr/lib/x.target":      "opt/app/x",
		"/etc/../lib/../etc/app": "usr/etc/app", // ".." after a link leaves its target, as in the kernel
		"/missing/file":          "missing/file",
	}
	for in, want := range cases {
		if got := inRoot(root, in); got != filepath.Join(root, want) {
			t.Errorf("inRoot(%s) = %s, want $ROOT/%s", in, got, want)
		}
	}
	if got := inRoot(root, "/etc/loop"); got[:len(root)] != root {
		t.Errorf("a link loop left the root: %s", got)
	}
	if got := inRoot("/", "/lib/../etc/passwd"); got != "/etc/passwd" {
		t.Errorf("live root: %s", got)
	}
}

func TestParseInitScript(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, script string
		want         initScript
	}{
		{"lsb with variables", "# Short-Description: Web\nNAME=web\nDAEMON=/usr/sbin/$NAME\nPIDFILE=\"/run/${NAME}/pid\"\n",
			initScript{description: "Web", daemon: "/usr/sbin/web", pidFile: "/run/web/pid"}},
		{"first assignment wins", "DAEMON=/a\nif x; then\n  DAEMON=/b\nfi\n", initScript{daemon: "/a"}},
		{"command substitution ignored", "DAEMON=$(which d)\nPIDFILE=`cat x`\n", initScript{}},
		{"unknown variable ignored", "PIDFILE=$RUNDIR/x.pid\n", initScript{}},
		{"relative or none ignored", "DAEMON=sshd\nPIDFILE=none\n", initScript{}},
		{"single quotes are literal", "DAEMON='/opt/$weird'\n", initScript{daemon: "/opt/$weird"}},
		{"trailing comment and export", "export DAEMON=/usr/bin/x # comment\n", initScript{daemon: "/usr/bin/x"}},
		{"openrc", "#!/sbin/openrc-run\ndescription=\"Chrony\"\ncommand=/usr/sbin/chronyd\npidfile=\"/run/${RC_SVCNAME}.pid\"\n",
			initScript{description: "Chrony", daemon: "/usr/sbin/chronyd", pidFile: "/run/chronyd.pid"}},
		{"red hat chkconfig header", "# chkconfig: 2345 55 25\n# description: SSH daemon\n", initScript{description: "SSH daemon"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := parseInitScript([]byte(c.script), "chronyd"); got != c.want {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestExpandUnitSpecifiers(t *testing.T) {
	t.Parallel()
	cases := []struct{ in, name, instance, want string }{
		{"Getty on %I", "getty@tty1.service", "tty1", "Getty on tty1"},
		{"Check %I", "fsck@dev-disk-by\\x2duuid-1.service", "dev-disk-by\\x2duuid-1", "Check dev/disk/by-uuid/1"},
		{"%n is %p/%i, 100%%", "a@b.service", "b", "a@b.service is a/b, 100%"},
		{"unknown %f kept, trailing %", "x.service", "", "unknown %f kept, trailing %"},
	}
	for _, c := range cases {
		if got := expandUnitSpecifiers(c.in, c.name, c.instance); got != c.want {
			t.Errorf("%q: %q, want %q", c.in, got, c.want)
		}
	}
}
