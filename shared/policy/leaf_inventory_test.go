package policy

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/steward-project/steward/shared/inventory"
)

// leafCase evaluates one leaf (YAML flow) against an inventory fixture
// through InventoryEnv, and compares status and the single evidence
// detail.
type leafCase struct {
	name, inv, check string
	want             Status
	detail           string
}

func runLeafCases(t *testing.T, cases []leafCase) {
	t.Helper()
	envs := map[string]Env{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env, ok := envs[c.inv]
			if !ok {
				env = InventoryEnv(loadDoc(t, c.inv), "")
				envs[c.inv] = env
			}
			r := Evaluate(context.Background(), onePolicy(t, c.check), env)
			if r.Status != c.want || len(r.Evidence) != 1 || r.Evidence[0].Detail != c.detail {
				t.Errorf("status %s, evidence:\n%swant %s, %q", r.Status, evidenceText(r.Evidence), c.want, c.detail)
			}
		})
	}
}

func TestPackageLeaf(t *testing.T) {
	const deb, rhel, win, mac = "debian12.json", "rhel9.json", "windows11.json", "darwin14.json"
	runLeafCases(t, []leafCase{
		{"installed", deb, `{package: {name: bash}}`, StatusPass, "installed: bash 5.2.15-2+b8 (dpkg, amd64)"},
		{"not installed", deb, `{package: {name: telnetd, installed: true}}`, StatusFail, "telnetd is not installed"},
		{"absent as wanted", deb, `{package: {name: telnetd, installed: false}}`, StatusPass, "telnetd is not installed"},
		{"present but unwanted", deb, `{package: {name: sudo, installed: false}}`, StatusFail, "installed: sudo 1.9.13p3-1+deb12u1 (dpkg, amd64)"},
		{"dpkg min", deb, `{package: {name: bash, min_version: "5.0"}}`, StatusPass, "bash 5.2.15-2+b8 (dpkg) >= 5.0 by dpkg rules"},
		{"dpkg below min", deb, `{package: {name: bash, min_version: "5.2.21"}}`, StatusFail, "bash 5.2.15-2+b8 (dpkg) not >= min_version 5.2.21 by dpkg rules"},
		{"dpkg tilde sorts first", deb, `{package: {name: openssl, min_version: "3.0.11-1"}}`, StatusFail,
			"openssl 3.0.11-1~deb12u2 (dpkg) not >= min_version 3.0.11-1 by dpkg rules"},
		{"dpkg security update", deb, `{package: {name: openssl, min_version: "3.0.13-1~deb12u1"}}`, StatusFail,
			"openssl 3.0.11-1~deb12u2 (dpkg) not >= min_version 3.0.13-1~deb12u1 by dpkg rules"},
		{"dpkg epoch beats upstream", deb, `{package: {name: openssh-server, min_version: "9.9p1"}}`, StatusPass,
			"openssh-server 1:9.2p1-2+deb12u7 (dpkg) >= 9.9p1 by dpkg rules"},
		{"dpkg min and max", deb, `{package: {name: openssh-server, min_version: "1:9.2p1", max_version: "1:9.2p1-2+deb12u7"}}`, StatusPass,
			"openssh-server 1:9.2p1-2+deb12u7 (dpkg) >= 1:9.2p1, <= 1:9.2p1-2+deb12u7 by dpkg rules"},
		{"dpkg above max", deb, `{package: {name: bash, max_version: "5.2.15-2"}}`, StatusFail, "bash 5.2.15-2+b8 (dpkg) not <= max_version 5.2.15-2 by dpkg rules"},
		{"every copy must be new enough", deb, `{package: {name: libssl3, min_version: "3.0.13"}}`, StatusFail,
			"libssl3 3.0.11-1~deb12u2 (dpkg) not >= min_version 3.0.13 by dpkg rules; libssl3 3.0.17-1~deb12u1 (dpkg) >= 3.0.13 by dpkg rules"},
		{"name glob", deb, `{package: {name: "linux-image-*", installed: true}}`, StatusPass,
			"installed: linux-image-6.1.0-37-amd64 6.1.140-1 (dpkg, amd64); linux-image-6.1.0-13-amd64 6.1.55-1 (dpkg, amd64)"},
		{"snap dotted", deb, `{package: {name: firefox, min_version: "139.0"}}`, StatusPass, "firefox 139.0.1 (snap) >= 139.0 by dotted/semver rules"},
		{"not comparable is an error", deb, `{package: {name: weird, min_version: "1.0"}}`, StatusError,
			"error: compare build-7f3a with min_version 1.0 by dotted/semver rules: versions not comparable; weird build-7f3a (flatpak)"},
		{"rpm epoch", rhel, `{package: {name: openssl, min_version: "1:3.0.7-25.el9"}}`, StatusPass, "openssl 1:3.0.7-27.el9 (rpm) >= 1:3.0.7-25.el9 by rpm rules"},
		{"rpm missing epoch is older", rhel, `{package: {name: openssl, max_version: "3.2.0"}}`, StatusFail, "openssl 1:3.0.7-27.el9 (rpm) not <= max_version 3.2.0 by rpm rules"},
		{"rpm old kernel still installed", rhel, `{package: {name: kernel, min_version: "5.14.0-400"}}`, StatusFail,
			"kernel 5.14.0-362.8.1.el9_3 (rpm) not >= min_version 5.14.0-400 by rpm rules; kernel 5.14.0-427.13.1.el9_4 (rpm) >= 5.14.0-400 by rpm rules"},
		{"rpm equal", rhel, `{package: {name: sudo, min_version: "1.9.5p2-10.el9_3"}}`, StatusPass, "sudo 1.9.5p2-10.el9_3 (rpm) >= 1.9.5p2-10.el9_3 by rpm rules"},
		{"windows case-insensitive, every copy", win, `{package: {name: google chrome, min_version: "120.0.6099.109"}}`, StatusFail,
			"Google Chrome 119.0.6045.200 (windows_registry) not >= min_version 120.0.6099.109 by dotted/semver rules; Google Chrome 120.0.6099.110 (windows_registry) >= 120.0.6099.109 by dotted/semver rules"},
		{"windows name glob", win, `{package: {name: "go programming language*", min_version: "1.22"}}`, StatusPass,
			"Go Programming Language amd64 go1.22.5 1.22.5 (windows_registry) >= 1.22 by dotted/semver rules"},
		{"macos bundle id", mac, `{package: {name: com.google.Chrome, min_version: "126"}}`, StatusPass,
			"Google Chrome 126.0.6478.127 (macos_app) >= 126 by dotted/semver rules"},
		{"semver pre-release below release", mac, `{package: {name: terraform, min_version: "1.9.0"}}`, StatusFail,
			"terraform 1.9.0-rc2 (homebrew) not >= min_version 1.9.0 by dotted/semver rules"},
		{"semver pre-release order", mac, `{package: {name: terraform, min_version: "1.9.0-rc1"}}`, StatusPass,
			"terraform 1.9.0-rc2 (homebrew) >= 1.9.0-rc1 by dotted/semver rules"},
		{"homebrew revision not comparable", mac, `{package: {name: "openssl@3", min_version: "3.0"}}`, StatusError,
			"error: compare 3.3.1_1 with min_version 3.0 by dotted/semver rules: versions not comparable; openssl@3 3.3.1_1 (homebrew)"},
	})
}

