//go:build linux

package packtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/steward-project/steward/agent/internal/check"
	"github.com/steward-project/steward/agent/internal/collect"
	"github.com/steward-project/steward/shared/policy"
)

// A fixtures file maps policy ids to the systems they are tested on:
//
//	some-policy-id:
//	  pass:                       # a system on which the policy must pass
//	    files:
//	      /etc/login.defs: "PASS_MAX_DAYS 365\n"          # content, mode 0644, root:root
//	      /etc/shadow: {content: "...", mode: "0640", group: shadow}
//	      /etc/systemd/system/x.service: {link: /dev/null} # a symbolic link
//	      /var/log/journal: {dir: true, mode: "2755"}
//	      /etc/motd: {absent: true}                          # remove a base file
//	    packages: [nftables, "openssh-server=1:9.2p1-2+deb12u3"]
//	  fail:                       # a system on which it must fail
//	    files: {...}
//	  cases:                      # optional further systems with their outcome
//	    - {name: over-mount, expect: fail, files: {...}}
//
// Every system starts from the base below (accounts, os-release, a dpkg
// database) unless it says `base: false`. Files are owned by root unless
// they name an owner or group from the base's /etc/passwd and /etc/group.
type fixture struct {
	Base     *bool             `yaml:"base"`
	Files    map[string]fileAt `yaml:"files"`
	Packages []string          `yaml:"packages"`
	// Tailoring, when set, is a parameter override applied before
	// evaluation: name -> value.
	Parameters map[string]string `yaml:"parameters"`
}

type namedFixture struct {
	fixture `yaml:",inline"`
	Name    string `yaml:"name"`
	Expect  string `yaml:"expect"`
}

type policyFixtures struct {
	Pass  *fixture       `yaml:"pass"`
	Fail  *fixture       `yaml:"fail"`
	Cases []namedFixture `yaml:"cases"`
}

// fileAt is one path of a fixture: plain content, or a mapping.
type fileAt struct {
	Content string `yaml:"content"`
	Mode    string `yaml:"mode"`
	Owner   string `yaml:"owner"`
	Group   string `yaml:"group"`
	Link    string `yaml:"link"`
	Dir     bool   `yaml:"dir"`
	Absent  bool   `yaml:"absent"`
}

func (f *fileAt) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		f.Content = n.Value
		return nil
	}
	type plain fileAt
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*f = fileAt(p)
	return nil
}

// baseFiles is what every fixture system has unless it opts out: the
// accounts a Debian 12 server has after installation (uids and gids as
// Debian's base-passwd assigns them), its os-release and an empty dpkg
// database. The packages a fixture lists are added to the database.
var baseFiles = map[string]fileAt{
	"/etc/passwd": {Content: strings.Join([]string{
		"root:x:0:0:root:/root:/bin/bash",
		"daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin",
		"bin:x:2:2:bin:/bin:/usr/sbin/nologin",
		"sys:x:3:3:sys:/dev:/usr/sbin/nologin",
		"sync:x:4:65534:sync:/bin:/bin/sync",
		"man:x:6:12:man:/var/cache/man:/usr/sbin/nologin",
		"mail:x:8:8:mail:/var/mail:/usr/sbin/nologin",
		"www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin",
		"nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin",
		"_apt:x:42:65534::/nonexistent:/usr/sbin/nologin",
		"systemd-network:x:998:998:systemd Network Management:/:/usr/sbin/nologin",
		"sshd:x:100:65534::/run/sshd:/usr/sbin/nologin",
		"_chrony:x:101:102:Chrony daemon,,,:/var/lib/chrony:/usr/sbin/nologin",
		"alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash",
	}, "\n") + "\n"},
	"/etc/group": {Content: strings.Join([]string{
		"root:x:0:", "daemon:x:1:", "bin:x:2:", "sys:x:3:", "adm:x:4:", "tty:x:5:",
		"disk:x:6:", "mail:x:8:", "man:x:12:", "sudo:x:27:alice", "www-data:x:33:",
		"shadow:x:42:", "utmp:x:43:", "staff:x:50:", "users:x:100:", "systemd-journal:x:999:",
		"systemd-network:x:998:", "_chrony:x:102:", "crontab:x:101:", "nogroup:x:65534:", "alice:x:1000:",
	}, "\n") + "\n"},
	"/etc/os-release":      {Content: "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n"},
	"/home/alice":          {Dir: true, Mode: "0750", Owner: "alice", Group: "alice"},
	"/root":                {Dir: true, Mode: "0700"},
	"/var/lib/dpkg/status": {Content: ""},
}

