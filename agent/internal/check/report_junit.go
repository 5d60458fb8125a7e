package check

import (
	"encoding/xml"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/steward-project/steward/shared/policy"
)

// The JUnit XML that CI servers read. There is no single standard; this
// writes the common subset of the Ant junit task's schema and the
// Jenkins variant of it: a <testsuites> root holding one <testsuite>
// (name, tests, failures, errors, skipped, time, timestamp, hostname),
// its <properties>, then one <testcase> (name, classname, time) per
// policy holding at most one of <failure>, <error> or <skipped>.

type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name       string          `xml:"name,attr"`
	Tests      int             `xml:"tests,attr"`
	Failures   int             `xml:"failures,attr"`
	Errors     int             `xml:"errors,attr"`
	Skipped    int             `xml:"skipped,attr"`
	Time       string          `xml:"time,attr"`
	Timestamp  string          `xml:"timestamp,attr"`
	Hostname   string          `xml:"hostname,attr"`
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
	SystemOut  string          `xml:"system-out"`
	SystemErr  string          `xml:"system-err"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	Classname string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitProblem `xml:"failure,omitempty"`
	Error     *junitProblem `xml:"error,omitempty"`
	Skipped   *junitSkipped `xml:"skipped,omitempty"`
	SystemOut string        `xml:"system-out,omitempty"`
}

type junitProblem struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr"`
	Body    string `xml:",chardata"`
}

type junitSkipped struct {
	Message string `xml:"message,attr"`
}

// WriteJUnit prints the results as JUnit XML, one test case per policy
// in report order (failures first): a fail is a <failure> whose message
// is the deciding evidence and whose body is every evidence line, an
// error an <error>, not_applicable, exempt and needs_server a <skipped> with the
// reason. The classname is the policy file the policy came from (as
// dotted path without extension, the package/class split CI servers
// show), and the name is the id and the title.
func WriteJUnit(w io.Writer, in ReportInput) error {
	suite := junitSuite{
		Name:      "steward-agent check",
		Timestamp: in.Info.CheckedAt.UTC().Format("2006-01-02T15:04:05"),
		Hostname:  orUnknown(in.Info.Hostname),
		SystemOut: "",
	}
	props := [][2]string{
		{"hostname", in.Info.Hostname}, {"os", in.Info.OS}, {"kernel", in.Info.Kernel}, {"arch", in.Info.Arch},
		{"root", in.Info.Root}, {"policy_sources", strings.Join(in.Info.Sources, " ")},
		{"agent_version", in.Info.AgentVersion}, {"fail_on", in.Info.FailOn},
		{"checked_at", in.Info.CheckedAt.UTC().Format(time.RFC3339)},
	}
	for _, p := range props {
		if p[1] != "" {
			suite.Properties = append(suite.Properties, junitProperty{Name: p[0], Value: p[1]})
		}
	}
	var total time.Duration
	for _, r := range in.rows() {
		total += r.Result.Duration
		c := junitCase{
			Name:      r.Policy.ID + ": " + r.Policy.Title,
			Classname: junitClassname(r.Source),
			Time:      seconds(r.Result.Duration),
		}
		body := evidenceText(r.Result)
		kind := "severity " + orUnknown(r.Policy.Severity)
		switch r.Result.Status {
		case policy.StatusFail:
			suite.Failures++
			c.Failure = &junitProblem{Message: Summary(r.Result), Type: kind, Body: body}
		case policy.StatusError:
			suite.Errors++
			c.Error = &junitProblem{Message: Summary(r.Result), Type: kind, Body: body}
		case policy.StatusNotApplicable, policy.StatusExempt:
			suite.Skipped++
			c.Skipped = &junitSkipped{Message: string(r.Result.Status) + ": " + Summary(r.Result)}
		case policy.StatusNeedsServer:
			// Neither a pass nor a failure: undecided without the server.
			suite.Skipped++
			c.Skipped = &junitSkipped{Message: NeedsServerTitle + ": " + Summary(r.Result)}
		case policy.StatusPass:
			c.SystemOut = body
		default:
			suite.Errors++
			c.Error = &junitProblem{Message: "unknown status " + strconv.Quote(string(r.Result.Status)), Type: kind, Body: body}
		}
		suite.Cases = append(suite.Cases, c)
	}
	suite.Tests = len(suite.Cases)
	suite.Time = seconds(total)
	doc := junitSuites{Name: suite.Name, Tests: suite.Tests, Failures: suite.Failures, Errors: suite.Errors,
		Skipped: suite.Skipped, Time: suite.Time, Suites: []junitSuite{suite}}
	out, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	if _, err := io.WriteString(w, xml.Header+string(out)+"\n"); err != nil {
		return fmt.Errorf("write junit: %w", err)
	}
	return nil
}

// evidenceText is every evidence line of a result, then its error
// unless an evidence line already says it, then the parameter values the
// evaluation used.
func evidenceText(r policy.Result) string {
	var b strings.Builder
	said := false
	for _, e := range r.Evidence {
		said = said || e.Check+": "+e.Detail == r.Error
		mark := "FAIL"
		if e.Passed {
			mark = "ok"
		}
		fmt.Fprintf(&b, "[%s] %s: %s\n", mark, e.Check, e.Detail)
	}
	if r.Error != "" && !said {
		fmt.Fprintf(&b, "error: %s\n", r.Error)
	}
	if len(r.Parameters) > 0 {
		names := make([]string, 0, len(r.Parameters))
		for k := range r.Parameters {
			names = append(names, k)
		}
		sort.Strings(names)
		for i, k := range names {
			names[i] = k + "=" + r.Parameters[k]
		}
		fmt.Fprintf(&b, "parameters: %s\n", strings.Join(names, ", "))
	}
	return b.String()
}

// junitClassname turns a policy file into a dotted class name:
// "packs/cis-debian12.yaml" -> "packs.cis-debian12". Root, "." and ".."
// elements are dropped; an unknown file gives "steward".
func junitClassname(source string) string {
	s := filepath.ToSlash(strings.TrimSuffix(source, filepath.Ext(source)))
	var parts []string
	for _, p := range strings.Split(s, "/") {
		if p != "" && p != "." && p != ".." && !strings.HasSuffix(p, ":") {
			parts = append(parts, strings.ReplaceAll(p, ".", "_"))
		}
	}
	if len(parts) == 0 {
		return "steward"
	}
	return strings.Join(parts, ".")
}

// seconds formats d as JUnit's time attribute: decimal seconds.
func seconds(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', 3, 64)
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
