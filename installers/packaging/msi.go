package packaging

import (
	"bufio"
	"bytes"
	"debug/pe"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/steward-project/steward/installers/windows"
)

// msiConfigPackage is the program the MSI runs to write agent.yaml; MSI
// cross-compiles it unless STEWARD_MSI_CONFIG_EXE names a built one.
const msiConfigPackage = "github.com/steward-project/steward/installers/windows/msiconfig"

// MSI builds the Windows installer of the agent from the windows/amd64
// steward-agent.exe at o.Binary, with wixl (Debian's wixl package) from
// installers/windows/steward-agent.wxs, then adds what wixl cannot
// express from installers/windows/tables.sql with msibuild (msitools).
// It returns the path of OutDir/steward-agent-VERSION-windows-amd64.msi.
//
// The MSI installs the agent and steward-msi-config.exe under
// C:\Program Files\Steward, registers the
// steward-agent service, and writes C:\ProgramData\Steward\agent.yaml
// from the msiexec properties STEWARD_SERVER, ENROLL_SECRET, CA_FILE and
// STEWARD_LABELS (host labels as k=v,k2=v2).
// With o.Enroll set, the enrollment is the properties' defaults (and its
// CA certificate is installed as server-ca.pem), so that a plain
// `msiexec /i` enrolls; such a package holds the secret and is written
// with mode 0600.
//
// steward-msi-config.exe (installers/windows/msiconfig) is the file named
// by STEWARD_MSI_CONFIG_EXE, else the one beside o.Binary (a release build
// puts it there, see msiConfigExe), else MSI builds it with the go
// command, which works only inside this module.
//
// Only amd64 is built: wixl knows x86, x64 and ia64 but not arm64, so an
// arm64 MSI cannot be made here. Windows on Arm runs the x64 agent under
// emulation.
//
// When STEWARD_SIGN_CERT and STEWARD_SIGN_KEY (or STEWARD_SIGN_PKCS12) are
// set, both executables and the MSI are Authenticode-signed with
// osslsigncode; see SignerFromEnv.
func MSI(o Options) (string, error) {
	if err := o.check("agent"); err != nil {
		return "", err
	}
	if o.Arch != "amd64" {
		return "", fmt.Errorf("arch %s: only amd64 MSIs can be built (wixl has no arm64 target); Windows on Arm installs the amd64 MSI under x64 emulation", o.Arch)
	}
	if err := checkPE(o.Binary); err != nil {
		return "", err
	}
	version, err := msiProductVersion(o.Version)
	if err != nil {
		return "", err
	}
	if e := o.Enroll; e != nil {
		if _, err := msiLabels(e.Labels); err != nil {
			return "", err
		}
		// The secret is passed quoted on the configuration step's
		// command line, and defined in a quoted preprocessor value.
		if strings.ContainsAny(e.EnrollSecret, `"`) || strings.Contains(e.EnrollSecret, "?>") ||
			strings.TrimSpace(e.EnrollSecret) != e.EnrollSecret {
			return "", errors.New(`enroll secret: the MSI cannot carry double quotes, "?>" or surrounding spaces`)
		}
		if strings.Contains(e.Server, "?>") {
			return "", errors.New(`server: the MSI cannot carry "?>"`)
		}
	}
	signer, err := SignerFromEnv()
	if err != nil {
		return "", err
	}
	wixl, err := debianTool("wixl", "wixl")
	if err != nil {
		return "", err
	}
	msibuild, err := debianTool("msibuild", "msitools")
	if err != nil {
		return "", err
	}

	work, err := os.MkdirTemp("", "steward-msi-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(work)
	src := filepath.Join(work, "src")
	if err := os.Mkdir(src, 0o755); err != nil {
		return "", err
	}
	if err := copyWithMode(o.Binary, filepath.Join(src, "steward-agent.exe"), 0o644); err != nil {
		return "", err
	}
	if err := msiConfigExe(filepath.Join(src, "steward-msi-config.exe"), o.Binary); err != nil {
		return "", err
	}
	for _, name := range []string{"steward-agent.wxs", "agent.yaml.template", "tables.sql"} {
		b, err := fs.ReadFile(windows.Files, name)
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(src, name), b, 0o644); err != nil {
			return "", err
		}
	}

	if o.Enroll != nil && len(o.Enroll.CAFile) > 0 {
		if err := os.WriteFile(filepath.Join(src, "server-ca.pem"), o.Enroll.CAFile, 0o644); err != nil {
			return "", err
		}
	}
	// The enrollment goes to wixl in a file, not on its command line.
	if err := os.WriteFile(filepath.Join(src, "enrollment.wxi"), enrollmentInclude(o.Enroll), 0o600); err != nil {
		return "", err
	}

	if signer != nil {
		for _, exe := range []string{"steward-agent.exe", "steward-msi-config.exe"} {
			if err := signer.Sign(filepath.Join(src, exe)); err != nil {
				return "", err
			}
		}
	}

	msi := filepath.Join(work, "steward-agent.msi")
	// wixl finds the File sources and the include relative to its
	// working directory.
	cmd := exec.Command(wixl, "-a", "x64", "-o", msi, "-D", "Version="+version, "steward-agent.wxs")
	cmd.Dir = src
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("wixl: %v\n%s", err, out)
	}

	sql, err := fs.ReadFile(windows.Files, "tables.sql")
	if err != nil {
		return "", err
	}
	statements, err := sqlStatements(bytes.ReplaceAll(sql, []byte("$(Version)"), []byte(version)))
	if err != nil {
		return "", err
	}
	args := []string{msi}
	for _, s := range statements {
		args = append(args, "-q", s)
	}
	if out, err := exec.Command(msibuild, args...).CombinedOutput(); err != nil {
		return "", fmt.Errorf("msibuild (tables.sql): %v\n%s", err, out)
	}

	if signer != nil {
		if err := signer.Sign(msi); err != nil {
			return "", err
		}
	}
	mode := os.FileMode(0o644)
	if o.Enroll != nil {
		mode = 0o600
	}
	out := filepath.Join(o.OutDir, "steward-agent-"+o.Version+"-windows-amd64.msi")
	if err := copyWithMode(msi, out, mode); err != nil {
		return "", err
	}
	return out, nil
}

