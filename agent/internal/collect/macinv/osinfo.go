package macinv

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/steward-project/steward/shared/inventory"
)

// systemVersionPath is where macOS (and Mac OS X before it) names itself;
// sw_vers reads the same file.
const systemVersionPath = "/System/Library/CoreServices/SystemVersion.plist"

// releaseNames maps a major version to the name Apple markets it under,
// which is how admins speak of releases. A release missing here is still
// reported, only without its name.
var releaseNames = map[string]string{
	"10.13": "High Sierra", "10.14": "Mojave", "10.15": "Catalina",
	"11": "Big Sur", "12": "Monterey", "13": "Ventura", "14": "Sonoma",
	"15": "Sequoia", "26": "Tahoe",
}

type systemVersion struct {
	ProductName         string `plist:"ProductName"`
	ProductVersion      string `plist:"ProductVersion"`
	ProductVersionExtra string `plist:"ProductVersionExtra"`
	ProductBuildVersion string `plist:"ProductBuildVersion"`
}

// OS returns the os section's file-based part: name, platform, family,
// version and build. The caller adds the kernel release, architecture and
// SIP status, which only the running system knows.
func (s System) OS() (inventory.OS, error) {
	var sv systemVersion
	if err := readPlist(s.path(systemVersionPath), &sv); err != nil {
		return inventory.OS{}, fmt.Errorf("read %s: %w", systemVersionPath, err)
	}
	if sv.ProductVersion == "" {
		return inventory.OS{}, fmt.Errorf("read %s: no ProductVersion", systemVersionPath)
	}
	product := sv.ProductName
	if product == "" {
		product = "macOS"
	}
	name := product
	if n := releaseNames[majorVersion(sv.ProductVersion)]; n != "" {
		name += " " + n
	}
	name += " " + sv.ProductVersion
	if sv.ProductVersionExtra != "" {
		// A Rapid Security Response ("(a)") patches a release without
		// changing ProductVersion; the build number changes with it.
		name += " " + sv.ProductVersionExtra
	}
	return inventory.OS{
		Name:     name,
		Platform: "darwin",
		Family:   "darwin",
		Version:  sv.ProductVersion,
		Build:    sv.ProductBuildVersion,
	}, nil
}

// majorVersion is "10.15" for 10.15.7 and "14" for 14.4.1: Apple counted
// releases in the minor number until 11.
func majorVersion(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if parts[0] == "10" && len(parts) > 1 {
		return parts[0] + "." + parts[1]
	}
	return parts[0]
}

type preferences struct {
	System struct {
		System struct {
			ComputerName string `plist:"ComputerName"`
			HostName     string `plist:"HostName"`
		} `plist:"System"`
		Network struct {
			HostNames struct {
				LocalHostName string `plist:"LocalHostName"`
			} `plist:"HostNames"`
		} `plist:"Network"`
	} `plist:"System"`
}

// Hostname is the name an offline image would boot with, read from the
// System Configuration preferences (what scutil --get sets). As on the live
// system, an explicit HostName wins, then the Bonjour name in .local; the
// computer name ("Jane's MacBook Pro") is the last resort.
func (s System) Hostname() (string, error) {
	const path = "/Library/Preferences/SystemConfiguration/preferences.plist"
	var p preferences
	if err := readPlist(s.path(path), &p); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	switch {
	case p.System.System.HostName != "":
		return p.System.System.HostName, nil
	case p.System.Network.HostNames.LocalHostName != "":
		return p.System.Network.HostNames.LocalHostName + ".local", nil
	case p.System.System.ComputerName != "":
		return p.System.System.ComputerName, nil
	}
	return "", fmt.Errorf("read %s: no host name set", path)
}

// errUnrecognised is returned when a tool printed something its documented
// output does not contain.
var errUnrecognised = errors.New("unrecognised output")

// ParseCsrutilStatus reads `csrutil status`. "enabled." and "disabled." are
// the plain answers. A custom configuration (csrutil enable --without ...)
// prints "unknown (Custom Configuration)." on macOS 11 and later, "enabled
// (Custom Configuration)." before, followed by one line per protection;
// SIP counts as enabled only if every protection is, since turning off one
// (file system protections, say) is what such a configuration is for.
// "Apple Internal" is disabled on every customer machine and is ignored.
func ParseCsrutilStatus(out []byte) (bool, error) {
	const prefix = "System Integrity Protection status:"
	var status string
	custom, allOn := false, true
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if rest, ok := strings.CutPrefix(line, prefix); ok {
			status = strings.TrimSpace(rest)
			custom = strings.Contains(status, "Custom Configuration")
			continue
		}
		name, state, ok := strings.Cut(line, ":")
		if !ok || !custom || name == "Apple Internal" {
			continue
		}
		switch strings.TrimSpace(state) {
		case "disabled":
			allOn = false
		case "enabled":
		default:
			continue // the closing warning sentence, not a protection
		}
	}
	switch {
	case custom:
		return allOn && !strings.HasPrefix(status, "disabled"), nil
	case strings.HasPrefix(status, "enabled"):
		return true, nil
	case strings.HasPrefix(status, "disabled"):
		return false, nil
	}
	return false, fmt.Errorf("csrutil status: %w: %q", errUnrecognised, firstLine(out))
}

// ParseFdesetupStatus reads `fdesetup status`. Its first line says "FileVault
// is On." or "FileVault is Off."; variants add a clause ("FileVault is Off,
// but will be enabled after the next restart.") or a progress line
// ("Encryption in progress: Percent completed = 42.0"). The volume counts as
// encrypted only once FileVault is On, which it reports as soon as
// encryption has started.
func ParseFdesetupStatus(out []byte) (bool, error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "FileVault is On"):
			return true, nil
		case strings.HasPrefix(line, "FileVault is Off"):
			return false, nil
		}
	}
	return false, fmt.Errorf("fdesetup status: %w: %q", errUnrecognised, firstLine(out))
}

func firstLine(b []byte) string {
	if i := bytes.IndexByte(b, '\n'); i >= 0 {
		b = b[:i]
	}
	if len(b) > 120 {
		b = b[:120]
	}
	return string(b)
}

// MarkFileVault records FileVault's state on the boot volume group: the
// sealed system volume mounted at / and the data volume beside it, which
// FileVault encrypts together (before APFS, the one volume at /).
func MarkFileVault(d *inventory.Disks, on bool) {
	for i := range d.Volumes {
		v := &d.Volumes[i]
		if v.Mount != "/" && v.Mount != "/System/Volumes/Data" {
			continue
		}
		enc := on
		v.Encrypted = &enc
		if on {
			v.Encryption = "filevault"
		}
	}
}
