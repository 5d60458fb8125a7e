package collect

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/steward-project/steward/agent/internal/testimage"
	"github.com/steward-project/steward/shared/inventory"
)

// These tests run `steward-agent inventory --root DIR` on real system
// images: a Debian root file system made by debootstrap, and rpm-based
// roots whose database the real rpm wrote.

// liveOnlySections are known only to a running kernel; an offline root
// must leave them out and say so. (disks is there, from the image's
// /etc/fstab: see disks_fstab_linux_test.go.)
var liveOnlySections = []string{
	inventory.SectionCPU, inventory.SectionMemory,
	inventory.SectionNetwork, inventory.SectionPorts,
}

// debootstrapRoot returns the cached minimal Debian root file system
// (built once with debootstrap; see testimage.DebianRoot).
func debootstrapRoot(t *testing.T) string {
	t.Helper()
	return testimage.DebianRoot(t)
}

var agentBin struct {
	once sync.Once
	path string
	err  error
	out  []byte
}

// agentBinary builds steward-agent once per test run.
func agentBinary(t *testing.T) string {
	t.Helper()
	agentBin.once.Do(func() {
		dir, err := os.MkdirTemp("", "steward-agent-bin-")
		if err != nil {
			agentBin.err = err
			return
		}
		agentBin.path = filepath.Join(dir, "steward-agent")
		// go test puts its own go first on the PATH of tests.
		cmd := exec.Command("go", "build", "-o", agentBin.path, "github.com/steward-project/steward/agent/cmd/steward-agent")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		agentBin.out, agentBin.err = cmd.CombinedOutput()
	})
	if agentBin.err != nil {
		t.Fatalf("go build steward-agent: %v\n%s", agentBin.err, agentBin.out)
	}
	return agentBin.path
}

// inventoryRoot runs `steward-agent inventory --root root`.
func inventoryRoot(t *testing.T, root string) inventory.Document {
	t.Helper()
	cmd := exec.Command(agentBinary(t), "inventory", "--root", root)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("steward-agent inventory --root %s: %v\n%s", root, err, stderr.Bytes())
	}
	var doc inventory.Document
	if err := json.Unmarshal(out, &doc); err != nil {
		t.Fatalf("decode inventory: %v\n%s", err, out)
	}
	return doc
}

func section(t *testing.T, doc inventory.Document, name string, dst any) {
	t.Helper()
	if msg, failed := doc.Errors[name]; failed {
		t.Fatalf("section %s failed: %s", name, msg)
	}
	if err := json.Unmarshal(doc.Sections[name], dst); err != nil {
		t.Fatalf("decode %s: %v", name, err)
	}
}

// checkOfflineCommon checks what every offline root must give: os from
// the image's own os-release, and the live-only sections absent with
// the reason.
func checkOfflineCommon(t *testing.T, doc inventory.Document, osRelease map[string]string) {
	t.Helper()
	t.Run("os from the image's os-release", func(t *testing.T) {
		var o inventory.OS
		section(t, doc, inventory.SectionOS, &o)
		if o.Name != osRelease["PRETTY_NAME"] || o.Platform != osRelease["ID"] || o.Version != osRelease["VERSION_ID"] {
			t.Errorf("os = %+v, want name %q platform %q version %q",
				o, osRelease["PRETTY_NAME"], osRelease["ID"], osRelease["VERSION_ID"])
		}
	})
	t.Run("live-only sections left out, saying why", func(t *testing.T) {
		for _, name := range liveOnlySections {
			if _, ok := doc.Sections[name]; ok {
				t.Errorf("section %s present for an offline root", name)
			}
			if msg := doc.Errors[name]; !strings.Contains(msg, errLiveOnly.Error()) {
				t.Errorf("errors[%s] = %q, want it to say %q", name, msg, errLiveOnly)
			}
		}
	})
}

func TestOfflineDebianImage(t *testing.T) {
	root := debootstrapRoot(t)
	doc := inventoryRoot(t, root)

	t.Run("software equals dpkg-query --admindir", func(t *testing.T) {
		var sw inventory.Software
		section(t, doc, inventory.SectionSoftware, &sw)
		out := command(t, "dpkg-query", "--admindir", filepath.Join(root, "var/lib/dpkg"), "-W",
			"-f", `${db:Status-Abbrev}\t${Package}\t${Version}\t${Architecture}\n`)
		var want, got []string
		for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
			f := strings.Split(line, "\t")
			if len(f) == 4 && len(f[0]) >= 2 && f[0][1] != 'n' && f[0][1] != 'c' {
				want = append(want, f[1]+" "+f[2]+" "+f[3])
			}
		}
		for _, p := range sw.Packages {
			if p.Source != inventory.SourceDpkg {
				t.Errorf("%s comes from %s, want dpkg", p.Name, p.Source)
			}
			if p.InstallTime.IsZero() {
				t.Errorf("%s has no install time", p.Name)
			}
			got = append(got, p.Name+" "+p.Version+" "+p.Arch)
		}
		sort.Strings(want)
		sort.Strings(got)
		if len(want) < 50 {
			t.Fatalf("dpkg-query lists only %d installed packages in the image", len(want))
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("software differs from dpkg-query:\ngot  %d: %v\nwant %d: %v", len(got), got, len(want), want)
		}
	})
	checkOfflineCommon(t, doc, readOSReleaseFile(t, filepath.Join(root, "etc/os-release")))
}

func readOSReleaseFile(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rel := parseOSRelease(data)
	if rel["ID"] == "" || rel["PRETTY_NAME"] == "" {
		t.Fatalf("%s has no ID or PRETTY_NAME", path)
	}
	return rel
}
