package policy

import (
	"fmt"
	"strings"
	"testing"
)

func TestMountUnitName(t *testing.T) {
	for in, want := range map[string]string{
		"/":             "-.mount",
		"/tmp":          "tmp.mount",
		"/var/log":      "var-log.mount",
		"/var/lib/my-x": `var-lib-my\x2dx.mount`,
		"/home/a b":     `home-a\x20b.mount`,
	} {
		if got := mountUnitName(in); got != want {
			t.Errorf("mountUnitName(%q) = %q, want %q", in, got, want)
		}
	}
}

// The live fixture's /tmp is a nodev,nosuid,noexec tmpfs with a second
// tmpfs mounted over it without those options (mount 41, listed later).
func TestMountLeafLive(t *testing.T) {
	env := loadTree(t, "mount/live")
	runSysCases(t, env, "mount", []sysCase{
		{"over-mount without nodev hides the nodev mount", `{path: /tmp, options: [nodev, nosuid]}`, StatusFail,
			"/tmp mounted tmpfs from /proc/self/mountinfo:9 (top of 2 mounts) options rw,relatime,size=1048576k,inode64; missing nodev,nosuid"},
		{"per-mount options", `{path: /var/log, options: [nodev]}`, StatusPass,
			"/var/log mounted ext4 from /proc/self/mountinfo:7 options rw,nodev,relatime"},
		{"without_options", `{path: /dev/shm, without_options: [exec, suid], options: [nosuid]}`, StatusPass,
			"/dev/shm mounted tmpfs from /proc/self/mountinfo:5 options rw,nosuid,nodev,inode64"},
		{"unwanted option", `{path: /dev, without_options: [nosuid]}`, StatusFail,
			"/dev mounted devtmpfs from /proc/self/mountinfo:4 options rw,nosuid,relatime,size=4012345k,nr_inodes=1003086,mode=755; has unwanted nosuid"},
		{"escaped space", `{path: "/home/my files/", mounted: true}`, StatusPass,
			"/home/my files mounted ext4 from /proc/self/mountinfo:8 options rw,nosuid,relatime"},
		{"not separate, options fail", `{path: /var, options: [nodev]}`, StatusFail,
			"/var is not a separate mount (no entry in /proc/self/mountinfo)"},
		{"not separate, as wanted", `{path: /var, mounted: false}`, StatusPass,
			"/var is not a separate mount (no entry in /proc/self/mountinfo)"},
		{"line without super options", `{path: /srv/nosuper, options: [nosuid]}`, StatusPass,
			"/srv/nosuper mounted tmpfs from /proc/self/mountinfo:11 options rw,nosuid"},
		{"separate, unwanted", `{path: /proc, mounted: false}`, StatusFail,
			"/proc mounted proc from /proc/self/mountinfo:2"},
	})
}

// The image fixture has an /etc/fstab (a noauto entry, a swap line, a
// later bind mount over /var/tmp) and tmp.mount enabled from /etc.
func TestMountLeafImage(t *testing.T) {
	env := loadTree(t, "mount/image")
	runSysCases(t, env, "mount", []sysCase{
		{"fstab", `{path: /home, options: [nodev]}`, StatusPass,
			"/home configured ext4 from /etc/fstab:5 options defaults,nodev"},
		{"last fstab line wins", `{path: /var/tmp, options: [nodev, nosuid, noexec]}`, StatusPass,
			"/var/tmp configured none from /etc/fstab:10 options bind,nodev,nosuid,noexec"},
		{"noauto is not mounted at boot", `{path: /srv, mounted: false}`, StatusPass,
			"/srv is not a separate mount (no /etc/fstab entry)"},
		{"enabled tmp.mount", `{path: /tmp, options: [nodev, nosuid, noexec]}`, StatusFail,
			"/tmp configured tmpfs from /usr/lib/systemd/system/tmp.mount:16 options mode=1777,strictatime,nosuid,nodev,size=50%%,nr_inodes=1m; missing noexec"},
	})
	delete(env.links, "/etc/systemd/system/local-fs.target.wants/tmp.mount")
	runSysCases(t, env, "mount", []sysCase{
		{"disabled tmp.mount", `{path: /tmp, mounted: true}`, StatusFail,
			"/tmp is not a separate mount (tmp.mount is disabled (/usr/lib/systemd/system/tmp.mount has [Install] at line 18 but no link enables it))"},
	})
	env.links["/etc/systemd/system/tmp.mount"] = "/dev/null"
	env.links["/etc/systemd/system/local-fs.target.wants/tmp.mount"] = "/usr/lib/systemd/system/tmp.mount"
	runSysCases(t, env, "mount", []sysCase{
		{"masked tmp.mount", `{path: /tmp, mounted: true}`, StatusFail,
			"/tmp is not a separate mount (no /etc/fstab entry; tmp.mount is masked)"},
	})
}

func TestMountParseErrors(t *testing.T) {
	got := sysProblems(t, sysPolicy(`      all:
        - mount: {path: tmp, options: [nodev]}
        - mount: {path: /tmp}
        - mount: {path: /tmp, mounted: false, options: [nodev]}
        - mount: {path: /tmp, options: ["nodev,nosuid"]}
        - mount: {path: /tmp, without_options: []}
`))
	for _, want := range []string{
		`p.yaml:7: policy p: check.all[0].mount.path: "tmp" must be an absolute path without globs`,
		`p.yaml:8: policy p: check.all[1].mount: needs at least one of mounted, options, without_options`,
		`p.yaml:9: policy p: check.all[2].mount.mounted: mounted: false cannot be combined with options or without_options`,
		`p.yaml:10: policy p: check.all[3].mount.options: "nodev,nosuid" is not one mount option`,
		`p.yaml:11: policy p: check.all[4].mount.without_options: must list at least one option`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing problem %q in:\n%s", want, got)
		}
	}
}

func TestParseFstab(t *testing.T) {
	text := "# comment\n\n  # indented comment\nUUID=ab-12\t/\text4\terrors=remount-ro 0 1\n" +
		"LABEL=data /srv/my\\040data xfs defaults\n/dev/sdb1 /mnt/usb vfat noauto,user 0 0\n" +
		"/swap.img none swap sw 0 0\ntmpfs /tmp/ tmpfs nodev\ntmpfs /tmp tmpfs nodev,nosuid 0 0\nbroken /x\n"
	var got []string
	for _, e := range ParseFstab(text) {
		got = append(got, fmt.Sprintf("%d %s %s %s %s", e.Line, e.Source, e.MountPoint, e.FS, strings.Join(e.Options, ",")))
	}
	want := []string{
		"4 UUID=ab-12 / ext4 errors=remount-ro",
		"5 LABEL=data /srv/my data xfs defaults",
		"6 /dev/sdb1 /mnt/usb vfat noauto,user",
		"7 /swap.img none swap sw",
		"8 tmpfs /tmp tmpfs nodev",
		"9 tmpfs /tmp tmpfs nodev,nosuid",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("ParseFstab:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	m := FstabMounts(ParseFstab(text))
	if _, ok := m["/mnt/usb"]; ok {
		t.Error("a noauto entry is mounted at boot")
	}
	if _, ok := m["none"]; ok || len(m) != 3 {
		t.Errorf("mounts %v: want /, /srv/my data and /tmp (no swap)", m)
	}
	if e := m["/tmp"]; e.Line != 9 {
		t.Errorf("/tmp from line %d, want the later line 9", e.Line)
	}
}
