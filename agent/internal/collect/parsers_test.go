package collect

import (
	"reflect"
	"testing"
)

func TestParseOSRelease(t *testing.T) {
	t.Parallel()
	in := "# comment\n\nNAME=\"Fedora Linux\"\nID=fedora\nVERSION_ID=40\n" +
		"PRETTY_NAME='Single $quoted'\nESCAPED=\"say \\\"hi\\\" \\$HOME \\\\ \\n\"\n" +
		"ID_LIKE=\"rhel centos fedora\"\n  SPACED = value \nBROKEN\nEMPTY=\n"
	want := map[string]string{
		"NAME":        "Fedora Linux",
		"ID":          "fedora",
		"VERSION_ID":  "40",
		"PRETTY_NAME": "Single $quoted",
		"ESCAPED":     `say "hi" $HOME \ \n`,
		"ID_LIKE":     "rhel centos fedora",
		"SPACED":      "value",
		"EMPTY":       "",
	}
	if got := parseOSRelease([]byte(in)); !reflect.DeepEqual(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

func TestParseMountinfo(t *testing.T) {
	t.Parallel()
	in := "36 35 98:0 /mnt1 /mnt/parent\\040dir\\134x rw,noatime master:1 shared:2 - ext3 /dev/root rw,errors=continue\n" +
		"37 35 0:40 / /ro ro,relatime - nfs4 srv:/x rw\n" +
		"too short\n" +
		"38 35 0:41 / /no-separator rw ext4 /dev/x rw\n"
	want := []mount{
		{id: "36", parent: "35", devID: "98:0", root: "/mnt1", mountPoint: `/mnt/parent dir\x`, fsType: "ext3", source: "/dev/root",
			vfsOptions: "rw,noatime", superOptions: "rw,errors=continue"},
		{id: "37", parent: "35", devID: "0:40", root: "/", mountPoint: "/ro", readOnly: true, fsType: "nfs4", source: "srv:/x",
			vfsOptions: "ro,relatime", superOptions: "rw"},
	}
	if got := parseMountinfo([]byte(in)); !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func TestArmModel(t *testing.T) {
	t.Parallel()
	cases := []struct{ impl, part, want string }{
		{"0x41", "0xd0c", "ARM Neoverse-N1"},
		{"0x41", "0xD08", "ARM Cortex-A72"},
		{"0x61", "0x022", "Apple part 0x022"},
		{"0x99", "0x001", "ARM implementer 0x99 part 0x001"},
		{"", "0xd08", ""},
	}
	for _, c := range cases {
		t.Run(c.impl+"/"+c.part, func(t *testing.T) {
			if got := armModel(c.impl, c.part); got != c.want {
				t.Errorf("got %q, want %q", got, c.want)
			}
		})
	}
}

func TestFirmwareValue(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"To Be Filled By O.E.M.":               "",
		"Default string":                       "",
		" Not Specified ":                      "",
		"03000200-0400-0500-0006-000700080009": "",
		"PowerEdge R740":                       "PowerEdge R740",
		"VMware-56 4d 2b":                      "VMware-56 4d 2b",
	}
	for in, want := range cases {
		t.Run(in, func(t *testing.T) {
			if got := firmwareValue(in); got != want {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}
