// File modes and owners, which the Linux fixtures are about, mean nothing
// on Windows, so the fixture tests run on Unix only.

//go:build !windows

package baselinetest

import (
	"context"
	"slices"
	"testing"

	"github.com/steward-project/steward/shared/policy"
	"github.com/steward-project/steward/shared/policy/baseline"
)

// Linux policies, grouped as in the pack's files, to keep the table short.
var (
	sshPolicies = []string{
		"ssh-no-root-login", "ssh-no-password-auth", "ssh-max-auth-tries",
		"ssh-no-x11-forwarding", "ssh-strong-ciphers", "ssh-no-empty-passwords",
	}
	sudoPolicies = []string{"linux-sudoers-perms", "linux-sudo-use-pty", "linux-sudo-logfile"}
)

// expected is what each fixture system must give for every policy of its
// platform; policies for other platforms must be not_applicable. The
// hardened systems pass everything and the weak ones fail everything, so
// every policy is seen both passing and failing; the third system of a
// platform takes the other branches (firewalld, dnf-automatic, Windows
// Server builds, a third-party EDR, Remote Desktop off).
var expected = []struct {
	fixture            string
	pass, fail, notApp []string
}{
	{
		fixture: "debian12-hardened",
		pass: concat(sshPolicies, sudoPolicies, []string{
			"linux-firewall-enabled", "linux-no-telnet-server", "linux-no-ftp-server",
			"linux-no-rsh-server", "linux-no-tftp-server", "linux-time-sync",
			"linux-auto-updates", "linux-antimalware-present",
			"linux-passwd-group-perms", "linux-shadow-perms", "linux-crontab-perms",
			"linux-password-max-age", "linux-password-min-length",
			"linux-only-root-has-uid-0", "linux-no-empty-passwords",
			"linux-core-dumps-restricted", "linux-ip-forwarding-off", "linux-aslr-enabled",
			"linux-root-volume-encrypted", "linux-supported-release", "disk-space-free",
		}),
	},
	{
		fixture: "ubuntu1804-weak",
		fail: concat(sshPolicies, sudoPolicies, []string{
			"linux-firewall-enabled", "linux-no-telnet-server", "linux-no-ftp-server",
			"linux-no-rsh-server", "linux-no-tftp-server", "linux-time-sync",
			"linux-auto-updates", "linux-antimalware-present",
			"linux-passwd-group-perms", "linux-shadow-perms", "linux-crontab-perms",
			"linux-password-max-age", "linux-password-min-length",
			"linux-only-root-has-uid-0", "linux-no-empty-passwords",
			"linux-core-dumps-restricted", "linux-ip-forwarding-off", "linux-aslr-enabled",
			"linux-root-volume-encrypted", "linux-supported-release", "disk-space-free",
		}),
	},
	{
		// No OpenSSH, sudo or crontab: those policies do not apply.
		fixture: "rhel9-minimal",
		pass: []string{
			"linux-firewall-enabled", "linux-no-telnet-server", "linux-no-ftp-server",
			"linux-no-rsh-server", "linux-no-tftp-server", "linux-time-sync",
			"linux-auto-updates",
			"linux-passwd-group-perms", "linux-shadow-perms",
			"linux-password-max-age", "linux-password-min-length",
			"linux-only-root-has-uid-0", "linux-no-empty-passwords",
			"linux-core-dumps-restricted", "linux-ip-forwarding-off", "linux-aslr-enabled",
			"linux-root-volume-encrypted", "linux-supported-release", "disk-space-free",
		},
		fail:   []string{"linux-antimalware-present"},
		notApp: concat(sshPolicies, sudoPolicies, []string{"linux-crontab-perms"}),
	},
	{
		fixture: "win11-hardened",
		pass: []string{
			"win-firewall-enabled", "win-bitlocker-system-drive", "win-auto-updates",
			"win-screen-lock-timeout", "win-smb1-server-disabled", "win-smb1-client-disabled",
			"win-guest-disabled", "win-antimalware-running", "win-supported-version",
			"win-uac-enabled", "win-rdp-requires-nla", "win-no-legacy-servers",
			"win-autorun-disabled", "win-ntlmv2-only", "win-no-lm-hash", "disk-space-free",
		},
	},
	{
		fixture: "win10-weak",
		fail: []string{
			"win-firewall-enabled", "win-bitlocker-system-drive", "win-auto-updates",
			"win-screen-lock-timeout", "win-smb1-server-disabled", "win-smb1-client-disabled",
			"win-guest-disabled", "win-antimalware-running", "win-supported-version",
			"win-uac-enabled", "win-rdp-requires-nla", "win-no-legacy-servers",
			"win-autorun-disabled", "win-ntlmv2-only", "win-no-lm-hash", "disk-space-free",
		},
	},
	{
		// Build 17763 passes as a server; the registry holds only the
		// firewall and Remote Desktop keys, so most settings fail as unset.
		fixture: "winserver2019",
		pass: []string{
			"win-firewall-enabled", "win-auto-updates", "win-smb1-client-disabled",
			"win-guest-disabled", "win-antimalware-running", "win-supported-version",
			"win-no-legacy-servers", "disk-space-free",
		},
		fail: []string{
			"win-bitlocker-system-drive", "win-screen-lock-timeout", "win-smb1-server-disabled",
			"win-uac-enabled", "win-autorun-disabled", "win-ntlmv2-only", "win-no-lm-hash",
		},
		notApp: []string{"win-rdp-requires-nla"},
	},
	{
		fixture: "macos14-hardened",
		pass: concat(sshPolicies, []string{
			"macos-filevault-enabled", "macos-sip-enabled", "macos-supported-version",
			"macos-remote-login-off", "macos-screen-sharing-off", "macos-file-sharing-off",
			"macos-remote-apple-events-off", "macos-guest-disabled", "macos-auto-login-off",
			"macos-admin-count", "macos-no-legacy-servers", "disk-space-free",
			"macos-firewall-enabled", "macos-auto-updates", "macos-screen-lock",
		}),
	},
	{
		fixture: "macos12-weak",
		fail: concat(sshPolicies, []string{
			"macos-filevault-enabled", "macos-sip-enabled", "macos-supported-version",
			"macos-remote-login-off", "macos-screen-sharing-off", "macos-file-sharing-off",
			"macos-remote-apple-events-off", "macos-guest-disabled", "macos-auto-login-off",
			"macos-admin-count", "macos-no-legacy-servers", "disk-space-free",
			"macos-firewall-enabled", "macos-auto-updates", "macos-screen-lock",
		}),
	},
	{
		// Preferences in binary plists, as macOS writes them: the plist
		// policies cannot read them and must not apply; no sshd_config.
		fixture: "macos15-binary-plists",
		pass: []string{
			"macos-filevault-enabled", "macos-sip-enabled", "macos-supported-version",
			"macos-remote-login-off", "macos-screen-sharing-off", "macos-file-sharing-off",
			"macos-remote-apple-events-off", "macos-guest-disabled", "macos-auto-login-off",
			"macos-admin-count", "macos-no-legacy-servers", "disk-space-free",
		},
		notApp: concat(sshPolicies, []string{"macos-firewall-enabled", "macos-auto-updates", "macos-screen-lock"}),
	},
}

