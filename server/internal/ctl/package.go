package ctl

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/steward-project/steward/installers/packaging"
	"github.com/steward-project/steward/shared/labels"
)

// packageKinds are the installers `stewardctl package` builds, and the
// OS each one is for.
var packageKinds = map[string]string{"deb": "linux", "rpm": "linux", "msi": "windows", "macos": "darwin"}

// packageOptions are the flags of `stewardctl package`.
type packageOptions struct {
	secretFile, caFile, labels string
	arch, binary, version, out string
}

// packageCommand builds an agent installer with the enrollment inside:
// the server URL (the global --server), the enroll secret, an optional CA
// certificate and labels. It needs no token: nothing is asked of the
// server.
var packageCommand = command{
	name:    "package",
	args:    []string{"deb|rpm|msi|macos"},
	summary: "build an agent installer that enrolls with --server by itself (deb, rpm, msi or macos)",
	local:   true,
	setup: func(fs *flag.FlagSet) runFunc {
		var o packageOptions
		fs.StringVar(&o.secretFile, "enroll-secret-file", "", "file holding the server's enroll secret (required; the installer carries it)")
		fs.StringVar(&o.caFile, "ca-file", "", "PEM certificate of the CA that signed the server's TLS certificate, if private")
		fs.StringVar(&o.labels, "labels", "", "host labels the agent enrolls with: k=v,k2=v2")
		fs.StringVar(&o.arch, "arch", "amd64", "target architecture: amd64 or arm64 (MSIs: amd64 only)")
		fs.StringVar(&o.binary, "agent-binary", "", "steward-agent built for the target OS and arch (default: the steward-agent beside stewardctl, when the target is this machine's)")
		fs.StringVar(&o.version, "version", "", "package version (default: this stewardctl's)")
		fs.StringVar(&o.out, "out", ".", "directory to write the installer to")
		return func(_ context.Context, s *session, args []string) error {
			path, err := buildPackage(s, args[0], o)
			if err != nil {
				return err
			}
			return printf(s.out, "%s\n", path)
		}
	},
}

// buildPackage checks the options, reads the files they name, and calls
// the installer's builder.
func buildPackage(s *session, kind string, o packageOptions) (string, error) {
	goos, ok := packageKinds[kind]
	if !ok {
		return "", &usageError{msg: fmt.Sprintf("unknown installer %q: want deb, rpm, msi or macos", kind)}
	}
	if !s.serverGiven {
		return "", &usageError{msg: "--server (or STEWARD_SERVER) is required: the installer enrolls with that server"}
	}
	if o.secretFile == "" {
		return "", &usageError{msg: "--enroll-secret-file is required: the installer enrolls with that secret"}
	}
	secret, err := os.ReadFile(o.secretFile)
	if err != nil {
		return "", fmt.Errorf("enroll secret: %w", err)
	}
	e := &packaging.Enrollment{Server: s.server, EnrollSecret: strings.TrimSpace(string(secret))}
	if o.caFile != "" {
		if e.CAFile, err = os.ReadFile(o.caFile); err != nil {
			return "", fmt.Errorf("CA file: %w", err)
		}
	}
	if e.Labels, err = labels.Parse(o.labels); err != nil {
		return "", &usageError{msg: "--labels: " + err.Error()}
	}
	if len(e.Labels) == 0 {
		e.Labels = nil
	}
	binary := o.binary
	if binary == "" {
		if goos != runtime.GOOS || o.arch != runtime.GOARCH {
			return "", &usageError{msg: fmt.Sprintf("a %s installer for %s/%s needs --agent-binary: a steward-agent built for %s/%s (make packages builds them into dist/)", kind, goos, o.arch, goos, o.arch)}
		}
		self, err := os.Executable()
		if err != nil {
			return "", fmt.Errorf("find steward-agent beside stewardctl: %w (give --agent-binary)", err)
		}
		binary = filepath.Join(filepath.Dir(self), "steward-agent")
		if _, err := os.Stat(binary); err != nil {
			return "", fmt.Errorf("no steward-agent beside stewardctl (%s): give --agent-binary", binary)
		}
	}
	version := o.version
	if version == "" {
		built := s.version
		if built == "" {
			built = "dev"
		}
		if version, err = packaging.PackageVersion(built, s.commits); err != nil {
			return "", fmt.Errorf("this stewardctl's version %q makes no package version (%v): give --version", s.version, err)
		}
	}
	if fi, err := os.Stat(o.out); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("--out %s: not a directory", o.out)
	}
	opts := packaging.Options{Version: version, Arch: o.arch, Binary: binary, Enroll: e, OutDir: o.out}
	var path string
	switch kind {
	case "deb":
		path, err = packaging.Deb("agent", opts)
	case "rpm":
		path, err = packaging.RPM("agent", opts)
	case "msi":
		path, err = packaging.MSI(opts)
	case "macos":
		path, err = packaging.MacOS(opts)
	}
	if err != nil {
		return "", fmt.Errorf("build the %s installer: %w", kind, err)
	}
	printf(s.errOut, "%s: installs steward-agent %s and enrolls it with %s; it holds the enroll secret, so hand it out like the secret itself\n",
		path, version, s.server)
	return path, nil
}
