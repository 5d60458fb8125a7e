package collect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/steward-project/steward/shared/inventory"
)

// dpkgStanza is the part of one dpkg status stanza the inventory needs.
type dpkgStanza struct {
	name, version, arch string
	multiArchSame       bool
	// state is the status word of the Status field ("installed",
	// "triggers-pending", ...), "" when the stanza has none.
	state string
}

// installed reports whether the package's files are on the system: every
// dpkg state but "not-installed" (nothing left) and "config-files" (only
// conffiles left after a remove). The others are steps of an install,
// upgrade or trigger run that leave the package in place:
//
//   - half-installed: an unpack started and did not finish; during an
//     upgrade the old version's files are still there.
//   - unpacked: the files are in place, the package is not configured
//     (yet, or again during an upgrade).
//   - half-configured: configuration (a postinst run, which is also how
//     triggers are processed) started and did not finish.
//   - triggers-awaited: configured, waiting for another package to
//     process a trigger it activated.
//   - triggers-pending: configured, with a trigger of its own to process.
//
// Dropping a package from the list while it passes through these would
// record, on the server, a removal and a reinstall that never happened.
func (s dpkgStanza) installed() bool {
	switch s.state {
	case "", "not-installed", "config-files":
		return false
	}
	return true
}

// parseDpkgStatus calls fn for every stanza of a dpkg status file (or an
// updates journal entry, which has the same format). It runs once per
// inventory over ~1 MB, so it works on bytes, skips continuation lines
// without looking at them, and allocates only the strings it hands out.
func parseDpkgStatus(data []byte, fn func(dpkgStanza)) {
	var name, version, arch []byte
	var state string
	var multiArchSame, any bool
	flush := func() {
		if any && len(name) > 0 {
			fn(dpkgStanza{
				name:          string(name),
				version:       string(version),
				arch:          internArch(arch),
				multiArchSame: multiArchSame,
				state:         state,
			})
		}
		name, version, arch, state = nil, nil, nil, ""
		multiArchSame, any = false, false
	}
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
		if len(line) == 0 {
			flush()
			continue
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue // continuation of a multi-line field (Description, Conffiles)
		}
		colon := bytes.IndexByte(line, ':')
		if colon < 0 {
			continue
		}
		any = true
		val := bytes.TrimSpace(line[colon+1:])
		switch string(line[:colon]) { // no allocation: the compiler special-cases this
		case "Package":
			name = val
		case "Version":
			version = val
		case "Architecture":
			arch = val
		case "Multi-Arch":
			multiArchSame = string(val) == "same"
		case "Status":
			state = statusState(val)
		}
	}
	flush()
}

// statusState returns the last word of "want flag status" (e.g. "install
// ok installed", "hold ok triggers-pending"): the state of the package's
// files whatever the admin wants done with it next, the second letter of
// dpkg -l. Common states come back without allocating.
func statusState(v []byte) string {
	i := bytes.LastIndexByte(v, ' ')
	if i < 0 {
		return ""
	}
	switch w := v[i+1:]; string(w) {
	case inventory.DpkgInstalled:
		return inventory.DpkgInstalled
	case "not-installed":
		return "not-installed"
	case "config-files":
		return "config-files"
	default:
		return string(w)
	}
}

// internArch returns common architecture names without allocating.
func internArch(b []byte) string {
	switch string(b) {
	case "all":
		return "all"
	case "amd64":
		return "amd64"
	case "arm64":
		return "arm64"
	case "i386":
		return "i386"
	case "armhf":
		return "armhf"
	case "armel":
		return "armel"
	case "ppc64el":
		return "ppc64el"
	case "s390x":
		return "s390x"
	case "riscv64":
		return "riscv64"
	}
	return string(b)
}

// dpkgPackages reads /var/lib/dpkg/status directly rather than running
// dpkg-query: one file read instead of a process, and it works on an
// offline root. Entries in the updates journal (left by an interrupted
// dpkg run, applied by dpkg on its next start) override the status file,
// as they do for dpkg-query.
func dpkgPackages(ctx context.Context, cfg Config) ([]inventory.Package, error) {
	dir := cfg.path("/var/lib/dpkg")
	data, err := os.ReadFile(filepath.Join(dir, "status"))
	if err != nil {
		return nil, fmt.Errorf("read status: %w", err)
	}
	var stanzas []dpkgStanza
	parseDpkgStatus(data, func(s dpkgStanza) { stanzas = append(stanzas, s) })
	journal, err := dpkgJournal(dir)
	if err != nil {
		return nil, err
	}
	if len(journal) > 0 {
		stanzas = applyJournal(stanzas, journal)
	}
	infoDir := filepath.Join(dir, "info")
	out := make([]inventory.Package, 0, len(stanzas))
	for _, s := range stanzas {
		if !s.installed() {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		out = append(out, inventory.Package{
			Name:        s.name,
			Version:     s.version,
			Arch:        s.arch,
			Source:      inventory.SourceDpkg,
			InstallTime: dpkgInstallTime(infoDir, s),
			State:       packageState(s.state),
		})
	}
	return out, nil
}

// packageState is the inventory's state for a listed package: empty for a
// plain installed one, so that the entries of settled packages, and the
// section hashes of hosts whose packages are all settled, are what they
// were before states were reported.
func packageState(state string) string {
	if state == inventory.DpkgInstalled {
		return ""
	}
	return state
}

// dpkgJournal reads the updates directory's entries, whose names are all
// digits (dpkg ignores anything else, such as its temporary file), in
// order.
func dpkgJournal(dir string) ([]dpkgStanza, error) {
	entries, err := os.ReadDir(filepath.Join(dir, "updates"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read updates: %w", err)
	}
	var out []dpkgStanza
	for _, e := range entries { // ReadDir sorts by name, which is journal order
		if !allDigits(e.Name()) {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, "updates", e.Name()))
		if err != nil {
			return nil, fmt.Errorf("read updates: %w", err)
		}
		parseDpkgStatus(data, func(s dpkgStanza) { out = append(out, s) })
	}
	return out, nil
}

func applyJournal(stanzas, journal []dpkgStanza) []dpkgStanza {
	index := make(map[[2]string]int, len(stanzas))
	for i, s := range stanzas {
		index[[2]string{s.name, s.arch}] = i
	}
	for _, j := range journal {
		k := [2]string{j.name, j.arch}
		if i, ok := index[k]; ok {
			stanzas[i] = j
			continue
		}
		index[k] = len(stanzas)
		stanzas = append(stanzas, j)
	}
	return stanzas
}

// dpkgInstallTime is the modification time of the package's file list,
// which dpkg rewrites whenever it unpacks the package: the time of the
// install or of the last upgrade. Multi-Arch: same packages name their
// files pkg:arch.list.
func dpkgInstallTime(infoDir string, s dpkgStanza) time.Time {
	names := [2]string{s.name + ".list", s.name + ":" + s.arch + ".list"}
	if s.multiArchSame {
		names[0], names[1] = names[1], names[0]
	}
	for _, n := range names {
		if fi, err := os.Stat(filepath.Join(infoDir, n)); err == nil {
			return fi.ModTime().UTC().Truncate(time.Second)
		}
	}
	return time.Time{}
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
