package packaging

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/xml"
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"gopkg.in/yaml.v3"
	"howett.net/plist"

	"github.com/steward-project/steward/installers/macos"
)

// tarEntry is one file of a tarball, as written.
type tarEntry struct {
	hdr  *tar.Header
	data []byte
}

func readTarball(t *testing.T, path string) map[string]tarEntry {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	out := map[string]tarEntry{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name] = tarEntry{h, b}
	}
}

// extractTarball writes the tarball's files under dir with their modes,
// the way `tar -xzf` does, and returns the directory it holds.
func extractTarball(t *testing.T, path, dir string) string {
	t.Helper()
	top := ""
	for name, e := range readTarball(t, path) {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if e.hdr.Typeflag == tar.TypeDir {
			os.MkdirAll(p, 0o755)
			top = p
			continue
		}
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, e.data, fs.FileMode(e.hdr.Mode)); err != nil {
			t.Fatal(err)
		}
	}
	return top
}

// plistValues are the element names a plist value can have (the DTD's
// plistObject).
var plistValues = map[string]bool{"array": true, "data": true, "date": true, "dict": true,
	"real": true, "integer": true, "string": true, "true": true, "false": true}

// xmlNode is an element with its children, for checking the plist DTD.
type xmlNode struct {
	name     string
	attrs    []xml.Attr
	text     string
	children []*xmlNode
}

// checkPlistDTD checks b against the structure of Apple's plist DTD
// (PropertyList-1.0.dtd): the DOCTYPE, a <plist version="1.0"> root
// holding one value, dicts as key/value pairs with unique keys, arrays
// of values, text-only leaves and empty true/false. plutil is not
// available on Linux; this is what it would refuse.
func checkPlistDTD(b []byte) error {
	dec := xml.NewDecoder(bytes.NewReader(b))
	var stack []*xmlNode
	var root *xmlNode
	doctype := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("not well-formed XML: %w", err)
		}
		switch tok := tok.(type) {
		case xml.Directive:
			d := strings.Join(strings.Fields(string(tok)), " ")
			if d != `DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd"` {
				return fmt.Errorf("DOCTYPE %q is not Apple's plist DTD", d)
			}
			doctype = true
		case xml.StartElement:
			n := &xmlNode{name: tok.Name.Local, attrs: tok.Attr}
			if len(stack) == 0 {
				if root != nil {
					return errors.New("more than one root element")
				}
				root = n
			} else {
				parent := stack[len(stack)-1]
				parent.children = append(parent.children, n)
			}
			stack = append(stack, n)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(tok)
			}
		}
	}
	if !doctype {
		return errors.New("no DOCTYPE")
	}
	if root == nil || root.name != "plist" {
		return errors.New("the root element is not <plist>")
	}
	if len(root.attrs) != 1 || root.attrs[0].Name.Local != "version" || root.attrs[0].Value != "1.0" {
		return fmt.Errorf("<plist> attributes %v, want version=\"1.0\"", root.attrs)
	}
	if len(root.children) != 1 {
		return fmt.Errorf("<plist> holds %d values, want 1", len(root.children))
	}
	var check func(n *xmlNode) error
	check = func(n *xmlNode) error {
		if !plistValues[n.name] {
			return fmt.Errorf("<%s> is not a plist value", n.name)
		}
		switch n.name {
		case "dict":
			if len(n.children)%2 != 0 {
				return errors.New("<dict> with a key and no value")
			}
			seen := map[string]bool{}
			for i := 0; i < len(n.children); i += 2 {
				k := n.children[i]
				if k.name != "key" || len(k.children) > 0 {
					return fmt.Errorf("<dict> entry %d is <%s>, want <key>", i/2, k.name)
				}
				if seen[k.text] {
					return fmt.Errorf("key %q twice", k.text)
				}
				seen[k.text] = true
				if err := check(n.children[i+1]); err != nil {
					return fmt.Errorf("%s: %w", k.text, err)
				}
			}
		case "array":
			for _, c := range n.children {
				if err := check(c); err != nil {
					return err
				}
			}
		case "true", "false":
			if len(n.children) > 0 || strings.TrimSpace(n.text) != "" {
				return fmt.Errorf("<%s/> must be empty", n.name)
			}
		default:
			if len(n.children) > 0 {
				return fmt.Errorf("<%s> holds elements", n.name)
			}
			if n.name == "integer" {
				if _, err := strconv.ParseInt(strings.TrimSpace(n.text), 10, 64); err != nil {
					return fmt.Errorf("<integer>%s</integer>", n.text)
				}
			}
		}
		return nil
	}
	return check(root.children[0])
}

