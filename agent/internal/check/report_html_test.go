package check

import (
	"bytes"
	"encoding/xml"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// htmlElements tokenizes an HTML page leniently (void elements closed,
// HTML entities known) and returns, for each element with an id, its
// text (element boundaries count as spaces, runs of space folded), and
// the ids of the rule articles in document order.
func htmlElements(t *testing.T, page []byte) (texts map[string]string, articles []string) {
	t.Helper()
	d := xml.NewDecoder(bytes.NewReader(page))
	d.Strict = false
	d.AutoClose = xml.HTMLAutoClose
	d.Entity = xml.HTMLEntity
	texts = map[string]string{}
	var stack []string // ids of open elements with one, "" otherwise
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("page does not tokenize: %v", err)
		}
		text := " "
		switch tok := tok.(type) {
		case xml.StartElement:
			id := ""
			for _, a := range tok.Attr {
				if a.Name.Local == "id" {
					id = a.Value
				}
			}
			if tok.Name.Local == "article" {
				articles = append(articles, id)
			}
			stack = append(stack, id)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			text = string(tok)
		}
		for _, id := range stack {
			if id != "" {
				texts[id] += text
			}
		}
	}
	for id, s := range texts {
		texts[id] = strings.Join(strings.Fields(s), " ")
	}
	return texts, articles
}

func TestWriteHTML(t *testing.T) {
	var b bytes.Buffer
	if err := WriteHTML(&b, reportFixture()); err != nil {
		t.Fatal(err)
	}
	golden(t, "report.html", b.Bytes())
	page := b.String()

	// Self-contained: no scripts, nothing fetched.
	for _, bad := range []string{"<script", "<link", "<img", "<iframe", "@import", "url(", "http://", "https://", "src="} {
		if strings.Contains(strings.ToLower(page), bad) {
			t.Errorf("page contains %q", bad)
		}
	}
	if !strings.Contains(page, "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;") {
		t.Error("hostile evidence is not shown escaped")
	}
	if !strings.Contains(page, "@media print{") || !strings.Contains(page, "article.rule{break-inside:avoid}") {
		t.Error("no print style sheet")
	}
	if !strings.Contains(page, "<title>Compliance report: web-01 (2026-12-07 09:30:00 UTC)</title>") {
		t.Error("title does not name host and time")
	}

	texts, articles := htmlElements(t, b.Bytes())
	// Header facts.
	for _, want := range []string{"<dd>web-01</dd>", "<dd>Debian GNU/Linux 12 (bookworm) (x86_64)</dd>", "<dd>6.1.0-28-amd64</dd>",
		"<dd><code>packs/cis-debian12.yaml</code>, <code>local</code></dd>", "severity high or above", "<dd>steward-agent 1.2.3</dd>"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// Summary counts, read from the page.
	counts := map[string]string{}
	for _, m := range regexp.MustCompile(`data-status="(\w+)">(\d+)<`).FindAllStringSubmatch(page, -1) {
		counts[m[1]] = m[2]
	}
	if counts["fail"] != "2" || counts["error"] != "1" || counts["pass"] != "2" || counts["not_applicable"] != "1" || counts["exempt"] != "1" {
		t.Errorf("status counts %v", counts)
	}
	// pass / (pass + fail + error) = 2/5.
	if !strings.Contains(texts["summary"], "Pass rate: 40.0% (2 of 5)") {
		t.Errorf("summary %q", texts["summary"])
	}
	if !regexp.MustCompile(`critical 1 0 0 1 0 2 high 0 1 1 0 0 2 medium 1 0 0 0 0 1 low 0 0 1 0 0 1 info 0 0 0 0 1 1`).MatchString(texts["summary"]) {
		t.Errorf("severity table (rows critical..info, columns fail error pass n/a exempt total): %q", texts["summary"])
	}
	// Rules in report order, each with its evidence; one article per rule.
	if len(articles) != len(wantOrder) {
		t.Fatalf("%d articles", len(articles))
	}
	for i, id := range articles {
		if !strings.HasPrefix(texts[id], wantOrder[i]+" ") {
			t.Errorf("article %d %q starts %q, want %s", i, id, texts[id][:min(40, len(texts[id]))], wantOrder[i])
		}
	}
	first := texts[articles[0]]
	for _, want := range []string{"critical", "fail", "Rationale: Root logins cannot be traced", "Remediation: Set PermitRootLogin no",
		"FAIL check.all[1].sshd: PermitRootLogin yes (/etc/ssh/sshd_config:33) " + hostile, "ok check.all[0].file", "packs/cis-debian12.yaml", "ssh, cis"} {
		if !strings.Contains(first, want) {
			t.Errorf("first rule lacks %q:\n%s", want, first)
		}
	}
	if !strings.Contains(first, "References: cis 5.1.20; ssg xccdf_org.ssgproject.content_rule_sshd_disable_root_login") {
		t.Errorf("first rule lacks its references:\n%s", first)
	}
	if !strings.Contains(texts[articles[1]], "Parameters: account=<root>") || strings.Contains(page, "<root>") ||
		!strings.Contains(page, "<code>account=&lt;root&gt;</code>, <code>max_days=365</code>") {
		t.Errorf("second rule's parameters, sorted and escaped:\n%s", texts[articles[1]])
	}
	if !strings.Contains(texts[articles[2]], "Error: check.command: command \"pidof\" refused") {
		t.Errorf("error rule: %s", texts[articles[2]])
	}
	// Groups and the table of contents, one entry per rule.
	for g, want := range map[string]string{"group-1": "Failed (2)", "group-2": "Errors (1)", "group-3": "Passed (2)", "group-4": "Not applicable (1)", "group-5": "Exempt (1)"} {
		if !strings.HasPrefix(texts[g], want) {
			t.Errorf("%s starts %q", g, texts[g][:min(30, len(texts[g]))])
		}
	}
	if n := strings.Count(page, `<li><a href="#rule-`); n != len(wantOrder) {
		t.Errorf("contents has %d entries", n)
	}
}

// TestWriteHTMLLarge: 400 rules stay one page with a contents entry and
// an article each, written in well under the size a browser chokes on.
func TestWriteHTMLLarge(t *testing.T) {
	base := reportFixture()
	in := ReportInput{Info: base.Info}
	for i := range 400 {
		p := base.Policies[i%len(base.Policies)]
		r := base.Results[0]
		for _, x := range base.Results {
			if x.PolicyID == p.ID {
				r = x
			}
		}
		p.ID = p.ID + "-" + strings.Repeat("x", i%3) + string(rune('a'+i%26)) + "-" + strconv.Itoa(i)
		r.PolicyID = p.ID
		in.Policies = append(in.Policies, p)
		in.Results = append(in.Results, r)
	}
	var b bytes.Buffer
	if err := WriteHTML(&b, in); err != nil {
		t.Fatal(err)
	}
	_, articles := htmlElements(t, b.Bytes())
	if len(articles) != 400 || strings.Count(b.String(), `<li><a href="#rule-`) != 400 {
		t.Errorf("%d articles", len(articles))
	}
	if b.Len() > 2<<20 {
		t.Errorf("%d bytes for 400 rules", b.Len())
	}
}
