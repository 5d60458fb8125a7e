package pkgver

import "testing"

type pair struct {
	a, b string
	want int
}

func checkPairs(t *testing.T, name string, cmp func(a, b string) int, cases []pair) {
	t.Helper()
	for _, c := range cases {
		if got := cmp(c.a, c.b); got != c.want {
			t.Errorf("%s(%q, %q) = %d, want %d", name, c.a, c.b, got, c.want)
		}
		if got := cmp(c.b, c.a); got != -c.want {
			t.Errorf("%s(%q, %q) = %d, want %d", name, c.b, c.a, got, -c.want)
		}
	}
}

func TestCompareDpkg(t *testing.T) {
	checkPairs(t, "CompareDpkg", CompareDpkg, []pair{
		{"1.0", "1.0", 0},
		{"1.0~rc1", "1.0", -1},
		{"1.0~rc1", "1.0~rc2", -1},
		{"1.0~~", "1.0~", -1},
		{"1.0~", "1.0", -1},
		{"1.0", "1.0a", -1},
		{"1.0a", "1.0+", -1}, // letters before other characters
		{"1.0", "1.0.1", -1},
		{"1:0.9", "2.0", 1},
		{"0:2.0", "2.0", 0},
		{"00:2.0", "2.0", 0},
		{"2:1", "10:0", -1},
		{"1.2.10", "1.2.9", 1},
		{"1.002", "1.2", 0},
		{"1.0-1", "1.0", 1},        // an absent revision is the empty one
		{"1.0-1", "1.0-1~bpo1", 1}, // "~" in the revision too
		{"3.0.14-1~deb12u1", "3.0.14", 1},
		{"3.0.11-1~deb12u2", "3.0.14", -1},
		{"3.0.11-1~deb12u2", "3.0.11-1", -1},
		{"1.0-2", "1.0-10", -1},
		{"2.36-9+deb12u4", "2.36-9+deb12u10", -1},
		{"1.2-3-4", "1.2-3-5", -1}, // the revision starts after the last hyphen
		{"a", "b", -1},
		{"", "0", 0},
		{"1.0.0", "1.0", 1},
	})
}

func TestCompareRPM(t *testing.T) {
	checkPairs(t, "CompareRPM", CompareRPM, []pair{
		{"1.0", "1.0", 0},
		{"1.0~rc1", "1.0", -1},
		{"1.0~rc1", "1.0~rc2", -1},
		{"1.0~rc1~git", "1.0~rc1", -1},
		{"1.0^post", "1.0", 1},
		{"1.0^post", "1.0.1", -1},
		{"1.0^", "1.0", 1},
		{"1.0^git1", "1.0^git2", -1},
		{"1.0^20160101", "1.0.1", -1},
		{"1.0~rc1^git1", "1.0~rc1", 1},
		{"1.0", "1.0.1", -1},
		{"1.0a", "1.0", 1},
		{"1.0", "1.a", 1}, // digits are newer than letters
		{"2.0", "2_0", 0}, // separators only split
		{"1.0010", "1.9", 1},
		{"1.05", "1.5", 0},
		{"5.5p1", "5.5p10", -1},
		{"xyz.4", "xyz.4", 0},
		{"10b2", "10a1", 1},
		{"FC5", "fc4", -1}, // letters compare as bytes
		{"1:0.9", "2.0", 1},
		{"0:1.0", "1.0", 0},
		{"1.0-1", "1.0-2", -1},
		{"1.0-1.el9", "1.0-1.el9_2", -1},
		{"3.0.7-27.el9", "3.0.7", 0}, // no release on one side: releases are not compared
		{"3.0.7-27.el9", "3.0.8", -1},
		{"1.0-10", "1.0-9", 1},
	})
}

