package check

import (
	"bytes"
	"encoding/xml"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

var updateReports = flag.Bool("update-reports", false, "rewrite testdata/report golden files")

// golden compares got with testdata/report/name, or rewrites it with
// -update-reports.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "report", name)
	if *updateReports {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden file: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output:\n%s", path, got)
	}
}

// xnode is any XML element, decoded without the writer's own types.
type xnode struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Children []xnode    `xml:",any"`
	Text     string     `xml:",chardata"`
}

func (n xnode) attr(name string) (string, bool) {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value, true
		}
	}
	return "", false
}

func (n xnode) children(name string) []xnode {
	var out []xnode
	for _, c := range n.Children {
		if c.XMLName.Local == name {
			out = append(out, c)
		}
	}
	return out
}

// junitSchema is, per element, the attributes the commonly used JUnit
// schema (the Ant task's, extended by Jenkins with skipped) requires and
// allows, and the child elements it allows.
var junitSchema = map[string]struct{ required, allowed, children []string }{
	"testsuites": {nil, []string{"name", "time", "tests", "failures", "errors", "skipped", "disabled"}, []string{"testsuite"}},
	"testsuite": {[]string{"name", "tests", "failures", "errors", "time", "timestamp", "hostname"},
		[]string{"skipped", "disabled", "id", "package", "file", "log", "url", "version", "group"},
		[]string{"properties", "testcase", "system-out", "system-err"}},
	"properties": {nil, nil, []string{"property"}},
	"property":   {[]string{"name", "value"}, nil, nil},
	"testcase":   {[]string{"name", "classname", "time"}, []string{"status", "assertions", "file", "line"}, []string{"skipped", "error", "failure", "system-out", "system-err"}},
	"failure":    {[]string{"type"}, []string{"message"}, nil},
	"error":      {[]string{"type"}, []string{"message"}, nil},
	"skipped":    {nil, []string{"message"}, nil},
	"system-out": {nil, nil, nil},
	"system-err": {nil, nil, nil},
}

