package check

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/steward-project/steward/shared/policy"
)

// htmlGroup is one section of the HTML report: the rules of one status.
type htmlGroup struct {
	Status policy.Status
	Title  string
	Anchor string
	Rows   []htmlRow
}

type htmlRow struct {
	row
	Anchor     string
	References []htmlRef
	Parameters []htmlRef // name, value used
	Evidence   []policy.Evidence
}

type htmlRef struct {
	Name  string
	Value string
}

// htmlCount is one cell of the summary.
type htmlCount struct {
	Label string
	N     int
}

type htmlSeverityRow struct {
	Severity string
	Counts   []int // per statusOrder
	Total    int
}

type htmlPage struct {
	Info       ReportInfo
	Title      string
	CheckedAt  string
	Total      int
	ByStatus   []htmlCount
	Statuses   []policy.Status
	BySeverity []htmlSeverityRow
	PassRate   string
	Groups     []htmlGroup
}

var groupTitles = map[policy.Status]string{
	policy.StatusFail:          "Failed",
	policy.StatusError:         "Errors",
	policy.StatusPass:          "Passed",
	policy.StatusNotApplicable: "Not applicable",
	policy.StatusExempt:        "Exempt",
	policy.StatusNeedsServer:   NeedsServerTitle + ", not counted",
}

// WriteHTML prints the results as one self-contained HTML page for an
// auditor: no scripts, no external style sheets, fonts or images. A
// header names the host, its OS, when the check ran and which policy
// files it evaluated; a summary counts results by status and by severity
// and gives the pass rate (passes over passes, failures and errors:
// not_applicable and exempt rules are left out); a table of contents
// lists every rule; then come the rules grouped by status, failures
// first, each group ordered by severity, highest first. Every text is
// escaped (htmlText). A print style sheet keeps each rule on one
// page where it fits.
func WriteHTML(w io.Writer, in ReportInput) error {
	page := htmlPage{
		Info:      in.Info,
		Title:     "Compliance report: " + orUnknown(in.Info.Hostname),
		CheckedAt: in.Info.CheckedAt.UTC().Format("2006-01-02 15:04:05 UTC"),
		Statuses:  statusOrder,
	}
	rows := in.rows()
	page.Total = len(rows)
	counts := map[policy.Status]int{}
	sevCounts := map[string][]int{}
	for _, r := range rows {
		counts[r.Result.Status]++
		sev := r.Policy.Severity
		if sevCounts[sev] == nil {
			sevCounts[sev] = make([]int, len(statusOrder)+1)
		}
		sevCounts[sev][statusRank(r.Result.Status)]++
	}
	for _, s := range statusOrder {
		page.ByStatus = append(page.ByStatus, htmlCount{Label: string(s), N: counts[s]})
	}
	sevs := append([]string(nil), Severities...)
	var other []string
	for s := range sevCounts {
		if !ValidSeverity(s) {
			other = append(other, s)
		}
	}
	sort.Strings(other)
	for _, s := range append(sevs, other...) {
		c := sevCounts[s]
		if c == nil {
			c = make([]int, len(statusOrder)+1)
		}
		sr := htmlSeverityRow{Severity: orUnknown(s), Counts: c[:len(statusOrder)]}
		for _, n := range c {
			sr.Total += n
		}
		page.BySeverity = append(page.BySeverity, sr)
	}
	if judged := counts[policy.StatusPass] + counts[policy.StatusFail] + counts[policy.StatusError]; judged > 0 {
		page.PassRate = fmt.Sprintf("%.1f%% (%d of %d)", 100*float64(counts[policy.StatusPass])/float64(judged), counts[policy.StatusPass], judged)
	} else {
		page.PassRate = "n/a (no rule passed, failed or errored)"
	}
	for i, r := range rows {
		if len(page.Groups) == 0 || page.Groups[len(page.Groups)-1].Status != r.Result.Status {
			title := groupTitles[r.Result.Status]
			if title == "" {
				title = "Status " + string(r.Result.Status)
			}
			page.Groups = append(page.Groups, htmlGroup{Status: r.Result.Status, Title: title,
				Anchor: fmt.Sprintf("group-%d", len(page.Groups)+1)})
		}
		hr := htmlRow{row: r, Anchor: fmt.Sprintf("rule-%d", i+1), Evidence: r.Result.Evidence}
		refs := references(r.Policy)
		names := make([]string, 0, len(refs))
		for k := range refs {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			hr.References = append(hr.References, htmlRef{Name: k, Value: strings.Join(refs[k], ", ")})
		}
		params := make([]string, 0, len(r.Result.Parameters))
		for k := range r.Result.Parameters {
			params = append(params, k)
		}
		sort.Strings(params)
		for _, k := range params {
			hr.Parameters = append(hr.Parameters, htmlRef{Name: k, Value: r.Result.Parameters[k]})
		}
		g := &page.Groups[len(page.Groups)-1]
		g.Rows = append(g.Rows, hr)
	}
	var b strings.Builder
	page.write(&b)
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write html: %w", err)
	}
	return nil
}

