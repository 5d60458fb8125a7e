package api

import (
	"bufio"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"html"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/steward-project/steward/server/internal/apitypes"
	"github.com/steward-project/steward/server/internal/store"
	"github.com/steward-project/steward/shared/policy"
)

// reportHostPage is how many hosts a report reads from the store at a
// time: a report over any fleet holds one page of hosts, and one host's
// results, in memory.
const reportHostPage = 500

// maxReportFailing bounds the failing hosts the HTML report names per
// policy; the rest are counted.
const maxReportFailing = 25

// maxEvidenceSummary bounds a report's evidence cell, in bytes.
const maxEvidenceSummary = 300

// reportStatuses are the columns of a report's counts, in order.
var reportStatuses = []string{string(policy.StatusPass), string(policy.StatusFail), string(policy.StatusError),
	string(policy.StatusExempt), string(policy.StatusNotApplicable), apitypes.NoResult}

// selection is what a report or a remediation covers: policies by pack,
// tag and reference, hosts by labels (all must match) and ids. A pack
// tags every policy it holds with its own name (baseline,
// cis-debian12-l1-server), so a pack is selected through its tag.
type selection struct {
	pack      string
	tag       string
	reference string
	labels    map[string]string
	hosts     map[int64]bool // nil: any host
}

// readSelection reads ?pack=, ?tag=, ?reference= and repeated
// ?label=KEY=VALUE.
func readSelection(q map[string][]string) (selection, error) {
	sel := selection{pack: first(q["pack"]), tag: first(q["tag"]), reference: first(q["reference"])}
	if err := checkReference(sel.reference); err != nil {
		return sel, err
	}
	for _, l := range q["label"] {
		k, v, ok := strings.Cut(l, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return sel, fmt.Errorf("label %q: want KEY=VALUE", l)
		}
		if sel.labels == nil {
			sel.labels = map[string]string{}
		}
		if old, dup := sel.labels[k]; dup && old != v {
			return sel, fmt.Errorf("label %s given twice with different values", k)
		}
		sel.labels[k] = v
	}
	return sel, nil
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

// checkReference accepts "" (no filter), a catalogue ("cis") or a
// catalogue and id ("cis:5.4.1.1").
func checkReference(ref string) error {
	if ref == "" {
		return nil
	}
	cat, id, hasID := strings.Cut(ref, ":")
	if cat == "" || (hasID && id == "") {
		return fmt.Errorf("reference %q: want a catalogue (cis) or catalogue:id (cis:5.4.1.1)", ref)
	}
	return nil
}

// matchesReference reports whether refs hold ref: any id of the
// catalogue when ref names only a catalogue.
func matchesReference(refs map[string][]string, ref string) bool {
	if ref == "" {
		return true
	}
	cat, id, hasID := strings.Cut(ref, ":")
	ids, ok := refs[cat]
	if !ok {
		return false
	}
	return !hasID || slices.Contains(ids, id)
}

func (sel selection) policy(p policy.Policy) bool {
	return (sel.pack == "" || slices.Contains(p.Tags, sel.pack)) &&
		(sel.tag == "" || slices.Contains(p.Tags, sel.tag)) && matchesReference(p.References, sel.reference)
}

func (sel selection) host(id int64, labels map[string]string) bool {
	if sel.hosts != nil && !sel.hosts[id] {
		return false
	}
	for k, v := range sel.labels {
		if got, ok := labels[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// reportHost is one selected host with its labels and current results.
type reportHost struct {
	host    store.Host
	labels  map[string]string
	results map[string]store.HostResult
}

// eachReportHost calls fn for every selected non-retired host, in
// hostname order, reading the hosts a page at a time.
func (s *server) eachReportHost(ctx context.Context, sel selection, at time.Time, fn func(reportHost) error) error {
	page := store.HostPage{Limit: reportHostPage}
	for {
		hosts, err := s.store.ListHosts(ctx, page)
		if err != nil {
			return err
		}
		for _, h := range hosts {
			if sel.hosts != nil && !sel.hosts[h.ID] {
				continue
			}
			labels, err := s.store.HostLabels(ctx, h.ID)
			if errors.Is(err, store.ErrNotFound) {
				continue // deleted since the page was read
			}
			if err != nil {
				return err
			}
			if !sel.host(h.ID, labels) {
				continue
			}
			results, err := s.store.HostResults(ctx, h.ID, at)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			rh := reportHost{host: h, labels: labels, results: make(map[string]store.HostResult, len(results))}
			for _, res := range results {
				rh.results[res.PolicyID] = res
			}
			if err := fn(rh); err != nil {
				return err
			}
		}
		if len(hosts) < page.Limit {
			return nil
		}
		last := hosts[len(hosts)-1]
		page.AfterHostname, page.AfterID = last.Hostname, last.ID
	}
}

// selectedPolicies is the policy set filtered by sel, by id.
func (s *server) selectedPolicies(ctx context.Context, sel selection) ([]store.StoredPolicy, error) {
	all, err := s.store.ListPolicies(ctx, "", 0)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(p store.StoredPolicy) bool { return !sel.policy(p.Policy) }), nil
}

// streamWriter is a response being streamed: once its first bytes are
// out, a failure can no longer become an error status.
type streamWriter struct {
	w       http.ResponseWriter
	started bool
}

func (sw *streamWriter) Write(p []byte) (int, error) {
	sw.started = true
	return sw.w.Write(p)
}

// streamFailed ends a streamed answer that failed: a 503 when nothing
// was sent yet, else the connection is aborted so that the client sees
// an error instead of a report that merely looks short.
func (s *server) streamFailed(w http.ResponseWriter, r *http.Request, sw *streamWriter, op string, err error) {
	if !sw.started {
		s.storeFailed(w, r, op, err)
		return
	}
	s.log.Error("api stream failed", "op", op, "path", r.URL.Path, "err", err)
	panic(http.ErrAbortHandler)
}

// complianceReport serves GET /compliance/report: every selected host
// against every selected policy, as CSV or as a self-contained HTML page.
func (s *server) complianceReport(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	format := q.Get("format")
	if format == "" {
		format = apitypes.ReportHTML
	}
	if format != apitypes.ReportHTML && format != apitypes.ReportCSV {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("format must be html or csv, got %q", format))
		return
	}
	sel, err := readSelection(q)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	rev, err := s.store.PolicyRevision(r.Context())
	if err != nil {
		s.storeFailed(w, r, "policy revision", err)
		return
	}
	policies, err := s.selectedPolicies(r.Context(), sel)
	if err != nil {
		s.storeFailed(w, r, "list policies", err)
		return
	}
	at := s.now()
	if format == apitypes.ReportCSV {
		s.reportCSV(w, r, sel, policies, at)
		return
	}
	s.reportHTML(w, r, sel, policies, at, rev)
}

func reportHeaders(w http.ResponseWriter, contentType string) {
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
}

func (s *server) reportCSV(w http.ResponseWriter, r *http.Request, sel selection, policies []store.StoredPolicy, at time.Time) {
	sw := &streamWriter{w: w}
	buf := bufio.NewWriterSize(sw, 32<<10)
	cw := csv.NewWriter(buf)
	reportHeaders(w, "text/csv; charset=utf-8")
	_ = cw.Write(apitypes.ReportCSVHeader)
	row := make([]string, len(apitypes.ReportCSVHeader))
	err := s.eachReportHost(r.Context(), sel, at, func(h reportHost) error {
		labels := formatLabels(h.labels)
		for _, p := range policies {
			res, ok := h.results[p.Policy.ID]
			row = append(row[:0], csvSafe(h.host.Hostname), strconv.FormatInt(h.host.ID, 10), csvSafe(labels),
				p.Policy.ID, csvSafe(p.Policy.Title), p.Policy.Severity, csvSafe(formatReferences(p.Policy.References)))
			if ok {
				reason := ""
				if res.Exemption != nil {
					reason = res.Exemption.Reason
				}
				row = append(row, string(res.Status), string(res.UnderlyingStatus), timeText(res.Since),
					timeText(later(res.LastCheckedAt, res.CheckedAt)), csvSafe(reason), csvSafe(evidenceSummary(res)))
			} else {
				row = append(row, apitypes.NoResult, "", "", "", "", "")
			}
			if err := cw.Write(row); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		cw.Flush()
		err = cw.Error()
	}
	if err == nil {
		err = buf.Flush()
	}
	if err != nil {
		s.streamFailed(w, r, sw, "compliance report", err)
	}
}

// cleanText replaces control characters other than tab, line feed and
// carriage return (terminal escapes an agent could report in a
// hostname), and invalid UTF-8, with U+FFFD: a report may be printed to
// a terminal, and HTML does not allow them.
func cleanText(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		if (r < ' ' && r != '\t' && r != '\n' && r != '\r') || (r >= 0x7f && r <= 0x9f) {
			return '\uFFFD'
		}
		return r
	}, s)
}

// csvSafe cleans a cell and keeps a spreadsheet from running it as a
// formula.
func csvSafe(s string) string {
	s = cleanText(s)
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// formatLabels is "k=v; k=v" by key.
func formatLabels(labels map[string]string) string {
	parts := make([]string, 0, len(labels))
	for _, k := range slices.Sorted(maps.Keys(labels)) {
		parts = append(parts, k+"="+labels[k])
	}
	return strings.Join(parts, "; ")
}

// formatReferences is "catalogue:id; ..." by catalogue.
func formatReferences(refs map[string][]string) string {
	var parts []string
	for _, cat := range slices.Sorted(maps.Keys(refs)) {
		for _, id := range refs[cat] {
			parts = append(parts, cat+":"+id)
		}
	}
	return strings.Join(parts, "; ")
}

// evidenceSummary is a result in one short line: the first failing
// leaf's detail, else the error, cut to maxEvidenceSummary bytes.
func evidenceSummary(res store.HostResult) string {
	s := ""
	for _, e := range res.Evidence {
		if !e.Passed {
			s = e.Detail
			break
		}
	}
	if s == "" {
		s = res.Error
	}
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "\uFFFD")), " ")
	if len(s) > maxEvidenceSummary {
		cut := maxEvidenceSummary
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return s
}

// policyTally is one policy's share of the HTML report.
type policyTally struct {
	counts      map[string]int64
	failing     []reportHostRef
	moreFailing int64
}

type reportHostRef struct {
	id       int64
	hostname string
}

func resultStatus(h reportHost, id string) string {
	if res, ok := h.results[id]; ok {
		return string(res.Status)
	}
	return apitypes.NoResult
}

// reportHTML writes the page in two passes over the hosts: the first
// counts (for the summary and the per-policy table, which come first),
// the second writes each host's section.
func (s *server) reportHTML(w http.ResponseWriter, r *http.Request, sel selection, policies []store.StoredPolicy, at time.Time, rev int64) {
	tallies := make([]policyTally, len(policies))
	for i := range tallies {
		tallies[i].counts = map[string]int64{}
	}
	byStatus := map[string]int64{}
	bySeverity := map[string]map[string]int64{}
	var hosts int64
	err := s.eachReportHost(r.Context(), sel, at, func(h reportHost) error {
		hosts++
		for i, p := range policies {
			st := resultStatus(h, p.Policy.ID)
			t := &tallies[i]
			t.counts[st]++
			byStatus[st]++
			if bySeverity[p.Policy.Severity] == nil {
				bySeverity[p.Policy.Severity] = map[string]int64{}
			}
			bySeverity[p.Policy.Severity][st]++
			if st == string(policy.StatusFail) {
				if len(t.failing) < maxReportFailing {
					t.failing = append(t.failing, reportHostRef{h.host.ID, h.host.Hostname})
				} else {
					t.moreFailing++
				}
			}
		}
		return nil
	})
	if err != nil {
		s.storeFailed(w, r, "compliance report", err)
		return
	}
	sw := &streamWriter{w: w}
	b := bufio.NewWriterSize(sw, 32<<10)
	reportHeaders(w, "text/html; charset=utf-8")
	// The page loads nothing and runs nothing; say so to the browser too.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	e := func(s string) string { return html.EscapeString(cleanText(s)) }
	p := func(format string, args ...any) { fmt.Fprintf(b, format, args...) }

	p("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Steward compliance report</title>\n")
	p("<style>\nbody{font-family:sans-serif;margin:2em;color:#222}\ntable{border-collapse:collapse;margin:1em 0}\n" +
		"th,td{border:1px solid #bbb;padding:.25em .5em;text-align:left;vertical-align:top}\nth{background:#eee}\n" +
		"td.n{text-align:right}\n.pass{color:#176117}\n.fail{color:#a11}\n.error{color:#a60}\n.exempt{color:#555}\n" +
		"section{margin-top:2em}\n</style>\n</head>\n<body>\n")
	p("<h1>Steward compliance report</h1>\n<p>Generated %s. Policy set revision %d.</p>\n", e(at.UTC().Format(time.RFC3339)), rev)
	var scope []string
	if sel.tag != "" {
		scope = append(scope, "policies tagged "+sel.tag)
	}
	if sel.reference != "" {
		scope = append(scope, "policies referencing "+sel.reference)
	}
	if len(sel.labels) > 0 {
		scope = append(scope, "hosts labelled "+formatLabels(sel.labels))
	}
	if len(scope) == 0 {
		scope = []string{"every policy, every host that is not retired"}
	}
	p("<p>Selection: %s.</p>\n", e(strings.Join(scope, "; ")))

	p("<h2>Summary</h2>\n<table>\n<tr><th>Hosts</th><th>Policies</th><th>Results</th><th>Pass rate</th></tr>\n")
	pass, fail, errs := byStatus[string(policy.StatusPass)], byStatus[string(policy.StatusFail)], byStatus[string(policy.StatusError)]
	rate := "n/a"
	if pass+fail+errs > 0 {
		rate = fmt.Sprintf("%.1f%%", 100*float64(pass)/float64(pass+fail+errs))
	}
	p("<tr><td class=\"n\">%d</td><td class=\"n\">%d</td><td class=\"n\">%d</td><td class=\"n\">%s</td></tr>\n</table>\n",
		hosts, len(policies), hosts*int64(len(policies)), rate)
	p("<p>The pass rate is passing results over passing, failing and error results; exempt, not applicable and missing results are left out.</p>\n")
	statusHead := func(first string) {
		p("<tr><th>%s</th>", first)
		for _, st := range reportStatuses {
			p("<th>%s</th>", e(strings.ReplaceAll(st, "_", " ")))
		}
	}
	statusCells := func(c map[string]int64) {
		for _, st := range reportStatuses {
			p("<td class=\"n %s\">%d</td>", st, c[st])
		}
	}
	p("<table>\n")
	statusHead("Severity")
	p("</tr>\n")
	sevs := slices.Collect(maps.Keys(bySeverity))
	slices.SortFunc(sevs, func(a, b string) int { return severityRank(b) - severityRank(a) })
	for _, sev := range sevs {
		p("<tr><td>%s</td>", e(sev))
		statusCells(bySeverity[sev])
		p("</tr>\n")
	}
	p("<tr><th>All</th>")
	statusCells(byStatus)
	p("</tr>\n</table>\n")

	p("<h2>Policies</h2>\n<table>\n")
	statusHead("Policy")
	p("<th>Severity</th><th>References</th><th>Failing hosts</th></tr>\n")
	for i, pol := range policies {
		t := tallies[i]
		p("<tr><td>%s<br>%s</td>", e(pol.Policy.ID), e(pol.Policy.Title))
		statusCells(t.counts)
		p("<td>%s</td><td>%s</td><td>", e(pol.Policy.Severity), e(formatReferences(pol.Policy.References)))
		for j, h := range t.failing {
			if j > 0 {
				p(", ")
			}
			p("<a href=\"#host-%d\">%s</a>", h.id, e(h.hostname))
		}
		if t.moreFailing > 0 {
			p(" and %d more", t.moreFailing)
		}
		p("</td></tr>\n")
	}
	p("</table>\n<h2>Hosts</h2>\n")
	err = s.eachReportHost(r.Context(), sel, at, func(h reportHost) error {
		p("<section id=\"host-%d\">\n<h3>%s (host %d)</h3>\n", h.host.ID, e(h.host.Hostname), h.host.ID)
		if len(h.labels) > 0 {
			p("<p>Labels: %s</p>\n", e(formatLabels(h.labels)))
		}
		p("<table>\n<tr><th>Policy</th><th>Severity</th><th>Status</th><th>Since</th><th>Last checked</th><th>Evidence or exemption</th></tr>\n")
		for _, pol := range policies {
			res, ok := h.results[pol.Policy.ID]
			p("<tr><td>%s</td><td>%s</td>", e(pol.Policy.ID), e(pol.Policy.Severity))
			if !ok {
				p("<td>no result</td><td></td><td></td><td></td></tr>\n")
				continue
			}
			st := string(res.Status)
			if res.Status == policy.StatusExempt && res.UnderlyingStatus != "" {
				st += " (" + string(res.UnderlyingStatus) + ")"
			}
			note := evidenceSummary(res)
			if res.Exemption != nil {
				note = "exempt until " + timeText(res.Exemption.ExpiresAt) + ": " + res.Exemption.Reason
			}
			p("<td class=\"%s\">%s</td><td>%s</td><td>%s</td><td>%s</td></tr>\n", e(string(res.Status)), e(st),
				e(timeText(res.Since)), e(timeText(later(res.LastCheckedAt, res.CheckedAt))), e(note))
		}
		p("</table>\n</section>\n")
		return nil
	})
	if err == nil {
		p("</body>\n</html>\n")
		err = b.Flush()
	}
	if err != nil {
		s.streamFailed(w, r, sw, "compliance report", err)
	}
}

// severityRank orders severities, unknown ones lowest.
func severityRank(sev string) int {
	return slices.Index([]string{policy.SeverityInfo, policy.SeverityLow, policy.SeverityMedium, policy.SeverityHigh, policy.SeverityCritical}, sev)
}

var _ io.Writer = (*streamWriter)(nil)
