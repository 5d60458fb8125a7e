//go:build linux

package main

import (
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/steward-project/steward/agent/internal/testimage"
)

// TestCheckReports runs `check` with --format junit and html and the
// --fail-on gate against testdata/report: on the Debian test machine
// os-release-debian passes, marker-present (high) and low-marker (low)
// fail, kernel-is-linux (medium) is an error (no allow_commands) and
// windows-defender (critical) is not applicable.
func TestCheckReports(t *testing.T) {
	if data, err := os.ReadFile("/etc/os-release"); err != nil || !strings.Contains(string(data), "\nID=debian\n") {
		t.Fatalf("these expectations hold on the Debian test machine only; /etc/os-release: %v", err)
	}
	bin := buildAgent(t)
	dir := filepath.Join("testdata", "report")

	t.Run("junit with --fail-on high", func(t *testing.T) {
		stdout, stderr, code := runAgent(t, bin, "check", "--policy", dir, "--format", "junit", "--fail-on", "high")
		if code != 1 {
			t.Fatalf("exit %d, want 1 (marker-present failed); stderr:\n%s", code, stderr)
		}
		if want := "--fail-on high: 1 policy at severity high or higher failed or errored: marker-present\n"; !strings.HasSuffix(stderr, want) {
			t.Errorf("stderr %q, want it to end %q", stderr, want)
		}
		var suites struct {
			Suite struct {
				Tests    int    `xml:"tests,attr"`
				Failures int    `xml:"failures,attr"`
				Errors   int    `xml:"errors,attr"`
				Skipped  int    `xml:"skipped,attr"`
				Hostname string `xml:"hostname,attr"`
				Props    []struct {
					Name  string `xml:"name,attr"`
					Value string `xml:"value,attr"`
				} `xml:"properties>property"`
				Cases []struct {
					Name      string `xml:"name,attr"`
					Classname string `xml:"classname,attr"`
					Failure   *struct {
						Message string `xml:"message,attr"`
						Body    string `xml:",chardata"`
					} `xml:"failure"`
					Error   *struct{} `xml:"error"`
					Skipped *struct{} `xml:"skipped"`
				} `xml:"testcase"`
			} `xml:"testsuite"`
		}
		if err := xml.Unmarshal([]byte(stdout), &suites); err != nil {
			t.Fatalf("not XML: %v\n%s", err, stdout)
		}
		s := suites.Suite
		host, _ := os.Hostname()
		if s.Tests != 5 || s.Failures != 2 || s.Errors != 1 || s.Skipped != 1 || s.Hostname != host || len(s.Cases) != 5 {
			t.Fatalf("suite tests %d failures %d errors %d skipped %d hostname %q:\n%s", s.Tests, s.Failures, s.Errors, s.Skipped, s.Hostname, stdout)
		}
		// Failures first, by severity; the classname is the file.
		c := s.Cases[0]
		if c.Name != "marker-present: The <b>marker</b> file exists" || c.Classname != "testdata.report.gate" || c.Failure == nil ||
			!strings.Contains(c.Failure.Message, "no file matches /nonexistent/<script>alert(1)</script>") {
			t.Errorf("first case %+v", c)
		}
		if c := s.Cases[2]; !strings.HasPrefix(c.Name, "kernel-is-linux: ") || c.Classname != "testdata.report.sub.cmd" || c.Error == nil {
			t.Errorf("third case %+v", c)
		}
		props := map[string]string{}
		for _, p := range s.Props {
			props[p.Name] = p.Value
		}
		if props["fail_on"] != "high" || props["policy_sources"] != dir || !strings.Contains(props["os"], "Debian") {
			t.Errorf("properties %v", props)
		}
	})

	t.Run("--fail-on critical passes", func(t *testing.T) {
		// The only critical policy is not applicable here.
		_, stderr, code := runAgent(t, bin, "check", "--policy", dir, "--format", "junit", "--fail-on", "critical")
		if code != 0 || stderr != "" {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
	})

	t.Run("an error trips --fail-on", func(t *testing.T) {
		_, stderr, code := runAgent(t, bin, "check", "--policy", filepath.Join(dir, "sub"), "--fail-on", "medium")
		if code != 1 || !strings.Contains(stderr, "1 policy at severity medium or higher failed or errored: kernel-is-linux") {
			t.Errorf("exit %d, stderr %q", code, stderr)
		}
		// With commands allowed it passes, and the gate with it.
		allow := filepath.Join("testdata", "check", "allow.yaml")
		_, stderr, code = runAgent(t, bin, "check", "--policy", filepath.Join(dir, "sub"), "--fail-on", "medium", "--config", allow)
		if code != 0 {
			t.Errorf("allowed: exit %d, stderr %q", code, stderr)
		}
	})

	t.Run("html", func(t *testing.T) {
		stdout, stderr, code := runAgent(t, bin, "check", "--policy", dir, "--format", "html")
		if code != 0 {
			t.Fatalf("exit %d (no --fail-on: 0 whatever the results); stderr:\n%s", code, stderr)
		}
		host, _ := os.Hostname()
		if !strings.HasPrefix(stdout, "<!DOCTYPE html>") || !strings.Contains(stdout, "<h1>Compliance report: "+host+"</h1>") ||
			!strings.Contains(stdout, "<dd><code>"+dir+"</code></dd>") || !strings.Contains(stdout, "Debian") {
			t.Errorf("header:\n%s", stdout)
		}
		if strings.Contains(stdout, "<script") || strings.Contains(stdout, "<b>marker") ||
			!strings.Contains(stdout, "/nonexistent/&lt;script&gt;alert(1)&lt;/script&gt;") {
			t.Error("policy text or evidence not escaped")
		}
		for _, want := range []string{`data-status="fail">2<`, `data-status="error">1<`, `data-status="pass">1<`, `data-status="not_applicable">1<`, "Pass rate:</span> 25.0% (1 of 4)"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("summary lacks %q", want)
			}
		}
		// Failures first (high before low), then the error, the pass and
		// the not applicable rule.
		last := -1
		for _, id := range []string{"marker-present", "low-marker", "kernel-is-linux", "os-release-debian", "windows-defender"} {
			i := strings.Index(stdout, `<h3><code>`+id+`</code>`)
			if i < last {
				t.Errorf("%s at %d, before the previous rule (%d)", id, i, last)
			}
			last = i
		}
		if !strings.Contains(stdout, "<span class=\"label\">Rationale:</span> Only Debian is supported here.") {
			t.Error("rationale missing")
		}
	})

	t.Run("html of an offline image", func(t *testing.T) {
		// The header's facts are the image's own, not this machine's.
		image := testimage.DebianRoot(t)
		name, err := os.ReadFile(filepath.Join(image, "etc", "hostname"))
		if err != nil {
			t.Fatalf("the cached Debian 12 image is needed: %v", err)
		}
		osRelease, err := os.ReadFile(filepath.Join(image, "etc", "os-release"))
		if err != nil || !strings.Contains(string(osRelease), `PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"`) {
			t.Fatalf("image os-release: %v\n%s", err, osRelease)
		}
		stdout, stderr, code := runAgent(t, bin, "check", "--policy", dir, "--format", "html", "--root", image)
		if code != 0 {
			t.Fatalf("exit %d, stderr:\n%s", code, stderr)
		}
		for _, want := range []string{
			"<h1>Compliance report: " + strings.TrimSpace(string(name)) + "</h1>",
			"<dd>Debian GNU/Linux 12 (bookworm)",
			"<dt>Image root</dt><dd><code>" + image + "</code>",
		} {
			if !strings.Contains(stdout, want) {
				t.Errorf("page lacks %q", want)
			}
		}
	})

	t.Run("bad --fail-on", func(t *testing.T) {
		stdout, stderr, code := runAgent(t, bin, "check", "--policy", dir, "--fail-on", "severe")
		if code != 2 || stdout != "" || !strings.Contains(stderr, `--fail-on "severe": want info, low, medium, high or critical`) {
			t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
	})

	t.Run("invalid policies stay exit 2 with --fail-on", func(t *testing.T) {
		stdout, stderr, code := runAgent(t, bin, "check", "--policy", filepath.Join("testdata", "check", "bad.yaml"), "--fail-on", "info", "--format", "junit")
		if code != 2 || stdout != "" || !strings.Contains(stderr, "invalid policies, nothing evaluated") {
			t.Errorf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
		}
	})
}
