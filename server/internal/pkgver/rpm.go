package pkgver

import "strings"

// CompareRPM compares two rpm versions [epoch:]version[-release]: epochs
// by value, then versions, then releases, each with rpm's segment
// comparison (CompareRPMSegments). When either side has no release, the
// releases are not compared, so "1.0" equals every "1.0-N" as in rpm's
// dependency ranges.
func CompareRPM(a, b string) int {
	ea, ra := splitEpoch(a)
	eb, rb := splitEpoch(b)
	if c := compareDigits(ea, eb); c != 0 {
		return c
	}
	va, rela, hasA := cutLast(ra, '-')
	vb, relb, hasB := cutLast(rb, '-')
	if c := CompareRPMSegments(va, vb); c != 0 || !hasA || !hasB {
		return c
	}
	return CompareRPMSegments(rela, relb)
}

func cutLast(s string, sep byte) (before, after string, found bool) {
	if i := strings.LastIndexByte(s, sep); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}

// CompareRPMSegments is rpm's version comparison: separators (anything
// but letters, digits, "~" and "^") only split; "~" sorts before
// anything, even the end of the string; "^" sorts after the end of the
// string but before anything else; digit segments compare by value and
// are newer than letter segments, which compare as strings.
func CompareRPMSegments(a, b string) int {
	if a == b {
		return 0
	}
	for a != "" || b != "" {
		a, b = strings.TrimLeftFunc(a, rpmSep), strings.TrimLeftFunc(b, rpmSep)
		ta, tb := strings.HasPrefix(a, "~"), strings.HasPrefix(b, "~")
		if ta || tb {
			if !ta {
				return 1
			}
			if !tb {
				return -1
			}
			a, b = a[1:], b[1:]
			continue
		}
		ca, cb := strings.HasPrefix(a, "^"), strings.HasPrefix(b, "^")
		if ca || cb {
			switch {
			case a == "":
				return -1
			case b == "":
				return 1
			case !ca:
				return 1
			case !cb:
				return -1
			}
			a, b = a[1:], b[1:]
			continue
		}
		if a == "" || b == "" {
			break
		}
		var sa, sb string
		numeric := isDigit(a[0])
		if numeric {
			sa, a = digitRun(a)
			sb, b = digitRun(b)
		} else {
			sa, a = alphaRun(a)
			sb, b = alphaRun(b)
		}
		if sb == "" {
			// Different segment types: a number is newer than letters.
			if numeric {
				return 1
			}
			return -1
		}
		var c int
		if numeric {
			c = compareDigits(sa, sb)
		} else {
			c = strings.Compare(sa, sb)
		}
		if c != 0 {
			return c
		}
	}
	switch {
	case a == "" && b == "":
		return 0
	case a == "":
		return -1
	}
	return 1
}

func rpmSep(r rune) bool {
	return r > 0x7f || !(r < 0x80 && (isDigit(byte(r)) || isAlpha(byte(r)))) && r != '~' && r != '^'
}

func alphaRun(s string) (run, rest string) {
	i := 0
	for i < len(s) && isAlpha(s[i]) {
		i++
	}
	return s[:i], s[i:]
}
