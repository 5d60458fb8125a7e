package packaging

import (
	"os/exec"
	"strings"
	"testing"
)

func TestPackageVersion(t *testing.T) {
	for _, tc := range []struct {
		describe string
		commits  int
		want     string
	}{
		{"v1.2.0", 0, "1.2.0"},
		{"1.2.0", 0, "1.2.0"},
		{"v1.2", 0, "1.2"},
		{"v1.2.0-rc.1", 0, "1.2.0~rc.1"},
		{"v1.2.0-rc-1", 0, "1.2.0~rc.1"},
		{"v1.2.0-3-g1a2b3c4", 0, "1.2.0+git3.1a2b3c4"},
		{"v1.2.0-rc1-3-g1a2b3c4", 0, "1.2.0~rc1+git3.1a2b3c4"},
		{"v1.2.0-3-g1a2b3c4-dirty", 0, "1.2.0+git3.1a2b3c4.dirty"},
		{"1a2b3c4", 61, "0.0.0~git61.1a2b3c4"},
		{"1a2b3c4-dirty", 61, "0.0.0~git61.1a2b3c4.dirty"},
		{"3050288-dirty", 62, "0.0.0~git62.3050288.dirty"},
		{"v2", 0, "2"},
		{"dev", 0, "0.0.0~dev"},
		{" v1.0.0\n", 0, "1.0.0"},
	} {
		got, err := PackageVersion(tc.describe, tc.commits)
		if err != nil || got != tc.want {
			t.Errorf("PackageVersion(%q, %d) = %q, %v; want %q", tc.describe, tc.commits, got, err, tc.want)
		}
		if err == nil && !versionPattern.MatchString(got) {
			t.Errorf("PackageVersion(%q) = %q, which Options refuses", tc.describe, got)
		}
	}
	for _, bad := range []string{"", "release-1", "vX.Y", "v1.2.0-rc/1", "1a2b3c4"} {
		if got, err := PackageVersion(bad, 0); err == nil {
			t.Errorf("PackageVersion(%q, 0) = %q, want an error", bad, got)
		}
	}
}

// TestPackageVersionOrder checks with dpkg and rpm themselves that the
// versions sort as the history does.
func TestPackageVersionOrder(t *testing.T) {
	requireTool(t, "dpkg", "dpkg")
	requireTool(t, "rpm", "rpm")
	// Oldest first.
	history := []struct {
		describe string
		commits  int
	}{
		{"dev", 0},
		{"1a2b3c4", 9},
		{"0fffff0", 10},
		{"0fffff0-dirty", 10},
		{"v0.9.0-rc.1", 0},
		{"v0.9.0-rc.1-2-gbbbbbbb", 0},
		{"v0.9.0", 0},
		{"v0.9.0-1-gccccccc", 0},
		{"v0.10.0", 0},
		{"v1.0.0", 0},
	}
	var versions []string
	for _, h := range history {
		v, err := PackageVersion(h.describe, h.commits)
		if err != nil {
			t.Fatal(err)
		}
		versions = append(versions, v)
	}
	for i := 1; i < len(versions); i++ {
		older, newer := versions[i-1], versions[i]
		if err := exec.Command("dpkg", "--compare-versions", newer+"-1", "gt", older+"-1").Run(); err != nil {
			t.Errorf("dpkg does not order %s after %s", newer, older)
		}
		out := run(t, "rpm", "--eval", "%{lua: print(rpm.vercmp('"+newer+"', '"+older+"'))}")
		if strings.TrimSpace(out) != "1" {
			t.Errorf("rpm does not order %s after %s (vercmp %s)", newer, older, strings.TrimSpace(out))
		}
	}
}
