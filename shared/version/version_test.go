package version

import (
	"errors"
	"testing"

	"github.com/steward-project/steward/shared/inventory"
)

// Expected orders for dpkg were checked with `dpkg --compare-versions` on
// Debian 12; rpm ones follow rpm's own rpmvercmp test cases.
func TestCompare(t *testing.T) {
	cases := []struct {
		source string
		a, b   string
		want   int
	}{
		{inventory.SourceDpkg, "1.0", "1.1", -1},
		{inventory.SourceDpkg, "1.0~rc1", "1.0", -1},
		{inventory.SourceDpkg, "1:0.9", "2.0", 1},
		{inventory.SourceDpkg, "1.0-1", "1.0-2", -1},
		{inventory.SourceDpkg, "1.0", "1.0-0", 0},
		{inventory.SourceDpkg, "1.0a", "1.0", 1},
		{inventory.SourceDpkg, "1.0+b1", "1.0", 1},
		{inventory.SourceDpkg, "1.0.1", "1.0+b1", 1},
		{inventory.SourceDpkg, "3.0.11-1~deb12u2", "3.0.13-1~deb12u1", -1},
		{inventory.SourceDpkg, "2.36.1-8+deb11u1", "2.36.1-8+deb11u2", -1},
		{inventory.SourceDpkg, "1.2.3~~", "1.2.3~", -1},
		{inventory.SourceDpkg, "7.88.1-10+deb12u5", "7.88.1-10+deb12u12", -1},
		{inventory.SourceDpkg, "0:1.0", "1.0", 0},
		{inventory.SourceDpkg, "1.01", "1.1", 0},
		{inventory.SourceDpkg, "2:1.0", "10:0.1", -1},
		{inventory.SourceDpkg, "1.0-1a", "1.0-1", 1},
		{inventory.SourceDpkg, "1.0~", "1.0", -1},
		{inventory.SourceDpkg, "9", "10", -1},
		{inventory.SourceDpkg, "1.0-1~bpo1", "1.0-1", -1},
		{inventory.SourceDpkg, "1.0.a", "1.0.1", 1},
		{inventory.SourceDpkg, "1.2-3-4", "1.2-3-5", -1}, // the revision follows the last hyphen
		{inventory.SourceDpkg, "99999999999999999999999", "99999999999999999999998", 1},

		{inventory.SourceRPM, "1.0", "1.0", 0},
		{inventory.SourceRPM, "1.0", "2.0", -1},
		{inventory.SourceRPM, "2.0.1", "2.0", 1},
		{inventory.SourceRPM, "2.0.1a", "2.0.1", 1},
		{inventory.SourceRPM, "5.5p1", "5.5p2", -1},
		{inventory.SourceRPM, "5.5p10", "5.5p1", 1},
		{inventory.SourceRPM, "10xyz", "10.1xyz", -1},
		{inventory.SourceRPM, "xyz.4", "8", -1},
		{inventory.SourceRPM, "5.5p2", "5.6p1", -1},
		{inventory.SourceRPM, "6.0.rc1", "6.0", 1},
		{inventory.SourceRPM, "10b2", "10a1", 1},
		{inventory.SourceRPM, "1.0~rc1", "1.0", -1},
		{inventory.SourceRPM, "1.0~rc1~git123", "1.0~rc1", -1},
		{inventory.SourceRPM, "1.0^", "1.0", 1},
		{inventory.SourceRPM, "1.0^git1", "1.01", -1},
		{inventory.SourceRPM, "a", "1", -1},
		{inventory.SourceRPM, "1.0_1", "1.0.1", 0}, // separators are all alike
		{inventory.SourceRPM, "1:1.0-1", "2.0-1", 1},
		{inventory.SourceRPM, "5.14.0-362.el9", "5.14.0-427.el9", -1},
		{inventory.SourceRPM, "1.0", "1.0-5", 0}, // release compared only when both have one
		{inventory.SourcePacman, "1:2.0-1", "3.0-1", 1},
		{inventory.SourcePacman, "6.7.4.arch1-1", "6.8.1.arch1-1", -1},

		{inventory.SourceWindowsRegistry, "120.0.6099.110", "120.0.6099.71", 1},
		{inventory.SourceMacOSApp, "17.2", "17.2.0", 0},
		{inventory.SourceHomebrew, "1.9", "1.10", -1},
	}
	for _, c := range cases {
		t.Run(c.source+" "+c.a+" vs "+c.b, func(t *testing.T) {
			got, err := Compare(c.source, c.a, c.b)
			if err != nil {
				t.Fatalf("Compare: %v", err)
			}
			if got != c.want {
				t.Errorf("Compare(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
			}
			// The order must be antisymmetric.
			if back, _ := Compare(c.source, c.b, c.a); back != -c.want {
				t.Errorf("Compare(%q, %q) = %d, want %d", c.b, c.a, back, -c.want)
			}
		})
	}
}

func TestCompareNotComparable(t *testing.T) {
	cases := []struct {
		source string
		a, b   string
	}{
		{inventory.SourceDpkg, "x:1.0", "1.0"},
		{inventory.SourceDpkg, ":1.0", "1.0"},
		{inventory.SourceDpkg, "1.0-", "1.0"},
		{inventory.SourceDpkg, "", "1.0"},
		{inventory.SourceDpkg, "2:", "1.0"},
		{inventory.SourceRPM, "1:", "1.0"},
		{inventory.SourceRPM, "-1", "1.0"},
		{inventory.SourceSnap, "2.61.3+git1", "2.61.3"},
		{inventory.SourceFlatpak, "a1b2c3", "ff0011"},
		{inventory.SourceHomebrew, "1.2.3_1", "1.2.3"},
		{inventory.SourceMSIX, "1..2", "1.2"},
		{"", "", "1"},
	}
	for _, c := range cases {
		t.Run(c.source+" "+c.a+" vs "+c.b, func(t *testing.T) {
			if got, err := Compare(c.source, c.a, c.b); !errors.Is(err, ErrNotComparable) {
				t.Errorf("Compare(%q, %q) = %d, %v; want ErrNotComparable", c.a, c.b, got, err)
			}
		})
	}
}

// Orders from the Semantic Versioning 2.0.0 specification, section 11.
func TestCompareSemver(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"1.0.0", "2.0.0", -1},
		{"2.0.0", "2.1.0", -1},
		{"2.1.0", "2.1.1", -1},
		{"1.0.0-alpha", "1.0.0", -1},
		{"1.0.0-alpha", "1.0.0-alpha.1", -1},
		{"1.0.0-alpha.1", "1.0.0-alpha.beta", -1},
		{"1.0.0-alpha.beta", "1.0.0-beta", -1},
		{"1.0.0-beta", "1.0.0-beta.2", -1},
		{"1.0.0-beta.2", "1.0.0-beta.11", -1},
		{"1.0.0-beta.11", "1.0.0-rc.1", -1},
		{"1.0.0-rc.1", "1.0.0", -1},
		{"1.0.0+build.5", "1.0.0", 0},
		{"1.0.0-rc.1+exp.sha.5114f85", "1.0.0-rc.1", 0},
		{"v1.2.3", "1.2.3", 0},
		{"1.2", "1.2.0", 0},
		{"1", "1.0.1", -1},
		{"10.0.0", "9.99.99", 1},
		{"1.0.0-x-y-z.1", "1.0.0-x-y-z.0", 1},
		{"1.0.0-1", "1.0.0-a", -1},
	}
	for _, c := range cases {
		t.Run(c.a+" vs "+c.b, func(t *testing.T) {
			got, err := CompareSemver(c.a, c.b)
			if err != nil {
				t.Fatalf("CompareSemver: %v", err)
			}
			if got != c.want {
				t.Errorf("CompareSemver(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
			}
			if back, _ := CompareSemver(c.b, c.a); back != -c.want {
				t.Errorf("CompareSemver(%q, %q) = %d, want %d", c.b, c.a, back, -c.want)
			}
		})
	}
	for _, bad := range []string{"", "1.2.3.4", "01.2.3", "1.2.3-", "1.2.3-01", "1.2.3+", "1.2.3-a..b", "1.x.3", "1.2.3_1", "vv1.0"} {
		t.Run("bad "+bad, func(t *testing.T) {
			if got, err := CompareSemver(bad, "1.0.0"); !errors.Is(err, ErrNotComparable) {
				t.Errorf("CompareSemver(%q) = %d, %v; want ErrNotComparable", bad, got, err)
			}
		})
	}
}
