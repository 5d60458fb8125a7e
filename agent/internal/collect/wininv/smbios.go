package wininv

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

// SMBIOS is what the host section needs from the firmware's SMBIOS tables
// (DMTF DSP0134): the BIOS (type 0), the system (type 1) and the chassis
// (type 3). Strings are as the firmware wrote them, trimmed; placeholder
// values ("To Be Filled By O.E.M.") are the caller's to drop.
type SMBIOS struct {
	Major, Minor uint8 // specification version the tables follow

	BIOSVendor, BIOSVersion, BIOSDate string

	Manufacturer, Product, Version, Serial, SKU, Family string
	// UUID is the system UUID in the canonical lower-case form, or "" when
	// the firmware says it has none (all bits 0 or all bits 1).
	UUID string

	ChassisSerial string
}

// ErrSMBIOS is wrapped by every error about a malformed SMBIOS blob.
var ErrSMBIOS = errors.New("malformed SMBIOS data")

// rawSMBIOSHeader is the size of RawSMBIOSData's fixed part, which
// GetSystemFirmwareTable('RSMB') puts before the tables:
// Used20CallingMethod, SMBIOSMajorVersion, SMBIOSMinorVersion, DmiRevision
// (one byte each) and Length (a DWORD, the size of the table data).
const rawSMBIOSHeader = 8

// ParseRawSMBIOS reads the RawSMBIOSData structure that
// GetSystemFirmwareTable returns for the 'RSMB' provider.
func ParseRawSMBIOS(raw []byte) (SMBIOS, error) {
	if len(raw) < rawSMBIOSHeader {
		return SMBIOS{}, fmt.Errorf("%d bytes: %w", len(raw), ErrSMBIOS)
	}
	n := binary.LittleEndian.Uint32(raw[4:8])
	if uint64(n) > uint64(len(raw)-rawSMBIOSHeader) {
		return SMBIOS{}, fmt.Errorf("table length %d beyond %d bytes: %w", n, len(raw)-rawSMBIOSHeader, ErrSMBIOS)
	}
	return ParseSMBIOSTables(raw[1], raw[2], raw[rawSMBIOSHeader:rawSMBIOSHeader+int(n)])
}

// ParseSMBIOSTables reads a structure table of the given specification
// version. Each structure is a formatted area (type, length, handle, then
// type-specific fields) followed by its strings, each NUL-terminated, the
// set ended by an extra NUL. Fields refer to strings by 1-based number;
// 0 means none. Fields beyond a structure's length are absent (older
// versions had fewer).
func ParseSMBIOSTables(major, minor uint8, tables []byte) (SMBIOS, error) {
	s := SMBIOS{Major: major, Minor: minor}
	for off := 0; off+4 <= len(tables); {
		typ, length := tables[off], int(tables[off+1])
		if length < 4 || off+length > len(tables) {
			return s, fmt.Errorf("structure type %d at %d: length %d: %w", typ, off, length, ErrSMBIOS)
		}
		formatted := tables[off : off+length]
		strs, next, err := smbiosStrings(tables, off+length)
		if err != nil {
			return s, fmt.Errorf("structure type %d at %d: %w", typ, off, err)
		}
		str := func(at int) string {
			if at >= len(formatted) {
				return ""
			}
			i := int(formatted[at])
			if i == 0 || i > len(strs) {
				return ""
			}
			return strings.TrimSpace(strs[i-1])
		}
		switch typ {
		case 0: // BIOS Information
			s.BIOSVendor, s.BIOSVersion, s.BIOSDate = str(0x04), str(0x05), str(0x08)
		case 1: // System Information
			s.Manufacturer, s.Product, s.Version, s.Serial = str(0x04), str(0x05), str(0x06), str(0x07)
			s.SKU, s.Family = str(0x19), str(0x1a)
			if len(formatted) >= 0x18 {
				s.UUID = smbiosUUID(formatted[0x08:0x18], major, minor)
			}
		case 3: // System Enclosure or Chassis
			if s.ChassisSerial == "" {
				s.ChassisSerial = str(0x07)
			}
		case 127: // End-of-Table
			return s, nil
		}
		off = next
	}
	return s, nil
}

// smbiosStrings reads the string set starting at off and returns the
// strings and the offset of the next structure.
func smbiosStrings(b []byte, off int) ([]string, int, error) {
	if off+1 < len(b) && b[off] == 0 && b[off+1] == 0 {
		return nil, off + 2, nil // no strings: just the double NUL
	}
	var strs []string
	for {
		end := off
		for end < len(b) && b[end] != 0 {
			end++
		}
		if end >= len(b) {
			return nil, 0, fmt.Errorf("unterminated string set: %w", ErrSMBIOS)
		}
		strs = append(strs, string(b[off:end]))
		off = end + 1
		if off < len(b) && b[off] == 0 {
			return strs, off + 1, nil
		}
		if off >= len(b) {
			return nil, 0, fmt.Errorf("string set without final NUL: %w", ErrSMBIOS)
		}
	}
}

// smbiosUUID formats the 16 UUID bytes. Since SMBIOS 2.6 the first three
// fields (time_low, time_mid, time_hi_and_version) are stored
// little-endian, as in Microsoft's GUID layout; earlier versions were
// meant to store all fields in network order. This is the rule Linux
// applies for /sys/class/dmi/id/product_uuid, so both agents report one
// machine's UUID identically.
func smbiosUUID(b []byte, major, minor uint8) string {
	allZero, allOnes := true, true
	for _, c := range b {
		allZero = allZero && c == 0x00
		allOnes = allOnes && c == 0xff
	}
	if allZero || allOnes {
		return "" // "not present" and "not set", per the specification
	}
	u := make([]byte, 16)
	copy(u, b)
	if major > 2 || (major == 2 && minor >= 6) {
		u[0], u[1], u[2], u[3] = u[3], u[2], u[1], u[0]
		u[4], u[5] = u[5], u[4]
		u[6], u[7] = u[7], u[6]
	}
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