func TestServiceLeaf(t *testing.T) {
	const deb, win = "debian12.json", "windows11.json"
	runLeafCases(t, []leafCase{
		{"running and enabled", deb, `{service: {name: ssh, running: true, enabled: true}}`, StatusPass, "service ssh: state running, start mode auto"},
		{"systemd suffix", deb, `{service: {name: ssh.service, running: true}}`, StatusPass, "service ssh: state running, start mode auto"},
		{"stopped as wanted", deb, `{service: {name: rsync, running: false, enabled: false}}`, StatusPass, "service rsync: state stopped, start mode disabled"},
		{"disabled but wanted", deb, `{service: {name: rsync, enabled: true}}`, StatusFail, "service rsync: state stopped, start mode disabled"},
		{"manual is not enabled", deb, `{service: {name: apt-daily, enabled: false}}`, StatusPass, "service apt-daily: state stopped, start mode manual"},
		{"running but unwanted", deb, `{service: {name: cron, running: false}}`, StatusFail, "service cron: state running, start mode auto"},
		{"unknown state is an error", deb, `{service: {name: mystery, running: true}}`, StatusError,
			`error: service mystery: state is "unknown", cannot tell whether it runs; service mystery: state unknown, start mode unknown`},
		{"missing service not running", deb, `{service: {name: telnetd, running: false}}`, StatusPass, "service telnetd not found, so neither running nor enabled"},
		{"missing service wanted", deb, `{service: {name: auditd, running: true}}`, StatusFail, "service auditd not found"},
		{"windows name any case", win, `{service: {name: windefend, running: true, enabled: true}}`, StatusPass, "service WinDefend: state running, start mode auto"},
		{"windows display name", win, `{service: {name: Telnet, running: false}}`, StatusPass, "service TlntSvr: state stopped, start mode disabled"},
	})
}

