package notify

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"
)

// ownLink is the link the Slack sender builds for testAlert.
const ownLink = "<https://steward.example/api/v1/alerts/42|Open in Steward>"

// slackMessage sends m to a fake Slack and returns the decoded payload.
func slackMessage(t *testing.T, m Message, c SlackConfig) map[string]any {
	t.Helper()
	f := newFake(t, response{status: 200, body: "ok"})
	c.WebhookURL = NewSecret(f.URL() + "/services/T0001/B0001/XXXXXXXXXXXXXXXXXXXXXXXX")
	s := mustNew(t, Config{Slack: &c}, Options{})
	if err := s.Send(context.Background(), m); err != nil {
		t.Fatalf("Send: %v", err)
	}
	r := f.only(t)
	if r.Method != "POST" || r.Path != "/services/T0001/B0001/XXXXXXXXXXXXXXXXXXXXXXXX" {
		t.Errorf("request %s %s", r.Method, r.Path)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	return decodeObject(t, r.Body)
}

// checkSlackPayload checks p against Slack's incoming webhook and Block
// Kit rules (types, required fields, limits) and returns the header text.
func checkSlackPayload(t *testing.T, p map[string]any, optional ...string) string {
	t.Helper()
	checkKeys(t, "payload", p, []string{"text", "blocks"}, optional)
	if txt := str(t, "payload", p, "text"); txt == "" || utf8.RuneCountInString(txt) > 3000 {
		t.Errorf("text has %d characters", utf8.RuneCountInString(txt))
	}
	blocks, ok := p["blocks"].([]any)
	if !ok || len(blocks) == 0 || len(blocks) > 50 {
		t.Fatalf("blocks: %T of %d", p["blocks"], len(blocks))
	}
	textObj := func(what string, v any, types ...string) string {
		o, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s is %T, want a text object", what, v)
		}
		checkKeys(t, what, o, []string{"type", "text"}, []string{"emoji", "verbatim"})
		typ := str(t, what, o, "type")
		if _, has := o["verbatim"]; has != (typ == "mrkdwn") || (has && o["verbatim"] != true) {
			t.Errorf("%s: verbatim %v on %s, want true on mrkdwn only", what, o["verbatim"], typ)
		}
		if !oneOf(typ, types...) {
			t.Errorf("%s type %q, want one of %v", what, typ, types)
		}
		if _, has := o["emoji"]; has && typ != "plain_text" {
			t.Errorf("%s: emoji on %s", what, typ)
		}
		s := str(t, what, o, "text")
		if s == "" || !utf8.ValidString(s) {
			t.Errorf("%s: empty or invalid UTF-8 text", what)
		}
		return s
	}
	var header string
	for i, b := range blocks {
		blk, ok := b.(map[string]any)
		if !ok {
			t.Fatalf("block %d is %T", i, b)
		}
		switch typ := str(t, "block", blk, "type"); typ {
		case "header":
			checkKeys(t, "header", blk, []string{"type", "text"}, nil)
			header = textObj("header text", blk["text"], "plain_text")
			if n := utf8.RuneCountInString(header); n > 150 {
				t.Errorf("header has %d characters, limit 150", n)
			}
		case "section":
			checkKeys(t, "section", blk, []string{"type"}, []string{"text", "fields"})
			if blk["text"] == nil && blk["fields"] == nil {
				t.Error("section without text or fields")
			}
			if blk["text"] != nil {
				if n := utf8.RuneCountInString(textObj("section text", blk["text"], "mrkdwn", "plain_text")); n > 3000 {
					t.Errorf("section text has %d characters, limit 3000", n)
				}
			}
			if blk["fields"] != nil {
				fields, ok := blk["fields"].([]any)
				if !ok || len(fields) == 0 || len(fields) > 10 {
					t.Fatalf("fields: %T of %d", blk["fields"], len(fields))
				}
				for _, f := range fields {
					if n := utf8.RuneCountInString(textObj("field", f, "mrkdwn", "plain_text")); n > 2000 {
						t.Errorf("field has %d characters, limit 2000", n)
					}
				}
			}
		case "context":
			checkKeys(t, "context", blk, []string{"type", "elements"}, nil)
			els, ok := blk["elements"].([]any)
			if !ok || len(els) == 0 || len(els) > 10 {
				t.Fatalf("context elements: %T of %d", blk["elements"], len(els))
			}
			for _, e := range els {
				textObj("context element", e, "mrkdwn", "plain_text")
			}
		default:
			t.Errorf("block %d has type %q", i, typ)
		}
	}
	if header == "" {
		t.Error("no header block")
	}
	return header
}

func TestSlackPayload(t *testing.T) {
	headers := map[Event]string{}
	for _, ev := range allEvents {
		t.Run(string(ev), func(t *testing.T) {
			p := slackMessage(t, testMessage(ev), SlackConfig{})
			header := checkSlackPayload(t, p)
			headers[ev] = header
			all := strings.Join(walkStrings(p), "\n")
			for _, want := range []string{"Disk encryption is off on web-01", "*Severity*\nhigh", "*Host*\nweb-01",
				"*Rule*\ndisk-encryption", "*State*\n" + testMessage(ev).Alert.State, ownLink} {
				if !strings.Contains(all, want) {
					t.Errorf("payload lacks %q", want)
				}
			}
			if ev == Acknowledge && !strings.Contains(all, "*Acknowledged by* alice: looking") {
				t.Error("acknowledge does not say who acknowledged")
			}
		})
	}
	if headers[Trigger] == headers[Acknowledge] || headers[Acknowledge] == headers[Resolve] || headers[Trigger] == headers[Resolve] {
		t.Errorf("events are not told apart: %q", headers)
	}
	for ev, prefix := range map[Event]string{Trigger: ":rotating_light: Firing", Acknowledge: ":eyes: Acknowledged", Resolve: ":white_check_mark: Resolved"} {
		if !strings.HasPrefix(headers[ev], prefix) {
			t.Errorf("%s header %q, want prefix %q", ev, headers[ev], prefix)
		}
	}
}

