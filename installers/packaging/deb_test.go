package packaging

import (
	"gopkg.in/yaml.v3"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/steward-project/steward/installers"
)

// TestDebContents inspects the agent and server .debs for both
// architectures with dpkg-deb: control fields, files with their modes
// and owners, conffiles, the unit, and the maintainer scripts.
func TestDebContents(t *testing.T) {
	requireTool(t, "dpkg-deb", "dpkg")
	for _, arch := range Archs {
		for _, component := range Components {
			t.Run(component+"_"+arch, func(t *testing.T) {
				out := t.TempDir()
				deb, err := Deb(component, Options{Version: "1.2.0~rc.1", Arch: arch, Binary: stubBinary(t, arch), OutDir: out})
				if err != nil {
					t.Fatal(err)
				}
				name := "steward-" + component
				if want := filepath.Join(out, name+"_1.2.0~rc.1-1_"+arch+".deb"); deb != want {
					t.Errorf("Deb wrote %s, want %s", deb, want)
				}
				if fi, err := os.Stat(deb); err != nil || fi.Mode().Perm() != 0o644 {
					t.Errorf("unconfigured package mode: %v %v, want 0644", fi.Mode(), err)
				}

				fields := run(t, "dpkg-deb", "-f", deb, "Package", "Version", "Architecture", "Section", "Priority", "Maintainer", "Homepage")
				for _, want := range []string{
					"Package: " + name, "Version: 1.2.0~rc.1-1", "Architecture: " + arch,
					"Section: admin", "Priority: optional", "Maintainer: " + maintainer, "Homepage: " + homepage,
				} {
					if !strings.Contains(fields, want+"\n") {
						t.Errorf("control lacks %q:\n%s", want, fields)
					}
				}
				// dpkg-deb -I prints the summary of the whole control
				// archive: every script is listed there.
				info := run(t, "dpkg-deb", "-I", deb)
				for _, phase := range linuxComponents[component].phases {
					if !strings.Contains(info, " "+phase+" ") {
						t.Errorf("dpkg-deb -I lists no %s:\n%s", phase, info)
					}
				}

				config, configEntry := "/etc/steward/agent.yaml", fileEntry{"-rw-------", "root/root"}
				if component == "server" {
					config, configEntry = "/etc/steward/server.yaml", fileEntry{"-rw-r-----", "root/steward"}
				}
				want := map[string]fileEntry{
					"/usr/bin/" + name:                         {"-rwxr-xr-x", "root/root"},
					"/lib/systemd/system/" + name + ".service": {"-rw-r--r--", "root/root"},
					config: configEntry,
				}
				files := debFiles(t, deb)
				if got := regularFiles(files); !reflect.DeepEqual(got, want) {
					t.Errorf("files:\n got %v\nwant %v", got, want)
				}
				if e := files["/etc/steward/"]; e != (fileEntry{"drwxr-xr-x", "root/root"}) {
					t.Errorf("/etc/steward/ is %v", e)
				}
				if got := run(t, "dpkg-deb", "-I", deb, "conffiles"); got != config+"\n" {
					t.Errorf("conffiles = %q, want %q", got, config+"\n")
				}

				root := t.TempDir()
				run(t, "dpkg-deb", "-x", deb, root)
				unit, _ := installers.Units.ReadFile("systemd/" + name + ".service")
				if got, _ := os.ReadFile(filepath.Join(root, "lib/systemd/system", name+".service")); string(got) != string(unit) {
					t.Errorf("the packaged unit differs from installers/systemd/%s.service", name)
				}

				control := t.TempDir()
				run(t, "dpkg-deb", "-e", deb, control)
				for _, phase := range []string{"preinst", "postinst", "prerm", "postrm"} {
					p := filepath.Join(control, phase)
					got, err := os.ReadFile(p)
					if !slices.Contains(linuxComponents[component].phases, phase) {
						if err == nil {
							t.Errorf("unexpected %s", phase)
						}
						continue
					}
					if err != nil {
						t.Errorf("no %s: %v", phase, err)
						continue
					}
					wantText, _ := maintainerScript("deb", component, phase)
					if string(got) != wantText {
						t.Errorf("%s differs from maintainerScript(deb, %s, %s)", phase, component, phase)
					}
					if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o755 {
						t.Errorf("%s has mode %v", phase, fi.Mode())
					}
				}
			})
		}
	}
}

