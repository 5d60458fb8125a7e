package check

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/steward-project/steward/shared/inventory"
	"github.com/steward-project/steward/shared/policy"
)

// Report is what `steward-agent check` prints as JSON.
type Report struct {
	Results []policy.Result `json:"results"`
	// NeedsServer holds the policies whose verdict depends on an expr
	// leaf: the agent links no expression engine, the server answers
	// them. They are neither passed nor failed.
	NeedsServer []policy.Result `json:"needs_server,omitempty"`
}

// WriteJSON prints results as an indented Report.
func WriteJSON(w io.Writer, results []policy.Result) error {
	judged, open := splitNeedsServer(results)
	if judged == nil {
		judged = []policy.Result{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(Report{Results: judged, NeedsServer: open}); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

// summaryWidth bounds the evidence line under each row of the table.
const summaryWidth = 160

// WriteTable prints one row per result (ID, STATUS, SEVERITY, TITLE) and
// under each indented lines with the evidence that decided it, for
// people at a terminal. Columns are padded by hand: tabwriter would reset
// its alignment at every summary line.
func WriteTable(w io.Writer, policies []policy.Policy, results []policy.Result) error {
	byID := make(map[string]policy.Policy, len(policies))
	for _, p := range policies {
		byID[p.ID] = p
	}
	rows := [][3]string{{"ID", "STATUS", "SEVERITY"}}
	for _, r := range results {
		rows = append(rows, [3]string{r.PolicyID, string(r.Status), byID[r.PolicyID].Severity})
	}
	var width [3]int
	for _, row := range rows {
		for i, cell := range row {
			width[i] = max(width[i], len(cell))
		}
	}
	var b strings.Builder
	line := func(row [3]string, title string) {
		for i, cell := range row {
			fmt.Fprintf(&b, "%-*s  ", width[i], cell)
		}
		b.WriteString(title + "\n")
	}
	line(rows[0], "TITLE")
	var open []int
	for i, r := range results {
		if r.Status == policy.StatusNeedsServer {
			open = append(open, i)
			continue
		}
		line(rows[i+1], byID[r.PolicyID].Title)
		for _, s := range summaries(r) {
			fmt.Fprintf(&b, "    %s\n", s)
		}
	}
	if len(open) > 0 {
		fmt.Fprintf(&b, "\n%s (%d, not counted as pass or fail):\n", NeedsServerTitle, len(open))
		for _, i := range open {
			line(rows[i+1], byID[results[i].PolicyID].Title)
			fmt.Fprintf(&b, "    %s\n", Summary(results[i]))
		}
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

// summaries are the lines under a result's row. A failure is explained by
// every leaf that failed, one line each, as the server's results show it:
// each alternative of an any that failed, not only the last one (and the
// note that evidence was left out, when it was). Otherwise Summary.
func summaries(r policy.Result) []string {
	if r.Error == "" && r.Status == policy.StatusFail {
		var out []string
		for _, e := range r.Evidence {
			if !e.Passed {
				out = append(out, oneLine(e.Check+": "+e.Detail))
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	if s := Summary(r); s != "" {
		return []string{s}
	}
	return nil
}

// Summary is one line saying why r came out as it did: the error, or the
// last evidence, which is the leaf that decided the result (evaluation
// stops at the deciding leaf).
func Summary(r policy.Result) string {
	s := r.Error
	for i := len(r.Evidence) - 1; s == "" && i >= 0; i-- {
		if e := r.Evidence[i]; e.Check != "evidence" { // skip the truncation marker
			s = e.Check + ": " + e.Detail
		}
	}
	return oneLine(s)
}

// NeedsServerTitle heads the policies a local check cannot decide: their
// verdict depends on an expr leaf, which only the server evaluates.
const NeedsServerTitle = "Needs the server (expr)"

// splitNeedsServer separates the results a local check could not decide.
func splitNeedsServer(results []policy.Result) (judged, open []policy.Result) {
	for _, r := range results {
		if r.Status == policy.StatusNeedsServer {
			open = append(open, r)
		} else {
			judged = append(judged, r)
		}
	}
	return judged, open
}

// oneLine folds s onto one line of at most summaryWidth bytes.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > summaryWidth {
		cut := summaryWidth - 3
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}

// ReportInfo is what a report's header says about the check itself: the
// host (from the inventory document the check collected), when it ran,
// and what it evaluated.
type ReportInfo struct {
	Hostname     string
	OS           string // "Debian GNU/Linux 12 (bookworm) 12", as the os section names it
	Kernel       string
	Arch         string
	Root         string    // --root, when the check read an image
	CheckedAt    time.Time // when evaluation started
	Sources      []string  // the --policy paths, as given
	AgentVersion string
	// FailOn is the --fail-on severity, "" when the check does not gate.
	FailOn string
}

// HostFacts fills a ReportInfo's host fields from an inventory document.
// A missing or undecodable section leaves its fields empty: a report is
// still written, saying "unknown".
func HostFacts(doc inventory.Document) ReportInfo {
	var info ReportInfo
	var host inventory.Host
	if raw, ok := doc.Sections[inventory.SectionHost]; ok && json.Unmarshal(raw, &host) == nil {
		info.Hostname = host.Hostname
	}
	var osSec inventory.OS
	if raw, ok := doc.Sections[inventory.SectionOS]; ok && json.Unmarshal(raw, &osSec) == nil {
		info.OS = strings.TrimSpace(osSec.Name)
		if osSec.Version != "" && !strings.Contains(info.OS, osSec.Version) {
			info.OS = strings.TrimSpace(info.OS + " " + osSec.Version)
		}
		info.Kernel, info.Arch = osSec.Kernel, osSec.Arch
	}
	return info
}

// ReportInput is everything a report writer needs: the header, the
// policies (for titles, severities, rationale, remediation), their results
// and, per policy id, the policy file it came from.
type ReportInput struct {
	Info     ReportInfo
	Policies []policy.Policy
	Results  []policy.Result
	Source   map[string]string // policy id -> file
}

// severityRank orders severities, info lowest; an unknown one ranks below
// info.
func severityRank(s string) int {
	switch s {
	case policy.SeverityInfo:
		return 1
	case policy.SeverityLow:
		return 2
	case policy.SeverityMedium:
		return 3
	case policy.SeverityHigh:
		return 4
	case policy.SeverityCritical:
		return 5
	}
	return 0
}

// ValidSeverity reports whether s is one of the five severities.
func ValidSeverity(s string) bool { return severityRank(s) > 0 }

// Severities lists the severities, highest first, as reports show them.
var Severities = []string{policy.SeverityCritical, policy.SeverityHigh, policy.SeverityMedium, policy.SeverityLow, policy.SeverityInfo}

// Tripped lists the ids of the policies that trip a --fail-on gate at
// severity min: status fail or error (an error is a control that could
// not be shown to hold, and a gate must not pass on it silently) with a
// severity at or above min. Pass, not_applicable and exempt never trip it.
func Tripped(policies []policy.Policy, results []policy.Result, min string) []string {
	sev := make(map[string]string, len(policies))
	for _, p := range policies {
		sev[p.ID] = p.Severity
	}
	var out []string
	for _, r := range results {
		if (r.Status == policy.StatusFail || r.Status == policy.StatusError) && severityRank(sev[r.PolicyID]) >= severityRank(min) {
			out = append(out, r.PolicyID)
		}
	}
	return out
}

// statusOrder is the order of the report's groups: what needs action
// first.
// Policies that need the server rank after all of them (statusRank), in
// a group of their own, and are in no count.
var statusOrder = []policy.Status{policy.StatusFail, policy.StatusError, policy.StatusPass, policy.StatusNotApplicable, policy.StatusExempt}

func statusRank(s policy.Status) int {
	for i, o := range statusOrder {
		if o == s {
			return i
		}
	}
	return len(statusOrder)
}

// row is one policy with its result, as the report writers see it.
type row struct {
	Policy policy.Policy
	Result policy.Result
	Source string
}

// rows joins results with their policies in report order: by status
// group (fail, error, pass, not_applicable, exempt), within a group by
// severity, highest first, then by id.
func (in ReportInput) rows() []row {
	byID := make(map[string]policy.Policy, len(in.Policies))
	for _, p := range in.Policies {
		byID[p.ID] = p
	}
	out := make([]row, 0, len(in.Results))
	for _, r := range in.Results {
		p, ok := byID[r.PolicyID]
		if !ok {
			p = policy.Policy{ID: r.PolicyID}
		}
		out = append(out, row{Policy: p, Result: r, Source: in.Source[r.PolicyID]})
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if sa, sb := statusRank(a.Result.Status), statusRank(b.Result.Status); sa != sb {
			return sa < sb
		}
		if sa, sb := severityRank(a.Policy.Severity), severityRank(b.Policy.Severity); sa != sb {
			return sa > sb
		}
		return a.Policy.ID < b.Policy.ID
	})
	return out
}

// references returns a policy's references (catalogue -> ids).
func references(p policy.Policy) map[string][]string { return p.References }