func TestPortLeaf(t *testing.T) {
	const deb, rhel = "debian12.json", "rhel9.json"
	runLeafCases(t, []leafCase{
		{"tcp on both families", deb, `{port: {listening: 22}}`, StatusPass,
			"listening: tcp 0.0.0.0:22 process sshd user root; tcp [::]:22 process sshd user root"},
		{"nothing there", deb, `{port: {listening: 23}}`, StatusFail, "nothing listens on tcp port 23"},
		{"udp", deb, `{port: {listening: 123, proto: udp}}`, StatusPass, "listening: udp 0.0.0.0:123 process chronyd user _chrony"},
		{"tcp is not udp", deb, `{port: {listening: 123}}`, StatusFail, "nothing listens on tcp port 123"},
		{"no ports section", rhel, `{port: {listening: 22}}`, StatusError,
			"error: ports: not available here: inventory has no ports section: known only to the live kernel, not from a root file system"},
	})
}

func TestExprLeaf(t *testing.T) {
	const deb, rhel, win = "debian12.json", "rhel9.json", "windows11.json"
	runLeafCases(t, []leafCase{
		{"platform", deb, `{expr: 'inventory.os.platform in ["debian", "ubuntu"]'}`, StatusPass, `inventory.os.platform in ["debian", "ubuntu"] => true`},
		{"ints stay ints", deb, `{expr: 'inventory.memory.total_bytes >= 8589934592'}`, StatusPass, "inventory.memory.total_bytes >= 8589934592 => true"},
		{"double against int", deb, `{expr: 'inventory.cpu.mhz > 2000'}`, StatusPass, "inventory.cpu.mhz > 2000 => true"},
		{"exists over packages", deb, `{expr: 'inventory.software.packages.exists(p, p.name == "bash" && p.source == "dpkg")'}`, StatusPass,
			`inventory.software.packages.exists(p, p.name == "bash" && p.source == "dpkg") => true`},
		{"all volumes encrypted", deb, `{expr: 'inventory.disks.volumes.all(v, has(v.encrypted) && v.encrypted)'}`, StatusFail,
			"inventory.disks.volumes.all(v, has(v.encrypted) && v.encrypted) => false"},
		{"admins", deb, `{expr: 'inventory.users.users.filter(u, u.admin && u.name != "root").size() <= 1'}`, StatusPass,
			`inventory.users.users.filter(u, u.admin && u.name != "root").size() <= 1 => true`},
		{"regex", win, `{expr: 'inventory.os.name.matches("(?i)windows 1[01]")'}`, StatusPass, `inventory.os.name.matches("(?i)windows 1[01]") => true`},
		{"hotfix present", win, `{expr: 'inventory.os.hotfixes.exists(h, h.id == "KB5040442")'}`, StatusPass, `inventory.os.hotfixes.exists(h, h.id == "KB5040442") => true`},
		{"missing section guarded", rhel, `{expr: '!has(inventory.ports)'}`, StatusPass, "!has(inventory.ports) => true"},
		{"missing section read", rhel, `{expr: 'inventory.ports.ports.size() == 0'}`, StatusError, "error: evaluate: no such key: ports"},
	})
}

func TestRegistryLeaf(t *testing.T) {
	const key = `HKLM\SOFTWARE\Policies\Microsoft\Windows\WindowsUpdate\AU`
	env := newFakeEnv(t, "windows11.json")
	env.registry = map[string]string{key: "", key + `\NoAutoUpdate`: "0", key + `\AUOptions`: "4"}
	cases := []struct {
		check  string
		want   Status
		detail string
	}{
		{`{key: '` + key + `'}`, StatusPass, key + " exists"},
		{`{key: 'HKLM\SOFTWARE\Nope'}`, StatusFail, `HKLM\SOFTWARE\Nope not found`},
		{`{key: '` + key + `', value: NoAutoUpdate}`, StatusPass, key + `\NoAutoUpdate = "0"`},
		{`{key: '` + key + `', value: NoAutoUpdate, equals: "0"}`, StatusPass, key + `\NoAutoUpdate = "0", want "0"`},
		{`{key: '` + key + `', value: AUOptions, equals: "3"}`, StatusFail, key + `\AUOptions = "4", want "3"`},
		{`{key: '` + key + `', value: AUOptions, matches: '^[34]$'}`, StatusPass, key + `\AUOptions = "4" matches ^[34]$`},
		{`{key: '` + key + `', value: AUOptions, matches: '^[12]$'}`, StatusFail, key + `\AUOptions = "4" does not match ^[12]$`},
		{`{key: '` + key + `', value: Missing, equals: "1"}`, StatusFail, key + `\Missing not found`},
	}
	for _, c := range cases {
		t.Run(c.check, func(t *testing.T) {
			r := Evaluate(context.Background(), onePolicy(t, "{registry: "+c.check+"}"), env)
			if r.Status != c.want || len(r.Evidence) != 1 || r.Evidence[0].Detail != c.detail {
				t.Errorf("status %s, evidence:\n%swant %s, %q", r.Status, evidenceText(r.Evidence), c.want, c.detail)
			}
		})
	}
}

