package version

import "strings"

// CompareSemver orders two Semantic Versioning 2.0.0 versions
// (MAJOR.MINOR.PATCH[-pre.release][+build]) by precedence: numbers as
// numbers, a pre-release below its release, pre-release identifiers
// compared one by one (numeric ones as numbers and below alphanumeric
// ones, a shorter list first), build metadata ignored. A leading "v" is
// accepted, and a missing minor or patch counts as zero ("1.2" is 1.2.0),
// as package tags often leave them out. Anything else is ErrNotComparable.
func CompareSemver(a, b string) (int, error) {
	va, okA := parseSemver(a)
	vb, okB := parseSemver(b)
	if !okA || !okB {
		return 0, ErrNotComparable
	}
	for i := range 3 {
		if c := compareNumbers(va.core[i], vb.core[i]); c != 0 {
			return c, nil
		}
	}
	switch {
	case len(va.pre) == 0 && len(vb.pre) == 0:
		return 0, nil
	case len(va.pre) == 0:
		return 1, nil
	case len(vb.pre) == 0:
		return -1, nil
	}
	for i := 0; i < len(va.pre) && i < len(vb.pre); i++ {
		if c := comparePre(va.pre[i], vb.pre[i]); c != 0 {
			return c, nil
		}
	}
	return sign(len(va.pre) - len(vb.pre)), nil
}

type semver struct {
	core [3]string
	pre  []string
}

func parseSemver(s string) (semver, bool) {
	var v semver
	s = strings.TrimPrefix(strings.TrimSpace(s), "v")
	s, build, hasBuild := strings.Cut(s, "+")
	if hasBuild && !identifiers(build, false) {
		return v, false
	}
	s, pre, hasPre := strings.Cut(s, "-")
	if hasPre {
		if !identifiers(pre, true) {
			return v, false
		}
		v.pre = strings.Split(pre, ".")
	}
	parts := strings.Split(s, ".")
	if len(parts) > 3 {
		return v, false
	}
	v.core = [3]string{"0", "0", "0"}
	for i, p := range parts {
		if !allDigits(p) || (len(p) > 1 && p[0] == '0') {
			return v, false
		}
		v.core[i] = p
	}
	return v, true
}

// identifiers checks dot-separated [0-9A-Za-z-]+ identifiers; in a
// pre-release, numeric ones must not have leading zeros.
func identifiers(s string, pre bool) bool {
	for _, id := range strings.Split(s, ".") {
		if id == "" {
			return false
		}
		for i := 0; i < len(id); i++ {
			if !isAlnum(id[i]) && id[i] != '-' {
				return false
			}
		}
		if pre && allDigits(id) && len(id) > 1 && id[0] == '0' {
			return false
		}
	}
	return true
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

func comparePre(a, b string) int {
	na, nb := allDigits(a), allDigits(b)
	switch {
	case na && nb:
		return compareNumbers(a, b)
	case na:
		return -1
	case nb:
		return 1
	}
	return strings.Compare(a, b)
}
