package check

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/steward-project/steward/shared/policy"
)

// Report is what `steward-agent check` prints as JSON.
type Report struct {
	Results []policy.Result `json:"results"`
}

// WriteJSON prints results as an indented Report.
func WriteJSON(w io.Writer, results []policy.Result) error {
	if results == nil {
		results = []policy.Result{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(Report{Results: results}); err != nil {
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
	for i, r := range results {
		line(rows[i+1], byID[r.PolicyID].Title)
		for _, s := range summaries(r) {
			fmt.Fprintf(&b, "    %s\n", s)
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
