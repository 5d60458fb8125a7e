package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"reflect"
	"strings"
	"testing"
)

// linkEnv adds groups and symbolic links to a fakeEnv: groups maps a path
// to "name:gid" (name may be empty), links a path to its target. A link's
// path is also in files (so that Glob lists it); Stat follows it.
type linkEnv struct {
	*fakeEnv
	groups map[string]string
	links  map[string]string
}

func (l *linkEnv) Stat(ctx context.Context, p string) (FileStat, error) {
	for i := 0; i < 40; i++ {
		t, ok := l.links[p]
		if !ok {
			break
		}
		p = t
	}
	if _, ok := l.links[p]; ok {
		return FileStat{}, fmt.Errorf("%s: too many levels of symbolic links", p)
	}
	st, err := l.fakeEnv.Stat(ctx, p)
	return l.withGroup(p, st, err)
}

func (l *linkEnv) Lstat(ctx context.Context, p string) (FileStat, error) {
	if _, ok := l.links[p]; ok {
		return FileStat{Mode: fs.ModeSymlink | 0o777, HasPerm: true, Owner: "root", OwnerID: "0", Group: "root", GroupID: "0"}, nil
	}
	st, err := l.fakeEnv.Stat(ctx, p)
	return l.withGroup(p, st, err)
}

func (l *linkEnv) Readlink(ctx context.Context, p string) (string, error) {
	t, ok := l.links[p]
	if !ok {
		return "", fmt.Errorf("%s: %w", p, ErrNotFound)
	}
	return t, nil
}

func (l *linkEnv) withGroup(p string, st FileStat, err error) (FileStat, error) {
	if err != nil {
		return st, err
	}
	if g, ok := l.groups[p]; ok {
		st.Group, st.GroupID, _ = strings.Cut(g, ":")
	}
	return st, nil
}

// cisFiles are the files CIS's permission rules look at, as Debian 12
// installs them, plus a few wrong ones.
func cisFiles(t *testing.T) *linkEnv {
	env := newFakeEnv(t, "debian12.json")
	env.files = map[string]fakeFile{
		"/etc/shadow":        {data: "root:*:19000::::::\n", mode: 0o640, owner: "root", uid: "0"},
		"/etc/gshadow":       {data: "root:*::\n", mode: 0o640, owner: "root", uid: "0"},
		"/etc/passwd":        {data: "root:x:0:0::/root:/bin/bash\n", mode: 0o644, owner: "root", uid: "0"},
		"/etc/crontab":       {data: "", mode: 0o644, owner: "root", uid: "0"},
		"/tmp":               {mode: 0o777 | fs.ModeDir | fs.ModeSticky, owner: "root", uid: "0"},
		"/var/tmp":           {mode: 0o777 | fs.ModeDir, owner: "root", uid: "0"},
		"/usr/bin/passwd":    {data: "ELF", mode: 0o755 | fs.ModeSetuid, owner: "root", uid: "0"},
		"/usr/bin/wall":      {data: "ELF", mode: 0o755 | fs.ModeSetgid, owner: "root", uid: "0"},
		"/etc/orphan":        {data: "x", mode: 0o644, uid: "4242"},
		"/etc/mtab":          {}, // a link, below
		"/etc/dangling":      {}, // a link to nothing
		"/proc/self/mounts":  {data: "", mode: 0o444, owner: "root", uid: "0"},
		"/etc/systemd/x.lnk": {}, // a link to a directory
	}
	return &linkEnv{
		fakeEnv: env,
		groups: map[string]string{
			"/etc/shadow": "shadow:42", "/etc/gshadow": "adm:4", "/etc/passwd": "root:0", "/etc/crontab": "root:0",
			"/tmp": "root:0", "/var/tmp": "root:0", "/usr/bin/passwd": "root:0", "/usr/bin/wall": "tty:5",
			"/etc/orphan": ":4343", "/proc/self/mounts": "root:0",
		},
		links: map[string]string{"/etc/mtab": "/proc/self/mounts", "/etc/dangling": "/nowhere", "/etc/systemd/x.lnk": "/tmp"},
	}
}