// launchdJob is what launchd reads from the daemon's plist.
type launchdJob struct {
	Label             string
	ProgramArguments  []string
	RunAtLoad         bool
	KeepAlive         bool
	ThrottleInterval  int
	StandardErrorPath string
}

func TestLaunchdPlist(t *testing.T) {
	b, err := fs.ReadFile(macos.Files, "steward-agent.plist")
	if err != nil {
		t.Fatal(err)
	}
	if err := checkPlistDTD(b); err != nil {
		t.Fatal(err)
	}
	var job launchdJob
	if _, err := plist.Unmarshal(b, &job); err != nil {
		t.Fatal(err)
	}
	want := launchdJob{
		Label:             "steward-agent",
		ProgramArguments:  []string{"/usr/local/bin/steward-agent", "run", "--config", "/Library/Application Support/Steward/agent.yaml"},
		RunAtLoad:         true,
		KeepAlive:         true,
		ThrottleInterval:  10,
		StandardErrorPath: "/Library/Logs/Steward/steward-agent.err.log",
	}
	if !reflect.DeepEqual(job, want) {
		t.Errorf("plist = %+v, want %+v", job, want)
	}

	// The checker itself refuses what launchd would.
	for name, bad := range map[string]string{
		"not XML":       "<plist",
		"no doctype":    `<plist version="1.0"><dict/></plist>`,
		"odd dict":      strings.Replace(string(b), "<key>RunAtLoad</key>", "", 1),
		"duplicate key": strings.Replace(string(b), "<key>RunAtLoad</key>", "<key>Label</key>", 1),
		"bad value":     strings.Replace(string(b), "<true/>", "<yes/>", 1),
		"text in true":  strings.Replace(string(b), "<true/>", "<true>1</true>", 1),
	} {
		if err := checkPlistDTD([]byte(bad)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// TestLaunchdLabelIsTheServiceName checks that the tarball's daemon is
// the service `steward-agent install` registers on a Mac: kardianos
// (its darwin code, read from the module in use) labels the launchd job
// with the service name and writes /Library/LaunchDaemons/NAME.plist, and
// the name is the agent's AgentName. The darwin code is not built on
// Linux, hence the source is read.
func TestLaunchdLabelIsTheServiceName(t *testing.T) {
	name := agentServiceName(t)
	b, _ := fs.ReadFile(macos.Files, name+".plist")
	if b == nil {
		t.Fatalf("installers/macos has no %s.plist: the daemon must be named after the service %q", name, name)
	}
	var job launchdJob
	if _, err := plist.Unmarshal(b, &job); err != nil {
		t.Fatal(err)
	}
	if job.Label != name {
		t.Errorf("label %q, want the service name %q", job.Label, name)
	}
	script, _ := fs.ReadFile(macos.Files, "install.sh")
	for _, line := range []string{"LABEL=" + name + "\n", "PLIST=$ROOT/Library/LaunchDaemons/$LABEL.plist\n"} {
		if !bytes.Contains(script, []byte(line)) {
			t.Errorf("install.sh lacks %q", strings.TrimSpace(line))
		}
	}

	dir, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/kardianos/service").Output()
	if err != nil {
		t.Fatalf("go list -m github.com/kardianos/service: %v", err)
	}
	src, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(dir)), "service_darwin.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(src, []byte(`return "/Library/LaunchDaemons/" + s.Name + ".plist", nil`)) {
		t.Error("kardianos no longer writes system daemons to /Library/LaunchDaemons/NAME.plist: check its service_darwin.go and rename the tarball's plist")
	}
	if !regexp.MustCompile(`<key>Label</key>\s*<string>\{\{[^}]*\bName\b[^}]*\}\}</string>`).Match(src) {
		t.Error("kardianos no longer labels the launchd job with the service name: check its service_darwin.go and the tarball's label")
	}
}

// agentServiceName is the agent's AgentName constant, read from the
// source since its package is internal to the agent.
func agentServiceName(t *testing.T) string {
	t.Helper()
	var dirs []string
	for _, d := range []string{"agent/internal/service", "shared/service"} {
		dirs = append(dirs, filepath.Join("..", "..", filepath.FromSlash(d)))
	}
	for _, dir := range dirs {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, file := range files {
			f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range f.Decls {
				g, ok := d.(*ast.GenDecl)
				if !ok || g.Tok != token.CONST {
					continue
				}
				for _, spec := range g.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, n := range vs.Names {
						if n.Name != "AgentName" || i >= len(vs.Values) {
							continue
						}
						if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
							v, _ := strconv.Unquote(lit.Value)
							return v
						}
					}
				}
			}
		}
	}
	t.Fatalf("no string constant AgentName in %v", dirs)
	return ""
}

