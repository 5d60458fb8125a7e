package inventory

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"time"
)

// Section names, in the order docs/inventory.md lists them.
const (
	SectionHost     = "host"
	SectionOS       = "os"
	SectionCPU      = "cpu"
	SectionMemory   = "memory"
	SectionDisks    = "disks"
	SectionNetwork  = "network"
	SectionSoftware = "software"
	SectionServices = "services"
	SectionUsers    = "users"
	SectionPorts    = "ports"
)

// SectionNames lists every known section name in document order.
var SectionNames = []string{
	SectionHost, SectionOS, SectionCPU, SectionMemory, SectionDisks,
	SectionNetwork, SectionSoftware, SectionServices, SectionUsers, SectionPorts,
}

// KnownSection reports whether name is a section this protocol version defines.
func KnownSection(name string) bool {
	for _, n := range SectionNames {
		if n == name {
			return true
		}
	}
	return false
}

// Document is one host's inventory as the agent prints it and sends it.
// Sections holds each section's canonical JSON; Errors holds, per section,
// why a collector produced nothing (unsupported, timed out, failed).
type Document struct {
	CollectedAt time.Time                  `json:"collected_at"`
	Sections    map[string]json.RawMessage `json:"sections"`
	Errors      map[string]string          `json:"errors,omitempty"`
}

// Host is the "host" section.
type Host struct {
	Hostname       string    `json:"hostname"`
	HardwareUUID   string    `json:"hardware_uuid,omitempty"`
	MachineID      string    `json:"machine_id,omitempty"`
	Serial         string    `json:"serial,omitempty"`
	Vendor         string    `json:"vendor,omitempty"`
	Model          string    `json:"model,omitempty"`
	BIOSVendor     string    `json:"bios_vendor,omitempty"`
	BIOSVersion    string    `json:"bios_version,omitempty"`
	BIOSDate       string    `json:"bios_date,omitempty"`
	Virtualization string    `json:"virtualization,omitempty"`
	BootTime       time.Time `json:"boot_time,omitzero"`
}

// OS is the "os" section.
type OS struct {
	Name     string `json:"name"`
	Platform string `json:"platform"`
	Family   string `json:"family,omitempty"`
	Version  string `json:"version,omitempty"`
	Build    string `json:"build,omitempty"`
	Kernel   string `json:"kernel,omitempty"`
	Arch     string `json:"arch"`
	// Edition is the Windows edition ("Professional", "Enterprise").
	Edition string `json:"edition,omitempty"`
	// Hotfixes are installed Windows updates (KB numbers).
	Hotfixes []Hotfix `json:"hotfixes,omitempty"`
	// SIPEnabled is macOS System Integrity Protection, when known.
	SIPEnabled *bool `json:"sip_enabled,omitempty"`
	// Sysctl holds the running values of a fixed list of security-relevant
	// Linux kernel parameters, by their dotted name
	// ("net.ipv4.ip_forward": 0). A parameter the kernel lacks is absent;
	// the whole map is absent off Linux and for an offline root.
	Sysctl map[string]int64 `json:"sysctl,omitempty"`
}

// Hotfix is one installed Windows update.
type Hotfix struct {
	ID          string    `json:"id"` // "KB5034441"
	Description string    `json:"description,omitempty"`
	InstalledOn time.Time `json:"installed_on,omitzero"`
}

// CPU is the "cpu" section.
type CPU struct {
	Model   string  `json:"model"`
	Sockets int     `json:"sockets"`
	Cores   int     `json:"cores"`
	Threads int     `json:"threads"`
	MHz     float64 `json:"mhz,omitempty"`
}

// Memory is the "memory" section; sizes in bytes.
type Memory struct {
	TotalBytes uint64 `json:"total_bytes"`
	SwapBytes  uint64 `json:"swap_bytes"`
}

// Disks is the "disks" section.
type Disks struct {
	Physical []PhysicalDisk `json:"physical"`
	Volumes  []Volume       `json:"volumes"`
	// Mounts are the mounts at the mount points that hardening guides want
	// on their own file system (MountPointsChecked), whatever the file
	// system type, so that tmpfs /tmp and /dev/shm are there too. A mount
	// point that is not mounted separately is absent.
	Mounts []Mount `json:"mounts,omitempty"`
}

// MountPointsChecked are the mount points listed in Disks.Mounts.
var MountPointsChecked = []string{"/dev/shm", "/home", "/tmp", "/var", "/var/log", "/var/log/audit", "/var/tmp"}

// Mount is the visible (topmost) mount at one mount point.
type Mount struct {
	Mount  string `json:"mount"`
	Device string `json:"device"`
	FS     string `json:"fs"`
	// Options are the effective mount options as findmnt shows them.
	Options []string `json:"options"`
}

