package check

import (
	"bufio"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/policy"
)

// fileDetail evaluates one file leaf on the live machine with the given
// evidence_content and returns its evidence detail.
func fileDetail(t *testing.T, allow []string, check string) (policy.Status, string) {
	t.Helper()
	env := NewEnv(context.Background(), Config{EvidenceContent: allow}, inventory.Document{})
	r := evaluate(t, env, "{file: "+check+"}")
	if len(r.Evidence) != 1 {
		t.Fatalf("evidence %+v (error %q)", r.Evidence, r.Error)
	}
	return r.Status, r.Evidence[0].Detail
}

// A file's lines are quoted only when its path is allowlisted locally; by
// default evidence says which line matched, never what it holds.
func TestEvidenceContentFile(t *testing.T) {
	dir := t.TempDir()
	shadow := filepath.Join(dir, "shadow")
	const secretLine = "root:$6$s4lt$h4sh:19000:0:99999:7:::"
	if err := os.WriteFile(shadow, []byte("daemon:*:19000::::::\n"+secretLine+"\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	check := `{path: ` + shadow + `, not_matches: '(?m)^root:.*$'}`
	cases := []struct {
		name  string
		allow []string
		quote bool
	}{
		{"default", nil, false},
		{"another path allowlisted", []string{filepath.Join(dir, "other")}, false},
		{"path allowlisted", []string{shadow}, true},
		{"glob allowlisted", []string{filepath.Join(dir, "*")}, true},
		{"directory tree allowlisted", []string{filepath.Dir(dir) + "/**"}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			status, detail := fileDetail(t, c.allow, check)
			if status != policy.StatusFail || !strings.Contains(detail, shadow+":2:") && !strings.Contains(detail, shadow+" line 2 ") {
				t.Fatalf("status %s, detail %q: want a fail naming line 2", status, detail)
			}
			if quoted := strings.Contains(detail, "$6$s4lt$h4sh"); quoted != c.quote {
				t.Errorf("content quoted = %t, want %t: %q", quoted, c.quote, detail)
			}
		})
	}
}

// The real /etc/shadow: no content by default, nor through a wildcard
// entry; an entry naming it exactly quotes it.
func TestEvidenceContentRealShadow(t *testing.T) {
	f, err := os.Open("/etc/shadow")
	if err != nil {
		t.Fatalf("this test reads the real /etc/shadow and needs root: %v", err)
	}
	var rootLine string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "root:") {
			rootLine = sc.Text()
			break
		}
	}
	f.Close()
	if rootLine == "" {
		t.Fatal("/etc/shadow has no root: line to match")
	}
	check := `{path: /etc/shadow, not_matches: '(?m)^root:.*$'}`
	for _, c := range []struct {
		name  string
		allow []string
		quote bool
	}{
		{"default", nil, false},
		{"wildcard does not reach it", []string{"/etc/*", "/**", "/etc/**"}, false},
		{"named exactly", []string{"/etc/shadow"}, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			status, detail := fileDetail(t, c.allow, check)
			if status != policy.StatusFail {
				t.Fatalf("status %s, detail %q", status, detail)
			}
			quoted := strings.Contains(detail, strconv.Quote(rootLine))
			beforeRegex, _, _ := strings.Cut(detail, " not_matches ")
			if quoted != c.quote || !c.quote && strings.Contains(beforeRegex, "root:") {
				t.Errorf("content quoted = %t, want %t: %q", quoted, c.quote, detail)
			}
			if !c.quote && !strings.HasPrefix(detail, "/etc/shadow line ") {
				t.Errorf("detail %q does not name the line", detail)
			}
		})
	}
}