var agentKeysOnce = sync.OnceValues(func() (map[string]bool, error) {
	src := filepath.Join("..", "..", "agent", "internal", "config", "config.go")
	f, err := parser.ParseFile(token.NewFileSet(), src, nil, 0)
	if err != nil {
		return nil, err
	}
	keys := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok || ts.Name.Name != "Config" {
			return true
		}
		for _, field := range ts.Type.(*ast.StructType).Fields.List {
			if field.Tag == nil {
				continue
			}
			tag, _ := strconv.Unquote(field.Tag.Value)
			name, _, _ := strings.Cut(reflect.StructTag(tag).Get("yaml"), ",")
			if name != "" && name != "-" {
				keys[name] = true
			}
		}
		return false
	})
	if !keys["server"] {
		return nil, fmt.Errorf("no yaml tags in %s", src)
	}
	return keys, nil
})

// readAgentYAML decodes an agent.yaml and checks that the agent knows
// every key in it (it refuses unknown keys): the yaml tags of its
// config.Config, read from the source since the package is internal.
func readAgentYAML(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]any{}
	if err := yaml.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, b)
	}
	known, err := agentKeysOnce()
	if err != nil {
		t.Fatal(err)
	}
	for k := range m {
		if !known[k] {
			t.Errorf("%s has key %q, which the agent does not know", path, k)
		}
	}
	return m
}

