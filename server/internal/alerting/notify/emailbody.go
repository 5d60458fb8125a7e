package notify

import (
	"fmt"
	"html/template"
	"sort"
	"strings"
)

// emailView is what both bodies show.
type emailView struct {
	Title       string
	Rows        []emailRow
	Description string
	Evidence    string
	Labels      []emailRow
	URL         string
	DedupKey    string
}

type emailRow struct{ Name, Value string }

// emailHTML is the HTML body; html/template escapes every value.
var emailHTML = template.Must(template.New("email").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{{.Title}}</title></head>
<body style="font-family: sans-serif">
<h2>{{.Title}}</h2>
<table>
{{- range .Rows}}
<tr><th align="left" valign="top">{{.Name}}</th><td style="white-space: pre-wrap">{{.Value}}</td></tr>
{{- end}}
</table>
{{- with .Description}}
<h3>Description</h3>
<p style="white-space: pre-wrap">{{.}}</p>
{{- end}}
{{- with .Evidence}}
<h3>Evidence</h3>
<pre>{{.}}</pre>
{{- end}}
{{- if .Labels}}
<h3>Labels</h3>
<table>
{{- range .Labels}}
<tr><td><code>{{.Name}}</code></td><td><code>{{.Value}}</code></td></tr>
{{- end}}
</table>
{{- end}}
{{- with .URL}}
<p><a href="{{.}}">Open in Steward</a></p>
{{- end}}
<p style="color: #888888">Steward alert {{.DedupKey}}</p>
</body></html>
`))

// emailBodies renders the plain text and the HTML body of m.
func emailBodies(m Message) (text, html string, err error) {
	v := newEmailView(m)
	var b strings.Builder
	b.WriteString(v.Title + "\n\n")
	for _, r := range v.Rows {
		fmt.Fprintf(&b, "%-13s %s\n", r.Name+":", r.Value)
	}
	if v.Description != "" {
		b.WriteString("\nDescription:\n" + v.Description + "\n")
	}
	if v.Evidence != "" {
		b.WriteString("\nEvidence:\n" + v.Evidence + "\n")
	}
	if len(v.Labels) > 0 {
		b.WriteString("\nLabels:\n")
		for _, l := range v.Labels {
			fmt.Fprintf(&b, "  %s = %s\n", l.Name, l.Value)
		}
	}
	if v.URL != "" {
		b.WriteString("\nOpen in Steward: " + v.URL + "\n")
	}
	b.WriteString("\nSteward alert " + v.DedupKey + "\n")

	var h strings.Builder
	if err := emailHTML.Execute(&h, v); err != nil {
		return "", "", fmt.Errorf("render html: %w", err)
	}
	return b.String(), h.String(), nil
}

// newEmailView collects what the bodies of m show, as valid UTF-8.
func newEmailView(m Message) emailView {
	a := m.Alert
	u := strings.ToValidUTF8
	v := emailView{
		Title:       u(fmt.Sprintf("%s %s: %s", emailVerb(m.Event), orDash(a.Severity), summary(a)), "\uFFFD"),
		Description: u(a.Annotations["description"], "\uFFFD"),
		Evidence:    u(a.Annotations["evidence"], "\uFFFD"),
		URL:         alertURL(a),
		DedupKey:    u(a.DedupKey, "\uFFFD"),
	}
	row := func(name, value string) {
		if value != "" {
			v.Rows = append(v.Rows, emailRow{name, u(value, "\uFFFD")})
		}
	}
	row("Host", fmt.Sprintf("%s (id %d)", hostLabel(a), a.HostID))
	row("Rule", a.Rule)
	row("Subject", a.Subject)
	row("Severity", a.Severity)
	row("State", a.State)
	row("Started", timeString(a.StartsAt))
	if !a.AckedAt.IsZero() || a.AckedBy != "" {
		ack := strings.TrimSpace(timeString(a.AckedAt) + " by " + orDash(a.AckedBy))
		if a.AckComment != "" {
			ack += ": " + a.AckComment
		}
		row("Acknowledged", ack)
	}
	row("Resolved", timeString(a.ResolvedAt))
	keys := make([]string, 0, len(a.Labels))
	for k := range a.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v.Labels = append(v.Labels, emailRow{u(k, "\uFFFD"), u(a.Labels[k], "\uFFFD")})
	}
	return v
}
