package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Slack's limits on Block Kit text, in characters. A section's text may
// have 3000; render keeps the one it writes under that by construction.
const (
	slackHeaderMax = 150  // header block plain_text
	slackFieldMax  = 2000 // each section field
	slackTextMax   = 3000 // the top-level fallback text
)

// Slack is the sender for a Slack incoming webhook. It POSTs a Block Kit
// message: a fallback "text" and "blocks" (a header with the event and
// the summary, a section with the description and evidence, a section
// of fields with severity, host, rule, state and subject, and a context
// block with the dedup key and a link to the alert). Alert data is
// escaped, so host data cannot mention anyone or make links. The
// webhook URL is a credential: errors name the receiver, never the URL.
type Slack struct {
	p        poster
	url      *url.URL
	channel  string
	username string
}

// slackBody is an incoming webhook message.
type slackBody struct {
	Text     string       `json:"text"`
	Blocks   []slackBlock `json:"blocks"`
	Channel  string       `json:"channel,omitempty"`
	Username string       `json:"username,omitempty"`
}

type slackBlock struct {
	Type     string       `json:"type"`
	Text     *slackText   `json:"text,omitempty"`
	Fields   []*slackText `json:"fields,omitempty"`
	Elements []*slackText `json:"elements,omitempty"`
}

type slackText struct {
	Type  string `json:"type"` // plain_text or mrkdwn
	Text  string `json:"text"`
	Emoji bool   `json:"emoji,omitempty"` // plain_text only
	// Verbatim (mrkdwn only) stops Slack from turning plain URLs, channel
	// names and mentions in the text into links; the <url|text> link
	// Steward writes itself still works.
	Verbatim bool `json:"verbatim,omitempty"`
}

// mrkdwn is a mrkdwn text object for text already escaped.
func mrkdwn(text string) *slackText { return &slackText{Type: "mrkdwn", Text: text, Verbatim: true} }

func (c *SlackConfig) validate() error {
	// The URL is a credential: the message does not quote it.
	_, err := parseHTTPURL("webhook_url", c.WebhookURL.Value())
	return err
}

func newSlack(desc string, c SlackConfig, o Options) *Slack {
	u, _ := parseHTTPURL("webhook_url", c.WebhookURL.Value()) // checked by Validate
	// The path /services/T…/B…/token is the credential; keep its token
	// out of quoted answers too.
	secrets := append(urlSecrets(u), c.WebhookURL.Value())
	for seg := range strings.SplitSeq(u.Path, "/") {
		if len(seg) >= 12 {
			secrets = append(secrets, seg)
		}
	}
	return &Slack{
		p:        newPoster(desc, o, secrets...),
		url:      u,
		channel:  c.Channel,
		username: c.Username,
	}
}

// Handles reports true: Slack is sent every event.
func (s *Slack) Handles(Event) bool { return true }

// Send POSTs m as a Block Kit message. Slack answers 200 "ok"; a refused
// payload (400 invalid_payload, 404 no_service, ...) is permanent and
// 429 is retried after its Retry-After.
func (s *Slack) Send(ctx context.Context, m Message) error {
	body, err := json.Marshal(s.render(m))
	if err != nil {
		return &Error{Permanent: true, Err: fmt.Errorf("%s: encode: %w", s.p.desc, err)}
	}
	return s.p.post(ctx, s.url, body, nil)
}

// slackWording is the emoji and the verb of an event.
func slackWording(m Message) (emoji, verb string) {
	switch m.Event {
	case Acknowledge:
		return ":eyes:", "Acknowledged"
	case Resolve:
		return ":white_check_mark:", "Resolved"
	}
	return ":rotating_light:", "Firing"
}