// TestDebConfigured inspects a configured agent package: the settings in
// agent.yaml, the secret (mode 0600, root) and the CA as conffiles, and
// the package file itself readable by its owner only.
func TestDebConfigured(t *testing.T) {
	requireTool(t, "dpkg-deb", "dpkg")
	out := t.TempDir()
	ca := testCA(t)
	deb, err := Deb("agent", Options{Version: "1.2.0", Arch: "amd64", Binary: stubBinary(t, "amd64"), OutDir: out,
		Enroll: &Enrollment{Server: "https://steward.example.com:8443", EnrollSecret: "  s3cret-value\n", CAFile: ca,
			Labels: map[string]string{"team": "web", "site/room": `b "2" \ east`}}})
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(deb); fi.Mode().Perm() != 0o600 {
		t.Errorf("configured package has mode %v, want 0600: it holds the enroll secret", fi.Mode())
	}
	want := map[string]fileEntry{
		"/usr/bin/steward-agent":                    {"-rwxr-xr-x", "root/root"},
		"/lib/systemd/system/steward-agent.service": {"-rw-r--r--", "root/root"},
		"/etc/steward/agent.yaml":                   {"-rw-------", "root/root"},
		"/etc/steward/enroll-secret":                {"-rw-------", "root/root"},
		"/etc/steward/ca.pem":                       {"-rw-r--r--", "root/root"},
	}
	if got := regularFiles(debFiles(t, deb)); !reflect.DeepEqual(got, want) {
		t.Errorf("files:\n got %v\nwant %v", got, want)
	}
	conffiles := strings.Fields(run(t, "dpkg-deb", "-I", deb, "conffiles"))
	if w := []string{"/etc/steward/agent.yaml", "/etc/steward/ca.pem", "/etc/steward/enroll-secret"}; !reflect.DeepEqual(conffiles, w) {
		t.Errorf("conffiles = %v, want %v", conffiles, w)
	}
	root := t.TempDir()
	run(t, "dpkg-deb", "-x", deb, root)
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	yml := read("etc/steward/agent.yaml")
	for _, line := range []string{
		`server: "https://steward.example.com:8443"`,
		"enroll_secret_file: /etc/steward/enroll-secret",
		"ca_file: /etc/steward/ca.pem",
	} {
		if !strings.Contains(yml, "\n"+line+"\n") {
			t.Errorf("agent.yaml lacks %q:\n%s", line, yml)
		}
	}
	// The labels read back as the agent's config loader reads them.
	var parsed struct {
		Labels map[string]string `yaml:"labels"`
	}
	if err := yaml.Unmarshal([]byte(yml), &parsed); err != nil {
		t.Fatalf("agent.yaml does not parse: %v\n%s", err, yml)
	}
	if want := map[string]string{"team": "web", "site/room": `b "2" \ east`}; !reflect.DeepEqual(parsed.Labels, want) {
		t.Errorf("labels in agent.yaml = %v, want %v:\n%s", parsed.Labels, want, yml)
	}
	if strings.Contains(yml, "s3cret") {
		t.Errorf("agent.yaml holds the secret itself:\n%s", yml)
	}
	if got := read("etc/steward/enroll-secret"); got != "s3cret-value\n" {
		t.Errorf("enroll-secret = %q", got)
	}
	if got := read("etc/steward/ca.pem"); got != string(ca) {
		t.Errorf("ca.pem differs from the CA given")
	}
}

// TestOptionsRefused checks what the builders refuse before writing
// anything.
func TestOptionsRefused(t *testing.T) {
	out := t.TempDir()
	amd64, arm64 := stubBinary(t, "amd64"), stubBinary(t, "arm64")
	good := Options{Version: "1.0.0", Arch: "amd64", Binary: amd64, OutDir: out}
	enroll := func(e Enrollment) Options { o := good; o.Enroll = &e; return o }
	for name, tc := range map[string]struct {
		component string
		o         Options
		want      string
	}{
		"component":         {"desktop", good, "component"},
		"version with dash": {"agent", Options{Version: "1.0-1", Arch: "amd64", Binary: amd64, OutDir: out}, "version"},
		"version letters":   {"agent", Options{Version: "v1.0", Arch: "amd64", Binary: amd64, OutDir: out}, "version"},
		"arch":              {"agent", Options{Version: "1.0.0", Arch: "386", Binary: amd64, OutDir: out}, "arch"},
		"binary for arm64":  {"agent", Options{Version: "1.0.0", Arch: "amd64", Binary: arm64, OutDir: out}, "not amd64"},
		"not a binary":      {"agent", Options{Version: "1.0.0", Arch: "amd64", Binary: "helpers_test.go", OutDir: out}, "binary"},
		"no out dir":        {"agent", Options{Version: "1.0.0", Arch: "amd64", Binary: amd64, OutDir: filepath.Join(out, "nope")}, "output directory"},
		"server enrollment": {"server", enroll(Enrollment{Server: "https://s", EnrollSecret: "x"}), "only the agent"},
		"server URL":        {"agent", enroll(Enrollment{Server: "steward.example.com", EnrollSecret: "x"}), "server"},
		"no secret":         {"agent", enroll(Enrollment{Server: "https://s", EnrollSecret: " "}), "secret"},
		"bad CA":            {"agent", enroll(Enrollment{Server: "https://s", EnrollSecret: "x", CAFile: []byte("nope")}), "CA"},
		"bad label":         {"agent", enroll(Enrollment{Server: "https://s", EnrollSecret: "x", Labels: map[string]string{"my team": "web"}}), "label key"},
	} {
		for format, build := range map[string]func(string, Options) (string, error){"deb": Deb, "rpm": RPM} {
			if p, err := build(tc.component, tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%s %s: got %q, %v; want an error about %q", format, name, p, err, tc.want)
			}
		}
	}
	if left, _ := os.ReadDir(out); len(left) != 0 {
		t.Errorf("refused builds left files in the output directory: %v", left)
	}
}
