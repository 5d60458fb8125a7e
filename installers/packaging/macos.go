package packaging

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"debug/macho"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/steward-project/steward/installers/macos"
)

// MacOS builds OutDir/steward-agent-VERSION-darwin-ARCH.tar.gz from the
// darwin steward-agent at o.Binary, and returns its path. It is a tarball
// and not a .pkg: building a .pkg needs xar and mkbom (bomutils), which
// Debian does not package, and an unsigned .pkg gains nothing over a
// tarball with a script.
//
// The tarball holds one directory, steward-agent-VERSION-darwin-ARCH/,
// with the binary, the launchd daemon definition steward-agent.plist
// and install.sh (installers/macos), which installs both, writes
// /Library/Application Support/Steward/agent.yaml and loads the daemon;
// `install.sh --uninstall` removes it all. The daemon's label and plist
// (/Library/LaunchDaemons/steward-agent.plist) are those under which
// `steward-agent install` registers the service steward-agent, so
// `steward-agent status`, `start` and `stop` manage it. With o.Enroll
// set, enroll.env (and ca.pem) carry the enrollment, labels included
// (STEWARD_LABELS=k=v,k2=v2), for install.sh, so
// that a plain `sudo ./install.sh` enrolls; such a tarball holds the
// secret and is written with mode 0600.
//
// Entries belong to root:wheel. Their time is SOURCE_DATE_EPOCH when set
// (reproducible builds), else now.
func MacOS(o Options) (string, error) {
	if err := o.check("agent"); err != nil {
		return "", err
	}
	if err := checkMachO(o.Binary, o.Arch); err != nil {
		return "", err
	}
	if e := o.Enroll; e != nil {
		if _, err := joinLabels(e.Labels); err != nil {
			return "", err
		}
		// enroll.env holds KEY=value lines that install.sh reads
		// without a shell; a value must not be mistaken for a quoted one.
		if strings.TrimSpace(e.EnrollSecret) != e.EnrollSecret || strings.ContainsAny(e.EnrollSecret, `"'`) {
			return "", errors.New("enroll secret: the tarball cannot carry quotes or surrounding spaces")
		}
	}
	mtime := time.Now()
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return "", fmt.Errorf("SOURCE_DATE_EPOCH %q: %w", s, err)
		}
		mtime = time.Unix(n, 0)
	}

	base := "steward-agent-" + o.Version + "-darwin-" + o.Arch
	type entry struct {
		name string
		mode int64
		data []byte
	}
	bin, err := os.ReadFile(o.Binary)
	if err != nil {
		return "", err
	}
	entries := []entry{{"steward-agent", 0o755, bin}}
	for _, f := range []struct {
		name string
		mode int64
	}{{"steward-agent.plist", 0o644}, {"install.sh", 0o755}} {
		b, err := fs.ReadFile(macos.Files, f.name)
		if err != nil {
			return "", err
		}
		entries = append(entries, entry{f.name, f.mode, b})
	}
	mode := os.FileMode(0o644)
	if e := o.Enroll; e != nil {
		mode = 0o600
		env := "# The enrollment of this configured tarball, read by install.sh.\n" +
			"STEWARD_SERVER=" + e.Server + "\n" +
			"STEWARD_ENROLL_SECRET=" + e.EnrollSecret + "\n"
		if len(e.Labels) > 0 {
			// Checked above; install.sh reads it as --labels.
			l, _ := joinLabels(e.Labels)
			env += "STEWARD_LABELS=" + l + "\n"
		}
		if len(e.CAFile) > 0 {
			env += "STEWARD_CA_FILE=ca.pem\n"
			entries = append(entries, entry{"ca.pem", 0o644, e.CAFile})
		}
		entries = append(entries, entry{"enroll.env", 0o600, []byte(env)})
	}

	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	hdr := func(name string, typ byte, mode, size int64) *tar.Header {
		return &tar.Header{Name: name, Typeflag: typ, Mode: mode, Size: size, ModTime: mtime,
			Uid: 0, Gid: 0, Uname: "root", Gname: "wheel", Format: tar.FormatPAX}
	}
	if err := tw.WriteHeader(hdr(base+"/", tar.TypeDir, 0o755, 0)); err != nil {
		return "", err
	}
	for _, e := range entries {
		if err := tw.WriteHeader(hdr(base+"/"+e.name, tar.TypeReg, e.mode, int64(len(e.data)))); err != nil {
			return "", err
		}
		if _, err := tw.Write(e.data); err != nil {
			return "", err
		}
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	if err := gz.Close(); err != nil {
		return "", err
	}
	out := filepath.Join(o.OutDir, base+".tar.gz")
	tmp := out + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), mode); err != nil {
		return "", err
	}
	if err := os.Chmod(tmp, mode); err != nil {
		os.Remove(tmp)
		return "", err
	}
	if err := os.Rename(tmp, out); err != nil {
		os.Remove(tmp)
		return "", err
	}
	return out, nil
}

// checkMachO makes sure path is a macOS executable for arch, so that a
// Linux binary or the other architecture fails here rather than on a Mac.
func checkMachO(path, arch string) error {
	f, err := macho.Open(path)
	if err != nil {
		return fmt.Errorf("binary %s: not a macOS executable: %w", path, err)
	}
	defer f.Close()
	want := map[string]macho.Cpu{"amd64": macho.CpuAmd64, "arm64": macho.CpuArm64}[arch]
	if f.Cpu != want {
		return fmt.Errorf("binary %s: built for %v, want %s (GOOS=darwin GOARCH=%s)", path, f.Cpu, arch, arch)
	}
	return nil
}