func TestFileLeafExtended(t *testing.T) {
	cases := []struct {
		name, check string
		want        Status
		detail      string
	}{
		{"group by name", `{path: /etc/shadow, group: shadow}`, StatusPass, "/etc/shadow: group shadow"},
		{"group from a list", `{path: "/etc/*shadow", group: [root, shadow]}`, StatusFail,
			"/etc/gshadow: group adm, want root or shadow"},
		{"group by gid", `{path: /etc/shadow, group: "42"}`, StatusPass, "/etc/shadow: group shadow"},
		{"group without a name", `{path: /etc/orphan, group: root}`, StatusFail, "/etc/orphan: group gid 4343, want root"},
		{"owner from a list", `{path: /etc/orphan, owner: [root, "4242"]}`, StatusPass, "/etc/orphan: owner uid 4242"},
		{"owner list, none", `{path: /etc/passwd, owner: [bin, daemon]}`, StatusFail, "/etc/passwd: owner root, want bin or daemon"},
		{"bits_clear", `{path: "/etc/*shadow", bits_clear: "0o137"}`, StatusPass, "/etc/gshadow: mode 0640; /etc/shadow: mode 0640"},
		{"bits_clear held", `{path: /etc/passwd, bits_clear: "022"}`, StatusPass, "/etc/passwd: mode 0644"},
		{"bits_clear group write", `{path: /var/tmp, bits_clear: "0002"}`, StatusFail, "/var/tmp: mode 0777 has bits 0002"},
		{"bits_set", `{path: /etc/passwd, bits_set: "0666"}`, StatusFail, "/etc/passwd: mode 0644 lacks bits 0022"},
		{"sticky wanted", `{path: /var/tmp, sticky: true}`, StatusFail, "/var/tmp: mode 0777 lacks sticky"},
		{"sticky present", `{path: "/tmp", sticky: true, type: dir}`, StatusPass, "/tmp: type dir; /tmp: mode 1777"},
		{"suid unwanted", `{path: "/usr/bin/*", suid: false}`, StatusFail, "/usr/bin/passwd: mode 4755 has suid"},
		{"sgid and suid", `{path: "/usr/bin/wall", sgid: true, suid: false, bits_clear: "0022"}`, StatusPass, "/usr/bin/wall: mode 2755"},
		{"type file", `{path: "/etc/crontab", type: file}`, StatusPass, "/etc/crontab: type file"},
		{"type dir wrong", `{path: "/etc/crontab", type: dir}`, StatusFail, "/etc/crontab: type file, want dir"},
		{"type file follows links", `{path: "/etc/mtab", type: file}`, StatusPass, "/etc/mtab: type file"},
		{"type symlink", `{path: "/etc/mtab", type: symlink}`, StatusPass, "/etc/mtab: type symlink"},
		{"type symlink on a file", `{path: "/etc/crontab", type: symlink}`, StatusFail, "/etc/crontab: type file, want symlink"},
		{"dangling symlink exists as a link", `{path: "/etc/dangling", type: symlink}`, StatusPass, "/etc/dangling: type symlink"},
		{"dangling symlink has no mode", `{path: "/etc/dangling", type: symlink, mode_max: "0644"}`, StatusFail,
			"/etc/dangling: dangling symbolic link"},
		{"dangling is not a file", `{path: "/etc/dangling", type: file}`, StatusFail, "no file matches /etc/dangling"},
		{"symlink and target's group", `{path: /etc/systemd/x.lnk, type: symlink, sticky: true, group: root}`, StatusPass,
			"/etc/systemd/x.lnk: type symlink; /etc/systemd/x.lnk: mode 1777; /etc/systemd/x.lnk: group root"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Evaluate(context.Background(), onePolicy(t, "{file: "+c.check+"}"), cisFiles(t))
			if r.Status != c.want || len(r.Evidence) != 1 || r.Evidence[0].Detail != c.detail {
				t.Errorf("status %s %s, evidence:\n%swant %s, %q", r.Status, r.Error, evidenceText(r.Evidence), c.want, c.detail)
			}
		})
	}
}

func TestFileLeafExtendedUnavailable(t *testing.T) {
	// The plain fake has neither links nor groups: the server's Env is
	// like it.
	env := cisFiles(t).fakeEnv
	r := Evaluate(context.Background(), onePolicy(t, "{file: {path: /etc/mtab, type: symlink}}"), env)
	if r.Status != StatusError || !strings.Contains(r.Error, "not available here") {
		t.Errorf("symlink without LinkEnv: %s %q", r.Status, r.Error)
	}
	r = Evaluate(context.Background(), onePolicy(t, "{file: {path: /etc/shadow, group: shadow}}"), env)
	if r.Status != StatusError || !strings.Contains(r.Error, "file groups are not available") {
		t.Errorf("group without groups: %s %q", r.Status, r.Error)
	}
	win := cisFiles(t)
	win.platform = "windows"
	r = Evaluate(context.Background(), onePolicy(t, "{file: {path: /etc/shadow, bits_clear: '077'}}"), win)
	if r.Status != StatusError || !strings.Contains(r.Error, "permissions are not available") {
		t.Errorf("bits on Windows: %s %q", r.Status, r.Error)
	}
}

