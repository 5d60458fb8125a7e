package macinv

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"
)

// Platform is what the IOPlatformExpertDevice node of the I/O Registry says
// about the machine.
type Platform struct {
	Serial       string // IOPlatformSerialNumber
	UUID         string // IOPlatformUUID, the hardware UUID, upper case as printed
	Model        string // the model identifier ("MacBookPro18,3")
	Manufacturer string // "Apple Inc."
}

// ParsePlatform reads `ioreg -rd1 -c IOPlatformExpertDevice`: one node,
// whose properties follow as `"key" = value` lines. Strings print in
// quotes; firmware data prints as <"text"> when it is printable, which is
// how model and manufacturer appear, and as hex otherwise.
func ParsePlatform(out []byte) (Platform, error) {
	var p Platform
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20) // IOPlatformArgs lines can be long
	for sc.Scan() {
		key, val, ok := ioregProperty(sc.Text())
		if !ok {
			continue
		}
		switch key {
		case "IOPlatformSerialNumber":
			p.Serial = val
		case "IOPlatformUUID":
			p.UUID = val
		case "model":
			p.Model = val
		case "manufacturer":
			p.Manufacturer = val
		}
	}
	if err := sc.Err(); err != nil {
		return Platform{}, fmt.Errorf("ioreg: %w", err)
	}
	if p == (Platform{}) {
		return Platform{}, fmt.Errorf("ioreg: %w: no IOPlatformExpertDevice properties", errUnrecognised)
	}
	return p, nil
}

// ioregProperty splits one property line. Only string values and printable
// data are returned; numbers, hex data, arrays and dictionaries are not
// needed here.
func ioregProperty(line string) (key, val string, ok bool) {
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, `"`) {
		return "", "", false
	}
	end := strings.IndexByte(line[1:], '"')
	if end < 0 {
		return "", "", false
	}
	key = line[1 : 1+end]
	rest, ok := strings.CutPrefix(line[2+end:], " = ")
	if !ok {
		return "", "", false
	}
	// <"MacBookPro18,3"> is data holding a C string; "C02X" is a string.
	rest = strings.TrimPrefix(rest, "<")
	if !strings.HasPrefix(rest, `"`) {
		return "", "", false
	}
	closing := strings.IndexByte(rest[1:], '"')
	if closing < 0 {
		return "", "", false
	}
	return key, strings.TrimSpace(rest[1 : 1+closing]), true
}

// virtualModels maps the start of the model identifier a hypervisor gives
// its macOS guests to the hypervisor, named as systemd-detect-virt names
// them so that Linux and macOS guests read alike.
var virtualModels = []struct{ prefix, name string }{
	{"VirtualMac", "apple"}, // Apple's Virtualization framework (UTM, Tart, Parallels on Apple silicon)
	{"VMware", "vmware"},
	{"Parallels", "parallels"},
	{"VirtualBox", "oracle"},
}

// Virtualization names the hypervisor a macOS guest runs under from its
// model identifier, or "vm-other" when the kernel says a hypervisor is
// present (sysctl kern.hv_vmm_present) but the model does not say which.
// "" means bare metal.
func Virtualization(model string, vmmPresent bool) string {
	for _, v := range virtualModels {
		if strings.HasPrefix(model, v.prefix) {
			return v.name
		}
	}
	if vmmPresent {
		return "vm-other"
	}
	return ""
}