// build writes fx under a new temporary root and returns it.
func build(t *testing.T, fx fixture) string {
	t.Helper()
	root := t.TempDir()
	files := map[string]fileAt{}
	if fx.Base == nil || *fx.Base {
		for p, f := range baseFiles {
			files[p] = f
		}
	}
	for p, f := range fx.Files {
		files[p] = f
	}
	if len(fx.Packages) > 0 {
		var status bytes.Buffer
		status.WriteString(files["/var/lib/dpkg/status"].Content)
		for _, p := range fx.Packages {
			name, version, ok := strings.Cut(p, "=")
			if !ok {
				version = "1.0-1"
			}
			fmt.Fprintf(&status, "Package: %s\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\nVersion: %s\nDescription: fixture package\n\n", name, version)
		}
		files["/var/lib/dpkg/status"] = fileAt{Content: status.String()}
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths) // parents before children
	users, groups := ids(files["/etc/passwd"].Content), ids(files["/etc/group"].Content)
	for _, p := range paths {
		f := files[p]
		if !strings.HasPrefix(p, "/") {
			t.Fatalf("fixture path %q is not absolute", p)
		}
		host := filepath.Join(root, p)
		if f.Absent {
			if err := os.RemoveAll(host); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(host), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := fs.FileMode(0o644)
		switch {
		case f.Link != "":
			if err := os.Symlink(f.Link, host); err != nil {
				t.Fatal(err)
			}
			continue
		case f.Dir:
			mode = 0o755
			if err := os.MkdirAll(host, mode); err != nil {
				t.Fatal(err)
			}
		default:
			if err := os.WriteFile(host, []byte(f.Content), mode); err != nil {
				t.Fatal(err)
			}
		}
		if f.Mode != "" {
			m, err := strconv.ParseUint(f.Mode, 8, 32)
			if err != nil {
				t.Fatalf("fixture %s: mode %q is not octal", p, f.Mode)
			}
			mode = fs.FileMode(m & 0o777)
			if m&0o4000 != 0 {
				mode |= fs.ModeSetuid
			}
			if m&0o2000 != 0 {
				mode |= fs.ModeSetgid
			}
			if m&0o1000 != 0 {
				mode |= fs.ModeSticky
			}
		}
		uid, gid := 0, 0
		if f.Owner != "" {
			uid = lookup(t, users, f.Owner, p)
		}
		if f.Group != "" {
			gid = lookup(t, groups, f.Group, p)
		}
		if err := os.Lchown(host, uid, gid); err != nil {
			t.Fatalf("fixture %s: chown needs root: %v", p, err)
		}
		// After chown, which clears the set-id bits.
		if err := os.Chmod(host, mode); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// ids maps names to numeric ids in passwd or group text.
func ids(text string) map[string]int {
	out := map[string]int{}
	for _, line := range strings.Split(text, "\n") {
		f := strings.Split(line, ":")
		if len(f) < 3 {
			continue
		}
		if n, err := strconv.Atoi(f[2]); err == nil {
			out[f[0]] = n
		}
	}
	return out
}

func lookup(t *testing.T, m map[string]int, name, path string) int {
	t.Helper()
	if n, err := strconv.Atoi(name); err == nil {
		return n
	}
	n, ok := m[name]
	if !ok {
		t.Fatalf("fixture %s: %q is not in the fixture's accounts", path, name)
	}
	return n
}

// evaluate builds fx and evaluates p on it as `steward-agent check --root`
// does: the inventory collected from the root, then the agent's Env. With
// server set, p is evaluated as the server evaluates expression-only
// policies: against that inventory alone (policy.InventoryEnv).
func evaluate(t *testing.T, p policy.Policy, fx fixture, server bool) policy.Result {
	t.Helper()
	root := build(t, fx)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	doc := collect.Collect(ctx, collect.Config{Root: root})
	if server {
		return policy.Evaluate(ctx, p, policy.InventoryEnv(doc, ""))
	}
	env := check.NewEnv(ctx, check.Config{Root: root}, doc)
	return policy.Evaluate(ctx, p, env)
}

// loadFixtures reads every *.fixtures.yaml in dir, refusing unknown keys
// and a policy given twice.
func loadFixtures(t *testing.T, dir string) map[string]policyFixtures {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.fixtures.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatalf("no *.fixtures.yaml in %s", dir)
	}
	out := map[string]policyFixtures{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(data))
		dec.KnownFields(true)
		var m map[string]policyFixtures
		if err := dec.Decode(&m); err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		for id, f := range m {
			if _, dup := out[id]; dup {
				t.Fatalf("%s: fixtures for %s are given twice", p, id)
			}
			out[id] = f
		}
	}
	return out
}

// runPack checks that every policy in packDir has a pass and a fail
// fixture in fixturesDir, that no fixture names a policy the pack lacks,
// and that each policy gives its expected status on each fixture.
func runPack(t *testing.T, packDir, fixturesDir string) {
	policies, err := policy.Load([]string{packDir})
	if err != nil {
		t.Fatalf("pack %s: %v", packDir, err)
	}
	if len(policies) == 0 {
		t.Fatalf("pack %s holds no policies", packDir)
	}
	fixtures := loadFixtures(t, fixturesDir)
	byID := map[string]policy.Policy{}
	for _, p := range policies {
		byID[p.ID] = p
	}
	for id := range fixtures {
		if _, ok := byID[id]; !ok {
			t.Errorf("fixtures name %s, which the pack does not hold", id)
		}
	}
	offline := loadServerSideDifferences(t, fixturesDir)
	for id := range offline {
		if _, ok := byID[id]; !ok {
			t.Errorf("%s names %s, which the pack does not hold", serverSideDifferences, id)
		}
	}
	ids := make([]string, 0, len(byID))
	for id := range byID {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		p := byID[id]
		f, ok := fixtures[id]
		base, isCounterpart := counterpartOf(p, byID)
		if !ok && isCounterpart {
			// A server-side counterpart is held to its machine policy's
			// fixtures: the inventory collected from each fixture root
			// must give the same verdict, or the recorded one.
			f, ok = fixtures[base], true
		}
		if !ok || f.Pass == nil || f.Fail == nil {
			t.Errorf("%s: needs a pass and a fail fixture", id)
			continue
		}
		cases := []namedFixture{{fixture: *f.Pass, Name: "pass", Expect: "pass"}, {fixture: *f.Fail, Name: "fail", Expect: "fail"}}
		cases = append(cases, f.Cases...)
		if isCounterpart {
			if cases = counterpartCases(cases, offline[id].Offline); len(cases) == 0 {
				t.Errorf("%s: none of %s's fixtures can test it (all stage a running kernel or set parameters)", id, base)
				continue
			}
		}
		t.Run(id, func(t *testing.T) {
			t.Parallel()
			for _, c := range cases {
				if c.Expect == "" {
					t.Errorf("case %q: expect is required", c.Name)
					continue
				}
				p := p
				if len(c.Parameters) > 0 {
					p = withParameters(t, p, c.Parameters)
				}
				res := evaluate(t, p, c.fixture, isCounterpart)
				if string(res.Status) != c.Expect {
					t.Errorf("case %s: status %s, want %s; error %q; evidence:\n%s", c.Name, res.Status, c.Expect, res.Error, evidenceText(res))
				}
			}
		})
	}
}

// serverSideCounterpartSuffix ends the id of an expression-only policy
// that judges a machine policy's rule from stored inventory.
const serverSideCounterpartSuffix = "-inventory"

// serverSideDifferences, in a pack's fixtures directory, lists the
// server-side counterparts whose verdict on an offline root (a fixture, an
// image) is not the machine policy's, with the reason.
const serverSideDifferences = "server-side-differences.yaml"

// offlineDifference is one entry of serverSideDifferences.
type offlineDifference struct {
	// Offline is the counterpart's status on every offline root.
	Offline string `yaml:"offline"`
	Reason  string `yaml:"reason"`
}

func loadServerSideDifferences(t *testing.T, dir string) map[string]offlineDifference {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, serverSideDifferences))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]offlineDifference
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("%s: %v", serverSideDifferences, err)
	}
	for id, d := range out {
		if d.Offline == "" || strings.TrimSpace(d.Reason) == "" {
			t.Errorf("%s: %s needs both offline and reason", serverSideDifferences, id)
		}
	}
	return out
}

