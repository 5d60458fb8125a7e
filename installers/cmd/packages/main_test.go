package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// requireTools fails the test when a command it runs is missing, naming
// the Debian package that has it (scripts/test-deps.sh installs them).
func requireTools(t *testing.T) {
	t.Helper()
	for name, pkg := range map[string]string{"sha256sum": "coreutils", "tar": "tar",
		"wixl": "wixl", "msibuild": "msitools", "msiinfo": "msitools"} {
		if _, err := exec.LookPath(name); err != nil {
			t.Fatalf("%s not found: install it with `apt-get install -y %s`", name, pkg)
		}
	}
}

// standIns writes into a new directory, laid out as -bin-dir wants it,
// a tiny executable for every target the artefacts need, and returns the
// directory and each file's contents by target. A stub is built once per
// GOOS/GOARCH; each copy ends with its target's name, so that the tests
// can tell which file went where (the headers do not cover the tail).
func standIns(t *testing.T) (string, map[target][]byte) {
	t.Helper()
	bin := t.TempDir()
	src := filepath.Join(bin, "main.go")
	if err := os.WriteFile(src, []byte("package main\n\nfunc main() {}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	stubs := map[string][]byte{}
	contents := map[target][]byte{}
	for _, tg := range targets(artefacts()) {
		platform := tg.goos + "_" + tg.arch
		if stubs[platform] == nil {
			out := filepath.Join(bin, "stub-"+platform)
			cmd := exec.Command("go", "build", "-o", out, src)
			cmd.Dir = bin
			cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+tg.goos, "GOARCH="+tg.arch, "GO111MODULE=off")
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("build stand-in for %s: %v\n%s", platform, err, b)
			}
			stubs[platform], _ = os.ReadFile(out)
		}
		b := append(bytes.Clone(stubs[platform]), "\x00stand-in "+tg.String()...)
		if err := os.MkdirAll(filepath.Join(bin, platform), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(tg.path(bin), b, 0o755); err != nil {
			t.Fatal(err)
		}
		contents[tg] = b
	}
	return bin, contents
}

// TestPackages runs the program on stand-in binaries (-bin-dir) and
// checks dist: every installer and binary, named by the converted
// version, each checked with the tool that reads it, earlier artefacts
// gone, and a SHA256SUMS that sha256sum -c accepts.
func TestPackages(t *testing.T) {
	requireTools(t)
	t.Setenv("STEWARD_MSI_CONFIG_EXE", "")
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	bin, contents := standIns(t)
	dist := t.TempDir()
	for _, f := range []string{"steward-agent_0.1.0-1_amd64.deb", "stewardctl_0.1.0_linux_amd64", "SHA256SUMS", "notes.txt"} {
		os.WriteFile(filepath.Join(dist, f), []byte("old"), 0o644)
	}

	var stdout, stderr bytes.Buffer
	if code := run([]string{"-version", "v1.2.0-3-g1a2b3c4", "-out", dist, "-bin-dir", bin}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d\n%s%s", code, stdout.String(), stderr.String())
	}
	entries, _ := os.ReadDir(dist)
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	const v = "1.2.0+git3.1a2b3c4"
	want := []string{
		"SHA256SUMS", "notes.txt",
		"steward-agent-" + v + "-1.aarch64.rpm", "steward-agent-" + v + "-1.x86_64.rpm",
		"steward-agent_" + v + "-1_amd64.deb", "steward-agent_" + v + "-1_arm64.deb",
		"steward-server-" + v + "-1.aarch64.rpm", "steward-server-" + v + "-1.x86_64.rpm",
		"steward-server_" + v + "-1_amd64.deb", "steward-server_" + v + "-1_arm64.deb",
		"steward-agent-" + v + "-windows-amd64.msi",
		"steward-agent-" + v + "-darwin-amd64.tar.gz", "steward-agent-" + v + "-darwin-arm64.tar.gz",
		"steward-agent_" + v + "_linux_amd64", "steward-agent_" + v + "_linux_arm64",
		"steward-agent_" + v + "_darwin_amd64", "steward-agent_" + v + "_darwin_arm64",
		"steward-agent_" + v + "_windows_amd64.exe", "steward-agent_" + v + "_windows_arm64.exe",
		"steward-server_" + v + "_linux_amd64", "steward-server_" + v + "_linux_arm64",
		"stewardctl_" + v + "_linux_amd64", "stewardctl_" + v + "_linux_arm64",
		"steward-msi-config_" + v + "_windows_amd64.exe",
	}
	sort.Strings(got)
	sort.Strings(want)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("dist holds\n %q\nwant\n %q", got, want)
	}

	t.Run("binaries", func(t *testing.T) {
		n := 0
		for tg, b := range contents {
			name := plainName(tg, v)
			path := filepath.Join(dist, name)
			goos, arch, err := executable(path)
			if err != nil {
				t.Errorf("%s: %v", name, err)
				continue
			}
			n++
			if goos != tg.goos || arch != tg.arch {
				t.Errorf("%s: headers say %s/%s", name, goos, arch)
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, b) {
				t.Errorf("%s is not the binary of %s", name, tg)
			}
			if fi, err := os.Stat(path); err != nil {
				t.Error(err)
			} else if fi.Mode().Perm() != 0o755 {
				t.Errorf("%s: mode %v, want 0755", name, fi.Mode().Perm())
			}
		}
		if n != 11 {
			t.Errorf("%d binaries, want 11", n)
		}
	})

	t.Run("msi", func(t *testing.T) {
		msi := filepath.Join(dist, "steward-agent-"+v+"-windows-amd64.msi")
		if info := msiinfo(t, "suminfo", msi); !strings.Contains(info, "Template: x64;") {
			t.Errorf("not an x64 package:\n%s", info)
		}
		// The File table: the agent and the helper built with it, by size.
		sizes := map[string]string{}
		for _, row := range msiRows(t, msi, "File") {
			sizes[row["FileName"]] = row["FileSize"]
		}
		agent := contents[target{"windows", "amd64", "agent"}]
		helper := contents[target{"windows", "amd64", "msi-config"}]
		if sizes["steward-agent.exe"] != strconv.Itoa(len(agent)) || sizes["steward-msi-config.exe"] != strconv.Itoa(len(helper)) {
			t.Errorf("File table sizes %v, want steward-agent.exe %d and steward-msi-config.exe %d", sizes, len(agent), len(helper))
		}
		props := map[string]string{}
		for _, row := range msiRows(t, msi, "Property") {
			props[row["Property"]] = row["Value"]
		}
		if props["ProductVersion"] != "1.2.0" || props["STEWARD_SERVER"] != "" {
			t.Errorf("ProductVersion %q, STEWARD_SERVER %q: want 1.2.0 and an unconfigured MSI", props["ProductVersion"], props["STEWARD_SERVER"])
		}
	})

	t.Run("macos", func(t *testing.T) {
		for _, arch := range []string{"amd64", "arm64"} {
			base := "steward-agent-" + v + "-darwin-" + arch
			tgz := filepath.Join(dist, base+".tar.gz")
			list := map[string]string{}
			for _, line := range strings.Split(strings.TrimSpace(command(t, "tar", "-tvzf", tgz)), "\n") {
				// -rwxr-xr-x root/wheel 1234 2023-11-14 22:13 steward-agent-.../steward-agent
				f := strings.Fields(line)
				if len(f) < 6 {
					t.Fatalf("tar -tvzf %s: line %q", tgz, line)
				}
				list[f[5]] = f[0] + " " + f[1]
			}
			wantList := map[string]string{
				base + "/":                    "drwxr-xr-x root/wheel",
				base + "/steward-agent":       "-rwxr-xr-x root/wheel",
				base + "/steward-agent.plist": "-rw-r--r-- root/wheel",
				base + "/install.sh":          "-rwxr-xr-x root/wheel",
			}
			if !reflect.DeepEqual(list, wantList) {
				t.Errorf("tar -tvzf %s:\n %v\nwant\n %v", filepath.Base(tgz), list, wantList)
			}
			x := t.TempDir()
			command(t, "tar", "-xzf", tgz, "-C", x)
			b, _ := os.ReadFile(filepath.Join(x, base, "steward-agent"))
			if !bytes.Equal(b, contents[target{"darwin", arch, "agent"}]) {
				t.Errorf("%s: steward-agent is not the darwin/%s agent", filepath.Base(tgz), arch)
			}
		}
	})

	sums, err := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(sums), "\n"); n != len(want)-2 {
		t.Errorf("SHA256SUMS has %d lines, want %d:\n%s", n, len(want)-2, sums)
	}
	check := exec.Command("sha256sum", "--check", "--strict", "SHA256SUMS")
	check.Dir = dist
	if out, err := check.CombinedOutput(); err != nil {
		t.Errorf("sha256sum --check: %v\n%s", err, out)
	}
	if !strings.Contains(stdout.String(), "package version "+v) {
		t.Errorf("output does not name the package version:\n%s", stdout.String())
	}
}

