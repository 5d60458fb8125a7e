package version

import (
	"errors"
	"strings"

	"github.com/steward-project/steward/shared/inventory"
)

// ErrNotComparable is returned when a source has no ordering this package
// knows, or a version does not follow its source's syntax. Callers then
// know the versions differ but not which one is newer.
var ErrNotComparable = errors.New("versions not comparable")

// Compare orders two versions of a package from source: negative when a is
// older than b, zero when they are equal by the source's rules (which may
// differ in spelling: dpkg treats "1.0" and "1.0-0" as equal), positive
// when a is newer.
//
//   - dpkg: Debian policy's epoch:upstream-revision ordering.
//   - rpm and pacman: epoch, then rpmvercmp on version and, when both
//     carry one, release.
//   - every other source: only plain dotted numbers ("120.0.6099.110") are
//     compared, number by number; anything else is ErrNotComparable,
//     because those sources have no version syntax to rely on.
func Compare(source, a, b string) (int, error) {
	switch source {
	case inventory.SourceDpkg:
		return CompareDebian(a, b)
	case inventory.SourceRPM, inventory.SourcePacman:
		return CompareRPM(a, b)
	default:
		return compareDotted(a, b)
	}
}

// compareDotted compares versions made only of digits separated by single
// dots; a missing trailing part counts as zero ("1.2" equals "1.2.0").
func compareDotted(a, b string) (int, error) {
	if !isDotted(a) || !isDotted(b) {
		return 0, ErrNotComparable
	}
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := range max(len(as), len(bs)) {
		x, y := "0", "0"
		if i < len(as) {
			x = as[i]
		}
		if i < len(bs) {
			y = bs[i]
		}
		if c := compareNumbers(x, y); c != 0 {
			return c, nil
		}
	}
	return 0, nil
}

func isDotted(s string) bool {
	if s == "" {
		return false
	}
	for _, part := range strings.Split(s, ".") {
		if part == "" {
			return false
		}
		for i := 0; i < len(part); i++ {
			if !isDigit(part[i]) {
				return false
			}
		}
	}
	return true
}

// compareNumbers compares two runs of ASCII digits of any length as
// numbers, without parsing them (they may not fit in an integer).
func compareNumbers(a, b string) int {
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func isAlpha(c byte) bool { return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') }

// splitEpoch splits "epoch:rest"; a missing epoch is "0". The epoch must be
// digits.
func splitEpoch(v string) (epoch, rest string, err error) {
	e, r, ok := strings.Cut(v, ":")
	if !ok {
		return "0", v, nil
	}
	if e == "" {
		return "", "", ErrNotComparable
	}
	for i := 0; i < len(e); i++ {
		if !isDigit(e[i]) {
			return "", "", ErrNotComparable
		}
	}
	return e, r, nil
}