// fakeLaunchctl makes a directory with a launchctl that records its
// arguments, one call per line, in the file calls. pathEnv puts the
// directory first on PATH.
func fakeLaunchctl(t *testing.T) (bin, pathEnv, calls string) {
	t.Helper()
	bin = t.TempDir()
	calls = filepath.Join(bin, "calls")
	script := "#!/bin/sh\necho \"launchctl $*\" >> '" + calls + "'\n"
	if err := os.WriteFile(filepath.Join(bin, "launchctl"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, "PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH"), calls
}

// runScript runs sh script args with env added, and returns the output
// and exit code.
func runScript(t *testing.T, env []string, script string, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command("sh", append([]string{script}, args...)...)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatal(err)
		}
		code = ee.ExitCode()
	}
	return string(out), code
}

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestMacOS(t *testing.T) {
	bin := crossBuildAgent(t, "darwin", "arm64")
	binBytes, _ := os.ReadFile(bin)
	ca := testCA(t)
	out := t.TempDir()
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	plain, err := MacOS(Options{Version: "1.2.0", Arch: "arm64", Binary: bin, OutDir: out})
	if err != nil {
		t.Fatal(err)
	}
	configured, err := MacOS(Options{Version: "1.3.0~rc.1", Arch: "arm64", Binary: bin, OutDir: out,
		Enroll: &Enrollment{Server: "https://steward.example.com:8443", EnrollSecret: "c0ffee", CAFile: ca, Labels: macosTestLabels}})
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(plain) != "steward-agent-1.2.0-darwin-arm64.tar.gz" {
		t.Errorf("file name %s", filepath.Base(plain))
	}
	if m := fileMode(t, configured); m != 0o600 {
		t.Errorf("configured tarball mode %v, want 0600 (it holds the secret)", m)
	}

	t.Run("contents", func(t *testing.T) {
		plist, _ := fs.ReadFile(macos.Files, "steward-agent.plist")
		script, _ := fs.ReadFile(macos.Files, "install.sh")
		type want struct {
			mode int64
			data []byte
		}
		base := "steward-agent-1.2.0-darwin-arm64/"
		wants := map[string]want{
			base: {0o755, nil}, base + "steward-agent": {0o755, binBytes},
			base + "steward-agent.plist": {0o644, plist}, base + "install.sh": {0o755, script},
		}
		got := readTarball(t, plain)
		var names []string
		for n := range got {
			names = append(names, n)
		}
		sort.Strings(names)
		if len(got) != len(wants) {
			t.Errorf("entries %v, want %d", names, len(wants))
		}
		for name, w := range wants {
			e, ok := got[name]
			if !ok {
				t.Errorf("no %s in %v", name, names)
				continue
			}
			h := e.hdr
			if h.Mode != w.mode || h.Uid != 0 || h.Gid != 0 || h.Uname != "root" || h.Gname != "wheel" || h.ModTime.Unix() != 1700000000 {
				t.Errorf("%s: mode %o owner %d:%d %s:%s time %v", name, h.Mode, h.Uid, h.Gid, h.Uname, h.Gname, h.ModTime)
			}
			if w.data != nil && !bytes.Equal(e.data, w.data) {
				t.Errorf("%s differs from its source", name)
			}
		}
		if err := checkPlistDTD(got[base+"steward-agent.plist"].data); err != nil {
			t.Errorf("plist: %v", err)
		}

		c := readTarball(t, configured)
		cb := "steward-agent-1.3.0~rc.1-darwin-arm64/"
		env, ok := c[cb+"enroll.env"]
		if !ok || env.hdr.Mode != 0o600 {
			t.Fatalf("configured tarball: enroll.env missing or not 0600")
		}
		for _, line := range []string{"STEWARD_SERVER=https://steward.example.com:8443\n", "STEWARD_ENROLL_SECRET=c0ffee\n", "STEWARD_CA_FILE=ca.pem\n",
			"STEWARD_LABELS=empty=,site/room=b \"2\" \\ east,team=web,x=a=b\n"} {
			if !bytes.Contains(env.data, []byte(line)) {
				t.Errorf("enroll.env lacks %q:\n%s", line, env.data)
			}
		}
		if !bytes.Equal(c[cb+"ca.pem"].data, ca) {
			t.Error("ca.pem differs from the enrollment's CA")
		}
	})

	t.Run("script syntax", func(t *testing.T) {
		dir := extractTarball(t, plain, t.TempDir())
		script := filepath.Join(dir, "install.sh")
		if b, err := exec.Command("sh", "-n", script).CombinedOutput(); err != nil {
			t.Errorf("sh -n: %v\n%s", err, b)
		}
		sc, err := exec.LookPath("shellcheck")
		if err != nil {
			t.Fatal("shellcheck not found: install it with `apt-get install -y shellcheck` (scripts/test-deps.sh does)")
		}
		if b, err := exec.Command(sc, "-s", "sh", script).CombinedOutput(); err != nil {
			t.Errorf("shellcheck: %v\n%s", err, b)
		}
	})

	t.Run("install, upgrade, uninstall", func(t *testing.T) {
		root := t.TempDir()
		_, pathEnv, calls := fakeLaunchctl(t)
		env := []string{pathEnv, "STEWARD_DESTDIR=" + root}
		dir := extractTarball(t, configured, t.TempDir())
		out, code := runScript(t, env, filepath.Join(dir, "install.sh"))
		if code != 0 {
			t.Fatalf("install.sh: exit %d\n%s", code, out)
		}
		conf := filepath.Join(root, "Library", "Application Support", "Steward")
		for path, mode := range map[string]os.FileMode{
			filepath.Join(root, "usr", "local", "bin", "steward-agent"):            0o755,
			filepath.Join(root, "Library", "LaunchDaemons", "steward-agent.plist"): 0o644,
			filepath.Join(conf, "agent.yaml"):                                      0o600,
			filepath.Join(conf, "enroll-secret"):                                   0o600,
			filepath.Join(conf, "ca.pem"):                                          0o644,
		} {
			if m := fileMode(t, path); m != mode {
				t.Errorf("%s: mode %v, want %v", path, m, mode)
			}
		}
		if b, _ := os.ReadFile(filepath.Join(root, "usr", "local", "bin", "steward-agent")); !bytes.Equal(b, binBytes) {
			t.Error("the installed binary differs")
		}
		if b, _ := os.ReadFile(filepath.Join(conf, "enroll-secret")); string(b) != "c0ffee\n" {
			t.Errorf("enroll-secret = %q", b)
		}
		cfg := readAgentYAML(t, filepath.Join(conf, "agent.yaml"))
		want := map[string]any{
			"server":             "https://steward.example.com:8443",
			"enroll_secret_file": "/Library/Application Support/Steward/enroll-secret",
			"ca_file":            "/Library/Application Support/Steward/ca.pem",
			"log_level":          "info",
			"log_file":           "/Library/Logs/Steward/steward-agent.log",
			"labels":             map[string]any{"team": "web", "site/room": `b "2" \ east`, "x": "a=b", "empty": ""},
		}
		if !reflect.DeepEqual(cfg, want) {
			t.Errorf("agent.yaml = %v, want %v", cfg, want)
		}
		// The labels read back as the agent's config loader reads them.
		if got := agentYAMLLabels(t, filepath.Join(conf, "agent.yaml")); !maps.Equal(got, macosTestLabels) {
			t.Errorf("labels in agent.yaml = %v, want %v", got, macosTestLabels)
		}
		plistPath := filepath.Join(root, "Library", "LaunchDaemons", "steward-agent.plist")
		wantCalls := "launchctl enable system/steward-agent\nlaunchctl bootstrap system " + plistPath + "\n"
		if b, _ := os.ReadFile(calls); string(b) != wantCalls {
			t.Errorf("launchctl calls:\n%s\nwant:\n%s", b, wantCalls)
		}

		// An administrator's edit survives an upgrade with the
		// unconfigured tarball and no flags, and a new --server.
		yml := filepath.Join(conf, "agent.yaml")
		b, _ := os.ReadFile(yml)
		os.WriteFile(yml, bytes.Replace(b, []byte("log_level: info"), []byte("log_level: debug"), 1), 0o600)
		os.Remove(calls)
		up := extractTarball(t, plain, t.TempDir())
		if out, code := runScript(t, env, filepath.Join(up, "install.sh")); code != 0 {
			t.Fatalf("upgrade: exit %d\n%s", code, out)
		}
		want["log_level"] = "debug"
		if cfg := readAgentYAML(t, yml); !reflect.DeepEqual(cfg, want) {
			t.Errorf("after upgrade agent.yaml = %v, want %v", cfg, want)
		}
		wantCalls = "launchctl bootout system/steward-agent\n" + wantCalls
		if b, _ := os.ReadFile(calls); string(b) != wantCalls {
			t.Errorf("upgrade: launchctl calls:\n%s\nwant:\n%s", b, wantCalls)
		}
		if out, code := runScript(t, env, filepath.Join(up, "install.sh"), "--server", "https://new.example.com"); code != 0 {
			t.Fatalf("new server: exit %d\n%s", code, out)
		}
		want["server"] = "https://new.example.com"
		if cfg := readAgentYAML(t, yml); !reflect.DeepEqual(cfg, want) {
			t.Errorf("after --server agent.yaml = %v, want %v", cfg, want)
		}
		// --labels replaces the whole mapping, and only it.
		if out, code := runScript(t, env, filepath.Join(up, "install.sh"), "--labels", `site=paris, quote=say "hi" \o/`); code != 0 {
			t.Fatalf("--labels: exit %d\n%s", code, out)
		}
		want["labels"] = map[string]any{"site": "paris", "quote": `say "hi" \o/`}
		if cfg := readAgentYAML(t, yml); !reflect.DeepEqual(cfg, want) {
			t.Errorf("after --labels agent.yaml = %v, want %v", cfg, want)
		}
		if got := agentYAMLLabels(t, yml); !maps.Equal(got, map[string]string{"site": "paris", "quote": `say "hi" \o/`}) {
			t.Errorf("labels after --labels = %v", got)
		}

		os.Remove(calls)
		if out, code := runScript(t, env, filepath.Join(up, "install.sh"), "--uninstall"); code != 0 {
			t.Fatalf("uninstall: exit %d\n%s", code, out)
		}
		for _, p := range []string{conf, plistPath, filepath.Join(root, "usr", "local", "bin", "steward-agent"), filepath.Join(root, "Library", "Logs", "Steward")} {
			if _, err := os.Stat(p); !os.IsNotExist(err) {
				t.Errorf("uninstall left %s", p)
			}
		}
		if b, _ := os.ReadFile(calls); string(b) != "launchctl bootout system/steward-agent\n" {
			t.Errorf("uninstall: launchctl calls %q", b)
		}
	})

	t.Run("refusals", func(t *testing.T) {
		dir := extractTarball(t, plain, t.TempDir())
		_, pathEnv, calls := fakeLaunchctl(t)
		for _, tc := range []struct {
			name string
			env  []string
			args []string
			want string
		}{
			{"plain http", []string{"STEWARD_ENROLL_SECRET=x"}, []string{"--server", "http://steward.example.com"}, "refusing server URL"},
			{"no server", []string{"STEWARD_ENROLL_SECRET=x"}, nil, "no server"},
			{"no secret", nil, []string{"--server", "https://steward.example.com"}, "no enroll secret"},
			{"unknown flag", nil, []string{"--frobnicate"}, "usage"},
			{"label without value", []string{"STEWARD_ENROLL_SECRET=x"}, []string{"--server", "https://steward.example.com", "--labels", "team"}, "want key=value"},
			{"label key with a space", []string{"STEWARD_ENROLL_SECRET=x"}, []string{"--server", "https://steward.example.com", "--labels", "my team=web"}, "refusing the labels"},
			{"label given twice", []string{"STEWARD_ENROLL_SECRET=x"}, []string{"--server", "https://steward.example.com", "--labels=a=1,a=2"}, "given twice"},
			{"label with a tab", []string{"STEWARD_ENROLL_SECRET=x"}, []string{"--server", "https://steward.example.com", "--labels", "a=x\ty"}, "control characters"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				root := t.TempDir()
				env := append([]string{pathEnv, "STEWARD_DESTDIR=" + root, "STEWARD_ENROLL_SECRET="}, tc.env...)
				out, code := runScript(t, env, filepath.Join(dir, "install.sh"), tc.args...)
				if code != 2 || !strings.Contains(out, tc.want) {
					t.Errorf("exit %d, want 2 saying %q:\n%s", code, tc.want, out)
				}
				if entries, _ := os.ReadDir(root); len(entries) > 0 {
					t.Errorf("wrote %v before refusing", entries)
				}
			})
		}
		if _, err := os.Stat(calls); err == nil {
			t.Error("launchctl ran for a refused installation")
		}
		// --insecure-http lets the same URL through.
		root := t.TempDir()
		env := []string{pathEnv, "STEWARD_DESTDIR=" + root, "STEWARD_ENROLL_SECRET=x"}
		if out, code := runScript(t, env, filepath.Join(dir, "install.sh"), "--server", "http://steward.example.com", "--insecure-http"); code != 0 {
			t.Errorf("--insecure-http: exit %d\n%s", code, out)
		}
	})

	t.Run("via installers/install.sh", func(t *testing.T) {
		// The one-line installer on a Mac: it downloads this tarball and
		// runs its install.sh. uname is faked; the server is on the
		// loopback, which may use plain http.
		tarball, _ := os.ReadFile(plain)
		var mu sync.Mutex
		var requests []string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			requests = append(requests, r.URL.Path)
			mu.Unlock()
			switch r.URL.Path {
			case "/packages/LATEST":
				io.WriteString(w, "1.2.0\n")
			case "/packages/steward-agent-1.2.0-darwin-arm64.tar.gz":
				w.Write(tarball)
			default:
				http.NotFound(w, r)
			}
		}))
		defer srv.Close()
		fakeBin, pathEnv, calls := fakeLaunchctl(t)
		os.WriteFile(filepath.Join(fakeBin, "uname"), []byte("#!/bin/sh\ncase $1 in -s) echo Darwin ;; -m) echo arm64 ;; esac\n"), 0o755)
		root := t.TempDir()
		secret := filepath.Join(t.TempDir(), "secret")
		os.WriteFile(secret, []byte("  f00d\n"), 0o600)
		out, code := runScript(t, []string{pathEnv, "STEWARD_DESTDIR=" + root},
			filepath.Join("..", "install.sh"), "--server", srv.URL, "--enroll-secret-file", secret)
		if code != 0 {
			t.Fatalf("install.sh: exit %d\n%s", code, out)
		}
		if want := []string{"/packages/LATEST", "/packages/steward-agent-1.2.0-darwin-arm64.tar.gz"}; !reflect.DeepEqual(requests, want) {
			t.Errorf("requests %v, want %v", requests, want)
		}
		conf := filepath.Join(root, "Library", "Application Support", "Steward")
		cfg := readAgentYAML(t, filepath.Join(conf, "agent.yaml"))
		if cfg["server"] != srv.URL {
			t.Errorf("agent.yaml server %v, want %s", cfg["server"], srv.URL)
		}
		if b, _ := os.ReadFile(filepath.Join(conf, "enroll-secret")); string(b) != "f00d\n" {
			t.Errorf("enroll-secret = %q", b)
		}
		if b, _ := os.ReadFile(calls); !strings.Contains(string(b), "launchctl bootstrap system ") {
			t.Errorf("launchctl calls %q", b)
		}
	})
}

