package pkgver

import "strings"

// CompareGeneric orders versions the semver way, leniently: a leading "v"
// and "+build" metadata are ignored; the release part compares dot by dot
// (missing parts count as 0, numeric parts by value, other parts with
// digit runs by value and the rest as strings); a version with a
// "-pre-release" is older than the same release without, and pre-releases
// compare identifier by identifier (numeric ones by value and before
// alphanumeric ones; fewer identifiers first when all else is equal).
func CompareGeneric(a, b string) int {
	ra, pa := splitGeneric(a)
	rb, pb := splitGeneric(b)
	if c := compareDotted(ra, rb); c != 0 {
		return c
	}
	switch {
	case pa == "" && pb == "":
		return 0
	case pa == "":
		return 1
	case pb == "":
		return -1
	}
	return comparePrerelease(pa, pb)
}

func splitGeneric(v string) (release, pre string) {
	if len(v) > 1 && (v[0] == 'v' || v[0] == 'V') && isDigit(v[1]) {
		v = v[1:]
	}
	v, _, _ = strings.Cut(v, "+")
	release, pre, _ = strings.Cut(v, "-")
	return release, pre
}

func compareDotted(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(pa), len(pb)) {
		x, y := "0", "0"
		if i < len(pa) && pa[i] != "" {
			x = pa[i]
		}
		if i < len(pb) && pb[i] != "" {
			y = pb[i]
		}
		if c := compareNatural(x, y); c != 0 {
			return c
		}
	}
	return 0
}

// compareNatural compares alternating digit and non-digit runs: digits by
// value, others as strings; a run of digits sorts before letters.
func compareNatural(a, b string) int {
	for a != "" && b != "" {
		da, db := isDigit(a[0]), isDigit(b[0])
		if da != db {
			if da {
				return -1
			}
			return 1
		}
		var x, y string
		var c int
		if da {
			x, a = digitRun(a)
			y, b = digitRun(b)
			c = compareDigits(x, y)
		} else {
			x, a = nonDigitRun(a)
			y, b = nonDigitRun(b)
			c = strings.Compare(x, y)
		}
		if c != 0 {
			return c
		}
	}
	return strings.Compare(a, b)
}

func nonDigitRun(s string) (run, rest string) {
	i := 0
	for i < len(s) && !isDigit(s[i]) {
		i++
	}
	return s[:i], s[i:]
}

func comparePrerelease(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := range min(len(pa), len(pb)) {
		x, y := pa[i], pb[i]
		xn, yn := allDigits(x), allDigits(y)
		var c int
		switch {
		case xn && yn:
			c = compareDigits(x, y)
		case xn:
			c = -1
		case yn:
			c = 1
		default:
			c = strings.Compare(x, y)
		}
		if c != 0 {
			return c
		}
	}
	switch {
	case len(pa) < len(pb):
		return -1
	case len(pa) > len(pb):
		return 1
	}
	return 0
}

func allDigits(s string) bool {
	run, rest := digitRun(s)
	return run != "" && rest == ""
}
