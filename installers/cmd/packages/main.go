// Command packages builds Steward's release artefacts into one directory
// (dist/ for `make packages`): the binaries for every target, then every
// installer from them, the binaries themselves under names that say their
// version and platform, and SHA256SUMS over all of it.
//
//	go run ./installers/cmd/packages -version "$(git describe --tags --always --dirty)" -out dist
//
// The artefacts are listed in one place, the artefacts function below:
// an installer for another system is one more entry there.
package main

import (
	"context"
	"crypto/sha256"
	"debug/elf"
	"debug/macho"
	"debug/pe"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/steward-project/steward/installers/packaging"
)

// program is one of the commands the release ships.
type program struct {
	name string // the binary's name, without .exe
	pkg  string // the Go package that builds it
}

// programs are the commands a target can build, by the name artefacts
// uses for them.
var programs = map[string]program{
	"agent":      {"steward-agent", "./agent/cmd/steward-agent"},
	"server":     {"steward-server", "./server/cmd/steward-server"},
	"ctl":        {"stewardctl", "./server/cmd/stewardctl"},
	"msi-config": {"steward-msi-config", "./installers/windows/msiconfig"},
}

// target is one binary to build: a program for one GOOS and GOARCH.
type target struct {
	goos, arch, program string
}

// binary is the file name go build gives the program's binary.
func (t target) binary() string {
	name := programs[t.program].name
	if t.goos == "windows" {
		name += ".exe"
	}
	return name
}

// path is where the binary is in binDir: binDir/GOOS_GOARCH/binary.
func (t target) path(binDir string) string {
	return filepath.Join(binDir, t.goos+"_"+t.arch, t.binary())
}

func (t target) String() string { return t.binary() + " for " + t.goos + "/" + t.arch }

// artefact is one file to make from the binary of its target.
type artefact struct {
	target
	kind string // what it is, for messages: deb, rpm, msi, macos, binary
	// with are other binaries the builder takes from beside the target's
	// (the MSI's steward-msi-config.exe); they are built with it.
	with []target
	// tools are the commands the builder runs, with the Debian packages
	// that have them; they are looked for before anything is built.
	tools map[string]string
	build func(o packaging.Options) (string, error)
}

// artefacts lists everything `make packages` makes:
//
//   - the unconfigured .deb and .rpm of the agent and the server, for
//     amd64 and arm64;
//   - the agent's Windows MSI, amd64 only: wixl has no arm64 target, and
//     Windows on Arm runs the x64 MSI and agent under emulation;
//   - the agent's macOS tarballs, amd64 and arm64;
//   - the plain binaries, for `stewardctl package --agent-binary` and
//     for installing by hand: steward-agent for Linux, macOS and Windows,
//     steward-server and stewardctl for Linux, each for amd64 and arm64,
//     and the MSI's steward-msi-config.exe that `stewardctl package msi`
//     needs beside the agent.
//
// The binaries every entry needs are built from this list.
func artefacts() []artefact {
	var list []artefact
	for _, arch := range packaging.Archs {
		for _, component := range packaging.Components {
			t := target{goos: "linux", arch: arch, program: component}
			list = append(list,
				artefact{target: t, kind: "deb", build: func(o packaging.Options) (string, error) { return packaging.Deb(component, o) }},
				artefact{target: t, kind: "rpm", build: func(o packaging.Options) (string, error) { return packaging.RPM(component, o) }},
			)
		}
	}
	msiConfig := target{goos: "windows", arch: "amd64", program: "msi-config"}
	list = append(list, artefact{
		target: target{goos: "windows", arch: "amd64", program: "agent"},
		kind:   "msi",
		with:   []target{msiConfig},
		tools:  map[string]string{"wixl": "wixl", "msibuild": "msitools"},
		build:  packaging.MSI,
	})
	for _, arch := range packaging.Archs {
		list = append(list, artefact{target: target{goos: "darwin", arch: arch, program: "agent"}, kind: "macos", build: packaging.MacOS})
	}

	for _, goos := range []string{"linux", "darwin", "windows"} {
		for _, arch := range packaging.Archs {
			list = append(list, plain(target{goos: goos, arch: arch, program: "agent"}))
		}
	}
	for _, program := range []string{"server", "ctl"} {
		for _, arch := range packaging.Archs {
			list = append(list, plain(target{goos: "linux", arch: arch, program: program}))
		}
	}
	return append(list, plain(msiConfig))
}

// plain is the artefact that is t's binary itself, as
// NAME_VERSION_GOOS_ARCH[.exe] (steward-agent_1.2.0_linux_arm64).
func plain(t target) artefact {
	return artefact{target: t, kind: "binary", build: func(o packaging.Options) (string, error) {
		return copyBinary(t, o)
	}}
}