// row is one line of the table: a policy on a fixture and its status.
type row struct {
	fixture, policy string
	want            policy.Status
}

func rows() []row {
	var out []row
	for _, e := range expected {
		for _, g := range []struct {
			ids  []string
			want policy.Status
		}{{e.pass, policy.StatusPass}, {e.fail, policy.StatusFail}, {e.notApp, policy.StatusNotApplicable}} {
			for _, id := range g.ids {
				out = append(out, row{e.fixture, id, g.want})
			}
		}
	}
	return out
}

func concat(lists ...[]string) []string {
	var out []string
	for _, l := range lists {
		out = append(out, l...)
	}
	return out
}

func loadPack(t *testing.T) map[string]policy.Policy {
	t.Helper()
	ps, err := baseline.Policies()
	if err != nil {
		t.Fatalf("baseline pack: %v", err)
	}
	m := make(map[string]policy.Policy, len(ps))
	for _, p := range ps {
		m[p.ID] = p
	}
	return m
}

// TestFixtures evaluates the whole pack on every fixture system with the
// real evaluator and the agent's Env, and compares each result with the
// table. Policies of other platforms must be not_applicable.
func TestFixtures(t *testing.T) {
	pack := loadPack(t)
	ctx := context.Background()
	for _, e := range expected {
		t.Run(e.fixture, func(t *testing.T) {
			env := loadFixture(t, e.fixture)
			want := map[string]policy.Status{}
			for _, r := range rows() {
				if r.fixture == e.fixture {
					want[r.policy] = r.want
				}
			}
			for _, id := range sortedKeys(pack) {
				p := pack[id]
				t.Run(id, func(t *testing.T) {
					res := policy.Evaluate(ctx, p, env)
					w, listed := want[id]
					if !listed {
						if slices.Contains(p.Platforms, env.Platform()) {
							t.Fatalf("policy %s (platforms %v) has no expected status for %s in the table", id, p.Platforms, e.fixture)
						}
						w = policy.StatusNotApplicable
					}
					if res.Status != w {
						t.Errorf("status %s, want %s\n%s", res.Status, w, describe(res))
					}
					checkExplained(t, res)
				})
			}
		})
	}
}

// TestTableCoversPack: every policy is seen both passing and failing, and
// the table names only policies that exist.
func TestTableCoversPack(t *testing.T) {
	pack := loadPack(t)
	seen := map[string]map[policy.Status]int{}
	for _, r := range rows() {
		if _, ok := pack[r.policy]; !ok {
			t.Errorf("table names unknown policy %s (fixture %s)", r.policy, r.fixture)
		}
		if seen[r.policy] == nil {
			seen[r.policy] = map[policy.Status]int{}
		}
		seen[r.policy][r.want]++
	}
	for _, id := range sortedKeys(pack) {
		if seen[id][policy.StatusPass] == 0 || seen[id][policy.StatusFail] == 0 {
			t.Errorf("policy %s: %d passing and %d failing fixture cases, want at least one of each",
				id, seen[id][policy.StatusPass], seen[id][policy.StatusFail])
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
