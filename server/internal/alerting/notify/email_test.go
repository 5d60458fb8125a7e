package notify

import (
	"bytes"
	"context"
	"errors"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"net"
	netmail "net/mail"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-smtp"
)

// parsed is a received mail taken apart.
type parsed struct {
	header netmail.Header
	text   string
	html   string
}

func parseMail(t *testing.T, data []byte) parsed {
	t.Helper()
	msg, err := netmail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("received mail does not parse: %v\n%s", err, data)
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("Content-Type %q, want multipart/alternative", msg.Header.Get("Content-Type"))
	}
	p := parsed{header: msg.Header}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(part) // quoted-printable is decoded by the reader
		if err != nil {
			t.Fatal(err)
		}
		ct, cp, _ := mime.ParseMediaType(part.Header.Get("Content-Type"))
		if !strings.EqualFold(cp["charset"], "utf-8") {
			t.Errorf("%s part has charset %q", ct, cp["charset"])
		}
		switch ct {
		case "text/plain":
			p.text = string(body)
		case "text/html":
			p.html = string(body)
		default:
			t.Errorf("unexpected part %s", ct)
		}
	}
	if p.text == "" || p.html == "" {
		t.Fatalf("want a text/plain and a text/html part, got text %d bytes, html %d bytes", len(p.text), len(p.html))
	}
	return p
}

// decodeHeader decodes an RFC 2047 header value.
func decodeHeader(t *testing.T, v string) string {
	t.Helper()
	d, err := new(mime.WordDecoder).DecodeHeader(v)
	if err != nil {
		t.Fatalf("header %q does not decode: %v", v, err)
	}
	return d
}

func TestEmailDelivery(t *testing.T) {
	f := newSMTPFake(t, true, nil)
	s := mustNew(t, Config{Email: f.config()}, Options{})
	for i, ev := range allEvents {
		m := testMessage(ev)
		if !s.Handles(ev) {
			t.Fatalf("Handles(%s) = false", ev)
		}
		if err := s.Send(context.Background(), m); err != nil {
			t.Fatalf("%s: Send: %v", ev, err)
		}
		got := f.deliveries()
		if len(got) != i+1 {
			t.Fatalf("%d deliveries", len(got))
		}
		d := got[i]
		if !d.tls || d.user != smtpUser {
			t.Errorf("%s: delivered with TLS %v as %q, want STARTTLS and AUTH", ev, d.tls, d.user)
		}
		if d.from != "steward@example.org" || strings.Join(d.rcpt, ",") != "oncall@example.org,ops@example.org" {
			t.Errorf("%s: envelope %s -> %v", ev, d.from, d.rcpt)
		}
		p := parseMail(t, d.data)
		h := p.header
		if from, err := h.AddressList("From"); err != nil || len(from) != 1 || from[0].Address != "steward@example.org" || from[0].Name != "Steward" {
			t.Errorf("From %q", h.Get("From"))
		}
		if to, err := h.AddressList("To"); err != nil || len(to) != 2 || to[1].Address != "ops@example.org" {
			t.Errorf("To %q", h.Get("To"))
		}
		wantSubject := map[Event]string{
			Trigger:     "[Steward] FIRING high: Disk encryption is off on web-01",
			Acknowledge: "[Steward] ACKNOWLEDGED high: Disk encryption is off on web-01",
			Resolve:     "[Steward] RESOLVED high: Disk encryption is off on web-01",
		}[ev]
		if subj := decodeHeader(t, h.Get("Subject")); subj != wantSubject {
			t.Errorf("Subject %q, want %q", subj, wantSubject)
		}
		for k, want := range map[string]string{
			"X-Steward-Alert-Id": "42", "X-Steward-Event": string(ev),
			"X-Steward-Notification": strconv.FormatInt(m.NotificationID, 10), "Auto-Submitted": "auto-generated",
		} {
			if got := h.Get(k); got != want || got == "" {
				t.Errorf("%s: %s = %q, want %q", ev, k, got, want)
			}
		}
		if h.Get("Date") == "" {
			t.Error("no Date")
		}
		const thread = "<steward-42-9f86d081884c7d65@steward>"
		if ev == Trigger {
			if id := h.Get("Message-Id"); id != thread {
				t.Errorf("trigger Message-ID %q, want %q", id, thread)
			}
			if h.Get("In-Reply-To") != "" || h.Get("References") != "" {
				t.Error("trigger replies to something")
			}
		} else {
			if id := h.Get("Message-Id"); id == thread || !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@steward>") {
				t.Errorf("%s Message-ID %q", ev, id)
			}
			if h.Get("In-Reply-To") != thread || h.Get("References") != thread {
				t.Errorf("%s: In-Reply-To %q, References %q, want %q", ev, h.Get("In-Reply-To"), h.Get("References"), thread)
			}
		}
		for _, want := range []string{"web-01", "disk-encryption", "luks: none", "https://steward.example/api/v1/alerts/42"} {
			if !strings.Contains(p.text, want) || !strings.Contains(p.html, want) {
				t.Errorf("%s: bodies lack %q", ev, want)
			}
		}
	}
}

