package pkgver

import "strings"

// CompareDpkg compares two Debian versions [epoch:]upstream[-revision]:
// epochs by value, then upstream versions, then revisions (absent is the
// empty revision), each part alternating runs of non-digits (compared
// character by character: "~" first, then the end of the run, then
// letters, then every other character) and runs of digits (by value).
func CompareDpkg(a, b string) int {
	ea, ra := splitEpoch(a)
	eb, rb := splitEpoch(b)
	if c := compareDigits(ea, eb); c != 0 {
		return c
	}
	ua, va := splitRevision(ra)
	ub, vb := splitRevision(rb)
	if c := dpkgPart(ua, ub); c != 0 {
		return c
	}
	return dpkgPart(va, vb)
}

// splitRevision splits at the last hyphen.
func splitRevision(v string) (upstream, revision string) {
	if i := strings.LastIndexByte(v, '-'); i >= 0 {
		return v[:i], v[i+1:]
	}
	return v, ""
}

// dpkgOrder is the weight of one character of a non-digit run; 0 is the
// end of the run.
func dpkgOrder(s string, i int) int {
	if i >= len(s) || isDigit(s[i]) {
		return 0
	}
	switch c := s[i]; {
	case c == '~':
		return -1
	case isAlpha(c):
		return int(c)
	default:
		return int(c) + 256
	}
}

func dpkgPart(a, b string) int {
	for a != "" || b != "" {
		i := 0
		for i < len(a) && !isDigit(a[i]) || i < len(b) && !isDigit(b[i]) {
			oa, ob := dpkgOrder(a, i), dpkgOrder(b, i)
			if oa != ob {
				if oa < ob {
					return -1
				}
				return 1
			}
			i++
		}
		a, b = a[min(i, len(a)):], b[min(i, len(b)):]
		var na, nb string
		na, a = digitRun(a)
		nb, b = digitRun(b)
		if c := compareDigits(na, nb); c != 0 {
			return c
		}
	}
	return 0
}
