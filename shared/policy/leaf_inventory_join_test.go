package policy

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/steward-project/steward/shared/inventory"
)

// The joins below are the server-side form of CIS account and mount
// rules: they read the users, groups, password aging and mount options
// the agent stores in the inventory, with no file read at check time.
const (
	joinPrimaryGroup = `inventory.users.users.all(u, inventory.users.groups.exists(g, g.gid == u.gid))`
	joinHomes        = `inventory.users.users.filter(u, !(has(u.system) && u.system)).all(u, has(u.home_exists) && u.home_exists && u.home_uid == u.uid)`
	joinNoEmpty      = `inventory.users.users.all(u, !has(u.password) || u.password.state != "empty")`
	joinMaxDays      = `inventory.users.users.filter(u, has(u.password) && u.password.state.startsWith("hashed:")).all(u, has(u.password.max_days) && u.password.max_days <= 365)`
	joinTmpNodev     = `inventory.disks.mounts.exists(m, m.mount == "/tmp" && "nodev" in m.options)`
	joinSysctl       = `has(inventory.os.sysctl) && inventory.os.sysctl["net.ipv4.ip_forward"] == 0 && inventory.os.sysctl["kernel.randomize_va_space"] == 2`
	joinHomeMode     = `inventory.users.users.filter(u, !(has(u.system) && u.system) && has(u.home_mode)).all(u, u.home_mode.matches("^0[0-7][0145]0$"))`
)

func joinDays(n int64) *int64 { return &n }

func joinYes() *bool { b := true; return &b }
func joinNo() *bool  { b := false; return &b }

// joinDoc builds an inventory document from the section types, so that
// the JSON field names the expressions use are those the agent writes.
func joinDoc(t *testing.T, users inventory.Users, disks inventory.Disks, osec inventory.OS) inventory.Document {
	t.Helper()
	doc := inventory.Document{Sections: map[string]json.RawMessage{}}
	for name, v := range map[string]any{inventory.SectionUsers: users, inventory.SectionDisks: disks, inventory.SectionOS: osec} {
		raw, err := inventory.Canonical(v)
		if err != nil {
			t.Fatal(err)
		}
		doc.Sections[name] = raw
	}
	return doc
}

// hardened follows every rule; each case of TestInventoryJoins breaks one.
func hardened() (inventory.Users, inventory.Disks, inventory.OS) {
	users := inventory.Users{
		Users: []inventory.User{
			{Name: "root", UID: "0", GID: "0", Group: "root", Home: "/root", Shell: "/bin/bash", Admin: true,
				HomeExists: joinYes(), HomeUID: "0", HomeGID: "0", HomeMode: "0700",
				Password: &inventory.Password{State: inventory.PasswordLocked, LastChange: joinDays(19000)}},
			{Name: "daemon", UID: "1", GID: "1", Group: "daemon", Home: "/usr/sbin", Shell: "/usr/sbin/nologin", System: true,
				HomeExists: joinYes(), HomeUID: "0", HomeGID: "0", HomeMode: "0755",
				Password: &inventory.Password{State: inventory.PasswordNone, MaxDays: joinDays(99999)}},
			{Name: "alice", UID: "1000", GID: "1000", Group: "alice", Home: "/home/alice", Shell: "/bin/bash", Admin: true,
				HomeExists: joinYes(), HomeUID: "1000", HomeGID: "1000", HomeMode: "0750",
				Password: &inventory.Password{State: "hashed:yescrypt", LastChange: joinDays(20000), MinDays: joinDays(1), MaxDays: joinDays(365), WarnDays: joinDays(7)}},
		},
		Groups: []inventory.Group{
			{Name: "root", GID: "0"}, {Name: "daemon", GID: "1"},
			{Name: "sudo", GID: "27", Members: []string{"alice"}}, {Name: "alice", GID: "1000"},
		},
	}
	disks := inventory.Disks{
		Volumes: []inventory.Volume{{Device: "/dev/vda1", Mount: "/", FS: "ext4", Options: []string{"rw", "relatime", "errors=remount-ro"}}},
		Mounts: []inventory.Mount{
			{Mount: "/dev/shm", Device: "tmpfs", FS: "tmpfs", Options: []string{"rw", "nosuid", "nodev", "noexec"}},
			{Mount: "/tmp", Device: "tmpfs", FS: "tmpfs", Options: []string{"rw", "nosuid", "nodev", "noexec", "relatime"}},
		},
	}
	osec := inventory.OS{Name: "Debian GNU/Linux 12 (bookworm)", Platform: "debian", Arch: "x86_64",
		Sysctl: map[string]int64{"net.ipv4.ip_forward": 0, "kernel.randomize_va_space": 2}}
	return users, disks, osec
}