// plainName is the name of t's binary in the output directory.
func plainName(t target, version string) string {
	name := programs[t.program].name + "_" + version + "_" + t.goos + "_" + t.arch
	if t.goos == "windows" {
		name += ".exe"
	}
	return name
}

// copyBinary copies o.Binary into o.OutDir under its plain name, mode 0755.
func copyBinary(t target, o packaging.Options) (string, error) {
	if err := checkExecutable(o.Binary, t.goos, t.arch); err != nil {
		return "", err
	}
	in, err := os.Open(o.Binary)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out := filepath.Join(o.OutDir, plainName(t, o.Version))
	tmp := out + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o755)
	if err != nil {
		return "", err
	}
	_, err = io.Copy(f, in)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, 0o755) // whatever the umask
	}
	if err == nil {
		err = os.Rename(tmp, out)
	}
	if err != nil {
		os.Remove(tmp)
		return "", err
	}
	return out, nil
}

// targets are the binaries the artefacts need, each once, in list order.
func targets(list []artefact) []target {
	var out []target
	seen := map[target]bool{}
	for _, a := range list {
		for _, t := range append([]target{a.target}, a.with...) {
			if !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
	}
	return out
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("packages", flag.ContinueOnError)
	fs.SetOutput(stderr)
	describe := fs.String("version", "", "the build's version as git describe --tags --always --dirty prints it (the Makefile's VERSION)")
	out := fs.String("out", "dist", "output directory")
	commits := fs.Int("commits", 0, "commits in HEAD (git rev-list --count HEAD, the Makefile's COMMITS); 0: ask git")
	binDir := fs.String("bin-dir", "", "use binaries already built in DIR/GOOS_GOARCH/ instead of building them")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *describe == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: packages -version VERSION [-commits N] [-out DIR] [-bin-dir DIR]")
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := build(ctx, *describe, *commits, *out, *binDir, stdout); err != nil {
		fmt.Fprintf(stderr, "packages: %v\n", err)
		return 1
	}
	return 0
}

// build makes every artefact into out and writes out/SHA256SUMS.
func build(ctx context.Context, describe string, commits int, out, binDir string, stdout io.Writer) error {
	commits = countCommits(ctx, commits)
	version, err := packaging.PackageVersion(describe, commits)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "version %s (package version %s)\n", describe, version)

	list := artefacts()
	// The MSI takes steward-msi-config.exe from STEWARD_MSI_CONFIG_EXE
	// before the one built here beside the agent.
	if p := os.Getenv("STEWARD_MSI_CONFIG_EXE"); p != "" {
		return fmt.Errorf("STEWARD_MSI_CONFIG_EXE is set (%s): the MSI would carry that steward-msi-config.exe instead of the one built with its agent; unset it", p)
	}
	if err := checkTools(list); err != nil {
		return err
	}
	if binDir == "" {
		tmp, err := os.MkdirTemp("", "steward-packages-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		binDir = tmp
		if err := buildBinaries(ctx, targets(list), describe, commits, binDir, stdout); err != nil {
			return err
		}
	}
	// Every binary is there and is what its name says, before anything
	// is made from it or an earlier run's files are removed.
	for _, t := range targets(list) {
		if err := checkExecutable(t.path(binDir), t.goos, t.arch); err != nil {
			return fmt.Errorf("%s: %w", t, err)
		}
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	if err := clean(out); err != nil {
		return err
	}

	var made []string
	for _, a := range list {
		path, err := a.build(packaging.Options{
			Version: version,
			Arch:    a.arch,
			Binary:  a.path(binDir),
			OutDir:  out,
		})
		if err != nil {
			return fmt.Errorf("%s from %s: %w", a.kind, a.target, err)
		}
		fmt.Fprintf(stdout, "  %s\n", path)
		made = append(made, path)
	}
	if err := writeSums(filepath.Join(out, "SHA256SUMS"), made); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "  %s\n", filepath.Join(out, "SHA256SUMS"))
	return nil
}

// countCommits returns commits, or when it is 0 the commits in HEAD as
// git counts them (0 without git): they order builds made before the
// first tag.
func countCommits(ctx context.Context, commits int) int {
	if commits <= 0 {
		if out, err := exec.CommandContext(ctx, "git", "rev-list", "--count", "HEAD").Output(); err == nil {
			commits, _ = strconv.Atoi(strings.TrimSpace(string(out)))
		}
	}
	return commits
}

// checkTools fails when a command a builder runs is missing, naming the
// Debian package that has it, so that this shows before the builds.
func checkTools(list []artefact) error {
	var missing, pkgs []string
	seen := map[string]bool{}
	for _, a := range list {
		for name, pkg := range a.tools {
			if seen[name] {
				continue
			}
			seen[name] = true
			if _, err := exec.LookPath(name); err != nil {
				missing = append(missing, name)
				pkgs = append(pkgs, pkg)
			}
		}
	}
	if len(missing) == 0 {
		return nil
	}
	sort.Strings(missing)
	sort.Strings(pkgs)
	return fmt.Errorf("%s not found: install with `apt-get install -y %s`", strings.Join(missing, ", "), strings.Join(slices.Compact(pkgs), " "))
}

// clean removes what an earlier run left in out (every artefact is named
// steward-* or stewardctl_*), so that SHA256SUMS and the directory agree.
func clean(out string) error {
	var old []string
	for _, pattern := range []string{"steward-*", "stewardctl_*"} {
		m, err := filepath.Glob(filepath.Join(out, pattern))
		if err != nil {
			return err
		}
		old = append(old, m...)
	}
	for _, p := range append(old, filepath.Join(out, "SHA256SUMS")) {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// buildBinaries builds each target the way the Makefile's build target
// does (static, trimmed paths, version and commits stamped), into
// binDir/GOOS_GOARCH/.
func buildBinaries(ctx context.Context, list []target, describe string, commits int, binDir string, stdout io.Writer) error {
	ldflags := "-s -w -X main.version=" + describe + " -X main.commits=" + strconv.Itoa(commits)
	for _, t := range list {
		fmt.Fprintf(stdout, "building %s\n", t)
		pkg := programs[t.program].pkg
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", ldflags, "-o", t.path(binDir), pkg)
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+t.goos, "GOARCH="+t.arch)
		cmd.Stdout, cmd.Stderr = stdout, stdout
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build %s for %s/%s: %w", pkg, t.goos, t.arch, err)
		}
	}
	return nil
}

// executable reads the headers of the executable at path and says which
// system and architecture it is for: linux for ELF (the only ELF target
// here), windows for PE, darwin for Mach-O; amd64 or arm64.
func executable(path string) (goos, arch string, err error) {
	if f, err := elf.Open(path); err == nil {
		defer f.Close()
		if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
			return "", "", fmt.Errorf("%s: an ELF %v, not an executable", path, f.Type)
		}
		arch := map[elf.Machine]string{elf.EM_X86_64: "amd64", elf.EM_AARCH64: "arm64"}[f.Machine]
		return "linux", arch, nil
	}
	if f, err := pe.Open(path); err == nil {
		defer f.Close()
		if f.Characteristics&pe.IMAGE_FILE_EXECUTABLE_IMAGE == 0 {
			return "", "", fmt.Errorf("%s: a PE file that is not an executable image", path)
		}
		arch := map[uint16]string{pe.IMAGE_FILE_MACHINE_AMD64: "amd64", pe.IMAGE_FILE_MACHINE_ARM64: "arm64"}[f.Machine]
		return "windows", arch, nil
	}
	if f, err := macho.Open(path); err == nil {
		defer f.Close()
		if f.Type != macho.TypeExec {
			return "", "", fmt.Errorf("%s: a Mach-O %v, not an executable", path, f.Type)
		}
		arch := map[macho.Cpu]string{macho.CpuAmd64: "amd64", macho.CpuArm64: "arm64"}[f.Cpu]
		return "darwin", arch, nil
	}
	if _, err := os.Stat(path); err != nil {
		return "", "", err
	}
	return "", "", fmt.Errorf("%s: not an ELF, PE or Mach-O executable", path)
}

// checkExecutable fails unless path is an executable for goos/arch.
func checkExecutable(path, goos, arch string) error {
	gotOS, gotArch, err := executable(path)
	if err != nil {
		return err
	}
	if gotOS != goos || gotArch != arch {
		if gotArch == "" {
			gotArch = "another architecture"
		}
		return fmt.Errorf("%s: built for %s/%s, want %s/%s", path, gotOS, gotArch, goos, arch)
	}
	return nil
}

// writeSums writes the SHA-256 of each file in sha256sum's format, so
// that `sha256sum -c SHA256SUMS` checks them in the directory.
func writeSums(path string, paths []string) error {
	sort.Strings(paths)
	var b strings.Builder
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		h := sha256.New()
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(h.Sum(nil)), filepath.Base(p))
	}
	return os.WriteFile(path, []byte(b.String()), 0o644)
}
