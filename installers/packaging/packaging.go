// Package packaging builds Steward's installable packages: .deb and .rpm
// for Linux (this file, nfpm.go, deb.go and rpm.go, built with nfpm used
// as a library), and the Windows and macOS installers beside them.
//
// Every builder takes a component ("agent" or "server") and Options, and
// returns the path of the file it wrote into Options.OutDir. A package
// built with Options.Enroll set is "configured": installing it is enough
// for the agent to enroll with that server. See docs/packages.md.
package packaging

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"

	"github.com/steward-project/steward/shared/labels"
)

// Enrollment is what a configured agent package carries so that the agent
// enrolls with its server on first start.
type Enrollment struct {
	// Server is the steward-server URL, http(s)://host[:port].
	Server string
	// EnrollSecret is the server's enroll secret (its data dir's
	// enroll-secret file). Whoever has the package has the secret.
	EnrollSecret string
	// CAFile is the PEM certificate(s) the agent trusts for the server's
	// TLS, when it is signed by a private CA; optional.
	CAFile []byte
	// Labels are the host labels the agent enrolls with (its config's
	// labels key). Every installer carries them: the .deb and .rpm in
	// agent.yaml, the MSI as the default of its STEWARD_LABELS property
	// and the macOS tarball in enroll.env, both as k=v,k2=v2 (see
	// joinLabels).
	Labels map[string]string
}

// Options says what to package and where.
type Options struct {
	// Version is the package version, e.g. 1.2.0, 1.2.0~rc1 or
	// 0.0.0~git42.1a2b3c4 (see PackageVersion).
	Version string
	// Arch is the Go architecture of Binary: amd64 or arm64.
	Arch string
	// Binary is the path to the built steward-agent or steward-server.
	Binary string
	// Enroll, when set, makes a configured agent package; nil makes an
	// unconfigured one. Only the agent takes it.
	Enroll *Enrollment
	// OutDir is where the package is written; it must exist.
	OutDir string
}

// Components are the components every builder knows.
var Components = []string{"agent", "server"}

// Archs are the architectures the Linux builders know.
var Archs = []string{"amd64", "arm64"}

// versionPattern is what both dpkg and rpm accept as an upstream version
// and order the same way: digits first, then letters, digits, '.', '+'
// and '~' (no '-', which both use before the release).
var versionPattern = regexp.MustCompile(`^[0-9][0-9A-Za-z.+~]*$`)

// check validates the options common to every builder.
func (o Options) check(component string) error {
	if component != "agent" && component != "server" {
		return fmt.Errorf("component %q: want agent or server", component)
	}
	if !versionPattern.MatchString(o.Version) {
		return fmt.Errorf("version %q: want digits first, then only letters, digits, '.', '+' and '~' (see PackageVersion)", o.Version)
	}
	if o.Arch != "amd64" && o.Arch != "arm64" {
		return fmt.Errorf("arch %q: want amd64 or arm64", o.Arch)
	}
	if o.Binary == "" {
		return errors.New("no binary given")
	}
	if fi, err := os.Stat(o.OutDir); err != nil || !fi.IsDir() {
		return fmt.Errorf("output directory %q does not exist", o.OutDir)
	}
	if o.Enroll != nil {
		if component != "agent" {
			return errors.New("only the agent package takes enrollment settings")
		}
		if err := o.Enroll.check(); err != nil {
			return fmt.Errorf("enrollment: %w", err)
		}
	}
	return nil
}

// joinLabels returns l as k=v,k2=v2 sorted by key, the syntax of
// `stewardctl package --labels` that the MSI and the macOS tarball carry
// labels in, and that labels.Parse reads back. It refuses labels that
// syntax cannot hold: values with commas or ending in spaces.
func joinLabels(l map[string]string) (string, error) {
	var pairs []string
	for _, k := range slices.Sorted(maps.Keys(l)) {
		pairs = append(pairs, k+"="+l[k])
	}
	s := strings.Join(pairs, ",")
	if back, err := labels.Parse(s); err != nil || !maps.Equal(back, l) {
		return "", errors.New("labels: this installer carries them as k=v,k2=v2, which cannot hold commas or values ending in spaces")
	}
	return s, nil
}

// check validates an Enrollment before it is written into a package.
func (e *Enrollment) check() error {
	u, err := url.Parse(e.Server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		return fmt.Errorf("server %q: want http(s)://host[:port]", e.Server)
	}
	if strings.ContainsAny(e.Server, " \t\r\n\"'\\") {
		return fmt.Errorf("server %q: contains spaces, quotes or backslashes", e.Server)
	}
	secret := strings.TrimSpace(e.EnrollSecret)
	if secret == "" {
		return errors.New("no enroll secret")
	}
	if strings.ContainsAny(secret, "\r\n") {
		return errors.New("the enroll secret spans lines")
	}
	if err := labels.Check(e.Labels); err != nil {
		return err
	}
	if len(e.CAFile) > 0 {
		block, _ := pem.Decode(e.CAFile)
		if block == nil || block.Type != "CERTIFICATE" {
			return errors.New("CA file is not a PEM certificate")
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return fmt.Errorf("CA file: %w", err)
		}
	}
	return nil
}
