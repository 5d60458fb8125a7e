package policy

import (
	"context"
	"io/fs"
	"slices"
	"strings"
	"testing"
)

func TestSysctlNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"net.ipv4.ip_forward":              "net/ipv4/ip_forward",
		"net/ipv4/ip_forward":              "net/ipv4/ip_forward",
		"net.ipv4.conf.eth0/100.rp_filter": "net/ipv4/conf/eth0.100/rp_filter",
		"net/ipv4/conf/eth0.100/rp_filter": "net/ipv4/conf/eth0.100/rp_filter",
		" kernel.sysrq ":                   "kernel/sysrq",
		"net.ipv4.conf.*.rp_filter":        "net/ipv4/conf/*/rp_filter",
	} {
		if got := sysctlNormalize(in); got != want {
			t.Errorf("sysctlNormalize(%q) = %q, want %q", in, got, want)
		}
	}
}

// The fixture is a Debian 12 layout: the init system's defaults in
// /usr/lib/sysctl.d/50-default.conf, a site file in /etc/sysctl.d, the
// 99-sysctl.conf link to /etc/sysctl.conf, a /dev/null mask for
// 50-pid-max.conf, a runtime file in /run/sysctl.d, and /proc/sys.
func TestSysctlLeaf(t *testing.T) {
	env := loadTree(t, "sysctl/root")
	runSysCases(t, env, "sysctl", []sysCase{
		// /etc/sysctl.conf (via 99-sysctl.conf, read last) undoes the site file.
		{"sysctl.conf overrides a lower name", `{key: net.ipv4.ip_forward, equals: "0"}`, StatusFail,
			`running "0"; persisted "1" (want = "0") from /etc/sysctl.conf:10 (overrides /etc/sysctl.d/60-net.conf:2)`},
		{"runtime only", `{key: net.ipv4.ip_forward, equals: "0", persisted: false}`, StatusPass, `running "0"`},
		// An explicit key beats the glob in 50-default.conf, and the
		// "-net.ipv4.conf.all.rp_filter" line keeps the glob off "all".
		{"explicit key over glob", `{key: net.ipv4.conf.all.rp_filter, equals: "1", runtime: false}`, StatusPass,
			`persisted "1" from /etc/sysctl.d/60-net.conf:4`},
		{"glob applies to other interfaces", `{key: net.ipv4.conf.eth0.rp_filter, equals: "1", runtime: false}`, StatusFail,
			`persisted "2" (want = "1") from /usr/lib/sysctl.d/50-default.conf:10`},
		{"slashes and dots are one key", `{key: net/ipv4/conf/default/rp_filter, one_of: ["1", "2"], runtime: false}`, StatusPass,
			`persisted "1" from /etc/sysctl.d/60-net.conf:5 (overrides /usr/lib/sysctl.d/50-default.conf:9)`},
		{"whitespace normalised", `{key: net.ipv4.tcp_rmem, equals: "4096 131072 6291456"}`, StatusPass,
			`running "4096 131072 6291456"; persisted "4096 131072 6291456" from /etc/sysctl.d/60-net.conf:6`},
		// /etc/sysctl.d/50-pid-max.conf -> /dev/null hides the /usr/lib file.
		{"masked file", `{key: kernel.pid_max, set: false, runtime: false}`, StatusPass,
			"persisted not set in /usr/lib/sysctl.d/50-default.conf, /etc/sysctl.d/60-net.conf, /run/sysctl.d/70-runtime.conf, /etc/sysctl.d/80-broken.conf, /etc/sysctl.conf"},
		// README.sysctl is not *.conf; "kernel.sysrq" alone in 80-broken.conf is no assignment.
		{"only .conf files, malformed lines skipped", `{key: kernel.sysrq, max: "16", runtime: false}`, StatusPass,
			`persisted "16" from /usr/lib/sysctl.d/50-default.conf:5`},
		{"a leading dash still assigns", `{key: net.ipv4.conf.all.send_redirects, equals: "0", runtime: false}`, StatusPass,
			`persisted "0" from /etc/sysctl.d/60-net.conf:7`},
		{"run directory", `{key: kernel.randomize_va_space, equals: "2"}`, StatusPass,
			`running "2"; persisted "2" from /run/sysctl.d/70-runtime.conf:1`},
		{"missing from /proc/sys is not set", `{key: net.ipv6.conf.all.forwarding, equals: "0"}`, StatusFail,
			`running not set (want = "0") in /proc/sys/net/ipv6/conf/all/forwarding; persisted not set (want = "0") in /usr/lib/sysctl.d/50-default.conf, /etc/sysctl.d/60-net.conf, /run/sysctl.d/70-runtime.conf, /etc/sysctl.d/80-broken.conf, /etc/sysctl.conf`},
	})
}

