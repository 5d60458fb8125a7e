package pkgdb

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steward-project/steward/shared/inventory"
)

// pacmanPackage writes a package file as makepkg would (a tar with
// .PKGINFO first, then the files), uncompressed, which pacman accepts.
func pacmanPackage(t *testing.T, dir, name, version, arch, packager string) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(path, body string) {
		if err := tw.WriteHeader(&tar.Header{Name: path, Mode: 0o644, Size: int64(len(body)), ModTime: time.Unix(1700000000, 0)}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	add(".PKGINFO", fmt.Sprintf("pkgname = %s\npkgbase = %s\npkgver = %s\npkgdesc = Steward fixture\n"+
		"builddate = 1700000000\npackager = %s\nsize = 3\narch = %s\nlicense = MIT\n", name, name, version, packager, arch))
	add("usr/share/"+name+"/README", "hi\n")
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+"-"+version+"-"+arch+".pkg.tar")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestPacmanMatchesPacman installs packages into an empty root with the
// real pacman (database only) and compares the reader with pacman -Qi.
func TestPacmanMatchesPacman(t *testing.T) {
	bin := requireTool(t, "pacman", "pacman-package-manager")
	work := t.TempDir()
	root := filepath.Join(work, "root")
	dbpath := filepath.Join(root, "var/lib/pacman")
	if err := os.MkdirAll(dbpath, 0o755); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(work, "pacman.conf")
	if err := os.WriteFile(conf, []byte("[options]\nArchitecture = auto\nSigLevel = Never\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	pkgs := []string{
		pacmanPackage(t, work, "hello-fixture", "1:2.12-3", "any", "Steward Fixtures <fixtures@steward.invalid>"),
		pacmanPackage(t, work, "zlib-fixture", "1.3.1-2", "any", "Ünïcode Packager <p@steward.invalid>"),
		pacmanPackage(t, work, "git-fixture", "2.45.0.r12.gabcdef-1", "any", "Unknown Packager"),
	}
	common := []string{"--config", conf, "--root", root, "--dbpath", dbpath}
	before := time.Now().Add(-time.Second)
	install := exec.Command(bin, append(append([]string{"-U", "--noconfirm", "--dbonly"}, common...), pkgs...)...)
	if out, err := install.CombinedOutput(); err != nil {
		t.Fatalf("pacman -U: %v\n%s", err, out)
	}
	after := time.Now().Add(time.Second)

	query := exec.Command(bin, append([]string{"-Qi"}, common...)...)
	query.Env = append(os.Environ(), "LC_ALL=C", "TZ=UTC")
	out, err := query.Output()
	if err != nil {
		t.Fatalf("pacman -Qi: %v", err)
	}
	want := parsePacmanQi(t, out)
	if len(want) != 3 {
		t.Fatalf("pacman -Qi lists %d packages, want 3", len(want))
	}
	got, err := Pacman(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	diffPackages(t, got, want)
	for _, p := range got {
		if p.InstallTime.Before(before) || p.InstallTime.After(after) {
			t.Errorf("%s installed at %v, not during the test", p.Name, p.InstallTime)
		}
	}
}

// parsePacmanQi reads the fields the reader reports from pacman -Qi in
// the C locale and UTC.
func parsePacmanQi(t *testing.T, out []byte) []inventory.Package {
	t.Helper()
	var pkgs []inventory.Package
	for _, block := range strings.Split(strings.TrimSpace(string(out)), "\n\n") {
		p := inventory.Package{Source: inventory.SourcePacman}
		for _, line := range strings.Split(block, "\n") {
			k, v, ok := strings.Cut(line, " : ")
			if !ok {
				continue
			}
			switch strings.TrimSpace(k) {
			case "Name":
				p.Name = v
			case "Version":
				p.Version = v
			case "Architecture":
				p.Arch = v
			case "Packager":
				p.Publisher = v
			case "Install Date":
				at, err := time.Parse("Mon Jan _2 15:04:05 2006", v)
				if err != nil {
					t.Fatalf("install date %q: %v", v, err)
				}
				p.InstallTime = at
			}
		}
		pkgs = append(pkgs, p)
	}
	SortPackages(pkgs)
	return pkgs
}

func TestPacmanLayouts(t *testing.T) {
	desc := func(name, version string) []byte {
		return []byte("%NAME%\n" + name + "\n\n%VERSION%\n" + version + "\n\n%DEPENDS%\nglibc\nzlib\n\n" +
			"%ARCH%\nx86_64\n\n%INSTALLDATE%\n1714000000\n\n%PACKAGER%\nArch Builder <b@archlinux.invalid>\n\n")
	}
	want := []inventory.Package{{Name: "curl", Version: "8.7.1-3", Arch: "x86_64", Source: "pacman",
		Publisher: "Arch Builder <b@archlinux.invalid>", InstallTime: time.Unix(1714000000, 0).UTC()}}
	t.Run("DBPath from pacman.conf", func(t *testing.T) {
		root := newTree(t).
			file("etc/pacman.conf", []byte("[options]\n# DBPath = /nope\nDBPath = /srv/pacman/\n\n[core]\nDBPath = /wrong\n")).
			file("srv/pacman/local/ALPM_DB_VERSION", []byte("9\n")).
			file("srv/pacman/local/curl-8.7.1-3/desc", desc("curl", "8.7.1-3")).
			dir("srv/pacman/local/half-installed-1.0-1").root
		got, err := Pacman(context.Background(), root)
		if err != nil {
			t.Fatal(err)
		}
		diffPackages(t, got, want)
	})
	t.Run("absent", func(t *testing.T) {
		if _, err := Pacman(context.Background(), t.TempDir()); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("err = %v, want fs.ErrNotExist", err)
		}
	})
	t.Run("desc without version", func(t *testing.T) {
		root := newTree(t).file("var/lib/pacman/local/x-1-1/desc", []byte("%NAME%\nx\n\n")).root
		if _, err := Pacman(context.Background(), root); err == nil {
			t.Error("no error")
		}
	})
}
