package wininv

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/steward-project/steward/shared/inventory"
)

func TestParseManageBDE(t *testing.T) {
	yes, no := true, false
	for _, tc := range []struct {
		fixture string
		want    map[string]*bool
	}{
		// C: "Used Space Only Encrypted"; D: decrypted; the recovery
		// volume has no drive letter and is not reported.
		{"en-laptop.txt", map[string]*bool{"C:": &yes, "D:": &no}},
		// C: still encrypting; E: locked; F: encrypted with protection
		// suspended, which leaves the data encrypted.
		{"en-converting.txt", map[string]*bool{"C:": &no, "E:": &yes, "F:": &yes}},
		// German output: the volume is found, its state is not understood.
		{"de.txt", map[string]*bool{"C:": nil}},
		{"en-denied.txt", map[string]*bool{}},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "manage-bde", tc.fixture))
			if err != nil {
				t.Fatal(err)
			}
			got := ParseManageBDE(string(data))
			if len(got) != len(tc.want) {
				t.Errorf("got %d volumes, want %d", len(got), len(tc.want))
			}
			for drive, want := range tc.want {
				g, ok := got[drive]
				switch {
				case !ok:
					t.Errorf("%s missing", drive)
				case (g == nil) != (want == nil) || (g != nil && *g != *want):
					t.Errorf("%s = %v, want %v", drive, show(g), show(want))
				}
			}
		})
	}
}

func show(b *bool) string {
	if b == nil {
		return "unknown"
	}
	if *b {
		return "encrypted"
	}
	return "not encrypted"
}

func TestApplyBitLocker(t *testing.T) {
	yes, no := true, false
	vols := []inventory.Volume{
		{Device: "C:", Mount: "C:", FS: "NTFS"},
		{Device: "D:", Mount: "D:", FS: "NTFS"},
		{Device: "E:", Mount: "E:", FS: "FAT32"},
		{Device: `C:\mnt\data\`, Mount: `C:\mnt\data\`, FS: "NTFS"},
		{Device: "g:", Mount: `g:\`, FS: "NTFS"},
	}
	ApplyBitLocker(vols, map[string]*bool{"C:": &yes, "D:": &no, "E:": nil, "G:": &yes})
	for i, want := range []struct {
		enc    *bool
		scheme string
	}{{&yes, "bitlocker"}, {&no, ""}, {nil, ""}, {nil, ""}, {&yes, "bitlocker"}} {
		v := vols[i]
		if show(v.Encrypted) != show(want.enc) || v.Encryption != want.scheme {
			t.Errorf("%s: got %s %q, want %s %q", v.Mount, show(v.Encrypted), v.Encryption, show(want.enc), want.scheme)
		}
	}
	if vols[0].Encrypted == &yes {
		t.Error("volume shares the caller's bool")
	}
}
