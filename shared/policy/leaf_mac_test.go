package policy

import (
	"strings"
	"testing"
)

func TestAppArmorLeaf(t *testing.T) {
	env := loadTree(t, "mac/apparmor")
	runSysCases(t, env, "apparmor", []sysCase{
		{"enabled", `{enabled: true}`, StatusPass, "AppArmor enabled (/sys/module/apparmor/parameters/enabled is Y)"},
		{"enforce or complain", `{profiles: enforce_or_complain, min_profiles: 8}`, StatusPass,
			"8 profiles loaded (7 enforce, 1 complain)"},
		{"enforce only", `{profiles: enforce}`, StatusFail,
			"8 profiles loaded (7 enforce, 1 complain); not enforce: /usr/sbin/cupsd (complain)"},
		{"too few", `{min_profiles: 9}`, StatusFail, "8 profiles loaded (7 enforce, 1 complain); want at least 9"},
	})
	env.files["/sys/kernel/security/apparmor/profiles"] = fakeFile{data: "/usr/bin/man (enforce)\nfirefox (unconfined)\n", mode: 0o444}
	env.files["/sys/module/apparmor/parameters/enabled"] = fakeFile{data: "N\n", mode: 0o444}
	runSysCases(t, env, "apparmor", []sysCase{
		{"unconfined profile", `{profiles: enforce_or_complain}`, StatusFail,
			"2 profiles loaded (1 enforce, 1 unconfined); not enforce_or_complain: firefox (unconfined)"},
		{"disabled", `{enabled: true}`, StatusFail, `AppArmor disabled (/sys/module/apparmor/parameters/enabled is "N")`},
	})
	delete(env.files, "/sys/kernel/security/apparmor/profiles")
	runSysCases(t, env, "apparmor", []sysCase{
		{"no securityfs", `{min_profiles: 1}`, StatusError,
			"error: /sys/kernel/security/apparmor/profiles not found: AppArmor is off or securityfs is not mounted"},
	})
}

func TestAppArmorLeafImage(t *testing.T) {
	env := loadTree(t, "mac/apparmor").image()
	runSysCases(t, env, "apparmor", []sysCase{
		{"image enabled", `{enabled: true, profiles: enforce}`, StatusPass,
			"AppArmor enabled at boot: not disabled on the boot command line; /usr/sbin/apparmor_parser installed; profiles: skipped, no running kernel (/proc/sys/kernel/osrelease not readable: offline image)"},
		{"image profiles only", `{min_profiles: 1}`, StatusError,
			"error: not available here: profiles needs a running kernel; profiles: skipped, no running kernel (/proc/sys/kernel/osrelease not readable: offline image)"},
	})
	env.files["/etc/default/grub"] = fakeFile{data: "GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT=\"quiet apparmor=0\"\n", mode: 0o644}
	runSysCases(t, env, "apparmor", []sysCase{
		{"apparmor=0", `{enabled: true}`, StatusFail, "AppArmor disabled at boot: apparmor=0 on the boot command line at /etc/default/grub:2"},
	})
	env.files["/etc/default/grub"] = fakeFile{data: "GRUB_CMDLINE_LINUX=\"\"\n", mode: 0o644}
	cfg := env.files["/boot/grub/grub.cfg"]
	cfg.data = strings.Replace(cfg.data, "ro  quiet", "ro quiet security=selinux", 1)
	env.files["/boot/grub/grub.cfg"] = cfg
	runSysCases(t, env, "apparmor", []sysCase{
		{"another LSM", `{enabled: false}`, StatusPass, "AppArmor disabled at boot: security=selinux on the boot command line at /boot/grub/grub.cfg:8"},
	})
	delete(env.files, "/boot/grub/grub.cfg")
	delete(env.files, "/usr/sbin/apparmor_parser")
	runSysCases(t, env, "apparmor", []sysCase{
		{"no parser", `{enabled: true}`, StatusFail,
			"AppArmor disabled at boot: apparmor_parser is not installed (package apparmor), so no profile is loaded at boot"},
	})
}

// The SELinux fixture runs permissive (/sys/fs/selinux/enforce is 0) and
// is configured enforcing: the first SELINUX= line counts, a later one
// is ignored as libselinux does.
func TestSELinuxLeaf(t *testing.T) {
	env := loadTree(t, "mac/selinux")
	runSysCases(t, env, "selinux", []sysCase{
		{"running below configured", `{state: enforcing}`, StatusFail,
			"running permissive (/sys/fs/selinux/enforce), want at least enforcing; configured enforcing at /etc/selinux/config:6, want at least enforcing"},
		{"permissive is enough", `{state: permissive, policy: targeted}`, StatusPass,
			`running permissive (/sys/fs/selinux/enforce), want at least permissive; configured enforcing at /etc/selinux/config:6, want at least permissive; policy "targeted" at /etc/selinux/config:11, want "targeted"`},
		{"policy", `{policy: mls}`, StatusFail, `policy "targeted" at /etc/selinux/config:11, want "mls"`},
	})
	img := loadTree(t, "mac/selinux").image()
	runSysCases(t, img, "selinux", []sysCase{
		{"image", `{state: enforcing}`, StatusPass,
			"running state: skipped, no running kernel (/proc/sys/kernel/osrelease not readable: offline image); configured enforcing at /etc/selinux/config:6, want at least enforcing"},
	})
	// A Debian host without SELinux: no /sys/fs/selinux, no config.
	deb := loadTree(t, "mac/apparmor")
	runSysCases(t, deb, "selinux", []sysCase{
		{"absent", `{state: permissive}`, StatusFail,
			"running disabled (no /sys/fs/selinux/enforce), want at least permissive; configured disabled (no SELINUX= in /etc/selinux/config), want at least permissive"},
	})
}

func TestMACParseErrors(t *testing.T) {
	got := sysProblems(t, sysPolicy(`      all:
        - apparmor: {profiles: all}
        - apparmor: {min_profiles: -1}
        - apparmor: {}
        - selinux: {state: strict}
        - selinux: {policy: ""}
`))
	for _, want := range []string{
		`p.yaml:7: policy p: check.all[0].apparmor.profiles: "all" is not one of enforce, enforce_or_complain`,
		`p.yaml:8: policy p: check.all[1].apparmor.min_profiles: must not be negative`,
		`p.yaml:9: policy p: check.all[2].apparmor: needs at least one of enabled, profiles, min_profiles`,
		`p.yaml:10: policy p: check.all[3].selinux.state: "strict" is not one of disabled, permissive, enforcing`,
		`p.yaml:11: policy p: check.all[4].selinux.policy: must not be empty`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing problem %q in:\n%s", want, got)
		}
	}
}
