package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Limits on reading a receiver's answer.
const (
	// maxAnswer is how much of an answer body is read (and discarded) so
	// the connection can be reused.
	maxAnswer = 64 << 10
	// maxAnswerInError is how much of it an error message quotes.
	maxAnswerInError = 512
	// maxRetryAfter caps the delay a receiver may ask for.
	maxRetryAfter = time.Hour
)

// poster sends JSON bodies to one HTTP receiver.
type poster struct {
	desc      string // `slack receiver "oncall"`: what errors name, never the URL
	client    *http.Client
	timeout   time.Duration
	userAgent string
	// secrets are removed from answer bodies quoted in errors, in case a
	// receiver echoes what it was sent.
	secrets []string
	now     func() time.Time
}

func newPoster(desc string, o Options, secrets ...string) poster {
	var s []string
	for _, v := range secrets {
		if v != "" {
			s = append(s, v)
		}
	}
	return poster{desc: desc, client: o.Client, timeout: o.Timeout, userAgent: o.UserAgent, secrets: s, now: time.Now}
}

// urlSecrets are the parts of u that may be credentials, to keep out of
// quoted answers: its password and its longer query values.
func urlSecrets(u *url.URL) []string {
	var s []string
	if p, ok := u.User.Password(); ok {
		s = append(s, p)
	}
	for _, vs := range u.Query() {
		for _, v := range vs {
			if len(v) >= 8 {
				s = append(s, v)
			}
		}
	}
	return s
}

// post POSTs body as JSON to u with the extra headers h, within the
// poster's timeout. It returns nil on a 2xx answer, an *Error for any
// other answer, and a plain error (retryable) when no answer came. No
// error names the URL.
func (p poster) post(ctx context.Context, u *url.URL, body []byte, h http.Header) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
	if err != nil {
		// The error would quote the URL; the URL was checked by New.
		return fmt.Errorf("%s: build request: invalid URL", p.desc)
	}
	for k, vs := range h {
		req.Header[k] = append([]string(nil), vs...)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", p.userAgent)

	resp, err := p.client.Do(req)
	if err != nil {
		// *url.Error repeats the URL (Slack's is a credential): keep only
		// its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() != nil {
			return fmt.Errorf("%s: no answer within %v: %w", p.desc, p.timeout, err)
		}
		return fmt.Errorf("%s: post: %w", p.desc, err)
	}
	defer resp.Body.Close()
	answer, readErr := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if resp.StatusCode >= 200 && resp.StatusCode <= 299 {
		// Accepted, even if the rest of the answer got lost.
		return nil
	}
	msg := p.quote(answer)
	if readErr != nil && msg == "" {
		msg = "answer unreadable"
	}
	return p.statusError(resp.StatusCode, resp.Header, msg)
}

// statusError classifies a non-2xx answer: 429 and 503 are retried after
// their Retry-After, 408 and other 5xx are retried, other statuses
// (4xx, and 3xx since redirects are not followed) are permanent.
func (p poster) statusError(status int, h http.Header, answer string) *Error {
	e := &Error{Status: status}
	switch {
	case status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable:
		e.RetryAfter = parseRetryAfter(h.Get("Retry-After"), p.now())
	case status == http.StatusRequestTimeout || (status >= 500 && status <= 599):
	default:
		e.Permanent = true
	}
	text := http.StatusText(status)
	if text == "" {
		text = "unexpected status"
	}
	if answer != "" {
		e.Err = fmt.Errorf("%s: %s: %q", p.desc, text, answer)
	} else {
		e.Err = fmt.Errorf("%s: %s", p.desc, text)
	}
	return e
}

// quote is the beginning of an answer body, fit for an error message:
// at most maxAnswerInError bytes, valid UTF-8, without control
// characters or secrets.
func (p poster) quote(answer []byte) string {
	if len(answer) > maxAnswerInError {
		answer = answer[:maxAnswerInError]
	}
	s := strings.ToValidUTF8(string(answer), "")
	for _, v := range p.secrets {
		s = strings.ReplaceAll(s, v, "<secret>")
	}
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	return strings.TrimSpace(s)
}

// parseRetryAfter reads a Retry-After header, delta-seconds or an HTTP
// date, as a delay from now: at most maxRetryAfter, 0 when absent,
// invalid or in the past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs >= int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if strings.Trim(v, "0123456789") == "" {
		return maxRetryAfter // too many seconds for an int64
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}
