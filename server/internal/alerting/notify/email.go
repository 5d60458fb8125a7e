package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"net/textproto"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode"

	mail "github.com/wneessen/go-mail"
)

// subjectMax caps the Subject header, in characters.
const subjectMax = 200

// Email is the sender for an SMTP receiver. Each Send opens a connection,
// upgrades it with STARTTLS as configured, authenticates when a username
// is set (the strongest mechanism the server offers; PLAIN and LOGIN only
// over TLS) and sends one multipart/alternative message with a plain text
// and an HTML part. Messages of one episode thread together: the trigger
// has Message-ID <dedup_key@steward>, which the acknowledge and the
// resolve name in In-Reply-To and References.
type Email struct {
	desc      string
	s         emailSettings
	timeout   time.Duration
	userAgent string
}

// emailSettings is an EmailConfig checked and parsed.
type emailSettings struct {
	host     string
	port     int
	from     *netmail.Address
	to       []*netmail.Address
	username string
	password string
	policy   mail.TLSPolicy
	tls      *tls.Config
}

// settings checks c and parses it, reading the CA file.
func (c *EmailConfig) settings() (emailSettings, error) {
	var s emailSettings
	host, port, err := net.SplitHostPort(c.SMTP)
	if c.SMTP == "" {
		return s, errors.New("smtp (host:port of the mail server) is required")
	}
	if err != nil || host == "" {
		return s, fmt.Errorf("smtp %q is not host:port", c.SMTP)
	}
	s.host = host
	if s.port, err = strconv.Atoi(port); err != nil || s.port < 1 || s.port > 65535 {
		return s, fmt.Errorf("smtp %q: port must be a number from 1 to 65535", c.SMTP)
	}
	if c.From == "" {
		return s, errors.New("from is required")
	}
	if s.from, err = netmail.ParseAddress(c.From); err != nil {
		return s, fmt.Errorf("from %q: %w", c.From, err)
	}
	if len(c.To) == 0 {
		return s, errors.New("to: at least one address is required")
	}
	for _, t := range c.To {
		a, err := netmail.ParseAddress(t)
		if err != nil {
			return s, fmt.Errorf("to %q: %w", t, err)
		}
		s.to = append(s.to, a)
	}
	switch c.StartTLS {
	case "", "required":
		s.policy = mail.TLSMandatory
	case "opportunistic":
		s.policy = mail.TLSOpportunistic
	case "none":
		s.policy = mail.NoTLS
	default:
		return s, fmt.Errorf("starttls %q: must be required, opportunistic or none", c.StartTLS)
	}
	switch {
	case c.Username == "" && c.Password.IsSet():
		return s, errors.New("password is set without a username")
	case c.Username != "" && !c.Password.IsSet():
		return s, errors.New("username is set without a password")
	}
	s.username, s.password = c.Username, c.Password.Value()
	s.tls = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if c.ServerName != "" {
		s.tls.ServerName = c.ServerName
	}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return s, fmt.Errorf("ca_file: %w", err)
		}
		s.tls.RootCAs = x509.NewCertPool()
		if !s.tls.RootCAs.AppendCertsFromPEM(pem) {
			return s, fmt.Errorf("ca_file %s: no PEM certificate in it", c.CAFile)
		}
	}
	return s, nil
}

func newEmail(desc string, s emailSettings, o Options) *Email {
	return &Email{desc: desc, s: s, timeout: o.Timeout, userAgent: o.UserAgent}
}

// Handles reports true: mail is sent for every event.
func (e *Email) Handles(Event) bool { return true }