// PhysicalDisk is a block device that is not a partition.
type PhysicalDisk struct {
	Device     string `json:"device"`
	Model      string `json:"model,omitempty"`
	Serial     string `json:"serial,omitempty"`
	SizeBytes  uint64 `json:"size_bytes"`
	Rotational bool   `json:"rotational,omitempty"`
	Removable  bool   `json:"removable,omitempty"`
}

// Volume is a mounted file system.
type Volume struct {
	Device    string `json:"device"`
	Mount     string `json:"mount"`
	FS        string `json:"fs"`
	SizeBytes uint64 `json:"size_bytes"`
	FreeBytes uint64 `json:"free_bytes"`
	Encrypted *bool  `json:"encrypted,omitempty"`
	// Encryption names the scheme when Encrypted is true: "luks",
	// "dm-crypt", "bitlocker", "filevault".
	Encryption string `json:"encryption,omitempty"`
	ReadOnly   bool   `json:"read_only,omitempty"`
	// Options are the effective mount options as findmnt shows them: the
	// per-mount options, then the file system's own (super block) options
	// without a second rw/ro ("rw,nosuid,nodev,relatime,errors=remount-ro").
	Options []string `json:"options,omitempty"`
}

// Network is the "network" section.
type Network struct {
	Interfaces []Interface `json:"interfaces"`
}

// Interface is one network interface. Addresses are in CIDR notation.
type Interface struct {
	Name      string   `json:"name"`
	MAC       string   `json:"mac,omitempty"`
	Addresses []string `json:"addresses"`
	Up        bool     `json:"up"`
	MTU       int      `json:"mtu,omitempty"`
}

// Software is the "software" section.
type Software struct {
	Packages []Package `json:"packages"`
}

// Package is one installed piece of software from one source.
type Package struct {
	Name        string    `json:"name"`
	Version     string    `json:"version"`
	Arch        string    `json:"arch,omitempty"`
	Source      string    `json:"source"`
	Publisher   string    `json:"publisher,omitempty"`
	InstallTime time.Time `json:"install_time,omitzero"`
	// BundleID is a macOS application's CFBundleIdentifier
	// ("com.google.Chrome"): the name an app keeps whatever its bundle
	// folder is called, and the one MDM and policy tools match on.
	BundleID string `json:"bundle_id,omitempty"`
	// State is the package manager's state of a package that is present
	// but not settled: for dpkg "half-installed", "unpacked",
	// "half-configured", "triggers-awaited" or "triggers-pending" (dpkg -l
	// letters H, U, F, W, t). Empty for a plain installed package. It is
	// not part of the package's identity: a change of state alone is not
	// an install, removal or upgrade in the change history.
	State string `json:"state,omitempty"`
}

// DpkgInstalled is dpkg's state of a settled package, reported as an empty
// Package.State.
const DpkgInstalled = "installed"

// Services is the "services" section.
type Services struct {
	Services []Service `json:"services"`
}

// Service is one system service (systemd unit, Windows service, launchd job).
type Service struct {
	Name        string `json:"name"`
	DisplayName string `json:"display_name,omitempty"`
	// State is "running", "stopped", "failed" or "unknown".
	State string `json:"state"`
	// StartMode is "auto", "manual", "disabled" or "unknown".
	StartMode string `json:"start_mode"`
	// Path is the unit file, binary or plist the service comes from.
	Path string `json:"path,omitempty"`
}

// Service states and start modes.
const (
	ServiceRunning = "running"
	ServiceStopped = "stopped"
	ServiceFailed  = "failed"
	ServiceUnknown = "unknown"

	StartAuto     = "auto"
	StartManual   = "manual"
	StartDisabled = "disabled"
)

// Users is the "users" section.
type Users struct {
	Users []User `json:"users"`
	// Groups are the local groups (/etc/group on Linux).
	Groups []Group `json:"groups,omitempty"`
}

// Group is one local group. Members are the accounts listed as
// supplementary members; accounts whose primary group it is are not
// repeated here (join on User.GID).
type Group struct {
	Name    string   `json:"name"`
	GID     string   `json:"gid"`
	Members []string `json:"members,omitempty"`
}

// User is one local account.
type User struct {
	Name     string `json:"name"`
	UID      string `json:"uid"` // numeric uid, or a Windows SID
	FullName string `json:"full_name,omitempty"`
	Home     string `json:"home,omitempty"`
	Shell    string `json:"shell,omitempty"`
	// Admin is membership of the OS's administrators (sudo, wheel, admin,
	// Administrators) or uid 0.
	Admin bool `json:"admin"`
	// System marks service accounts (uid below the login range, no shell).
	System    bool      `json:"system,omitempty"`
	Disabled  bool      `json:"disabled,omitempty"`
	LastLogin time.Time `json:"last_login,omitzero"`
	// GID is the primary group's numeric id, Group its name when a group
	// with that id exists.
	GID   string `json:"gid,omitempty"`
	Group string `json:"group,omitempty"`
	// HomeExists tells whether the home directory exists as a directory
	// (symbolic links followed); nil when not looked at. HomeUID, HomeGID
	// and HomeMode (four octal digits, "0750") describe it when it does.
	HomeExists *bool  `json:"home_exists,omitempty"`
	HomeUID    string `json:"home_uid,omitempty"`
	HomeGID    string `json:"home_gid,omitempty"`
	HomeMode   string `json:"home_mode,omitempty"`
	// Password is the account's password state and aging, absent when the
	// password database cannot be read.
	Password *Password `json:"password,omitempty"`
}

