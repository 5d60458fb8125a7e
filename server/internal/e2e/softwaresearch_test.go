package e2e

import (
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestSoftwareSearchForms drives stewardctl's software search (prefix,
// glob, exact, version ranges) and per-version counts against a real
// server with a real agent reporting this machine's dpkg packages, then
// checks that a retired host leaves both.
func TestSoftwareSearchForms(t *testing.T) {
	want := dpkgVersion(t, "bash")
	s := startServer(t, "sqlite://"+filepath.Join(t.TempDir(), "steward.db"))
	agent := s.startAgent(t, filepath.Join(t.TempDir(), "agent"))
	var sw softwareResponse
	eventually(t, 60*time.Second, "bash in the software search", func() (bool, string) {
		s.get(t, "/api/v1/software?name=bash&match=exact", &sw)
		return len(sw.Software) == 1, agent.Output()
	})
	host := itoa(sw.Software[0].HostID)
	// A row of the search table for bash, whatever the column widths.
	bashRow := regexp.MustCompile(`(?m)^` + host + ` +\S+ +bash +` + regexp.QuoteMeta(want) + ` +\S+ +dpkg$`)
	has := func(args ...string) bool {
		t.Helper()
		return bashRow.MatchString(s.ctl(t, append([]string{"software", "search"}, args...)...))
	}
	for _, c := range []struct {
		args []string
		want bool
	}{
		{[]string{"BAS"}, true},
		{[]string{"ba"}, true},
		{[]string{"ash"}, false},
		{[]string{"*ASH"}, true},
		{[]string{"*as*"}, true},
		{[]string{"*as"}, false},
		{[]string{"--exact", "bash"}, true},
		{[]string{"--exact", "BASH"}, false},
		{[]string{"--exact", "bas"}, false},
		{[]string{"bash", "--version", want}, true},
		{[]string{"bash", "--version", ">=" + want}, true},
		{[]string{"bash", "--version", ">" + want}, false},
		{[]string{"bash", "--version", "<" + want}, false},
		{[]string{"bash", "--version", ">=1.0 <1:0"}, true}, // any epoch beats none
		{[]string{"bash", "--version", ">=1.0, <=" + want}, true},
		{[]string{"bash", "--version", ">=1.0 <" + want}, false},
		{[]string{"bash", "--version", want + "~rc1"}, false},
		{[]string{"bash", "--version", ">" + want + "~rc1"}, true}, // "~" sorts before the end
	} {
		if got := has(c.args...); got != c.want {
			t.Errorf("software search %q shows bash %s: %v, want %v", c.args, want, got, c.want)
		}
	}

	versionsRow := regexp.MustCompile(`(?m)^bash +` + regexp.QuoteMeta(want) + ` +dpkg +1$`)
	out := s.ctl(t, "software", "versions", "bash", "--exact")
	if !strings.HasPrefix(out, "NAME") || !versionsRow.MatchString(out) || strings.Count(out, "\n") != 2 {
		t.Errorf("software versions bash --exact:\n%s", out)
	}
	if out := s.ctl(t, "software", "versions", "*sh", "--version", "<"+want); versionsRow.MatchString(out) {
		t.Errorf("software versions *sh --version <%s lists bash %s:\n%s", want, want, out)
	}
	if out := s.ctl(t, "software", "versions", "-o", "json", "bash", "--exact"); !strings.Contains(out, `"hosts": 1`) {
		t.Errorf("software versions -o json:\n%s", out)
	}

	// A retired host counts nowhere.
	s.ctl(t, "hosts", "retire", host)
	if out := s.ctl(t, "software", "versions", "bash", "--exact"); !strings.HasPrefix(out, "NAME") || strings.Contains(out, "bash") {
		t.Errorf("software versions after the host retired:\n%s", out)
	}
	if has("bash") {
		t.Errorf("software search shows a retired host")
	}
}