// render builds the message of m. Every piece of alert data goes through
// slackEscape; only the link built by slackLink uses <url|text>.
func (s *Slack) render(m Message) slackBody {
	a := m.Alert
	emoji, verb := slackWording(m)
	sev := strings.ToUpper(a.Severity)
	if sev == "" {
		sev = "ALERT"
	}
	head := fmt.Sprintf("%s %s [%s]: ", emoji, verb, slackEscape(oneLine(sev), 20))
	header := head + slackEscape(oneLine(summary(a)), slackHeaderMax-utf8.RuneCountInString(head))

	var blocks []slackBlock
	blocks = append(blocks, slackBlock{Type: "header", Text: &slackText{Type: "plain_text", Text: header, Emoji: true}})

	var detail []string
	if m.Event == Acknowledge {
		line := "*Acknowledged by* " + slackEscape(oneLine(orDash(a.AckedBy)), 100)
		if a.AckComment != "" {
			line += ": " + slackEscape(a.AckComment, 600)
		}
		detail = append(detail, line)
	}
	if d := a.Annotations["description"]; d != "" {
		detail = append(detail, slackEscape(d, 1400))
	}
	if e := a.Annotations["evidence"]; e != "" {
		detail = append(detail, "*Evidence*\n"+slackEscape(e, 800))
	}
	if len(detail) > 0 {
		// At most 100+600+1400+800 escaped characters and 33 of ours:
		// within slackSectionMax.
		text := strings.Join(detail, "\n")
		blocks = append(blocks, slackBlock{Type: "section", Text: mrkdwn(text)})
	}

	fields := []*slackText{
		slackField("Severity", orDash(a.Severity)),
		slackField("Host", hostLabel(a)),
		slackField("Rule", orDash(a.Rule)),
		slackField("State", orDash(a.State)),
	}
	if a.Subject != "" {
		fields = append(fields, slackField("Subject", a.Subject))
	}
	blocks = append(blocks, slackBlock{Type: "section", Fields: fields})

	ctxText := "Steward alert " + slackEscape(oneLine(a.DedupKey), 100)
	if link := slackLink(a); link != "" {
		ctxText = link + " · " + ctxText
	}
	blocks = append(blocks, slackBlock{Type: "context", Elements: []*slackText{mrkdwn(ctxText)}})

	fallback := fmt.Sprintf("%s %s [%s] %s: %s", emoji, verb, slackEscape(oneLine(sev), 20),
		slackEscape(oneLine(hostLabel(a)), 300), slackEscape(oneLine(summary(a)), slackTextMax-400))
	return slackBody{Text: fallback, Blocks: blocks, Channel: s.channel, Username: s.username}
}

// slackField is a bold title and a value on one line, escaped, within the
// field limit: a hostname with line breaks cannot fake another field.
func slackField(title, value string) *slackText {
	prefix := "*" + title + "*\n"
	return mrkdwn(prefix + slackEscape(oneLine(value), slackFieldMax-utf8.RuneCountInString(prefix)))
}

// slackLink is "<url|Open in Steward>" for the alert's url annotation when
// it is a plain http(s) URL, the URL escaped as text when it is not
// plain, or "" when there is none.
func slackLink(a Alert) string {
	raw := a.Annotations["url"]
	if raw == "" {
		return ""
	}
	u := alertURL(a)
	if u == "" || utf8.RuneCountInString(u) > 1000 {
		return slackEscape(oneLine(raw), 1000)
	}
	// & is escaped in the URL too: Slack decodes the three entities in a
	// link's URL as everywhere else.
	return "<" + strings.ReplaceAll(u, "&", "&amp;") + "|Open in Steward>"
}

// slackEscape escapes &, < and > as Slack requires for text it must not
// parse (no mentions, no links), makes s valid UTF-8 and cuts it so the
// escaped result has at most max characters, ending with "…" when cut.
// A cut never splits an entity.
func slackEscape(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	n := 0
	for i, r := range s {
		var piece string
		switch r {
		case '&':
			piece = "&amp;"
		case '<':
			piece = "&lt;"
		case '>':
			piece = "&gt;"
		default:
			piece = string(r)
		}
		w := utf8.RuneCountInString(piece)
		if n+w > max-1 && !fitsRest(s[i:], max-n) {
			b.WriteString("…")
			return b.String()
		}
		b.WriteString(piece)
		n += w
	}
	return b.String()
}

// fitsRest reports whether the rest of the text, escaped, fits in room
// characters (so no "…" is needed).
func fitsRest(rest string, room int) bool {
	n := utf8.RuneCountInString(rest) + 4*strings.Count(rest, "&") + 3*(strings.Count(rest, "<")+strings.Count(rest, ">"))
	return n <= room
}

// orDash is s, or "-" when s is empty.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
