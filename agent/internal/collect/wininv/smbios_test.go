package wininv

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"

	"github.com/steward-project/steward/shared/inventory"
)

// smbiosStruct lays out one SMBIOS structure: the 4-byte header (type,
// length, handle), the type-specific fields, then the string set, which
// is the strings each NUL-terminated plus one more NUL, or two NULs when
// there are none.
func smbiosStruct(typ uint8, handle uint16, fields []byte, strs ...string) []byte {
	b := []byte{typ, byte(4 + len(fields))}
	b = binary.LittleEndian.AppendUint16(b, handle)
	b = append(b, fields...)
	if len(strs) == 0 {
		return append(b, 0, 0)
	}
	for _, s := range strs {
		b = append(b, s...)
		b = append(b, 0)
	}
	return append(b, 0)
}

// rawSMBIOS wraps tables in RawSMBIOSData as GetSystemFirmwareTable('RSMB')
// returns it: Used20CallingMethod, major, minor, DmiRevision, a DWORD
// length, then the tables.
func rawSMBIOS(major, minor uint8, structs ...[]byte) []byte {
	var tables []byte
	for _, s := range structs {
		tables = append(tables, s...)
	}
	b := []byte{0, major, minor, 0}
	b = binary.LittleEndian.AppendUint32(b, uint32(len(tables)))
	return append(b, tables...)
}

// uuidBytes are the 16 bytes at offset 08h of the type 1 structure.
var uuidBytes = []byte{0x0a, 0x3b, 0x2c, 0x1d, 0x5f, 0x4e, 0x7b, 0x6a, 0x8c, 0x9d, 0xae, 0xbf, 0xc0, 0xd1, 0xe2, 0xf3}

// biosStruct is a type 0 structure (SMBIOS 2.4 layout, 18h bytes).
func biosStruct() []byte {
	f := make([]byte, 0x18-4)
	f[0x04-4] = 1 // vendor: string 1
	f[0x05-4] = 2 // version
	f[0x08-4] = 3 // release date
	return smbiosStruct(0, 0x0000, f, "LENOVO", "N32ET86W (1.62 )", "09/14/2023")
}

// systemStruct is a type 1 structure of the 2.4+ layout (1Bh bytes).
func systemStruct(uuid []byte, serial string) []byte {
	f := make([]byte, 0x1b-4)
	f[0x04-4], f[0x05-4], f[0x06-4], f[0x07-4] = 1, 2, 3, 4
	copy(f[0x08-4:], uuid)
	f[0x18-4] = 6 // wake-up type: power switch
	f[0x19-4], f[0x1a-4] = 5, 6
	return smbiosStruct(1, 0x0001, f, "LENOVO", "20XW0055GE", "ThinkPad X1 Carbon Gen 9", serial,
		"LENOVO_MT_20XW_BU_Think_FM_ThinkPad X1 Carbon Gen 9", "ThinkPad X1 Carbon Gen 9")
}

// chassisStruct is a type 3 structure (2.1 layout, 0Dh bytes).
func chassisStruct(serial string) []byte {
	f := make([]byte, 0x0d-4)
	f[0x04-4] = 1
	f[0x05-4] = 0x0a // notebook
	f[0x07-4] = 2
	return smbiosStruct(3, 0x0003, f, "LENOVO", serial)
}

func endStruct() []byte { return smbiosStruct(127, 0xfeff, nil) }

func TestParseRawSMBIOS(t *testing.T) {
	oem := smbiosStruct(11, 0x000b, []byte{2}, "Lenovo OEM string", "another") // skipped
	raw := rawSMBIOS(3, 2, biosStruct(), systemStruct(uuidBytes, "PF3ABCDE"), oem, chassisStruct("PF3ABCDE"), endStruct(),
		smbiosStruct(1, 0x0099, make([]byte, 0x17), "after the end"))
	got, err := ParseRawSMBIOS(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := SMBIOS{
		Major: 3, Minor: 2,
		BIOSVendor: "LENOVO", BIOSVersion: "N32ET86W (1.62 )", BIOSDate: "09/14/2023",
		Manufacturer: "LENOVO", Product: "20XW0055GE", Version: "ThinkPad X1 Carbon Gen 9", Serial: "PF3ABCDE",
		SKU: "LENOVO_MT_20XW_BU_Think_FM_ThinkPad X1 Carbon Gen 9", Family: "ThinkPad X1 Carbon Gen 9",
		UUID:          "1d2c3b0a-4e5f-6a7b-8c9d-aebfc0d1e2f3",
		ChassisSerial: "PF3ABCDE",
	}
	if got != want {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestSMBIOSUUIDByteOrder(t *testing.T) {
	ones := []byte(strings.Repeat("\xff", 16))
	for _, tc := range []struct {
		name         string
		major, minor uint8
		uuid         []byte
		want         string
	}{
		// From 2.6 on, the first three fields are little-endian.
		{"2.6", 2, 6, uuidBytes, "1d2c3b0a-4e5f-6a7b-8c9d-aebfc0d1e2f3"},
		{"3.0", 3, 0, uuidBytes, "1d2c3b0a-4e5f-6a7b-8c9d-aebfc0d1e2f3"},
		// Before, all of it is in network order, as Linux reads it too.
		{"2.5", 2, 5, uuidBytes, "0a3b2c1d-5f4e-7b6a-8c9d-aebfc0d1e2f3"},
		{"not present", 3, 4, make([]byte, 16), ""},
		{"not set", 3, 4, ones, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := ParseRawSMBIOS(rawSMBIOS(tc.major, tc.minor, systemStruct(tc.uuid, "X"), endStruct()))
			if err != nil {
				t.Fatal(err)
			}
			if s.UUID != tc.want {
				t.Errorf("got %q, want %q", s.UUID, tc.want)
			}
		})
	}
}

func TestSMBIOSShortStructures(t *testing.T) {
	// SMBIOS 2.0 type 1 ends before the UUID (08h bytes); a missing
	// string (index 0) and an index past the set read as "".
	f := []byte{1, 0, 9, 2}
	s, err := ParseRawSMBIOS(rawSMBIOS(2, 0, smbiosStruct(1, 1, f, "Acme", "S123"), endStruct()))
	if err != nil {
		t.Fatal(err)
	}
	want := SMBIOS{Major: 2, Manufacturer: "Acme", Serial: "S123"}
	if s != want {
		t.Errorf("got %+v, want %+v", s, want)
	}
}

func TestSMBIOSErrors(t *testing.T) {
	good := systemStruct(uuidBytes, "X")
	for _, tc := range []struct {
		name string
		raw  []byte
	}{
		{"short header", []byte{0, 3, 2}},
		{"length beyond the buffer", func() []byte {
			r := rawSMBIOS(3, 2, good)
			binary.LittleEndian.PutUint32(r[4:], uint32(len(good)+1))
			return r
		}()},
		{"structure shorter than its header", rawSMBIOS(3, 2, []byte{1, 3, 0, 0, 0, 0})},
		{"structure beyond the table", rawSMBIOS(3, 2, []byte{1, 0x40, 0, 0, 0, 0})},
		{"unterminated string set", rawSMBIOS(3, 2, good[:len(good)-1])},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseRawSMBIOS(tc.raw); !errors.Is(err, ErrSMBIOS) {
				t.Errorf("err = %v, want ErrSMBIOS", err)
			}
		})
	}
}