func TestEmailHostileData(t *testing.T) {
	f := newSMTPFake(t, true, nil)
	s := mustNew(t, Config{Email: f.config()}, Options{})
	for _, tc := range []struct {
		name     string
		hostname string
	}{
		{"crlf", "evil\r\nBcc: victim@example.com"},
		{"lf", "evil\nBcc: victim@example.com\nX-Injected: 1"},
		{"non-ascii", "Größe-服务器"},
		{"long", strings.Repeat("h", 1024)},
		{"long non-ascii", strings.Repeat("ü服", 512)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			n := len(f.deliveries())
			m := testMessage(Trigger)
			m.Alert.Hostname = tc.hostname
			m.Alert.Annotations["summary"] = "" // the subject falls back on rule and host
			m.Alert.Annotations["description"] = "<script>alert(1)</script> & more"
			if err := s.Send(context.Background(), m); err != nil {
				t.Fatalf("Send: %v", err)
			}
			got := f.deliveries()
			if len(got) != n+1 {
				t.Fatalf("no delivery")
			}
			d := got[n]
			if len(d.rcpt) != 2 || strings.Contains(strings.Join(d.rcpt, ","), "victim") {
				t.Errorf("recipients %v", d.rcpt)
			}
			for line := range strings.SplitSeq(string(d.data), "\r\n") {
				if len(line) > 998 {
					t.Errorf("line of %d bytes", len(line))
				}
			}
			p := parseMail(t, d.data)
			for _, k := range []string{"Bcc", "X-Injected"} {
				if v, ok := p.header[k]; ok {
					t.Errorf("header %s injected: %q", k, v)
				}
			}
			subj := decodeHeader(t, p.header.Get("Subject"))
			if !utf8.ValidString(subj) || utf8.RuneCountInString(subj) > 200 || strings.ContainsAny(subj, "\r\n") {
				t.Errorf("Subject %q", subj)
			}
			if !strings.HasPrefix(subj, "[Steward] FIRING high: disk-encryption on ") {
				t.Errorf("Subject %q", subj)
			}
			if tc.name == "non-ascii" && !strings.Contains(subj, "Größe-服务器") {
				t.Errorf("Subject %q lost the non-ASCII hostname", subj)
			}
			// The bodies carry the text faithfully (mail has CRLF line
			// ends), the HTML escaped.
			lf := strings.NewReplacer("\r\n", "\n").Replace
			if !strings.Contains(lf(p.text), lf(tc.hostname)) {
				t.Errorf("text body lacks the hostname")
			}
			if !strings.Contains(lf(html.UnescapeString(p.html)), lf(tc.hostname)) {
				t.Errorf("HTML body lacks the hostname")
			}
			if strings.Contains(p.html, "<script>") || !strings.Contains(p.html, "&lt;script&gt;alert(1)&lt;/script&gt;") {
				t.Errorf("HTML does not escape the description")
			}
			if !strings.Contains(p.text, "<script>alert(1)</script> & more") {
				t.Errorf("text body does not carry the description as it is")
			}
		})
	}
}

func TestEmailRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		retry  bool
		status int
	}{
		{"550 mailbox unavailable", &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "mailbox unavailable"}, false, 550},
		{"451 try later", &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}, true, 451},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newSMTPFake(t, true, tc.err)
			s := mustNew(t, Config{Email: f.config()}, Options{})
			err := s.Send(context.Background(), testMessage(Trigger))
			retry, after, status := Classify(err)
			if err == nil || retry != tc.retry || status != tc.status || after != 0 {
				t.Errorf("Send = %v: Classify = %v %v %d, want %v %d", err, retry, after, status, tc.retry, tc.status)
			}
			noSecret(t, err, []string{smtpPassword})
		})
	}
}

