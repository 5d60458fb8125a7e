package packaging

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

var (
	// describeSuffix is what git describe adds after a tag for later
	// commits: -<commits since the tag>-g<abbreviated hash>.
	describeSuffix = regexp.MustCompile(`-([0-9]+)-g([0-9a-f]{4,40})$`)
	bareHash       = regexp.MustCompile(`^[0-9a-f]{4,40}$`)
	releaseNumber  = regexp.MustCompile(`^[0-9]+(\.[0-9]+)*$`)
	prerelease     = regexp.MustCompile(`^[0-9A-Za-z.]+$`)
)

// PackageVersion turns the output of `git describe --tags --always
// --dirty` (the Makefile's VERSION) into a version that dpkg and rpm both
// accept and order by history:
//
//	v1.2.0                   1.2.0
//	v1.2.0-rc.1              1.2.0~rc.1         (before 1.2.0)
//	v1.2.0-3-g1a2b3c4        1.2.0+git3.1a2b3c4 (after 1.2.0)
//	1a2b3c4 (no tag yet)     0.0.0~git<commits>.1a2b3c4
//	dev (no git)             0.0.0~dev
//
// Tags are v<number>[.<number>...][-<prerelease>] (the v may be left out
// when there is a dot): a bare run of hex digits is an abbreviated hash.
// A -dirty suffix becomes .dirty. commits is the number of commits in
// HEAD (git rev-list --count HEAD); it is used only when no tag is
// reachable, so that untagged builds still sort by history.
func PackageVersion(describe string, commits int) (string, error) {
	d := strings.TrimSpace(describe)
	dirty := ""
	if s, ok := strings.CutSuffix(d, "-dirty"); ok {
		d, dirty = s, ".dirty"
	}
	switch {
	case d == "dev":
		return "0.0.0~dev" + dirty, nil
	case bareHash.MatchString(d):
		// --always printed an abbreviated hash: no tag is reachable. A
		// hash may be all digits, so a tag needs a dot or a leading v
		// (v1, 1.2) to be told apart.
		if commits <= 0 {
			return "", fmt.Errorf("version %q has no tag and the commit count is %d", describe, commits)
		}
		return "0.0.0~git" + strconv.Itoa(commits) + "." + d + dirty, nil
	}
	after := ""
	if m := describeSuffix.FindStringSubmatch(d); m != nil {
		after = "+git" + m[1] + "." + m[2]
		d = strings.TrimSuffix(d, m[0])
	}
	tag := strings.TrimPrefix(d, "v")
	release, pre, _ := strings.Cut(tag, "-")
	if !releaseNumber.MatchString(release) {
		return "", fmt.Errorf("version %q: tag %q is not v<number>[.<number>...][-<prerelease>]", describe, d)
	}
	if pre != "" {
		pre = strings.ReplaceAll(pre, "-", ".")
		if !prerelease.MatchString(pre) {
			return "", fmt.Errorf("version %q: prerelease %q has characters other than letters, digits, '.' and '-'", describe, pre)
		}
		release += "~" + pre
	}
	return release + after + dirty, nil
}