func TestFileCheckValidation(t *testing.T) {
	cases := []struct{ check, problem string }{
		{`{path: /x}`, "f.yaml:5: policy p: check.file: needs at least one of exists, matches, not_matches, mode_max, owner, group, bits_set, bits_clear, suid, sgid, sticky, type"},
		{`{path: /x, exists: false, group: root, sticky: true}`, "check.file.exists: exists: false cannot be combined with group, sticky"},
		{`{path: /x, type: socket}`, `check.file.type: "socket" is not file, dir or symlink`},
		{`{path: /x, bits_set: "9"}`, `check.file.bits_set: "9" is not an octal mode like 0644`},
		{`{path: /x, bits_clear: "0o17777"}`, `check.file.bits_clear: "0o17777" is above 07777`},
		{`{path: /x, bits_set: "0770", bits_clear: "0077"}`, "check.file.bits_clear: bits 0070 are in both"},
		{`{path: /x, suid: "yes"}`, `check.file.suid: must be true or false`},
		{`{path: /x, group: []}`, "check.file.group: must name at least one group"},
		{`{path: /x, owner: [root, ""]}`, "check.file.owner[1]: must not be empty"},
		{`{path: /x, group: {a: b}}`, "check.file.group: must be a string"},
	}
	for _, c := range cases {
		_, err := Parse("f.yaml", []byte("policies:\n  - id: p\n    title: T\n    severity: low\n    check: {file: "+c.check+"}\n"))
		if err == nil || !strings.Contains(err.Error(), c.problem) {
			t.Errorf("%s: got %v\nwant a problem containing %q", c.check, err, c.problem)
		}
	}
}

// TestFileCheckJSONRoundTrip: a policy set travels to agents as JSON and
// is validated there again; owner and group keep their one-or-list shape.
func TestFileCheckJSONRoundTrip(t *testing.T) {
	ps := mustParse(t, `policies:
  - id: p
    title: T
    severity: low
    check:
      all:
        - file: {path: /etc/shadow, owner: root, group: [root, shadow], bits_clear: "0137", suid: false, type: file}
        - file: {path: /etc/passwd, owner: ["0", root], group: root, sticky: false, sgid: false, bits_set: "0400"}
`)
	data, err := json.Marshal(ps)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"owner":"root","group":["root","shadow"]`, `"owner":["0","root"],"group":"root"`} {
		if !strings.Contains(string(data), want) {
			t.Errorf("JSON %s\nlacks %s", data, want)
		}
	}
	var back []Policy
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, ps) {
		t.Errorf("round trip:\n%+v\nwant\n%+v", *back[0].Check.All[0].File, *ps[0].Check.All[0].File)
	}
	if err := Validate("set", back); err != nil {
		t.Errorf("Validate: %v", err)
	}
	if err := json.Unmarshal([]byte(`{"path":"/x","owner":5}`), new(FileCheck)); err == nil {
		t.Errorf("a number as owner decoded")
	}
}

// vanishEnv loses some files between Stat and ReadFile, as /proc/PID
// entries do when the process exits.
type vanishEnv struct {
	*fakeEnv
	gone map[string]bool
}

func (v *vanishEnv) ReadFile(ctx context.Context, p string, limit int64) ([]byte, error) {
	if v.gone[p] {
		return nil, fmt.Errorf("%s: %w", p, ErrNotFound)
	}
	return v.fakeEnv.ReadFile(ctx, p, limit)
}

func TestFileLeafSkipsVanishedFiles(t *testing.T) {
	env := &vanishEnv{fakeEnv: cisFiles(t).fakeEnv, gone: map[string]bool{"/etc/gshadow": true}}
	r := Evaluate(context.Background(), onePolicy(t, `{file: {path: "/etc/*shadow", matches: "^root:"}}`), env)
	if r.Status != StatusPass || r.Evidence[0].Detail != `/etc/shadow:1: "root:*:19000::::::" matches` {
		t.Errorf("status %s %s, evidence:\n%s", r.Status, r.Error, evidenceText(r.Evidence))
	}
}