func TestSysctlLeafImage(t *testing.T) {
	env := loadTree(t, "sysctl/root").image()
	runSysCases(t, env, "sysctl", []sysCase{
		{"runtime skipped", `{key: kernel.randomize_va_space, equals: "2"}`, StatusPass,
			`running: skipped, no running kernel (/proc/sys/kernel/osrelease not readable: offline image); persisted "2" from /run/sysctl.d/70-runtime.conf:1`},
		{"runtime only cannot be answered", `{key: kernel.randomize_va_space, equals: "2", persisted: false}`, StatusError,
			`error: not available here: running needs a running kernel; running: skipped, no running kernel (/proc/sys/kernel/osrelease not readable: offline image)`},
	})
	// Stored inventory cannot read files at all.
	runSysCases(t, InventoryEnv(loadDoc(t, "debian12.json"), "linux"), "sysctl", []sysCase{
		{"server", `{key: kernel.sysrq, equals: "0"}`, StatusError,
			"error: read /proc/sys/kernel/osrelease: not available here: files are not part of stored inventory; only the agent can check them"},
	})
}

func TestSysctlParseErrors(t *testing.T) {
	got := sysProblems(t, sysPolicy(`      all:
        - sysctl: {key: "net.ipv4.conf.*.rp_filter", equals: "1"}
        - sysctl: {key: net.ipv4.ip_forward}
        - sysctl: {key: net.ipv4.ip_forward, equals: "0", runtime: false, persisted: false}
        - sysctl: {equals: "0"}
        - sysctl: {key: "net ipv4", min: abc, colour: red}
`))
	for _, want := range []string{
		`p.yaml:7: policy p: check.all[0].sysctl.key: "net.ipv4.conf.*.rp_filter": a key names one setting; globs are not allowed here`,
		`p.yaml:8: policy p: check.all[1].sysctl: needs a value test`,
		`p.yaml:9: policy p: check.all[2].sysctl.persisted: runtime and persisted are both false: nothing to check`,
		`p.yaml:10: policy p: check.all[3].sysctl.key: required`,
		`p.yaml:11: policy p: check.all[4].sysctl.key: "net ipv4" is not a sysctl key like net.ipv4.ip_forward`,
		`p.yaml:11: policy p: check.all[4].sysctl.min: "abc" is not a whole number`,
		`p.yaml:11: policy p: check.all[4].sysctl.colour: unknown field`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing problem %q in:\n%s", want, got)
		}
	}
}

