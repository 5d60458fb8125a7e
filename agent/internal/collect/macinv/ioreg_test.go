package macinv

import "testing"

func TestParsePlatform(t *testing.T) {
	cases := []struct {
		file    string
		want    Platform
		virt    string
		wantErr bool
	}{
		{"ioreg-apple-silicon.txt", Platform{
			Serial: "C02XHZ6GQ05P", UUID: "3E5B1C9A-7D42-5F18-A2C6-9B0E4D7F1A83",
			Model: "MacBookPro18,3", Manufacturer: "Apple Inc.",
		}, "", false},
		{"ioreg-intel.txt", Platform{
			Serial: "C02ZK0XXMD6M", UUID: "6A1F0D2B-88C4-5E3A-9B7D-2C4E6F8A0B1D",
			Model: "MacBookPro16,1", Manufacturer: "Apple Inc.",
		}, "", false},
		{"ioreg-vmware.txt", Platform{
			Serial: "VMhC4VaDq5hp", UUID: "564D4F3A-1B2C-3D4E-5F60-718293A4B5C6",
			Model: "VMware7,1", Manufacturer: "VMware, Inc.",
		}, "vmware", false},
		{"ioreg-empty.txt", Platform{}, "", true},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			got, err := ParsePlatform(tool(t, c.file))
			if (err != nil) != c.wantErr {
				t.Fatalf("err = %v, want error %v", err, c.wantErr)
			}
			if got != c.want {
				t.Errorf("ParsePlatform = %+v, want %+v", got, c.want)
			}
			if v := Virtualization(got.Model, c.virt != ""); v != c.virt {
				t.Errorf("Virtualization = %q, want %q", v, c.virt)
			}
		})
	}
}

func TestVirtualization(t *testing.T) {
	cases := []struct {
		model string
		vmm   bool
		want  string
	}{
		{"VirtualMac2,1", true, "apple"},
		{"Parallels-ARM", true, "parallels"},
		{"MacBookPro18,3", false, ""},
		{"Mac14,2", true, "vm-other"},
	}
	for _, c := range cases {
		if got := Virtualization(c.model, c.vmm); got != c.want {
			t.Errorf("Virtualization(%q, %v) = %q, want %q", c.model, c.vmm, got, c.want)
		}
	}
}
