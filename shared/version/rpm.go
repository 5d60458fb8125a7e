package version

import "strings"

// CompareRPM orders two [epoch:]version[-release] strings as rpm (and
// pacman, whose vercmp descends from it) does: epochs as numbers, then
// rpmvercmp on the versions, then on the releases when both have one.
func CompareRPM(a, b string) (int, error) {
	ea, ra, err := splitEpoch(strings.TrimSpace(a))
	if err != nil {
		return 0, err
	}
	eb, rb, err := splitEpoch(strings.TrimSpace(b))
	if err != nil {
		return 0, err
	}
	va, rela, hasA := cutLast(ra, '-')
	vb, relb, hasB := cutLast(rb, '-')
	if va == "" || vb == "" {
		return 0, ErrNotComparable
	}
	if c := compareNumbers(ea, eb); c != 0 {
		return c, nil
	}
	if c := rpmvercmp(va, vb); c != 0 {
		return c, nil
	}
	if hasA && hasB {
		return rpmvercmp(rela, relb), nil
	}
	return 0, nil
}

func cutLast(s string, sep byte) (before, after string, found bool) {
	if i := strings.LastIndexByte(s, sep); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}

func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }

// rpmvercmp splits both strings into runs of digits and runs of letters,
// ignoring other separators, and compares run by run: numbers as numbers,
// letters as bytes, a number beating letters. "~" sorts before anything,
// even the end; "^" after the end but before anything else.
func rpmvercmp(a, b string) int {
	if a == b {
		return 0
	}
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for i < len(a) && !isAlnum(a[i]) && a[i] != '~' && a[i] != '^' {
			i++
		}
		for j < len(b) && !isAlnum(b[j]) && b[j] != '~' && b[j] != '^' {
			j++
		}
		ta, tb := at(a, i) == '~', at(b, j) == '~'
		if ta || tb {
			if !ta {
				return 1
			}
			if !tb {
				return -1
			}
			i++
			j++
			continue
		}
		ca, cb := at(a, i) == '^', at(b, j) == '^'
		if ca || cb {
			if i >= len(a) {
				return -1
			}
			if j >= len(b) {
				return 1
			}
			if !ca {
				return 1
			}
			if !cb {
				return -1
			}
			i++
			j++
			continue
		}
		if i >= len(a) || j >= len(b) {
			break
		}
		si, sj := i, j
		numeric := isDigit(a[i])
		run := isAlpha
		if numeric {
			run = isDigit
		}
		for i < len(a) && run(a[i]) {
			i++
		}
		for j < len(b) && run(b[j]) {
			j++
		}
		if sj == j {
			// b has the other kind of run here: numbers are newer.
			if numeric {
				return 1
			}
			return -1
		}
		var c int
		if numeric {
			c = compareNumbers(a[si:i], b[sj:j])
		} else {
			c = strings.Compare(a[si:i], b[sj:j])
		}
		if c != 0 {
			return c
		}
	}
	switch {
	case i >= len(a) && j >= len(b):
		return 0
	case i >= len(a):
		return -1
	}
	return 1
}

// at returns s[i], or 0 past the end.
func at(s string, i int) byte {
	if i < len(s) {
		return s[i]
	}
	return 0
}