func TestCompareGeneric(t *testing.T) {
	checkPairs(t, "CompareGeneric", CompareGeneric, []pair{
		{"1.0.0", "1.0.0", 0},
		{"1.0", "1.0.0", 0},
		{"v1.2.3", "1.2.3", 0},
		{"1.2.10", "1.2.9", 1},
		{"1.0.0-rc.1", "1.0.0", -1},
		{"1.0.0-alpha", "1.0.0-alpha.1", -1},
		{"1.0.0-alpha.1", "1.0.0-alpha.beta", -1},
		{"1.0.0-alpha.beta", "1.0.0-beta", -1},
		{"1.0.0-beta.2", "1.0.0-beta.11", -1},
		{"1.0.0-rc.1", "1.0.0-beta.11", 1},
		{"1.0.0+build.5", "1.0.0", 0},
		{"2.0.0", "10.0.0", -1},
		{"1.2a", "1.2b", -1},
		{"1.2", "1.2a", -1},
		{"120.0.6099.109", "120.0.6099.71", 1},
	})
}

func TestCompareBySource(t *testing.T) {
	for _, c := range []struct {
		source, a, b string
		want         int
	}{
		{"dpkg", "1:0.9", "2.0", 1},
		{"rpm", "1.0^post", "1.0", 1},
		{"pacman", "1.0^post", "1.0", 1},
		{"dpkg", "1.0^post", "1.0", 1}, // "^" is just a character to dpkg
		{"homebrew", "1.0-rc1", "1.0", -1},
		{"dpkg", "1.0-rc1", "1.0", 1}, // a revision to dpkg
		{"snap", "1:0.9", "2.0", -1},  // no epochs outside dpkg and rpm
	} {
		if got := Compare(c.source, c.a, c.b); got != c.want {
			t.Errorf("Compare(%q, %q, %q) = %d, want %d", c.source, c.a, c.b, got, c.want)
		}
	}
}

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in, want string
	}{
		{"", ""},
		{"3.0.2", "=3.0.2"},
		{"<5.3", "<5.3"},
		{">=3.0.0 <3.0.14", ">=3.0.0 <3.0.14"},
		{">=3.0.0,<3.0.14", ">=3.0.0 <3.0.14"},
		{">= 3.0.0, < 3.0.14", ">=3.0.0 <3.0.14"},
		{"==1.0 != 1.1", "=1.0 !=1.1"},
		{"1:2.0-1", "=1:2.0-1"},
	} {
		got, err := Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		if got.String() != c.want {
			t.Errorf("Parse(%q) = %q, want %q", c.in, got, c.want)
		}
	}
	for _, bad := range []string{"<", ">= ", "<= >=1", "1.0<2", "<=>1", ">", "=<1"} {
		if c, err := Parse(bad); err == nil {
			t.Errorf("Parse(%q) = %q, want an error", bad, c)
		}
	}
}

func TestMatches(t *testing.T) {
	for _, c := range []struct {
		constraint, source, version string
		want                        bool
	}{
		{"", "dpkg", "anything", true},
		{">=3.0.0 <3.0.14", "dpkg", "3.0.11-1~deb12u2", true},
		{">=3.0.0 <3.0.14", "dpkg", "3.0.14-1~deb12u1", false},
		{">=3.0.0 <3.0.14", "dpkg", "1:3.0.1", false},
		{">=3.0.0 <3.0.14", "rpm", "3.0.7-27.el9", true},
		{"<3.0.7", "rpm", "3.0.7-27.el9", false},
		{"<=3.0.7", "rpm", "3.0.7-27.el9", true},
		{"=3.0.7", "rpm", "3.0.7-27.el9", true},
		{"!=3.0.7", "rpm", "3.0.7-27.el9", false},
		{">3.0.7-26.el9", "rpm", "3.0.7-27.el9", true},
		{"<5.3", "dpkg", "5.2.15-2+b2", true},
		{"<5.3", "dpkg", "5.3~rc1", true},
		{"<5.3", "homebrew", "5.3.0", false},
		{"<5.3", "homebrew", "5.3.0-rc1", true},
		{"=1.0", "dpkg", "1.0", true},
		{"=1.0", "dpkg", "1.0-1", false},
		{"!=1.0", "dpkg", "1.0-1", true},
	} {
		cons, err := Parse(c.constraint)
		if err != nil {
			t.Fatal(err)
		}
		if got := cons.Matches(c.source, c.version); got != c.want {
			t.Errorf("%q matches %s %q = %v, want %v", c.constraint, c.source, c.version, got, c.want)
		}
	}
}
