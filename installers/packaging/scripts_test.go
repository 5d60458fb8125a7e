package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestMaintainerScriptsLint checks every maintainer script as the
// packages carry it with sh -n (dash, Debian's /bin/sh) and shellcheck
// in POSIX sh mode.
func TestMaintainerScriptsLint(t *testing.T) {
	shellcheck := requireTool(t, "shellcheck", "shellcheck")
	dir := t.TempDir()
	for _, format := range []string{"deb", "rpm"} {
		for _, component := range Components {
			for _, phase := range linuxComponents[component].phases {
				text, err := maintainerScript(format, component, phase)
				if err != nil {
					t.Fatal(err)
				}
				name := format + "-" + component + "-" + phase
				p := filepath.Join(dir, name)
				if err := os.WriteFile(p, []byte(text), 0o755); err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(text, "#!/bin/sh\n") || !strings.Contains(text, "\nPKG_FORMAT="+format+"\n") {
					t.Errorf("%s: header:\n%s", name, text[:200])
				}
				if out, err := exec.Command("sh", "-n", p).CombinedOutput(); err != nil {
					t.Errorf("sh -n %s: %v\n%s", name, err, out)
				}
				if out, err := exec.Command(shellcheck, "--shell=sh", "--severity=style", p).CombinedOutput(); err != nil {
					t.Errorf("shellcheck %s: %v\n%s", name, err, out)
				}
			}
		}
	}
	if _, err := maintainerScript("deb", "desktop", "postinst"); err == nil {
		t.Error("maintainerScript accepted an unknown component")
	}
	if _, err := maintainerScript("apk", "agent", "postinst"); err == nil {
		t.Error("maintainerScript accepted an unknown format")
	}
}