// checkSchema walks n and reports every element, attribute or missing
// required attribute the schema does not allow, and the schema's value
// rules: decimal times, an ISO 8601 timestamp without zone, non-empty
// names, one outcome per test case.
func checkSchema(t *testing.T, n xnode, path string) {
	t.Helper()
	path += "/" + n.XMLName.Local
	s, ok := junitSchema[n.XMLName.Local]
	if !ok {
		t.Errorf("%s: element not in the schema", path)
		return
	}
	for _, a := range s.required {
		if v, ok := n.attr(a); !ok {
			t.Errorf("%s: required attribute %s missing", path, a)
		} else if (a == "name" || a == "hostname") && v == "" {
			t.Errorf("%s: %s is empty", path, a)
		}
	}
	for _, a := range n.Attrs {
		if !slices.Contains(s.required, a.Name.Local) && !slices.Contains(s.allowed, a.Name.Local) {
			t.Errorf("%s: attribute %s not in the schema", path, a.Name.Local)
		}
		switch a.Name.Local {
		case "time":
			if _, err := strconv.ParseFloat(a.Value, 64); err != nil || strings.ContainsAny(a.Value, "eE") {
				t.Errorf("%s: time %q is not a decimal", path, a.Value)
			}
		case "tests", "failures", "errors", "skipped":
			if _, err := strconv.Atoi(a.Value); err != nil {
				t.Errorf("%s: %s %q is not an integer", path, a.Name.Local, a.Value)
			}
		case "timestamp":
			if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$`).MatchString(a.Value) {
				t.Errorf("%s: timestamp %q", path, a.Value)
			}
		}
	}
	outcomes := 0
	for _, c := range n.Children {
		if !slices.Contains(s.children, c.XMLName.Local) {
			t.Errorf("%s: child %s not in the schema", path, c.XMLName.Local)
		}
		switch c.XMLName.Local {
		case "failure", "error", "skipped":
			outcomes++
		}
		checkSchema(t, c, path)
	}
	if outcomes > 1 {
		t.Errorf("%s: %d outcomes, the schema allows one", path, outcomes)
	}
	if n.XMLName.Local == "testsuite" { // the Ant schema's sequence
		order := map[string]int{"properties": 0, "testcase": 1, "system-out": 2, "system-err": 3}
		last := -1
		for _, c := range n.Children {
			if order[c.XMLName.Local] < last {
				t.Errorf("%s: %s out of the schema's order", path, c.XMLName.Local)
			}
			last = order[c.XMLName.Local]
		}
	}
}

func TestWriteJUnit(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJUnit(&b, reportFixture()); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.junit.xml", b.Bytes())

	var root xnode
	if err := xml.Unmarshal(b.Bytes(), &root); err != nil {
		t.Fatalf("not XML: %v", err)
	}
	if root.XMLName.Local != "testsuites" {
		t.Fatalf("root %s", root.XMLName.Local)
	}
	checkSchema(t, root, "")
	suites := root.children("testsuite")
	if len(suites) != 1 {
		t.Fatalf("%d testsuites", len(suites))
	}
	suite := suites[0]
	cases := suite.children("testcase")
	count := func(name string) int {
		n := 0
		for _, c := range cases {
			n += len(c.children(name))
		}
		return n
	}
	// 7 policies: 2 fail, 1 error, 2 pass, 1 not_applicable, 1 exempt.
	for attr, want := range map[string]int{"tests": len(cases), "failures": count("failure"), "errors": count("error"), "skipped": count("skipped")} {
		for _, n := range []xnode{root, suite} {
			if v, _ := n.attr(attr); v != strconv.Itoa(want) {
				t.Errorf("%s %s=%q, counted %d", n.XMLName.Local, attr, v, want)
			}
		}
	}
	if len(cases) != 7 || count("failure") != 2 || count("error") != 1 || count("skipped") != 2 {
		t.Errorf("cases %d failures %d errors %d skipped %d", len(cases), count("failure"), count("error"), count("skipped"))
	}
	for i, c := range cases {
		name, _ := c.attr("name")
		if !strings.HasPrefix(name, wantOrder[i]+": ") {
			t.Errorf("case %d is %q, want %s first", i, name, wantOrder[i])
		}
	}
	c0 := cases[0]
	if cl, _ := c0.attr("classname"); cl != "packs.cis-debian12" {
		t.Errorf("classname %q", cl)
	}
	if n, _ := c0.attr("name"); n != "ssh-root-login: SSH refuses root login" {
		t.Errorf("name %q", n)
	}
	f := c0.children("failure")[0]
	if msg, _ := f.attr("message"); !strings.Contains(msg, "PermitRootLogin yes (/etc/ssh/sshd_config:33) "+hostile) {
		t.Errorf("failure message %q", msg)
	}
	if typ, _ := f.attr("type"); typ != "severity critical" {
		t.Errorf("failure type %q", typ)
	}
	if !strings.Contains(f.Text, "[ok] check.all[0].file: /etc/ssh/sshd_config exists\n") || !strings.Contains(f.Text, hostile) {
		t.Errorf("failure body %q", f.Text)
	}
	// The hostile text round-trips, and the raw output holds it escaped.
	if bytes.Contains(b.Bytes(), []byte("<script>")) || !bytes.Contains(b.Bytes(), []byte("&lt;script&gt;")) {
		t.Error("evidence is not escaped")
	}
	if f := cases[1].children("failure"); len(f) != 1 || !strings.HasSuffix(f[0].Text, "\nparameters: account=<root>, max_days=365\n") {
		t.Errorf("parameters missing from %+v", cases[1])
	}
	if e := cases[2].children("error"); len(e) != 1 || strings.Count(e[0].Text, `refused: commands are disabled`) != 1 { // said once, not again as the error
		t.Errorf("error case %+v", cases[2])
	}
	if s, _ := cases[5].children("skipped")[0].attr("message"); s != "not_applicable: platforms: host platform linux is not in [windows]" {
		t.Errorf("skipped message %q", s)
	}
	if s, _ := cases[6].children("skipped")[0].attr("message"); !strings.HasPrefix(s, "exempt: ") {
		t.Errorf("exempt message %q", s)
	}
	props := map[string]string{}
	for _, p := range suite.children("properties")[0].children("property") {
		n, _ := p.attr("name")
		props[n], _ = p.attr("value")
	}
	if props["hostname"] != "web-01" || props["os"] != "Debian GNU/Linux 12 (bookworm)" || props["fail_on"] != "high" ||
		props["policy_sources"] != "packs/cis-debian12.yaml local" {
		t.Errorf("properties %v", props)
	}
	if ts, _ := suite.attr("timestamp"); ts != "2026-12-07T09:30:00" {
		t.Errorf("timestamp %q", ts)
	}
	if tm, _ := suite.attr("time"); tm != "0.011" { // 7 x 1.5 ms = 10.5 ms
		t.Errorf("time %q", tm)
	}
}

func TestJUnitClassname(t *testing.T) {
	for in, want := range map[string]string{
		"packs/cis-debian12.yaml":   "packs.cis-debian12",
		"./ok.yml":                  "ok",
		"../x/y.json":               "x.y",
		"/etc/steward/site.v2.yaml": "etc.steward.site_v2",
		"":                          "steward",
	} {
		if got := junitClassname(in); got != want {
			t.Errorf("%q: %q, want %q", in, got, want)
		}
	}
}