// Process command lines and environments, and private keys, are never
// quoted, even when an entry covers them; a symbolic link does not carry
// an allowlisted path's permission to its target.
func TestEvidenceContentNever(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "id_ed25519")
	if err := os.WriteFile(key, []byte("# deploy key\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hidden := filepath.Join(t.TempDir(), "hidden.conf")
	if err := os.WriteFile(hidden, []byte("token=abc123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.conf")
	if err := os.Symlink(hidden, link); err != nil {
		t.Fatal(err)
	}
	pid := strconv.Itoa(os.Getpid())
	everything := []string{"/**", "/proc/**", "/proc/*/*", dir + "/*"}
	cases := []struct {
		name, check, secret string
	}{
		{"own environ via self", `{path: /proc/self/environ, matches: 'PATH='}`, "PATH="},
		{"own cmdline by pid", `{path: /proc/` + pid + `/cmdline, matches: 'test'}`, "test"},
		{"cmdline of every process", `{path: "/proc/[0-9]*/cmdline", matches: '.'}`, ""},
		{"through a process's root", `{path: /proc/self/root` + hidden + `, matches: 'token'}`, "abc123"},
		{"private key", `{path: ` + key + `, matches: 'deploy'}`, "deploy key"},
		{"link to a file not allowlisted", `{path: ` + link + `, matches: 'token'}`, "abc123"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			allow := everything
			if c.name == "link to a file not allowlisted" {
				allow = []string{dir + "/*"}
			}
			status, detail := fileDetail(t, allow, c.check)
			if status != policy.StatusPass || !strings.Contains(detail, " line ") || strings.Contains(detail, `"`) ||
				c.secret != "" && strings.Contains(detail, c.secret) {
				t.Errorf("status %s, detail %q: want a pass naming the line without content", status, detail)
			}
		})
	}
	// The link's target, allowlisted itself, is quoted through the link.
	status, detail := fileDetail(t, []string{hidden}, `{path: `+link+`, matches: 'token'}`)
	if status != policy.StatusPass || !strings.Contains(detail, `"token=abc123"`) {
		t.Errorf("allowlisted target: status %s, detail %q", status, detail)
	}
}

// SSH host keys are never quoted, under a root too, even without a PEM
// marker in them.
func TestEvidenceContentHostKeysUnderRoot(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc", "ssh"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{"ssh_host_ed25519_key": "raw key bytes\n", "ssh_host_ed25519_key.pub": "ssh-ed25519 AAAA host\n"} {
		if err := os.WriteFile(filepath.Join(root, "etc", "ssh", name), []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := NewEnv(context.Background(), Config{Root: root, EvidenceContent: []string{"/**"}}, inventory.Document{})
	r := evaluate(t, env, `{file: {path: /etc/ssh/ssh_host_ed25519_key, matches: 'raw'}}`)
	if r.Status != policy.StatusPass || len(r.Evidence) != 1 || r.Evidence[0].Detail != "/etc/ssh/ssh_host_ed25519_key line 1 matches" {
		t.Errorf("host key: %s %+v", r.Status, r.Evidence)
	}
	r = evaluate(t, env, `{file: {path: /etc/ssh/ssh_host_ed25519_key.pub, matches: 'ssh-ed25519'}}`)
	if r.Status != policy.StatusPass || len(r.Evidence) != 1 || r.Evidence[0].Detail != `/etc/ssh/ssh_host_ed25519_key.pub:1: "ssh-ed25519 AAAA host" matches` {
		t.Errorf("public host key: %s %+v", r.Status, r.Evidence)
	}
}

// Command output is quoted (commands are a local opt-in already) unless
// it holds a private key.
func TestEvidenceContentCommand(t *testing.T) {
	env := commandEnv(t, true)
	r := evaluate(t, env, `{command: {run: [sh, -c, "echo ok"], output_matches: ok}}`)
	if len(r.Evidence) != 1 || r.Evidence[0].Detail != `exit code 0 (want 0); output line 1: "ok" matches; output "ok\n"` {
		t.Errorf("plain output: %+v", r.Evidence)
	}
	r = evaluate(t, env, `{command: {run: [sh, -c, "echo '-----BEGIN EC PRIVATE KEY-----'; echo MHcCAQEE"], output_matches: MHc}}`)
	if len(r.Evidence) != 1 || r.Evidence[0].Detail != `exit code 0 (want 0); output line 2 matches; output not quoted (40 bytes)` {
		t.Errorf("key in output: %+v", r.Evidence)
	}
}

func TestMatchAny(t *testing.T) {
	cases := []struct {
		patterns []string
		name     string
		exact    bool
		want     bool
	}{
		{[]string{"/etc/ssh/sshd_config"}, "/etc/ssh/sshd_config", false, true},
		{[]string{"/etc/ssh/*"}, "/etc/ssh/sshd_config.d/a.conf", false, false},
		{[]string{"/etc/ssh/**"}, "/etc/ssh/sshd_config.d/a.conf", false, true},
		{[]string{"/etc/ssh/**"}, "/etc/ssh", false, false},
		{[]string{"/etc/ssh/**"}, "/etc/sshd", false, false},
		{[]string{"/etc/*/**"}, "/etc/ssh/sshd_config", false, true},
		{[]string{"/**"}, "/anything/at/all", false, true},
		{[]string{"/etc/*"}, "/etc/shadow", true, false},
		{[]string{"/etc/shadow"}, "/etc/shadow", true, true},
		{[]string{"/etc/[s]hadow"}, "/etc/shadow", true, false},
		{nil, "/etc/hostname", false, false},
	}
	for _, c := range cases {
		if got := matchAny(cleanPatterns(c.patterns), c.name, c.exact); got != c.want {
			t.Errorf("matchAny(%q, %q, exact %t) = %t, want %t", c.patterns, c.name, c.exact, got, c.want)
		}
	}
}