// placeholder mimics the agent's filter of vendor placeholders.
func placeholder(v string) string {
	switch strings.ToLower(v) {
	case "to be filled by o.e.m.", "system serial number", "default string":
		return ""
	}
	return v
}

func TestIdentity(t *testing.T) {
	bios := loadReg(t, "bios.reg").Lookup(`HKEY_LOCAL_MACHINE\` + BIOSPath)
	t.Run("smbios first", func(t *testing.T) {
		s, err := ParseRawSMBIOS(rawSMBIOS(3, 2, biosStruct(), systemStruct(uuidBytes, "PF3ABCDE"), endStruct()))
		if err != nil {
			t.Fatal(err)
		}
		want := inventory.Host{
			HardwareUUID: "1d2c3b0a-4e5f-6a7b-8c9d-aebfc0d1e2f3", Serial: "PF3ABCDE",
			Vendor: "LENOVO", Model: "20XW0055GE",
			BIOSVendor: "LENOVO", BIOSVersion: "N32ET86W (1.62 )", BIOSDate: "09/14/2023",
		}
		if got := Identity(s, bios, placeholder); got != want {
			t.Errorf("got  %+v\nwant %+v", got, want)
		}
	})
	t.Run("registry when the tables could not be read", func(t *testing.T) {
		want := inventory.Host{
			Vendor: "LENOVO", Model: "20XW0055GE",
			BIOSVendor: "LENOVO", BIOSVersion: "N32ET86W (1.62 )", BIOSDate: "09/14/2023",
		}
		if got := Identity(SMBIOS{}, bios, placeholder); got != want {
			t.Errorf("got  %+v\nwant %+v", got, want)
		}
	})
	t.Run("placeholder serial gives way to the chassis serial", func(t *testing.T) {
		s := SMBIOS{Manufacturer: "To Be Filled By O.E.M.", Serial: "System Serial Number", ChassisSerial: "CH-778"}
		got := Identity(s, nil, placeholder)
		if got.Serial != "CH-778" || got.Vendor != "" {
			t.Errorf("got %+v", got)
		}
	})
	t.Run("hypervisor", func(t *testing.T) {
		s := SMBIOS{Manufacturer: "Microsoft Corporation", Product: "Virtual Machine", BIOSVendor: "Microsoft Corporation",
			BIOSVersion: "Hyper-V UEFI Release v4.1"}
		if got := Identity(s, nil, placeholder).Virtualization; got != "microsoft" {
			t.Errorf("got %q", got)
		}
	})
}

func TestHypervisor(t *testing.T) {
	for _, tc := range []struct {
		fields []string
		want   string
	}{
		{[]string{"VMware, Inc.", "VMware7,1", "VMware, Inc.", "VMW71.00V.21100432.B64.2301110304"}, "vmware"},
		{[]string{"innotek GmbH", "VirtualBox", "innotek GmbH", "VirtualBox"}, "oracle"},
		{[]string{"QEMU", "Standard PC (Q35 + ICH9, 2009)", "EFI Development Kit II / OVMF", "0.0.0"}, "qemu"},
		{[]string{"Red Hat", "KVM", "SeaBIOS", "1.16.0"}, "kvm"},
		{[]string{"Amazon EC2", "t3.medium", "Amazon EC2", "1.0"}, "amazon"},
		{[]string{"Google", "Google Compute Engine", "Google", "Google"}, "google"},
		{[]string{"Xen", "HVM domU", "Xen", "4.11.amazon"}, "xen"},
		{[]string{"Dell Inc.", "Latitude 7440", "Dell Inc.", "1.9.0"}, ""},
	} {
		t.Run(tc.fields[0], func(t *testing.T) {
			if got := Hypervisor(tc.fields...); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}
