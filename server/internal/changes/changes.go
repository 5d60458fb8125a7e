package changes

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/steward-project/steward/shared/inventory"
)

// Change kinds. Each names what happened to its Subject.
const (
	// FirstInventory marks the first inventory the server held for a host;
	// what it reported is the baseline later changes are measured from, so
	// nothing in it is recorded one item at a time.
	FirstInventory = "first_inventory"

	SoftwareInstalled = "software_installed"
	SoftwareRemoved   = "software_removed"
	SoftwareUpgraded  = "software_upgraded"
	// SoftwareDowngraded: the new version sorts before the old one.
	SoftwareDowngraded = "software_downgraded"
	// SoftwareVersionChanged: the version changed but the source's
	// versions cannot be ordered, or the two are equal by its rules.
	SoftwareVersionChanged = "software_version_changed"

	HostnameChanged = "hostname_changed"
	// HardwareChanged covers host identity fields, BIOS, CPU, memory and
	// physical disks; Subject names the field ("serial", "cpu.cores",
	// "memory.total_bytes", "disk").
	HardwareChanged = "hardware_changed"
	// OSChanged: Subject is the os section field (version, build, kernel...).
	OSChanged       = "os_changed"
	HotfixInstalled = "hotfix_installed"
	HotfixRemoved   = "hotfix_removed"

	InterfaceAdded   = "interface_added"
	InterfaceRemoved = "interface_removed"
	MACChanged       = "mac_changed"
	AddressAdded     = "address_added"
	AddressRemoved   = "address_removed"

	PortOpened = "port_opened"
	PortClosed = "port_closed"

	UserAdded    = "user_added"
	UserRemoved  = "user_removed"
	AdminAdded   = "admin_added"
	AdminRemoved = "admin_removed"

	ServiceAdded            = "service_added"
	ServiceRemoved          = "service_removed"
	ServiceStartModeChanged = "service_start_mode_changed"
)

// Kinds lists every change kind.
var Kinds = []string{
	FirstInventory,
	SoftwareInstalled, SoftwareRemoved, SoftwareUpgraded, SoftwareDowngraded, SoftwareVersionChanged,
	HostnameChanged, HardwareChanged, OSChanged, HotfixInstalled, HotfixRemoved,
	InterfaceAdded, InterfaceRemoved, MACChanged, AddressAdded, AddressRemoved,
	PortOpened, PortClosed,
	UserAdded, UserRemoved, AdminAdded, AdminRemoved,
	ServiceAdded, ServiceRemoved, ServiceStartModeChanged,
}

// KnownKind reports whether kind is one of Kinds.
func KnownKind(kind string) bool { return slices.Contains(Kinds, kind) }

// Change is one typed difference between two versions of a section. Old is
// empty for something that appeared, New for something that went.
type Change struct {
	Kind    string          `json:"kind"`
	Subject string          `json:"subject"`
	Old     string          `json:"old_value,omitempty"`
	New     string          `json:"new_value,omitempty"`
	Details json.RawMessage `json:"details,omitempty"`
}

// Section returns the changes between the old and new data of the named
// section, in a fixed order. Sections that record no changes (volumes'
// free space, swap, service states, boot time) contribute nothing, and so
// does an unknown section. Data that does not decode into the section's
// type is an error: the caller records nothing rather than a guess.
func Section(name string, old, new []byte) ([]Change, error) {
	var (
		out []Change
		err error
	)
	switch name {
	case inventory.SectionHost:
		out, err = diff(old, new, hostChanges)
	case inventory.SectionOS:
		out, err = diff(old, new, osChanges)
	case inventory.SectionCPU:
		out, err = diff(old, new, cpuChanges)
	case inventory.SectionMemory:
		out, err = diff(old, new, memoryChanges)
	case inventory.SectionDisks:
		out, err = diff(old, new, diskChanges)
	case inventory.SectionNetwork:
		out, err = diff(old, new, networkChanges)
	case inventory.SectionSoftware:
		out, err = diff(old, new, softwareChanges)
	case inventory.SectionServices:
		out, err = diff(old, new, serviceChanges)
	case inventory.SectionUsers:
		out, err = diff(old, new, userChanges)
	case inventory.SectionPorts:
		out, err = diff(old, new, portChanges)
	}
	if err != nil {
		return nil, fmt.Errorf("%s changes: %w", name, err)
	}
	return out, nil
}

// diff decodes both versions into T and hands them to fn.
func diff[T any](old, new []byte, fn func(old, new T) []Change) ([]Change, error) {
	var o, n T
	if err := json.Unmarshal(old, &o); err != nil {
		return nil, fmt.Errorf("decode old: %w", err)
	}
	if err := json.Unmarshal(new, &n); err != nil {
		return nil, fmt.Errorf("decode new: %w", err)
	}
	return fn(o, n), nil
}

// field is one scalar field compared between two versions.
type field struct {
	name     string
	old, new string
}

// fieldChanges records kind for every field whose value differs.
func fieldChanges(kind string, fields []field) []Change {
	var out []Change
	for _, f := range fields {
		if f.old != f.new {
			out = append(out, Change{Kind: kind, Subject: f.name, Old: f.old, New: f.new})
		}
	}
	return out
}

// details encodes v for Change.Details. Only plain structs of strings,
// numbers and booleans are passed, which always encode.
func details(v any) json.RawMessage {
	raw, err := json.Marshal(v)
	if err != nil {
		panic("changes: encode details: " + err.Error())
	}
	return raw
}

func itoa(n int) string    { return strconv.Itoa(n) }
func utoa(n uint64) string { return strconv.FormatUint(n, 10) }
func btoa(b bool) string   { return strconv.FormatBool(b) }
func boolPtr(b *bool) string {
	if b == nil {
		return ""
	}
	return btoa(*b)
}

// byKey indexes items by key; when a key repeats the first item wins, so
// a malformed list with duplicates still diffs deterministically.
func byKey[T any](items []T, key func(T) string) map[string]T {
	m := make(map[string]T, len(items))
	for _, it := range items {
		k := key(it)
		if _, dup := m[k]; !dup {
			m[k] = it
		}
	}
	return m
}

// unionKeys returns the keys of both maps, sorted.
func unionKeys[T any](a, b map[string]T) []string {
	keys := make([]string, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}
