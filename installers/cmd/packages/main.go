// Command packages builds Steward's release artefacts into one directory
// (dist/ for `make packages`): the binaries for every target, then every
// package from them, then SHA256SUMS over the packages.
//
//	go run ./installers/cmd/packages -version "$(git describe --tags --always --dirty)" -out dist
//
// The artefacts are listed in one place, the artefacts function below:
// an installer for another system is one more entry there.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/steward-project/steward/installers/packaging"
)

// target is one binary to build: a component for one GOOS and GOARCH.
type target struct {
	goos, arch, component string
}

// binary is the file name go build gives the component's binary.
func (t target) binary() string {
	name := "steward-" + t.component
	if t.goos == "windows" {
		name += ".exe"
	}
	return name
}

// pkg is the Go package that builds the component's binary.
func (t target) pkg() string {
	return map[string]string{
		"agent":  "./agent/cmd/steward-agent",
		"server": "./server/cmd/steward-server",
	}[t.component]
}

// artefact is one file to make from the binary of its target.
type artefact struct {
	target
	kind  string // what it is, for messages: deb, rpm, ...
	build func(component string, o packaging.Options) (string, error)
}

// artefacts lists everything `make packages` makes: the unconfigured
// .deb and .rpm of the agent and the server for amd64 and arm64. Builders
// for other systems (an MSI, a macOS package) add their entries here with
// their GOOS; the binaries they need are built from this list too.
func artefacts() []artefact {
	var list []artefact
	for _, arch := range packaging.Archs {
		for _, component := range packaging.Components {
			t := target{goos: "linux", arch: arch, component: component}
			list = append(list,
				artefact{target: t, kind: "deb", build: packaging.Deb},
				artefact{target: t, kind: "rpm", build: packaging.RPM},
			)
		}
	}
	return list
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
	version, err := packageVersion(ctx, describe, commits)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "version %s (package version %s)\n", describe, version)
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	if err := clean(out); err != nil {
		return err
	}

	list := artefacts()
	if binDir == "" {
		tmp, err := os.MkdirTemp("", "steward-packages-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		binDir = tmp
		if err := buildBinaries(ctx, list, describe, binDir, stdout); err != nil {
			return err
		}
	}

	var made []string
	for _, a := range list {
		path, err := a.build(a.component, packaging.Options{
			Version: version,
			Arch:    a.arch,
			Binary:  filepath.Join(binDir, a.goos+"_"+a.arch, a.binary()),
			OutDir:  out,
		})
		if err != nil {
			return fmt.Errorf("%s %s %s/%s: %w", a.kind, a.component, a.goos, a.arch, err)
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

// packageVersion converts describe; commits (counted with git when 0)
// orders builds made before the first tag.
func packageVersion(ctx context.Context, describe string, commits int) (string, error) {
	if commits <= 0 {
		if out, err := exec.CommandContext(ctx, "git", "rev-list", "--count", "HEAD").Output(); err == nil {
			commits, _ = strconv.Atoi(strings.TrimSpace(string(out)))
		}
	}
	return packaging.PackageVersion(describe, commits)
}

// clean removes what an earlier run left in out (every artefact is named
// steward-*), so that SHA256SUMS and the directory agree.
func clean(out string) error {
	old, err := filepath.Glob(filepath.Join(out, "steward-*"))
	if err != nil {
		return err
	}
	for _, p := range append(old, filepath.Join(out, "SHA256SUMS")) {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// buildBinaries builds each target's binary once, the way the Makefile's
// build target does (static, trimmed paths, version stamped), into
// binDir/GOOS_GOARCH/.
func buildBinaries(ctx context.Context, list []artefact, describe, binDir string, stdout io.Writer) error {
	seen := map[target]bool{}
	for _, a := range list {
		if seen[a.target] {
			continue
		}
		seen[a.target] = true
		dir := filepath.Join(binDir, a.goos+"_"+a.arch)
		fmt.Fprintf(stdout, "building %s for %s/%s\n", a.binary(), a.goos, a.arch)
		cmd := exec.CommandContext(ctx, "go", "build", "-trimpath",
			"-ldflags", "-s -w -X main.version="+describe,
			"-o", filepath.Join(dir, a.binary()), a.pkg())
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+a.goos, "GOARCH="+a.arch)
		cmd.Stdout, cmd.Stderr = stdout, stdout
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build %s for %s/%s: %w", a.pkg(), a.goos, a.arch, err)
		}
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