// enrollmentInclude is the enrollment.wxi that steward-agent.wxs
// includes: its values are defaults of the msiexec properties. check and
// MSI have ruled out the double quotes and "?>" that would end a value.
func enrollmentInclude(e *Enrollment) []byte {
	configured, server, secret, ca, hasLabels, labelsValue := "no", "", "", "no", "no", ""
	if e != nil {
		configured, server, secret = "yes", e.Server, e.EnrollSecret
		if len(e.CAFile) > 0 {
			ca = "yes"
		}
		if len(e.Labels) > 0 {
			hasLabels = "yes"
			labelsValue, _ = msiLabels(e.Labels)
		}
	}
	return []byte(`<?xml version="1.0" encoding="utf-8"?>
<!-- Written by installers/packaging.MSI for steward-agent.wxs. -->
<Include>
  <?define Configured = "` + configured + `" ?>
  <?define Server = "` + server + `" ?>
  <?define EnrollSecret = "` + secret + `" ?>
  <?define BundledCA = "` + ca + `" ?>
  <?define HasLabels = "` + hasLabels + `" ?>
  <?define Labels = "` + labelsValue + `" ?>
</Include>
`)
}

// msiLabels returns labels as the STEWARD_LABELS property takes them
// (joinLabels), which steward-msi-config reads back with labels.Parse. It
// also refuses what would end the quoted value of the preprocessor
// definition or of the configuration step's command line (double quotes,
// "?>", a final backslash), and "$(", which wixl would take for a
// variable.
func msiLabels(l map[string]string) (string, error) {
	s, err := joinLabels(l)
	if err != nil {
		return "", err
	}
	if strings.ContainsAny(s, `"`) || strings.Contains(s, "?>") || strings.Contains(s, "$(") || strings.HasSuffix(s, `\`) {
		return "", errors.New(`labels: the MSI cannot carry double quotes, "?>", "$(" or a final backslash`)
	}
	return s, nil
}

// msiProductVersion turns a package version (see PackageVersion) into
// the major.minor.build[.revision] an MSI takes: the release number before
// any '~' (pre-release) or '+' (later commits) part, padded to three
// fields. Windows Installer compares only the first three fields, each
// limited (255.255.65535); builds that differ only after the release
// number get the same MSI version and replace each other on install.
func msiProductVersion(v string) (string, error) {
	release := v
	if i := strings.IndexAny(release, "~+-"); i >= 0 {
		release = release[:i]
	}
	fields := strings.Split(release, ".")
	if release == "" || len(fields) > 4 {
		return "", fmt.Errorf("version %q: an MSI version needs 1 to 4 numbers before any ~ or +", v)
	}
	limits := []int{255, 255, 65535, 65535}
	for i, f := range fields {
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 || n > limits[i] || strconv.Itoa(n) != f {
			return "", fmt.Errorf("version %q: field %q is not a number from 0 to %d, as an MSI version needs", v, f, limits[i])
		}
	}
	for len(fields) < 3 {
		fields = append(fields, "0")
	}
	return strings.Join(fields, "."), nil
}

// sqlStatements splits tables.sql: statements end with ';' at the end of a
// line, and lines starting with "--" are comments.
func sqlStatements(b []byte) ([]string, error) {
	var out []string
	var cur strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "--") {
			continue
		}
		if cur.Len() > 0 {
			cur.WriteByte(' ')
		}
		cur.WriteString(line)
		if strings.HasSuffix(line, ";") {
			out = append(out, strings.TrimSuffix(cur.String(), ";"))
			cur.Reset()
		}
	}
	if cur.Len() > 0 {
		return nil, fmt.Errorf("tables.sql: statement without a final ';': %s", cur.String())
	}
	return out, sc.Err()
}

// checkPE makes sure path is a Windows x64 executable, so that a Linux
// binary given by mistake fails here and not on a Windows machine.
func checkPE(path string) error {
	f, err := pe.Open(path)
	if err != nil {
		return fmt.Errorf("binary %s: not a Windows executable: %w", path, err)
	}
	defer f.Close()
	if f.Machine != pe.IMAGE_FILE_MACHINE_AMD64 {
		return fmt.Errorf("binary %s: machine type %#x, want x64 (GOOS=windows GOARCH=amd64)", path, f.Machine)
	}
	return nil
}

// msiConfigExe puts steward-msi-config.exe at dst: the file named by
// STEWARD_MSI_CONFIG_EXE, else one beside the agent binary (where a
// release build puts it, for programs such as stewardctl that run outside
// this module), else a fresh windows/amd64 build with the go command,
// which needs this module's source.
//
// Beside the agent means steward-msi-config.exe, or for an agent named as
// in a release directory (steward-agent_1.2.0_windows_amd64.exe) the
// helper named the same way (steward-msi-config_1.2.0_windows_amd64.exe)
// first.
func msiConfigExe(dst, agentBinary string) error {
	prebuilt := os.Getenv("STEWARD_MSI_CONFIG_EXE")
	if prebuilt == "" {
		dir, base := filepath.Split(agentBinary)
		var beside []string
		if rest, ok := strings.CutPrefix(base, "steward-agent_"); ok {
			beside = append(beside, filepath.Join(dir, "steward-msi-config_"+rest))
		}
		beside = append(beside, filepath.Join(dir, "steward-msi-config.exe"))
		for _, p := range beside {
			if _, err := os.Stat(p); err == nil {
				prebuilt = p
				break
			}
		}
	}
	if prebuilt != "" {
		if err := checkPE(prebuilt); err != nil {
			return fmt.Errorf("steward-msi-config.exe: %w", err)
		}
		return copyWithMode(prebuilt, dst, 0o644)
	}
	gocmd, err := exec.LookPath("go")
	if err != nil {
		return errors.New("steward-msi-config.exe is needed: put one beside the agent binary, set STEWARD_MSI_CONFIG_EXE, or install the go command to build it here")
	}
	cmd := exec.Command(gocmd, "build", "-trimpath", "-ldflags", "-s -w", "-o", dst, msiConfigPackage)
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building %s (outside the steward module, put steward-msi-config.exe beside the agent binary or set STEWARD_MSI_CONFIG_EXE): %v\n%s", msiConfigPackage, err, out)
	}
	return nil
}

// debianTool finds a command that a Debian package provides.
func debianTool(name, debianPackage string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s not found: install it with `apt-get install -y %s`", name, debianPackage)
	}
	return p, nil
}

// copyWithMode copies src to dst, which gets mode.
func copyWithMode(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Chmod(dst, mode)
}

// Signer Authenticode-signs Windows executables and MSIs with
// osslsigncode.
type Signer struct {
	// CertFile and KeyFile are the PEM (or DER) certificate chain and
	// private key; PKCS12File is a .pfx holding both, instead.
	CertFile, KeyFile, PKCS12File string
	// PasswordFile holds the password of the key or .pfx, if any.
	PasswordFile string
	// TimestampURL is an RFC 3161 time-stamping service, so that the
	// signature outlives the certificate; optional.
	TimestampURL string
}

// SignerFromEnv reads the signing configuration from the environment:
// STEWARD_SIGN_CERT and STEWARD_SIGN_KEY, or STEWARD_SIGN_PKCS12; and
// optionally STEWARD_SIGN_PASSWORD_FILE and STEWARD_SIGN_TIMESTAMP_URL.
// With none of the first three set it returns nil: no signing.
func SignerFromEnv() (*Signer, error) {
	s := &Signer{
		CertFile:     os.Getenv("STEWARD_SIGN_CERT"),
		KeyFile:      os.Getenv("STEWARD_SIGN_KEY"),
		PKCS12File:   os.Getenv("STEWARD_SIGN_PKCS12"),
		PasswordFile: os.Getenv("STEWARD_SIGN_PASSWORD_FILE"),
		TimestampURL: os.Getenv("STEWARD_SIGN_TIMESTAMP_URL"),
	}
	switch {
	case s.CertFile == "" && s.KeyFile == "" && s.PKCS12File == "":
		return nil, nil
	case s.PKCS12File != "" && (s.CertFile != "" || s.KeyFile != ""):
		return nil, errors.New("signing: set STEWARD_SIGN_PKCS12 or STEWARD_SIGN_CERT and STEWARD_SIGN_KEY, not both")
	case s.PKCS12File == "" && (s.CertFile == "" || s.KeyFile == ""):
		return nil, errors.New("signing: STEWARD_SIGN_CERT and STEWARD_SIGN_KEY go together")
	}
	return s, nil
}

// Sign signs path in place.
func (s *Signer) Sign(path string) error {
	bin, err := debianTool("osslsigncode", "osslsigncode")
	if err != nil {
		return err
	}
	args := []string{"sign", "-h", "sha256", "-n", "Steward Agent", "-i", "https://github.com/steward-project/steward"}
	if s.PKCS12File != "" {
		args = append(args, "-pkcs12", s.PKCS12File)
	} else {
		args = append(args, "-certs", s.CertFile, "-key", s.KeyFile)
	}
	if s.PasswordFile != "" {
		args = append(args, "-readpass", s.PasswordFile)
	}
	if s.TimestampURL != "" {
		args = append(args, "-ts", s.TimestampURL)
	}
	signed := path + ".signed"
	args = append(args, "-in", path, "-out", signed)
	if out, err := exec.Command(bin, args...).CombinedOutput(); err != nil {
		os.Remove(signed)
		return fmt.Errorf("osslsigncode sign %s: %v\n%s", filepath.Base(path), err, out)
	}
	return os.Rename(signed, path)
}