// Send mails m to the configured recipients within the timeout. A 5xx
// SMTP reply is permanent, a 4xx reply and a connection failure are
// retried; Error.Status carries the reply code.
func (e *Email) Send(ctx context.Context, m Message) error {
	msg, err := e.message(m)
	if err != nil {
		return &Error{Permanent: true, Err: fmt.Errorf("%s: build message: %w", e.desc, err)}
	}
	ctx, cancel := context.WithTimeout(ctx, e.timeout)
	defer cancel()
	opts := []mail.Option{
		mail.WithPort(e.s.port),
		mail.WithTimeout(e.timeout),
		mail.WithTLSPolicy(e.s.policy),
		mail.WithTLSConfig(e.s.tls.Clone()),
		mail.WithDialContextFunc(dialUntilDone(ctx)),
	}
	if e.s.username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover),
			mail.WithUsername(e.s.username), mail.WithPassword(e.s.password))
	}
	c, err := mail.NewClient(e.s.host, opts...)
	if err != nil {
		return fmt.Errorf("%s: smtp client: %w", e.desc, err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil && !msg.IsDelivered() {
		// Once the server took the DATA, a failed RSET or QUIT does not
		// make the mail undelivered: sending it again would duplicate it.
		return e.classify(ctx, err)
	}
	return nil
}

// dialUntilDone dials TCP and closes the connection when ctx ends, so a
// server that stops answering mid-conversation is cut off with the send.
func dialUntilDone(ctx context.Context) mail.DialContextFunc {
	return func(dctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		conn, err := d.DialContext(dctx, network, addr)
		if err != nil {
			return nil, err
		}
		context.AfterFunc(ctx, func() { conn.Close() })
		return conn, nil
	}
}

// classify turns a go-mail error into an *Error carrying the SMTP reply
// code: 5xx is permanent, 4xx retried. Errors without a reply code
// (connection, TLS, timeout) stay plain, and are retried.
func (e *Email) classify(ctx context.Context, err error) error {
	code := 0
	var se *mail.SendError
	if errors.As(err, &se) {
		code = se.ErrorCode()
	}
	var te *textproto.Error
	if code == 0 && errors.As(err, &te) {
		code = te.Code
	}
	if code == 0 && ctx.Err() != nil {
		return fmt.Errorf("%s: no answer within %v: %w", e.desc, e.timeout, errors.Join(ctx.Err(), err))
	}
	wrapped := fmt.Errorf("%s: %w", e.desc, err)
	switch {
	case code >= 500 && code <= 599:
		return &Error{Status: code, Permanent: true, Err: wrapped}
	case code >= 400 && code <= 499:
		return &Error{Status: code, Err: wrapped}
	}
	return wrapped
}

// emailVerb is the Subject's word for an event.
func emailVerb(e Event) string {
	switch e {
	case Acknowledge:
		return "ACKNOWLEDGED"
	case Resolve:
		return "RESOLVED"
	}
	return "FIRING"
}

// message builds the mail of m. Every header value made from alert data
// goes through headerText; the bodies carry the data as it is (escaped
// in HTML).
func (e *Email) message(m Message) (*mail.Msg, error) {
	a := m.Alert
	msg := mail.NewMsg(mail.WithNoDefaultUserAgent())
	msg.FromMailAddress(e.s.from)
	msg.ToMailAddress(e.s.to...)
	msg.SetUserAgent(headerText(e.userAgent, 100))
	subject := fmt.Sprintf("[Steward] %s %s: %s", emailVerb(m.Event), orDash(a.Severity), summary(a))
	msg.Subject(headerText(subject, subjectMax))

	thread := msgID(a.DedupKey, "")
	if m.Event == Trigger {
		msg.SetGenHeader(mail.HeaderMessageID, thread)
	} else {
		msg.SetGenHeader(mail.HeaderMessageID, msgID(a.DedupKey, fmt.Sprintf("%s.%d", m.Event, m.NotificationID)))
		msg.SetGenHeader(mail.HeaderInReplyTo, thread)
		msg.SetGenHeader(mail.HeaderReferences, thread)
	}
	msg.SetGenHeader("X-Steward-Alert-Id", strconv.FormatInt(a.ID, 10))
	msg.SetGenHeader("X-Steward-Event", string(m.Event))
	msg.SetGenHeader("X-Steward-Notification", strconv.FormatInt(m.NotificationID, 10))
	// RFC 3834: no vacation replies to alerts.
	msg.SetGenHeader("Auto-Submitted", "auto-generated")

	text, html, err := emailBodies(m)
	if err != nil {
		return nil, err
	}
	msg.SetBodyString(mail.TypeTextPlain, text)
	msg.AddAlternativeString(mail.TypeTextHTML, html)
	return msg, nil
}

// msgID is the message id <key[.suffix]@steward>, with characters a
// msg-id cannot hold replaced. The trigger's (no suffix) is the thread.
func msgID(key, suffix string) string {
	id := key
	if suffix != "" {
		id += "." + suffix
	}
	id = strings.Map(func(r rune) rune {
		if r < 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r) || strings.ContainsRune("-_.+=", r)) {
			return r
		}
		return '_'
	}, strings.Trim(id, "."))
	if id == "" {
		id = "alert"
	}
	return "<" + id + "@steward>"
}

// headerText makes s safe in a header: valid UTF-8, control characters
// (CR and LF above all) and runs of white space turned into one space,
// at most max characters. Non-ASCII is left to the library, which
// encodes it (RFC 2047).
func headerText(s string, max int) string {
	s = oneLine(strings.ToValidUTF8(s, "\uFFFD"))
	return truncateRunes(strings.Join(strings.Fields(s), " "), max)
}