// counterpartOf returns the machine policy p is the server-side
// counterpart of: p is expression-only and its id is that policy's id
// followed by serverSideCounterpartSuffix.
func counterpartOf(p policy.Policy, byID map[string]policy.Policy) (string, bool) {
	base, ok := strings.CutSuffix(p.ID, serverSideCounterpartSuffix)
	if !ok || !policy.ExprOnly(p) {
		return "", false
	}
	_, found := byID[base]
	return base, found
}

// counterpartCases are the machine policy's cases a server-side
// counterpart runs, each expecting status when one is recorded for
// offline roots. Left out: cases with parameters (expressions take none)
// and cases that stage a running kernel with files under /proc, which
// the machine leaves read under --root but the inventory collector never
// does (any root other than / is an offline one to it).
func counterpartCases(cases []namedFixture, status string) []namedFixture {
	var out []namedFixture
	for _, c := range cases {
		if len(c.Parameters) > 0 || stagesKernel(c.fixture) {
			continue
		}
		if status != "" {
			c.Expect = status
		}
		out = append(out, c)
	}
	return out
}

// stagesKernel reports whether fx writes files under /proc.
func stagesKernel(fx fixture) bool {
	for p := range fx.Files {
		if strings.HasPrefix(p, "/proc/") {
			return true
		}
	}
	return false
}

func evidenceText(r policy.Result) string {
	var b strings.Builder
	for _, e := range r.Evidence {
		fmt.Fprintf(&b, "  %s passed=%v %s\n", e.Check, e.Passed, e.Detail)
	}
	return b.String()
}

// withParameters tailors p with values, as `steward-agent check
// --tailoring` would.
func withParameters(t *testing.T, p policy.Policy, values map[string]string) policy.Policy {
	t.Helper()
	tailored, err := policy.Tailoring{Policies: map[string]policy.PolicyTailoring{p.ID: {Parameters: values}}}.Apply([]policy.Policy{p})
	if err != nil {
		t.Fatalf("tailor %s: %v", p.ID, err)
	}
	if len(tailored) != 1 {
		t.Fatalf("tailor %s: %d policies back", p.ID, len(tailored))
	}
	return tailored[0]
}
