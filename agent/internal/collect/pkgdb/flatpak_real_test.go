package pkgdb

import (
	"bytes"
	"compress/gzip"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/shared/inventory"
)

// appstreamFixture is the AppStream data flatpak copies into a
// deployment's metadata at install time; appstream-compose would make it
// from the app's metainfo file.
const appstreamFixture = `<?xml version="1.0" encoding="UTF-8"?>
<components version="0.8" origin="flatpak">
  <component type="desktop-application">
    <id>org.steward.App</id>
    <name>Steward App</name>
    <summary>Fixture</summary>
    <project_license>MIT</project_license>
    <releases><release version="4.5.6" timestamp="1704067200"/></releases>
  </component>
</components>
`

// TestFlatpakMatchesFlatpak builds a runtime in two branches and an app
// with the real flatpak, installs them from a local repository into the
// system installation of an empty root, and compares the reader with
// `flatpak list`.
func TestFlatpakMatchesFlatpak(t *testing.T) {
	bin := requireTool(t, "flatpak", "flatpak")
	work := t.TempDir()
	root := filepath.Join(work, "root")
	env := append(os.Environ(),
		"FLATPAK_SYSTEM_DIR="+filepath.Join(root, "var/lib/flatpak"),
		"FLATPAK_USER_DIR="+filepath.Join(work, "user"),
		"FLATPAK_CONFIG_DIR="+filepath.Join(work, "etc"),
		"LC_ALL=C")
	run := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		cmd.Dir = work
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("flatpak %s: %v\n%s", strings.Join(args, " "), err, stderr.Bytes())
		}
		return out
	}
	write := func(name, data string) {
		t.Helper()
		p := filepath.Join(work, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, branch := range []string{"1.0", "2.0"} {
		dir := "rt-" + branch
		write(dir+"/metadata", "[Runtime]\nname=org.steward.Platform\nruntime=org.steward.Platform/x86_64/"+branch+"\n")
		// build-export wants files/ (an initialized build directory) and
		// exports a runtime's usr/.
		write(dir+"/files/README", "runtime "+branch+"\n")
		write(dir+"/usr/README", "runtime "+branch+"\n")
		run("build-export", "--runtime", "--disable-sandbox", "repo", dir, branch)
	}
	write("app/metadata", "[Application]\nname=org.steward.App\nruntime=org.steward.Platform/x86_64/1.0\n")
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(appstreamFixture))
	zw.Close()
	write("app/files/share/app-info/xmls/org.steward.App.xml.gz", gz.String())
	// An export/ directory is what marks an app build as finished.
	if err := os.MkdirAll(filepath.Join(work, "app/export"), 0o755); err != nil {
		t.Fatal(err)
	}
	run("build-export", "--disable-sandbox", "repo", "app", "stable")
	run("build-update-repo", "repo")

	before := time.Now().Add(-time.Second)
	run("--system", "remote-add", "--no-gpg-verify", "fixtures", "file://"+filepath.Join(work, "repo"))
	run("--system", "install", "-y", "--noninteractive", "fixtures", "org.steward.App", "runtime/org.steward.Platform/x86_64/2.0")
	after := time.Now().Add(time.Second)

	var want []inventory.Package
	out := run("--system", "list", "--columns=application,version,branch,arch,origin")
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 5 {
			t.Fatalf("flatpak list printed %q", line)
		}
		version := f[1]
		if version == "" {
			version = f[2] // no AppStream version: the branch stands in
		}
		want = append(want, inventory.Package{Name: f[0], Version: version, Arch: f[3],
			Source: inventory.SourceFlatpak, Publisher: f[4]})
	}
	SortPackages(want)
	if len(want) != 3 {
		t.Fatalf("flatpak lists %d refs, want 3:\n%s", len(want), out)
	}
	got, err := Flatpak(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if at := got[i].InstallTime; at.Before(before) || at.After(after) {
			t.Errorf("%s installed at %v, not during the test", got[i].Name, at)
		}
		got[i].InstallTime = time.Time{}
	}
	diffPackages(t, got, want)
}