func TestEmailAuthFailed(t *testing.T) {
	f := newSMTPFake(t, true, nil)
	c := f.config()
	c.Password = NewSecret("wrong-password")
	s := mustNew(t, Config{Email: c}, Options{})
	err := s.Send(context.Background(), testMessage(Trigger))
	if retry, _, status := Classify(err); err == nil || retry || status != 535 {
		t.Errorf("Send = %v, want permanent 535", err)
	}
	noSecret(t, err, []string{"wrong-password"})
}

func TestEmailTLSRequired(t *testing.T) {
	// A server without STARTTLS: "required" refuses to send, and that is
	// retried (the server may be fixed); nothing is delivered.
	f := newSMTPFake(t, false, nil)
	c := f.config()
	c.CAFile = ""
	s := mustNew(t, Config{Email: c}, Options{})
	err := s.Send(context.Background(), testMessage(Trigger))
	if retry, _, _ := Classify(err); err == nil || !retry {
		t.Errorf("Send = %v, want a retryable error", err)
	}
	if n := len(f.deliveries()); n != 0 {
		t.Errorf("%d deliveries in clear", n)
	}
}

func TestEmailUntrustedCertificate(t *testing.T) {
	f := newSMTPFake(t, true, nil)
	c := f.config()
	other := newSMTPFake(t, true, nil) // another CA
	c.CAFile = other.caFile
	s := mustNew(t, Config{Email: c}, Options{})
	err := s.Send(context.Background(), testMessage(Trigger))
	if retry, _, _ := Classify(err); err == nil || !retry {
		t.Errorf("Send = %v, want a retryable error", err)
	}
	if n := len(f.deliveries()); n != 0 {
		t.Errorf("%d deliveries over an untrusted connection", n)
	}
}

func TestEmailServerName(t *testing.T) {
	f := newSMTPFake(t, true, nil)
	c := f.config()
	c.ServerName = "mail.test" // in the certificate; 127.0.0.1 is too
	s := mustNew(t, Config{Email: c}, Options{})
	if err := s.Send(context.Background(), testMessage(Trigger)); err != nil {
		t.Fatal(err)
	}
	c.ServerName = "other.test" // not in the certificate
	s = mustNew(t, Config{Email: c}, Options{})
	if err := s.Send(context.Background(), testMessage(Trigger)); err == nil {
		t.Error("certificate accepted for a name it does not hold")
	}
}

func TestEmailTimeout(t *testing.T) {
	// A server that accepts the connection and never greets.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() {
		close(release)
		l.Close()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				<-release
				conn.Close()
			})
		}
	})
	c := &EmailConfig{SMTP: l.Addr().String(), From: "s@example.org", To: []string{"o@example.org"}}
	s := mustNew(t, Config{Email: c}, Options{Timeout: 200 * time.Millisecond})
	err = s.Send(context.Background(), testMessage(Trigger))
	if retry, _, status := Classify(err); err == nil || !retry || status != 0 {
		t.Errorf("Send = %v, want a retryable error without status", err)
	}
}

func TestHeaderText(t *testing.T) {
	for in, want := range map[string]string{
		"a\r\nBcc: x":       "a Bcc: x",
		"tab\there  twice":  "tab here twice",
		"nul\x00esc\x1b[0m": "nul esc [0m",
		"line\u2028sep":     "line sep",
		"bad\xffbyte":       "bad\uFFFDbyte",
		"  trimmed  ":       "trimmed",
	} {
		if got := headerText(in, 100); got != want {
			t.Errorf("headerText(%q) = %q, want %q", in, got, want)
		}
	}
	if got := headerText(strings.Repeat("ö", 500), 200); utf8.RuneCountInString(got) != 200 || !strings.HasSuffix(got, "…") {
		t.Errorf("headerText does not cap: %d characters", utf8.RuneCountInString(got))
	}
}

func TestEmailConcurrentSends(t *testing.T) {
	f := newSMTPFake(t, true, nil)
	s := mustNew(t, Config{Email: f.config()}, Options{})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for _, ev := range []Event{Trigger, Acknowledge, Resolve, Trigger} {
		wg.Go(func() { errs <- s.Send(context.Background(), testMessage(ev)) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := len(f.deliveries()); n != 4 {
		t.Errorf("%d deliveries, want 4", n)
	}
}
