package version

import "strings"

// CompareDebian orders two Debian package versions
// ([epoch:]upstream_version[-debian_revision]) as dpkg does: epochs as
// numbers, then the upstream versions, then the revisions, each with
// Debian's alternating non-digit/digit comparison in which "~" sorts before
// everything, even the end of the string.
func CompareDebian(a, b string) (int, error) {
	ea, ra, err := splitEpoch(strings.TrimSpace(a))
	if err != nil {
		return 0, err
	}
	eb, rb, err := splitEpoch(strings.TrimSpace(b))
	if err != nil {
		return 0, err
	}
	ua, va, okA := splitRevision(ra)
	ub, vb, okB := splitRevision(rb)
	if !okA || !okB {
		return 0, ErrNotComparable
	}
	if c := compareNumbers(ea, eb); c != 0 {
		return c, nil
	}
	if c := debianPart(ua, ub); c != 0 {
		return c, nil
	}
	return debianPart(va, vb), nil
}

// splitRevision splits at the last hyphen; without one the revision is
// empty, which compares equal to "0". An empty upstream version, or a
// hyphen with nothing after it, is a syntax error to dpkg too.
func splitRevision(v string) (upstream, revision string, ok bool) {
	upstream, revision, found := cutLast(v, '-')
	return upstream, revision, upstream != "" && (!found || revision != "")
}

// debianOrder is the weight of one character in a non-digit run: the end
// of the string and digits weigh 0, "~" less than that, letters their
// ASCII value, and every other character more than any letter.
func debianOrder(s string, i int) int {
	if i >= len(s) {
		return 0
	}
	c := s[i]
	switch {
	case isDigit(c):
		return 0
	case isAlpha(c):
		return int(c)
	case c == '~':
		return -1
	default:
		return int(c) + 256
	}
}

// debianPart compares an upstream version or a revision: alternately a run
// of non-digits character by character, then a run of digits as a number.
func debianPart(a, b string) int {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for (i < len(a) && !isDigit(a[i])) || (j < len(b) && !isDigit(b[j])) {
			ac, bc := debianOrder(a, i), debianOrder(b, j)
			if ac != bc {
				return sign(ac - bc)
			}
			i++
			j++
		}
		si, sj := i, j
		for i < len(a) && isDigit(a[i]) {
			i++
		}
		for j < len(b) && isDigit(b[j]) {
			j++
		}
		if c := compareNumbers(a[si:i], b[sj:j]); c != 0 {
			return c
		}
	}
	return 0
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}