// TestPackagesRefuses checks that a missing or wrong binary, and a
// helper named in the environment, stop the program before it writes or
// removes anything.
func TestPackagesRefuses(t *testing.T) {
	requireTools(t)
	bin, _ := standIns(t)
	linux := target{"linux", "amd64", "agent"}.path(bin)
	helper := target{"windows", "amd64", "msi-config"}.path(bin)
	darwin := target{"darwin", "arm64", "agent"}.path(bin)
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T)
		want  string
	}{
		{"no helper", func(t *testing.T) { os.Rename(helper, helper+".away") }, "steward-msi-config.exe for windows/amd64"},
		{"linux binary as darwin", func(t *testing.T) {
			b, _ := os.ReadFile(darwin)
			os.WriteFile(darwin+".keep", b, 0o755)
			l, _ := os.ReadFile(linux)
			os.WriteFile(darwin, l, 0o755)
		}, "built for linux/amd64, want darwin/arm64"},
		{"helper from the environment", func(t *testing.T) { t.Setenv("STEWARD_MSI_CONFIG_EXE", helper) }, "STEWARD_MSI_CONFIG_EXE is set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("STEWARD_MSI_CONFIG_EXE", "")
			tc.setup(t)
			defer func() {
				// Put the stand-ins back for the next case.
				os.Rename(helper+".away", helper)
				if b, err := os.ReadFile(darwin + ".keep"); err == nil {
					os.WriteFile(darwin, b, 0o755)
					os.Remove(darwin + ".keep")
				}
			}()
			dist := t.TempDir()
			os.WriteFile(filepath.Join(dist, "steward-agent_1.1.0-1_amd64.deb"), []byte("old"), 0o644)
			var stdout, stderr bytes.Buffer
			code := run([]string{"-version", "v1.2.0", "-out", dist, "-bin-dir", bin}, &stdout, &stderr)
			if code != 1 || !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("exit %d, want 1 saying %q:\n%s", code, tc.want, stderr.String())
			}
			if entries, _ := os.ReadDir(dist); len(entries) != 1 || entries[0].Name() != "steward-agent_1.1.0-1_amd64.deb" {
				t.Errorf("dist holds %v after refusing, want the earlier run's file only", entries)
			}
		})
	}
}