func TestSlackChannelAndUsername(t *testing.T) {
	p := slackMessage(t, testMessage(Trigger), SlackConfig{Channel: "#ops", Username: "steward"})
	checkSlackPayload(t, p, "channel", "username")
	if p["channel"] != "#ops" || p["username"] != "steward" {
		t.Errorf("channel %v, username %v", p["channel"], p["username"])
	}
}

// walkStrings is every string in v, a decoded JSON value.
func walkStrings(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, walkStrings(e)...)
		}
		return out
	case map[string]any:
		var out []string
		for _, e := range x {
			out = append(out, walkStrings(e)...)
		}
		return out
	}
	return nil
}

func TestSlackEscapesHostileData(t *testing.T) {
	const hostile = "<!channel> <@U1> <#C1> <!subteam^S1> <https://evil|x> &amp; a>b"
	for _, tc := range []struct {
		name string
		url  string
		link bool // whether our own link must be there
	}{
		{"plain url", "https://steward.example/api/v1/alerts/42", true},
		{"url with pipe", "https://evil.example/|click", false},
		{"url with brackets", "https://steward.example/<!channel>", false},
		{"javascript url", "javascript:alert(1)", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := testMessage(Acknowledge)
			a := &m.Alert
			a.Hostname, a.Rule, a.Subject, a.Severity = hostile, hostile, hostile, hostile
			a.AckedBy, a.AckComment, a.DedupKey = hostile, hostile, hostile
			a.Annotations = map[string]string{"summary": hostile, "description": hostile, "evidence": hostile, "url": tc.url}
			p := slackMessage(t, m, SlackConfig{})
			checkSlackPayload(t, p)

			sawLink := false
			for _, s := range walkStrings(p) {
				if strings.Contains(s, ownLink) {
					sawLink = true
					s = strings.ReplaceAll(s, ownLink, "")
				}
				if strings.Contains(s, "<!") || strings.Contains(s, "<@") {
					t.Errorf("mention in %q", s)
				}
				if strings.ContainsAny(s, "<>") {
					t.Errorf("unescaped < or > in %q", s)
				}
				if strings.Contains(s, "&amp; a") && !strings.Contains(s, "&amp;amp; a") {
					t.Errorf("& of the data not escaped in %q", s)
				}
			}
			if sawLink != tc.link {
				t.Errorf("own link present = %v, want %v", sawLink, tc.link)
			}
			all := strings.Join(walkStrings(p), "\n")
			if !strings.Contains(all, "&lt;!channel&gt; &lt;@U1&gt;") {
				t.Error("hostile text is not shown escaped")
			}
		})
	}
}

func TestSlackTruncates(t *testing.T) {
	m := testMessage(Trigger)
	long := strings.Repeat("é<&", 4000) // 12,000 characters, 36,000 escaped
	m.Alert.Hostname = long
	m.Alert.Rule = long
	m.Alert.Subject = long
	m.Alert.Annotations["summary"] = long
	m.Alert.Annotations["description"] = long
	m.Alert.Annotations["evidence"] = long
	p := slackMessage(t, m, SlackConfig{})
	checkSlackPayload(t, p)
	for _, s := range walkStrings(p) {
		// A cut never leaves a partial entity.
		for _, bad := range []string{"&…", "&a…", "&am…", "&amp…", "&l…", "&lt…", "&g…"} {
			if strings.Contains(s, bad) {
				t.Errorf("cut inside an entity: ...%q", s[max(0, len(s)-20):])
			}
		}
	}
}

func TestSlackEscape(t *testing.T) {
	for _, tc := range []struct {
		in   string
		max  int
		want string
	}{
		{"a<b>&c", 100, "a&lt;b&gt;&amp;c"},
		{"abcdef", 6, "abcdef"},
		{"abcdefg", 6, "abcde…"},
		{"ab<cd", 6, "ab…"}, // "ab&lt;" would leave no room for the ellipsis
		{"ab<", 6, "ab&lt;"},
		{"日本語テキスト", 4, "日本語…"},
		{"bad\xffutf8", 100, "bad\uFFFDutf8"},
	} {
		if got := slackEscape(tc.in, tc.max); got != tc.want {
			t.Errorf("slackEscape(%q, %d) = %q, want %q", tc.in, tc.max, got, tc.want)
		}
	}
}

func TestSlackFieldsOneLine(t *testing.T) {
	m := testMessage(Trigger)
	m.Alert.Hostname = "web-01\n*State*\r\nresolved\u2028x"
	p := slackMessage(t, m, SlackConfig{})
	checkSlackPayload(t, p)
	all := walkStrings(p)
	found := false
	for _, s := range all {
		if s == "*Host*\nweb-01 *State*  resolved x" {
			found = true
		}
	}
	if !found {
		t.Errorf("host field not flattened to one line: %q", all)
	}
}