func TestInventoryJoins(t *testing.T) {
	all := []string{joinPrimaryGroup, joinHomes, joinNoEmpty, joinMaxDays, joinTmpNodev, joinSysctl, joinHomeMode}
	cases := []struct {
		name   string
		mutate func(u *inventory.Users, d *inventory.Disks, o *inventory.OS)
		fails  string // the one join that must fail; "" for none
	}{
		{"hardened host", func(*inventory.Users, *inventory.Disks, *inventory.OS) {}, ""},
		{"primary gid without a group", func(u *inventory.Users, _ *inventory.Disks, _ *inventory.OS) {
			u.Groups = u.Groups[:3] // drop alice's group
		}, joinPrimaryGroup},
		{"home missing", func(u *inventory.Users, _ *inventory.Disks, _ *inventory.OS) {
			u.Users[2].HomeExists, u.Users[2].HomeUID, u.Users[2].HomeGID, u.Users[2].HomeMode = joinNo(), "", "", ""
		}, joinHomes},
		{"home owned by root", func(u *inventory.Users, _ *inventory.Disks, _ *inventory.OS) {
			u.Users[2].HomeUID = "0"
		}, joinHomes},
		{"home group-writable", func(u *inventory.Users, _ *inventory.Disks, _ *inventory.OS) {
			u.Users[2].HomeMode = "0770"
		}, joinHomeMode},
		{"empty password", func(u *inventory.Users, _ *inventory.Disks, _ *inventory.OS) {
			u.Users[2].Password = &inventory.Password{State: inventory.PasswordEmpty}
		}, joinNoEmpty},
		{"password never expires", func(u *inventory.Users, _ *inventory.Disks, _ *inventory.OS) {
			u.Users[2].Password.MaxDays = joinDays(99999)
		}, joinMaxDays},
		{"empty max_days field", func(u *inventory.Users, _ *inventory.Disks, _ *inventory.OS) {
			u.Users[2].Password.MaxDays = nil
		}, joinMaxDays},
		{"/tmp without nodev", func(_ *inventory.Users, d *inventory.Disks, _ *inventory.OS) {
			d.Mounts[1].Options = []string{"rw", "relatime"}
		}, joinTmpNodev},
		{"/tmp not a mount of its own", func(_ *inventory.Users, d *inventory.Disks, _ *inventory.OS) {
			d.Mounts = d.Mounts[:1]
		}, joinTmpNodev},
		{"forwarding on", func(_ *inventory.Users, _ *inventory.Disks, o *inventory.OS) {
			o.Sysctl["net.ipv4.ip_forward"] = 1
		}, joinSysctl},
		{"no sysctl values (offline root)", func(_ *inventory.Users, _ *inventory.Disks, o *inventory.OS) {
			o.Sysctl = nil
		}, joinSysctl},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u, d, o := hardened()
			c.mutate(&u, &d, &o)
			env := InventoryEnv(joinDoc(t, u, d, o), "")
			for _, src := range all {
				want, result := StatusPass, "true"
				if src == c.fails {
					want, result = StatusFail, "false"
				}
				r := Evaluate(context.Background(), onePolicy(t, "{expr: '"+src+"'}"), env)
				if r.Status != want || len(r.Evidence) != 1 || r.Evidence[0].Detail != src+" => "+result {
					t.Errorf("%s: status %s, evidence:\n%swant %s", src, r.Status, evidenceText(r.Evidence), want)
				}
			}
		})
	}
}
