package identity

import "testing"

func TestHardwareUUID(t *testing.T) {
	cases := []struct{ in, want string }{
		{"4C4C4544-0042-3510-8052-B4C04F4D4A32", "4c4c4544-0042-3510-8052-b4c04f4d4a32"},
		{"  4c4c4544-0042-3510-8052-b4c04f4d4a32\n", "4c4c4544-0042-3510-8052-b4c04f4d4a32"},
		{"{4C4C4544-0042-3510-8052-B4C04F4D4A32}", "4c4c4544-0042-3510-8052-b4c04f4d4a32"},
		{"4c4c454400423510 8052b4c04f4d4a32", ""},
		{"4c4c4544004235108052b4c04f4d4a32", "4c4c4544-0042-3510-8052-b4c04f4d4a32"},
		{"", ""},
		{"00000000-0000-0000-0000-000000000000", ""},
		{"FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF", ""},
		{"03000200-0400-0500-0006-000700080009", ""},
		{"00020003-0004-0005-0006-000700080009", ""},
		{"12345678-1234-5678-90AB-CDDEEFAABBCC", ""},
		{"Not Settable", ""},
		{"4c4c4544-0042-3510-8052-b4c04f4d4a3", ""},
		{"4c4c4544x0042-3510-8052-b4c04f4d4a32", ""},
		{"gc4c4544-0042-3510-8052-b4c04f4d4a32", ""},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			if got := HardwareUUID(c.in); got != c.want {
				t.Errorf("HardwareUUID(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestMachineID(t *testing.T) {
	cases := []struct{ in, want string }{
		{"0123456789ABCDEF0123456789abcdef\n", "0123456789abcdef0123456789abcdef"},
		{"{5B2E6E1C-3C1F-4C5E-9F3A-1D2B3C4D5E6F}", "{5b2e6e1c-3c1f-4c5e-9f3a-1d2b3c4d5e6f}"},
		{"uninitialized", ""},
		{"UNINITIALIZED\n", ""},
		{"00000000000000000000000000000000", ""},
		{"00000000-0000-0000-0000-000000000000", ""},
		{"", ""},
		{"   ", ""},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			if got := MachineID(c.in); got != c.want {
				t.Errorf("MachineID(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}

func TestSerial(t *testing.T) {
	cases := []struct{ in, want string }{
		{"CN0ABC123", "CN0ABC123"},
		{" VMware-56 4d 1a 2b ", "VMware-56 4d 1a 2b"},
		{"To Be Filled By O.E.M.", ""},
		{"Default string", ""},
		{"System Serial Number", ""},
		{"Not Specified", ""},
		{"0", ""},
		{"0000000000", ""},
		{"XXXXXXXX", ""},
		{"", ""},
		{"A", "A"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			if got := Serial(c.in); got != c.want {
				t.Errorf("Serial(%q) = %q, want %q", c.in, got, c.want)
			}
		})
	}
}
