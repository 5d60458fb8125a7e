package collect

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/steward-project/steward/shared/inventory"
)

// TestFixtureFacts states, independently of the golden files, what the
// tricky parts of the ubuntu-2socket fixture must produce, so that a bad
// golden update cannot hide a regression there.
func TestFixtureFacts(t *testing.T) {
	t.Parallel()
	doc := Collect(context.Background(), fixture(t, "ubuntu-2socket"))
	if len(doc.Errors) != 0 {
		t.Fatalf("errors: %v", doc.Errors)
	}
	var (
		host  inventory.Host
		cpu   inventory.CPU
		mem   inventory.Memory
		disks inventory.Disks
		sw    inventory.Software
		osec  inventory.OS
		svcs  inventory.Services
		users inventory.Users
		ports inventory.Ports
	)
	for name, dst := range map[string]any{"host": &host, "cpu": &cpu, "memory": &mem, "disks": &disks, "software": &sw, "os": &osec,
		"services": &svcs, "users": &users, "ports": &ports} {
		if err := json.Unmarshal(doc.Sections[name], dst); err != nil {
			t.Fatalf("decode %s: %v", name, err)
		}
	}
	pkgs := make(map[string]inventory.Package)
	for _, p := range sw.Packages {
		pkgs[p.Name+":"+p.Arch] = p
	}
	vols := make(map[string]inventory.Volume)
	for _, v := range disks.Volumes {
		vols[v.Mount] = v
	}
	svc := make(map[string]inventory.Service)
	for _, s := range svcs.Services {
		svc[s.Name] = s
	}
	user := make(map[string]inventory.User)
	for _, u := range users.Users {
		user[u.Name] = u
	}
	port := make(map[string]inventory.Port)
	for _, p := range ports.Ports {
		port[p.Proto+"/"+p.Address+"/"+strconv.Itoa(p.Port)] = p
	}
	boolp := func(p *bool) string {
		if p == nil {
			return "unknown"
		}
		if *p {
			return "yes"
		}
		return "no"
	}
	cases := []struct {
		name      string
		got, want any
	}{
		{"hostname from the live kernel, not /etc/hostname", host.Hostname, "db01"},
		{"hardware uuid lower-cased", host.HardwareUUID, "4c4c4544-0058-5910-8033-b7c04f313233"},
		{"bare metal", host.Virtualization, ""},
		{"boot time from btime", host.BootTime.Format(time.RFC3339), "2024-04-01T10:00:00Z"},
		{"family from ID_LIKE", osec.Family, "debian"},
		{"sockets", cpu.Sockets, 2},
		{"cores are distinct (socket, core id)", cpu.Cores, 4},
		{"threads", cpu.Threads, 8},
		{"mhz from cpuinfo_max_freq, not the moving cpu MHz", cpu.MHz, 3700.0},
		{"memory in bytes", mem.TotalBytes, uint64(263842188 * 1024)},
		{"swap in bytes", mem.SwapBytes, uint64(8388604 * 1024)},
		{"physical disks without loop and dm", len(disks.Physical), 4},
		{"LVM on LUKS is encrypted", boolp(vols["/"].Encrypted), "yes"},
		{"btrfs on dm-crypt found by mapper name", boolp(vols["/backup"].Encrypted), "yes"},
		{"plain partition", boolp(vols["/srv/data"].Encrypted), "no"},
		{"network fs", boolp(vols["/mnt/share"].Encrypted), "unknown"},
		{"read-only mount", vols["/boot/efi"].ReadOnly, true},
		{"escaped space in mount point", vols["/media/alice/Ultra Fit"].Device, "/dev/sdb1"},
		{"bind mount of the same file system left out", vols["/var/lib/containers-data"].Mount, ""},
		{"tmpfs left out", vols["/run"].Mount, ""},
		{"unreadable mount left out", vols["/home/alice/remote"].Mount, ""},
		{"volumes", len(disks.Volumes), 8},
		{"epoch kept", pkgs["openssh-server:amd64"].Version, "1:8.9p1-3ubuntu0.6"},
		{"epoch and tildes kept, held package listed", pkgs["docker-ce:amd64"].Version, "5:24.0.7-1~ubuntu.22.04~jammy"},
		{"multi-arch i386", pkgs["libc6:i386"].Version, "2.35-0ubuntu3.6"},
		{"multi-arch amd64 install time from libc6:amd64.list", pkgs["libc6:amd64"].InstallTime.Format(time.RFC3339), "2024-02-14T06:30:12Z"},
		{"updates journal overrides status", pkgs["curl:amd64"].Version, "7.81.0-1ubuntu1.16"},
		{"config-files only is not installed", pkgs["linux-image-5.15.0-91-generic:amd64"].Name, ""},
		// Files on the system, mid-install: listed, with the state.
		{"half-installed is listed", pkgs["half-broken:amd64"].State, "half-installed"},
		{"unpacked is listed", pkgs["pending-config:all"].State, "unpacked"},
		{"installed has no state", pkgs["bash:amd64"].State, ""},
		{"description continuation is not a package", pkgs["not-a-package:"].Name, ""},
		{"publisher left empty", pkgs["bash:amd64"].Publisher, ""},
		{"installed packages", len(sw.Packages), 10},
		{"instance enabled from a wants link", svc["postgresql@14-main"].StartMode, inventory.StartAuto},
		{"instance state from its slice's cgroup", svc["postgresql@14-main"].State, inventory.ServiceRunning},
		{"instance description with %i", svc["postgresql@14-main"].DisplayName, "PostgreSQL Cluster 14-main"},
		{"alias not listed", svc["sshd"].Name, ""},
		{"vendor-masked unit", svc["rsync"].StartMode, inventory.StartDisabled},
		{"static unit is manual", svc["systemd-journald"].StartMode, inventory.StartManual},
		{"empty cgroup is stopped", svc["docker"].State, inventory.ServiceStopped},
		{"admin through sudo", user["alice"].Admin, true},
		{"locked root", user["root"].Disabled, true},
		{"service account", user["postgres"].System, true},
		{"port owner from its socket inode", port["tcp/127.0.0.1/5432"].Process, "postgres"},
		{"socket user from its uid", port["udp/127.0.0.53/53"].User, "systemd-resolve"},
		{"established connection is no port", port["tcp/10.20.30.40/22"].Proto, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.got != c.want {
				t.Errorf("got %v, want %v", c.got, c.want)
			}
		})
	}
}