// The page is written by hand rather than with html/template: that
// package calls reflect's Method lookups, which make the linker keep every
// exported method of every type in the agent (5 MB of binary here).
// Every text and attribute value goes through htmlText.

// htmlEscaper escapes text for HTML text and quoted attribute values, the
// same characters html/template escapes there.
var htmlEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;", "+", "&#43;", "\x00", "\uFFFD")

func htmlText(s string) string { return htmlEscaper.Replace(s) }

// htmlPrinter writes the page, escaping every argument.
type htmlPrinter struct{ b *strings.Builder }

// p writes format with each argument escaped; ints are written as is.
func (h htmlPrinter) p(format string, args ...any) {
	for i, a := range args {
		if s, ok := a.(string); ok {
			args[i] = htmlText(s)
		}
	}
	fmt.Fprintf(h.b, format, args...)
}

func (page htmlPage) write(b *strings.Builder) {
	h := htmlPrinter{b}
	in := page.Info
	h.p("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
	h.p("<title>%s (%s)</title>\n<style>\n", page.Title, page.CheckedAt)
	b.WriteString(htmlStyle)
	b.WriteString("</style>\n</head>\n<body>\n<header>\n")
	h.p("<h1>%s</h1>\n<dl class=\"facts\">\n", page.Title)
	h.p("<dt>Host</dt><dd>%s</dd>\n", orUnknown(in.Hostname))
	h.p("<dt>Operating system</dt><dd>%s", orUnknown(in.OS))
	if in.Arch != "" {
		h.p(" (%s)", in.Arch)
	}
	b.WriteString("</dd>")
	if in.Kernel != "" {
		h.p("\n<dt>Kernel</dt><dd>%s</dd>", in.Kernel)
	}
	h.p("\n<dt>Checked at</dt><dd><time datetime=\"%s\">%s</time></dd>\n", in.CheckedAt.UTC().Format(time.RFC3339), page.CheckedAt)
	b.WriteString("<dt>Policy source</dt><dd>")
	for i, s := range in.Sources {
		if i > 0 {
			b.WriteString(", ")
		}
		h.p("<code>%s</code>", s)
	}
	if len(in.Sources) == 0 {
		b.WriteString("unknown")
	}
	b.WriteString("</dd>")
	if in.Root != "" {
		h.p("\n<dt>Image root</dt><dd><code>%s</code> (an offline file system, not the running host)</dd>", in.Root)
	}
	if in.FailOn != "" {
		h.p("\n<dt>Gate</dt><dd>fails on fail or error at severity %s or above</dd>", in.FailOn)
	}
	if in.AgentVersion != "" {
		h.p("\n<dt>Agent</dt><dd>steward-agent %s</dd>", in.AgentVersion)
	}
	b.WriteString("\n</dl>\n</header>\n<section id=\"summary\">\n<h2>Summary</h2>\n")
	h.p("<p><span class=\"label\">Rules evaluated:</span> %d. <span class=\"label\">Pass rate:</span> %s; not applicable and exempt rules are not counted.</p>\n", page.Total, page.PassRate)
	b.WriteString("<table class=\"by-status\">\n<tr>")
	for _, c := range page.ByStatus {
		h.p("<th>%s</th>", c.Label)
	}
	b.WriteString("<th>total</th></tr>\n<tr>")
	for _, c := range page.ByStatus {
		h.p("<td class=\"n\" data-status=\"%s\">%d</td>", c.Label, c.N)
	}
	h.p("<td class=\"n\">%d</td></tr>\n</table>\n<table class=\"by-severity\">\n<tr><th>severity</th>", page.Total)
	for _, s := range page.Statuses {
		h.p("<th>%s</th>", string(s))
	}
	b.WriteString("<th>total</th></tr>")
	for _, r := range page.BySeverity {
		h.p("\n<tr><th><span class=\"badge sev-%s\">%s</span></th>", r.Severity, r.Severity)
		for _, n := range r.Counts {
			h.p("<td class=\"n\">%d</td>", n)
		}
		h.p("<td class=\"n\">%d</td></tr>", r.Total)
	}
	b.WriteString("\n</table>\n</section>\n<nav id=\"contents\">\n<h2>Contents</h2>")
	for _, g := range page.Groups {
		h.p("\n<h3><a href=\"#%s\">%s (%d)</a></h3>\n<ol>", g.Anchor, g.Title, len(g.Rows))
		for _, r := range g.Rows {
			h.p("\n<li><a href=\"#%s\"><code>%s</code></a> <span class=\"badge sev-%s\">%s</span> %s</li>", r.Anchor, r.Policy.ID, r.Policy.Severity, orUnknown(r.Policy.Severity), r.Policy.Title)
		}
		b.WriteString("\n</ol>")
	}
	b.WriteString("\n</nav>")
	for _, g := range page.Groups {
		h.p("\n<section class=\"group\" id=\"%s\">\n<h2>%s (%d)</h2>", g.Anchor, g.Title, len(g.Rows))
		for _, r := range g.Rows {
			r.write(h)
		}
		b.WriteString("\n</section>")
	}
	b.WriteString("\n<footer>Written by steward-agent check. Evidence is what each check saw on the host; it quotes file content only where the agent's configuration allows it.</footer>\n</body>\n</html>\n")
}

func (r htmlRow) write(h htmlPrinter) {
	b := h.b
	st := string(r.Result.Status)
	h.p("\n<article class=\"rule r-%s\" id=\"%s\">\n<h3><code>%s</code> %s</h3>\n", st, r.Anchor, r.Policy.ID, r.Policy.Title)
	h.p("<div class=\"meta\"><span class=\"badge s-%s\">%s</span> <span class=\"badge sev-%s\">severity %s</span>", st, st, r.Policy.Severity, orUnknown(r.Policy.Severity))
	if r.Source != "" {
		h.p(" <span class=\"label\">From</span> <code>%s</code>", r.Source)
	}
	if len(r.Policy.Tags) > 0 {
		b.WriteString(" <span class=\"label\">Tags</span> ")
		for i, t := range r.Policy.Tags {
			if i > 0 {
				b.WriteString(", ")
			}
			h.p("%s", t)
		}
	}
	if !r.Result.CheckedAt.IsZero() {
		h.p(" <span class=\"label\">Checked</span> %s in %s s", r.Result.CheckedAt.UTC().Format(time.RFC3339), seconds(r.Result.Duration))
	}
	b.WriteString("</div>")
	if len(r.References) > 0 {
		b.WriteString("\n<p><span class=\"label\">References:</span>")
		for i, ref := range r.References {
			if i > 0 {
				b.WriteString(";")
			}
			h.p(" %s %s", ref.Name, ref.Value)
		}
		b.WriteString("</p>")
	}
	if len(r.Parameters) > 0 {
		b.WriteString("\n<p><span class=\"label\">Parameters:</span>")
		for i, p := range r.Parameters {
			if i > 0 {
				b.WriteString(",")
			}
			h.p(" <code>%s=%s</code>", p.Name, p.Value)
		}
		b.WriteString("</p>")
	}
	for _, t := range []struct{ label, text string }{
		{"", r.Policy.Description}, {"Rationale", r.Policy.Rationale},
		{"Remediation", r.Policy.Remediation}, {"Error", r.Result.Error},
	} {
		if t.text == "" {
			continue
		}
		b.WriteString("\n<p class=\"text\">")
		if t.label != "" {
			h.p("<span class=\"label\">%s:</span> ", t.label)
		}
		h.p("%s</p>", t.text)
	}
	if len(r.Evidence) > 0 {
		b.WriteString("\n<ul class=\"evidence\">")
		for _, e := range r.Evidence {
			class, mark := "bad", "FAIL"
			if e.Passed {
				class, mark = "ok", "ok"
			}
			h.p("\n<li class=\"%s\">%s %s: %s</li>", class, mark, e.Check, e.Detail)
		}
		b.WriteString("\n</ul>")
	}
	b.WriteString("\n</article>")
}

// htmlStyle is the page's style sheet, screen and print.
const htmlStyle = `body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#1a1a1a;margin:2rem auto;max-width:70rem;padding:0 1rem;line-height:1.45}
h1{font-size:1.6rem;margin-bottom:.3rem}
h2{font-size:1.25rem;border-bottom:2px solid #444;padding-bottom:.2rem;margin-top:2rem}
h3{font-size:1.05rem;margin:0 0 .4rem}
table{border-collapse:collapse;margin:.5rem 0}
th,td{border:1px solid #bbb;padding:.25rem .6rem;text-align:left;vertical-align:top}
th{background:#eee}
td.n{text-align:right;font-variant-numeric:tabular-nums}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:.5rem 0}
dl.facts dt{font-weight:600}
dl.facts dd{margin:0}
code,pre{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;font-size:.9em}
.badge{display:inline-block;padding:0 .45rem;border-radius:.25rem;font-size:.85em;font-weight:600;border:1px solid #888}
.s-fail{background:#fbe0e0;border-color:#b00020;color:#7a0016}
.s-error{background:#fff0d0;border-color:#b36b00;color:#6b4000}
.s-pass{background:#e0f3e3;border-color:#1e7b34;color:#14531f}
.s-not_applicable,.s-exempt{background:#eceff3;border-color:#667;color:#334}
.sev-critical{background:#7a0016;color:#fff;border-color:#7a0016}
.sev-high{background:#b00020;color:#fff;border-color:#b00020}
.sev-medium{background:#e07a00;color:#fff;border-color:#e07a00}
.sev-low{background:#f3d36b;color:#222;border-color:#c8a600}
.sev-info{background:#dde6f3;color:#223;border-color:#8aa}
nav ol{columns:2 22rem;padding-left:1.5rem;font-size:.9em}
nav li{break-inside:avoid}
article.rule{border:1px solid #ccc;border-left:6px solid #888;padding:.6rem .9rem;margin:.8rem 0}
article.r-fail{border-left-color:#b00020}
article.r-error{border-left-color:#b36b00}
article.r-pass{border-left-color:#1e7b34}
.meta{font-size:.9em;color:#333;margin:.2rem 0 .5rem}
.label{font-weight:600}
ul.evidence{list-style:none;padding:0;margin:.3rem 0}
ul.evidence li{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,monospace;font-size:.85em;white-space:pre-wrap;overflow-wrap:anywhere;padding:.1rem .3rem;border-left:3px solid #1e7b34;margin:.15rem 0}
ul.evidence li.bad{border-left-color:#b00020;background:#fdf3f3}
.text{white-space:pre-wrap}
footer{margin-top:2rem;font-size:.85em;color:#555}
@media print{
body{margin:0;max-width:none;font-size:10pt}
a{color:inherit;text-decoration:none}
nav{break-after:page}
section.group>h2{break-before:page}
article.rule{break-inside:avoid}
.badge,.sev-critical,.sev-high,.sev-medium,.sev-low,.sev-info,ul.evidence li.bad,th{-webkit-print-color-adjust:exact;print-color-adjust:exact}
}
`
