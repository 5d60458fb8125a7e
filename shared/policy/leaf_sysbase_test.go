package policy

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// sysFake is a fakeEnv with symbolic links (a LinkEnv), for the system
// leaves: links maps a link's path to its target as written.
type sysFake struct {
	*fakeEnv
	links map[string]string
}

// loadTree builds a sysFake from the fixture tree testdata/<dir>: every
// regular file becomes a file at the same absolute path, and links.txt
// at the tree's top ("path -> target" lines) lists the symbolic links.
func loadTree(t *testing.T, dir string) *sysFake {
	t.Helper()
	env := newFakeEnv(t, "debian12.json")
	env.files = map[string]fakeFile{}
	f := &sysFake{fakeEnv: env, links: map[string]string{}}
	root := filepath.Join("testdata", dir)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		name := "/" + filepath.ToSlash(rel)
		switch {
		case rel == ".":
		case rel == "links.txt":
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			for _, line := range strings.Split(string(data), "\n") {
				if from, to, ok := strings.Cut(line, " -> "); ok && !strings.HasPrefix(line, "#") {
					f.links[strings.TrimSpace(from)] = strings.TrimSpace(to)
				}
			}
		case d.IsDir():
			env.files[name] = fakeFile{mode: fs.ModeDir | 0o755, owner: "root", uid: "0"}
		default:
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			env.files[name] = fakeFile{data: string(data), mode: 0o644, owner: "root", uid: "0"}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	env.files["/dev/null"] = fakeFile{mode: fs.ModeDevice | fs.ModeCharDevice | 0o666, owner: "root", uid: "0"}
	return f
}

// resolve follows links to a file of the fake, at most 40 of them.
func (f *sysFake) resolve(p string) (string, error) {
	for range 40 {
		t, ok := f.links[p]
		if !ok {
			return p, nil
		}
		if !strings.HasPrefix(t, "/") {
			t = path.Join(path.Dir(p), t)
		}
		p = path.Clean(t)
	}
	return "", fmt.Errorf("%s: too many levels of symbolic links", p)
}

func (f *sysFake) Glob(ctx context.Context, pattern string) ([]string, error) {
	out, err := f.fakeEnv.Glob(ctx, pattern)
	if err != nil {
		return nil, err
	}
	for name := range f.links {
		if ok, _ := path.Match(pattern, name); ok {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out, nil
}

func (f *sysFake) Stat(ctx context.Context, p string) (FileStat, error) {
	r, err := f.resolve(p)
	if err != nil {
		return FileStat{}, err
	}
	return f.fakeEnv.Stat(ctx, r)
}

func (f *sysFake) ReadFile(ctx context.Context, p string, limit int64) ([]byte, error) {
	r, err := f.resolve(p)
	if err != nil {
		return nil, err
	}
	return f.fakeEnv.ReadFile(ctx, r, limit)
}

func (f *sysFake) Lstat(ctx context.Context, p string) (FileStat, error) {
	if _, ok := f.links[p]; ok {
		return FileStat{Mode: fs.ModeSymlink | 0o777, HasPerm: true, Owner: "root", OwnerID: "0"}, nil
	}
	return f.fakeEnv.Stat(ctx, p)
}

func (f *sysFake) Readlink(ctx context.Context, p string) (string, error) {
	t, ok := f.links[p]
	if !ok {
		return "", fmt.Errorf("%s: not a symbolic link", p)
	}
	return t, nil
}

// image removes /proc and /sys, as in an offline image.
func (f *sysFake) image() *sysFake {
	for name := range f.files {
		if strings.HasPrefix(name, "/proc/") || strings.HasPrefix(name, "/sys/") {
			delete(f.files, name)
		}
	}
	return f
}

// sysCase is one evaluation of a single-leaf policy.
type sysCase struct {
	name, check string
	want        Status
	detail      string
}

// runSysCases evaluates each case's check (YAML flow syntax) against env
// and compares status and the one evidence detail exactly.
func runSysCases(t *testing.T, env Env, kind string, cases []sysCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := Evaluate(context.Background(), onePolicy(t, "{"+kind+": "+c.check+"}"), env)
			if r.Status != c.want || len(r.Evidence) != 1 || r.Evidence[0].Detail != c.detail || r.Evidence[0].Check != "check."+kind {
				t.Errorf("status %s (error %q), evidence:\n%swant %s, %q", r.Status, r.Error, evidenceText(r.Evidence), c.want, c.detail)
			}
		})
	}
}

// sysProblems parses a policy file and returns its problems, one a line.
func sysProblems(t *testing.T, src string) string {
	t.Helper()
	_, err := Parse("p.yaml", []byte(src))
	if err == nil {
		t.Fatalf("no problem found in:\n%s", src)
	}
	return err.Error()
}

// sysPolicy wraps a check in block YAML so that problems have stable lines:
// the check's first line is line 6.
func sysPolicy(check string) string {
	return "policies:\n  - id: p\n    title: T\n    severity: low\n    check:\n" + check
}

func TestSysFakeLinks(t *testing.T) {
	env := loadTree(t, "sysctl/root")
	st, err := env.Stat(context.Background(), "/etc/sysctl.d/50-pid-max.conf")
	if err != nil || st.Mode&fs.ModeCharDevice == 0 {
		t.Fatalf("masked file: %+v %v", st, err)
	}
	if got, ok := linkTarget(context.Background(), env, "/etc/sysctl.d/99-sysctl.conf"); !ok || got != "/etc/sysctl.conf" {
		t.Fatalf("linkTarget = %q %t", got, ok)
	}
}