// An offline image has no /dev: /etc/sysctl.d/50-pid-max.conf -> /dev/null
// dangles there, yet it still masks the vendor file (systemd decides a mask
// by the link's target path). A link to a missing file elsewhere takes no
// part, hides nothing and is named in the evidence.
func TestSysctlMaskWithoutDev(t *testing.T) {
	env := loadTree(t, "sysctl/root").image()
	delete(env.files, "/dev/null")
	env.links["/etc/sysctl.d/70-gone.conf"] = "/opt/site/sysctl.conf"
	env.links["/etc/sysctl.d/60-relative.conf"] = "../../dev/null" // hides nothing, adds nothing
	env.files["/usr/lib/sysctl.d/70-gone.conf"] = fakeFile{data: "kernel.pid_max = 99\n", mode: 0o644}
	runSysCases(t, env, "sysctl", []sysCase{
		{"a dangling link hides nothing", `{key: kernel.pid_max, set: false, runtime: false}`, StatusFail,
			`persisted set to "99" (want it unset) from /usr/lib/sysctl.d/70-gone.conf:1; /etc/sysctl.d/70-gone.conf ignored (dangling link to /opt/site/sysctl.conf)`},
		{"other keys read on", `{key: net.ipv4.conf.all.rp_filter, equals: "1", runtime: false}`, StatusPass,
			`persisted "1" from /etc/sysctl.d/60-net.conf:4; /etc/sysctl.d/70-gone.conf ignored (dangling link to /opt/site/sysctl.conf)`},
	})
	// Without the dangling link the vendor 50-pid-max.conf stays masked.
	delete(env.links, "/etc/sysctl.d/70-gone.conf")
	delete(env.files, "/usr/lib/sysctl.d/70-gone.conf")
	runSysCases(t, env, "sysctl", []sysCase{
		{"mask in /etc over /usr/lib without a /dev/null", `{key: kernel.pid_max, set: false, runtime: false}`, StatusPass,
			"persisted not set in /usr/lib/sysctl.d/50-default.conf, /etc/sysctl.d/60-net.conf, /run/sysctl.d/70-runtime.conf, /etc/sysctl.d/80-broken.conf, /etc/sysctl.conf"},
	})
}

func TestDropInFiles(t *testing.T) {
	env := loadTree(t, "sysctl/root").image()
	delete(env.files, "/dev/null")
	env.links["/etc/sysctl.d/70-gone.conf"] = "missing.conf"
	env.files["/etc/sysctl.d/75-empty.conf"] = fakeFile{mode: 0o644}
	env.files["/etc/sysctl.d/76-dir.conf"] = fakeFile{mode: fs.ModeDir | 0o755}
	env.files["/usr/lib/sysctl.d/76-dir.conf"] = fakeFile{data: "kernel.sysrq = 1\n", mode: 0o644}
	env.files["/lib/sysctl.d/50-default.conf"] = env.files["/usr/lib/sysctl.d/50-default.conf"] // merged /usr
	env.files["/run/sysctl.d/60-net.conf"] = fakeFile{data: "x = 1\n", mode: 0o644}
	got, err := dropInFiles(context.Background(), env, sysctlDirs, "*.conf")
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, f := range got.files {
		l := f.path
		if f.masked {
			l += " masked (" + f.how + ")"
		}
		if h := got.hidden[f.path]; len(h) > 0 {
			l += " hides " + strings.Join(h, ",")
		}
		lines = append(lines, l)
	}
	want := []string{
		"/usr/lib/sysctl.d/50-default.conf",
		"/etc/sysctl.d/50-pid-max.conf masked (linked to /dev/null) hides /usr/lib/sysctl.d/50-pid-max.conf",
		"/etc/sysctl.d/60-net.conf hides /run/sysctl.d/60-net.conf",
		"/run/sysctl.d/70-runtime.conf",
		"/etc/sysctl.d/75-empty.conf masked (empty)",
		"/usr/lib/sysctl.d/76-dir.conf", // a directory of that name hides nothing
		"/etc/sysctl.d/80-broken.conf",
		"/etc/sysctl.d/99-sysctl.conf",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("files:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	if want := []string{"/etc/sysctl.d/70-gone.conf ignored (dangling link to /etc/sysctl.d/missing.conf)"}; !slices.Equal(got.ignored, want) {
		t.Errorf("ignored = %q, want %q", got.ignored, want)
	}
}