func TestCommandLeaf(t *testing.T) {
	env := newFakeEnv(t, "debian12.json")
	env.run = func(ctx context.Context, argv []string, limit int) (CommandResult, error) {
		if limit != MaxCommandOutput {
			return CommandResult{}, errors.New("wrong limit")
		}
		switch argv[0] {
		case "sshd":
			return CommandResult{ExitCode: 0, Output: []byte("port 22\npermitrootlogin no\n")}, nil
		case "false":
			return CommandResult{ExitCode: 1}, nil
		case "flood":
			return CommandResult{ExitCode: -1, Output: []byte(strings.Repeat("y\n", 300))}, ErrOutputLimit
		case "hang":
			<-ctx.Done()
			return CommandResult{ExitCode: -1, Output: []byte("started\n")}, ctx.Err()
		}
		return CommandResult{}, errors.New(`exec: "` + argv[0] + `": executable file not found in $PATH`)
	}
	cases := []struct {
		check  string
		want   Status
		detail string
	}{
		{`{run: [sshd, -T], output_matches: '(?m)^permitrootlogin no$'}`, StatusPass,
			`exit code 0 (want 0); output line 2: "permitrootlogin no" matches; output "port 22\npermitrootlogin no\n"`},
		{`{run: [sshd, -T], output_matches: 'permitrootlogin yes'}`, StatusFail,
			`exit code 0 (want 0); output does not match permitrootlogin yes; output "port 22\npermitrootlogin no\n"`},
		{`{run: ["false"]}`, StatusFail, `exit code 1 (want 0); output ""`},
		{`{run: ["false"], exit_code: 1}`, StatusPass, `exit code 1 (want 1); output ""`},
		{`{run: [flood]}`, StatusError, `error: command "flood" printed more than 65536 bytes and was killed; output "` +
			strings.Repeat(`y\n`, 93) + `…[truncated]"`},
		{`{run: [hang], timeout: 50ms}`, StatusError, `error: command "hang" timed out after 50ms and was killed; output "started\n"`},
		{`{run: [nosuch]}`, StatusError, `error: command "nosuch": exec: "nosuch": executable file not found in $PATH`},
	}
	for _, c := range cases {
		t.Run(c.check, func(t *testing.T) {
			r := Evaluate(context.Background(), onePolicy(t, "{command: "+c.check+"}"), env)
			if r.Status != c.want || len(r.Evidence) != 1 || r.Evidence[0].Detail != c.detail {
				t.Errorf("status %s, evidence:\n%swant %s, %q", r.Status, evidenceText(r.Evidence), c.want, c.detail)
			}
		})
	}
	t.Run("refused", func(t *testing.T) {
		env.run = nil
		r := Evaluate(context.Background(), onePolicy(t, `{command: {run: [id]}}`), env)
		want := `check.command: command "id" refused: commands are disabled: the agent's local config does not set allow_commands: true`
		if r.Status != StatusError || r.Error != want {
			t.Errorf("status %s, error %q", r.Status, r.Error)
		}
	})
}

func TestInventoryEnv(t *testing.T) {
	doc := loadDoc(t, "debian12.json")
	env := InventoryEnv(doc, "")
	ctx := context.Background()
	if env.Platform() != "linux" || InventoryEnv(loadDoc(t, "windows11.json"), "").Platform() != "windows" ||
		InventoryEnv(loadDoc(t, "darwin14.json"), "").Platform() != "darwin" || InventoryEnv(doc, "darwin").Platform() != "darwin" {
		t.Error("platform")
	}
	if _, err := env.Glob(ctx, "/etc/*"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Glob: %v", err)
	}
	if _, err := env.Registry(ctx, `HKLM\X`, ""); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Registry: %v", err)
	}
	if _, err := env.Run(ctx, []string{"id"}, 10); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Run: %v", err)
	}
	r := Evaluate(ctx, onePolicy(t, `{file: {path: /etc/passwd, exists: true}}`), env)
	if r.Status != StatusError || r.Error != "check.file: glob /etc/passwd: not available here: files are not part of stored inventory; only the agent can check them" {
		t.Errorf("file leaf on stored inventory: %s %q", r.Status, r.Error)
	}
	// A section that does not decode is an error, not an empty list.
	bad := inventory.Document{Sections: map[string]json.RawMessage{inventory.SectionSoftware: json.RawMessage(`{"packages": 7}`)}}
	if _, err := InventoryEnv(bad, "linux").Packages(ctx); err == nil || !strings.HasPrefix(err.Error(), "decode software section:") {
		t.Errorf("Packages on a bad section: %v", err)
	}
}
