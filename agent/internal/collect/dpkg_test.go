package collect

import (
	"reflect"
	"testing"
)

func TestParseDpkgStatus(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   string
		want []dpkgStanza
	}{
		{
			name: "no trailing newline or blank line",
			in:   "Package: a\nStatus: install ok installed\nVersion: 1.0\nArchitecture: amd64",
			want: []dpkgStanza{{name: "a", version: "1.0", arch: "amd64", state: "installed"}},
		},
		{
			name: "continuation lines that look like fields are ignored",
			in:   "Package: a\nStatus: install ok installed\nDescription: x\n Package: b\n\tVersion: 9\n .\nVersion: 1\nArchitecture: all\n\n",
			want: []dpkgStanza{{name: "a", version: "1", arch: "all", state: "installed"}},
		},
		{
			name: "want and error flags do not matter, the state does",
			in: "Package: held\nStatus: hold ok installed\n\n" +
				"Package: removing\nStatus: deinstall ok installed\n\n" +
				"Package: gone\nStatus: deinstall ok config-files\n\n" +
				"Package: purged\nStatus: purge ok not-installed\n\n" +
				"Package: broken\nStatus: install reinstreq half-installed\n\n" +
				"Package: unpacked\nStatus: install ok unpacked\n\n" +
				"Package: configuring\nStatus: install ok half-configured\n\n" +
				"Package: awaiting\nStatus: install ok triggers-awaited\n\n" +
				"Package: triggered\nStatus: install ok triggers-pending\n\n" +
				"Package: nostatus\n\n",
			want: []dpkgStanza{
				{name: "held", state: "installed"},
				{name: "removing", state: "installed"},
				{name: "gone", state: "config-files"},
				{name: "purged", state: "not-installed"},
				{name: "broken", state: "half-installed"},
				{name: "unpacked", state: "unpacked"},
				{name: "configuring", state: "half-configured"},
				{name: "awaiting", state: "triggers-awaited"},
				{name: "triggered", state: "triggers-pending"},
				{name: "nostatus"},
			},
		},
		{
			name: "several blank lines, CRLF and multi-arch",
			in:   "\n\nPackage: libx\r\nMulti-Arch: same\r\nStatus: install ok installed\r\nArchitecture: i386\r\nVersion: 2:1.0~rc1-1+b2\r\n\r\n\r\n",
			want: []dpkgStanza{{name: "libx", version: "2:1.0~rc1-1+b2", arch: "i386", multiArchSame: true, state: "installed"}},
		},
		{
			name: "stanza without Package is dropped",
			in:   "Status: install ok installed\nVersion: 1\n\nPackage: b\nStatus: install ok installed\n",
			want: []dpkgStanza{{name: "b", state: "installed"}},
		},
		{
			name: "value spacing is trimmed, keys are exact",
			in:   "Package:   spaced  \npackage: lower\nStatus: install ok installed\nVersion:\t1.0 \n",
			want: []dpkgStanza{{name: "spaced", version: "1.0", state: "installed"}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []dpkgStanza
			parseDpkgStatus([]byte(c.in), func(s dpkgStanza) { got = append(got, s) })
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got  %+v\nwant %+v", got, c.want)
			}
		})
	}
}

// TestDpkgInstalledStates: a package whose files are on the system is
// listed whatever step of an install, upgrade or trigger run it is in;
// only a removed or purged one is not.
func TestDpkgInstalledStates(t *testing.T) {
	t.Parallel()
	for state, want := range map[string]bool{
		"installed": true, "half-installed": true, "unpacked": true, "half-configured": true,
		"triggers-awaited": true, "triggers-pending": true,
		"not-installed": false, "config-files": false, "": false,
	} {
		if got := (dpkgStanza{state: state}).installed(); got != want {
			t.Errorf("state %q: installed() = %v, want %v", state, got, want)
		}
	}
	if got := packageState("installed"); got != "" {
		t.Errorf("packageState(installed) = %q, want empty (omitted from the entry)", got)
	}
	if got := packageState("triggers-pending"); got != "triggers-pending" {
		t.Errorf("packageState(triggers-pending) = %q", got)
	}
}

func TestApplyJournal(t *testing.T) {
	t.Parallel()
	status := []dpkgStanza{
		{name: "a", arch: "amd64", version: "1", state: "installed"},
		{name: "a", arch: "i386", version: "1", state: "installed"},
		{name: "b", arch: "all", version: "1", state: "installed"},
	}
	journal := []dpkgStanza{
		{name: "a", arch: "i386", version: "2", state: "installed"},
		{name: "b", arch: "all", version: "1", state: "config-files"}, // removed
		{name: "c", arch: "amd64", version: "3", state: "installed"},
	}
	got := applyJournal(status, journal)
	want := []dpkgStanza{
		{name: "a", arch: "amd64", version: "1", state: "installed"},
		{name: "a", arch: "i386", version: "2", state: "installed"},
		{name: "b", arch: "all", version: "1", state: "config-files"},
		{name: "c", arch: "amd64", version: "3", state: "installed"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
}

func BenchmarkParseDpkgStatus(b *testing.B) {
	var stanza = []byte("Package: libexample-perl\nStatus: install ok installed\nPriority: optional\n" +
		"Section: perl\nInstalled-Size: 123\nMaintainer: Debian Perl Group <perl@example.org>\n" +
		"Architecture: all\nVersion: 1:2.34-1~deb12u1\nDepends: perl:any, libfoo-perl (>= 1.2)\n" +
		"Description: example\n a long description line that the parser must skip quickly\n" +
		" another line\n .\n and one more\n\n")
	var data []byte
	for range 800 {
		data = append(data, stanza...)
	}
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		parseDpkgStatus(data, func(dpkgStanza) { n++ })
		if n != 800 {
			b.Fatalf("parsed %d stanzas", n)
		}
	}
}