// macosTestLabels are the configured tarball's labels: a value with
// YAML's double quote and backslash, one with '=', an empty one.
var macosTestLabels = map[string]string{"team": "web", "site/room": `b "2" \ east`, "x": "a=b", "empty": ""}

// agentYAMLLabels decodes the labels of an agent.yaml into the type the
// agent's configuration has.
func agentYAMLLabels(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Labels map[string]string `yaml:"labels"`
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("%s: %v\n%s", path, err, b)
	}
	return c.Labels
}

func TestMacOSRefuses(t *testing.T) {
	bin := crossBuildAgent(t, "darwin", "arm64")
	out := t.TempDir()
	for _, tc := range []struct {
		name string
		o    Options
		want string
	}{
		{"wrong arch", Options{Version: "1.0.0", Arch: "amd64", Binary: bin, OutDir: out}, "want amd64"},
		{"linux binary", Options{Version: "1.0.0", Arch: "arm64", Binary: "/bin/sh", OutDir: out}, "not a macOS executable"},
		{"invalid label", Options{Version: "1.0.0", Arch: "arm64", Binary: bin, OutDir: out,
			Enroll: &Enrollment{Server: "https://s", EnrollSecret: "x", Labels: map[string]string{"my team": "web"}}}, "label key"},
		{"label with a comma", Options{Version: "1.0.0", Arch: "arm64", Binary: bin, OutDir: out,
			Enroll: &Enrollment{Server: "https://s", EnrollSecret: "x", Labels: map[string]string{"a": "b,c"}}}, "commas"},
		{"quoted secret", Options{Version: "1.0.0", Arch: "arm64", Binary: bin, OutDir: out,
			Enroll: &Enrollment{Server: "https://s", EnrollSecret: "'x'"}}, "quotes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := MacOS(tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one saying %q", err, tc.want)
			}
		})
	}
	if entries, _ := os.ReadDir(out); len(entries) > 0 {
		t.Errorf("refused builds wrote %v", entries)
	}
}