// TestTargets checks which binaries the artefacts are made from.
func TestTargets(t *testing.T) {
	var got []string
	for _, tg := range targets(artefacts()) {
		got = append(got, tg.goos+"/"+tg.arch+"/"+tg.binary())
	}
	sort.Strings(got)
	want := []string{
		"darwin/amd64/steward-agent", "darwin/arm64/steward-agent",
		"linux/amd64/steward-agent", "linux/amd64/steward-server", "linux/amd64/stewardctl",
		"linux/arm64/steward-agent", "linux/arm64/steward-server", "linux/arm64/stewardctl",
		"windows/amd64/steward-agent.exe", "windows/amd64/steward-msi-config.exe",
		"windows/arm64/steward-agent.exe",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("targets\n %q\nwant\n %q", got, want)
	}
	for _, a := range artefacts() {
		if a.kind == "msi" && (a.arch != "amd64" || len(a.with) != 1 || a.with[0] != (target{"windows", "amd64", "msi-config"})) {
			t.Errorf("the MSI is made from %v with %v, want windows/amd64 with its steward-msi-config.exe beside", a.target, a.with)
		}
	}
}

func TestPackagesUsage(t *testing.T) {
	t.Setenv("STEWARD_MSI_CONFIG_EXE", "")
	var stdout, stderr bytes.Buffer
	if code := run(nil, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), "usage") {
		t.Errorf("no -version: exit %d, %q", code, stderr.String())
	}
	if code := run([]string{"-version", "1a2b3c4", "-commits", "7", "-out", t.TempDir(), "-bin-dir", t.TempDir()}, &stdout, &stderr); code != 1 ||
		!strings.Contains(stdout.String(), "package version 0.0.0~git7.1a2b3c4") {
		t.Errorf("-commits 7: exit %d, %q", code, stdout.String())
	}
	if code := run([]string{"-version", "not a version", "-out", t.TempDir(), "-bin-dir", t.TempDir()}, &stdout, &stderr); code != 1 {
		t.Errorf("bad version: exit %d", code)
	}
}

// command runs a command and returns its standard output; a failure
// fails the test with everything it printed.
func command(t *testing.T, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

func msiinfo(t *testing.T, args ...string) string {
	t.Helper()
	return command(t, "msiinfo", args...)
}

// msiRows reads a table with `msiinfo export`: one map per row, by
// column name (the first line names the columns, the next two are their
// types and the key).
func msiRows(t *testing.T, msi, table string) []map[string]string {
	t.Helper()
	lines := strings.Split(strings.ReplaceAll(msiinfo(t, "export", msi, table), "\r\n", "\n"), "\n")
	if len(lines) < 3 {
		t.Fatalf("msiinfo export %s: %q", table, lines)
	}
	cols := strings.Split(lines[0], "\t")
	var rows []map[string]string
	for _, l := range lines[3:] {
		if l == "" {
			continue
		}
		row := map[string]string{}
		for i, v := range strings.Split(l, "\t") {
			if i < len(cols) {
				row[cols[i]] = v
			}
		}
		rows = append(rows, row)
	}
	return rows
}