// Password is an account's password state and aging (shadow(5) fields 3
// to 8). Days are counted from 1970-01-01; an empty field is absent. The
// password hash itself is never reported.
type Password struct {
	// State is PasswordEmpty, PasswordLocked, PasswordNone or "hashed:"
	// followed by the hashing method ("hashed:yescrypt").
	State      string `json:"state"`
	LastChange *int64 `json:"last_change,omitempty"`
	MinDays    *int64 `json:"min_days,omitempty"`
	MaxDays    *int64 `json:"max_days,omitempty"`
	WarnDays   *int64 `json:"warn_days,omitempty"`
	Inactive   *int64 `json:"inactive,omitempty"`
	Expire     *int64 `json:"expire,omitempty"`
}

// Password states.
const (
	// PasswordEmpty: no password is needed to log in.
	PasswordEmpty = "empty"
	// PasswordLocked: the password was locked (a leading "!").
	PasswordLocked = "locked"
	// PasswordNone: no password can match ("*" and other non-hashes).
	PasswordNone = "none"
	// PasswordHashedPrefix starts the state of an account with a usable
	// password hash.
	PasswordHashedPrefix = "hashed:"
)

// Ports is the "ports" section.
type Ports struct {
	Ports []Port `json:"ports"`
}

// Port is one listening socket. The process id is left out on purpose: it
// changes on every restart of the process and would make the section churn.
type Port struct {
	Proto   string `json:"proto"` // "tcp" or "udp"
	Address string `json:"address"`
	Port    int    `json:"port"`
	Process string `json:"process,omitempty"`
	User    string `json:"user,omitempty"`
}

// Software sources an agent may report (docs/inventory.md).
const (
	SourceDpkg            = "dpkg"
	SourceRPM             = "rpm"
	SourceAPK             = "apk"
	SourcePacman          = "pacman"
	SourceSnap            = "snap"
	SourceFlatpak         = "flatpak"
	SourceWindowsRegistry = "windows_registry"
	SourceMSIX            = "msix"
	SourceMacOSApp        = "macos_app"
	SourcePkgutil         = "pkgutil"
	SourceHomebrew        = "homebrew"
)

// Canonical returns v's canonical JSON: object keys sorted, no insignificant
// white space, HTML characters not escaped. Hashes are taken over this form
// so that agent and server agree byte for byte.
func Canonical(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("marshal: %w", err)
	}
	return CanonicalizeJSON(raw)
}

// CanonicalizeJSON rewrites raw JSON into canonical form (see Canonical).
func CanonicalizeJSON(raw []byte) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("decode: trailing data after JSON value")
	}
	var buf bytes.Buffer
	if err := writeCanonical(&buf, v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func writeCanonical(buf *bytes.Buffer, v any) error {
	switch t := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(t))
		for k := range t {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeString(buf, k)
			buf.WriteByte(':')
			if err := writeCanonical(buf, t[k]); err != nil {
				return err
			}
		}
		buf.WriteByte('}')
	case []any:
		buf.WriteByte('[')
		for i, e := range t {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := writeCanonical(buf, e); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
	case string:
		writeString(buf, t)
	case json.Number:
		buf.WriteString(t.String())
	case bool:
		if t {
			buf.WriteString("true")
		} else {
			buf.WriteString("false")
		}
	case nil:
		buf.WriteString("null")
	default:
		return fmt.Errorf("canonical json: unexpected %T", v)
	}
	return nil
}

func writeString(buf *bytes.Buffer, s string) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // encoding a string cannot fail
	buf.Truncate(buf.Len() - 1)
}

// Hash returns the hex SHA-256 of canonical section JSON.
func Hash(canonical []byte) string {
	sum := sha256.Sum256(canonical)
	return hex.EncodeToString(sum[:])
}

// Digest folds a set of section hashes into one value: the hex SHA-256 over
// "name=hash\n" lines in name order. Agent and server compute it the same
// way, so one digest stands for every unchanged section on the wire.
func Digest(hashes map[string]string) string {
	names := make([]string, 0, len(hashes))
	for n := range hashes {
		names = append(names, n)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		h.Write([]byte(n))
		h.Write([]byte{'='})
		h.Write([]byte(hashes[n]))
		h.Write([]byte{'\n'})
	}
	return hex.EncodeToString(h.Sum(nil))
}
