package packaging

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// rpmArch is rpm's name for a Go architecture.
var rpmArch = map[string]string{"amd64": "x86_64", "arm64": "aarch64"}

// TestRPMContents inspects the agent and server .rpms for both
// architectures with rpm -qp: header, files with modes, owners and
// config flags, and the scriptlets; then installs each into an empty
// root with rpm --root (without scripts, which need a real system) and
// checks what lands on disk.
func TestRPMContents(t *testing.T) {
	requireTool(t, "rpm", "rpm")
	for _, arch := range Archs {
		for _, component := range Components {
			t.Run(component+"_"+arch, func(t *testing.T) {
				out := t.TempDir()
				pkg, err := RPM(component, Options{Version: "1.2.0~rc.1", Arch: arch, Binary: stubBinary(t, arch), OutDir: out})
				if err != nil {
					t.Fatal(err)
				}
				name := "steward-" + component
				if want := filepath.Join(out, name+"-1.2.0~rc.1-1."+rpmArch[arch]+".rpm"); pkg != want {
					t.Errorf("RPM wrote %s, want %s", pkg, want)
				}

				info := run(t, "rpm", "-qpi", pkg)
				for _, want := range []string{
					"Name        : " + name, "Version     : 1.2.0~rc.1", "Release     : 1",
					"Architecture: " + rpmArch[arch], "Vendor      : " + vendor, "URL         : " + homepage,
				} {
					if !strings.Contains(info, want+"\n") {
						t.Errorf("rpm -qpi lacks %q:\n%s", want, info)
					}
				}

				config, configMode, configGroup, configPerm := "/etc/steward/agent.yaml", "-rw-------", "root", os.FileMode(0o600)
				if component == "server" {
					config, configMode, configGroup, configPerm = "/etc/steward/server.yaml", "-rw-r-----", "steward", 0o640
				}
				unit := "/usr/lib/systemd/system/" + name + ".service"
				// One line per file: mode, owner, group, config flags, path.
				list := run(t, "rpm", "-qp", "--qf", "[%{FILEMODES:perms} %{FILEUSERNAME} %{FILEGROUPNAME} %{FILEFLAGS:fflags} %{FILENAMES}\n]", pkg)
				got := strings.Split(strings.TrimSpace(list), "\n")
				slices.Sort(got)
				want := []string{
					"-rwxr-xr-x root root  /usr/bin/" + name,
					"-rw-r--r-- root root  " + unit,
					configMode + " root " + configGroup + " cn " + config,
					"drwxr-xr-x root root  /etc/steward",
				}
				slices.Sort(want)
				if !reflect.DeepEqual(got, want) {
					t.Errorf("files:\n got %q\nwant %q", got, want)
				}
				if got := strings.TrimSpace(run(t, "rpm", "-qpc", pkg)); got != config {
					t.Errorf("rpm -qpc = %q, want %q", got, config)
				}
				if l := run(t, "rpm", "-qpl", pkg); !strings.Contains(l, "/usr/bin/"+name+"\n") {
					t.Errorf("rpm -qpl:\n%s", l)
				}

				// The scriptlets are the scripts maintainerScript makes for
				// rpm, run by /bin/sh.
				scripts := run(t, "rpm", "-qp", "--scripts", pkg)
				for phase, tag := range map[string]string{"preinst": "PREIN", "postinst": "POSTIN", "prerm": "PREUN", "postrm": "POSTUN"} {
					text := run(t, "rpm", "-qp", "--qf", "%{"+tag+"}", pkg)
					if !slices.Contains(linuxComponents[component].phases, phase) {
						if text != "(none)" {
							t.Errorf("unexpected %s scriptlet:\n%s", tag, text)
						}
						continue
					}
					want, _ := maintainerScript("rpm", component, phase)
					if strings.TrimSpace(text) != strings.TrimSpace(want) {
						t.Errorf("%s scriptlet differs from maintainerScript(rpm, %s, %s)", tag, component, phase)
					}
					if !strings.Contains(scripts, "PKG_FORMAT=rpm\n") {
						t.Errorf("rpm --scripts does not show the rpm scripts:\n%s", scripts)
					}
				}
				if n := strings.Count(scripts, "scriptlet (using /bin/sh):"); n != len(linuxComponents[component].phases) {
					t.Errorf("rpm --scripts shows %d scriptlets, want %d:\n%s", n, len(linuxComponents[component].phases), scripts)
				}

				root := t.TempDir()
				run(t, "rpm", "--root", root, "--initdb")
				args := []string{"--root", root, "-i", "--nodeps", "--noscripts", pkg}
				if arch != "amd64" {
					args = append([]string{"--ignorearch"}, args...)
				}
				run(t, "rpm", args...)
				for path, mode := range map[string]os.FileMode{
					"/usr/bin/" + name: 0o755,
					unit:               0o644,
					config:             configPerm,
					"/etc/steward":     os.ModeDir | 0o755,
				} {
					fi, err := os.Stat(filepath.Join(root, path))
					if err != nil {
						t.Errorf("rpm --root installed no %s: %v", path, err)
						continue
					}
					if fi.Mode() != mode {
						t.Errorf("%s has mode %v, want %v", path, fi.Mode(), mode)
					}
				}
				if got := strings.TrimSpace(run(t, "rpm", "--root", root, "-q", name)); !strings.HasPrefix(got, name+"-1.2.0~rc.1-1") {
					t.Errorf("rpm -q in the root: %q", got)
				}
			})
		}
	}
}

// TestRPMConfigured checks a configured agent .rpm: the secret is a
// %config(noreplace) file of mode 0600 and the settings are in agent.yaml.
func TestRPMConfigured(t *testing.T) {
	requireTool(t, "rpm", "rpm")
	out := t.TempDir()
	pkg, err := RPM("agent", Options{Version: "1.2.0", Arch: "amd64", Binary: stubBinary(t, "amd64"), OutDir: out,
		Enroll: &Enrollment{Server: "http://10.0.0.1:8080", EnrollSecret: "s3cret"}})
	if err != nil {
		t.Fatal(err)
	}
	list := run(t, "rpm", "-qp", "--qf", "[%{FILEMODES:perms} %{FILEUSERNAME} %{FILEFLAGS:fflags} %{FILENAMES}\n]", pkg)
	for _, want := range []string{
		"-rw------- root cn /etc/steward/enroll-secret",
		"-rw------- root cn /etc/steward/agent.yaml",
	} {
		if !strings.Contains(list, want+"\n") {
			t.Errorf("files lack %q:\n%s", want, list)
		}
	}
	if strings.Contains(list, "ca.pem") {
		t.Errorf("a CA file without a CA:\n%s", list)
	}
	root := t.TempDir()
	run(t, "rpm", "--root", root, "--initdb")
	run(t, "rpm", "--root", root, "-i", "--nodeps", "--noscripts", pkg)
	yml, err := os.ReadFile(filepath.Join(root, "etc/steward/agent.yaml"))
	if err != nil || !strings.Contains(string(yml), "\nserver: \"http://10.0.0.1:8080\"\n") || strings.Contains(string(yml), "ca_file:") {
		t.Errorf("agent.yaml (%v):\n%s", err, yml)
	}
	if fi, err := os.Stat(filepath.Join(root, "etc/steward/enroll-secret")); err != nil || fi.Mode() != 0o600 {
		t.Errorf("enroll-secret: %v %v", fi, err)
	}
}
