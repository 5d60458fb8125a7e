package apiclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// maxBody bounds a response read into memory. A host's full inventory is
// a few MiB at most; anything far larger is not the Steward API.
const maxBody = 64 << 20

// Client calls one Steward server with one admin token.
type Client struct {
	base  *url.URL
	token string
	http  *http.Client
}

// New returns a client for the server at baseURL (scheme and host, and a
// path prefix when the server sits behind a proxy). A nil hc means
// http.DefaultClient.
func New(baseURL, token string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("server URL %q: %w", baseURL, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("server URL %q: want http://host:port or https://host:port", baseURL)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("server URL %q: must not have a query or fragment", baseURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	if hc == nil {
		hc = http.DefaultClient
	}
	return &Client{base: u, token: token, http: hc}, nil
}

// BaseURL is the server URL requests go to.
func (c *Client) BaseURL() string { return c.base.String() }

// StatusError is a response with a status other than 2xx.
type StatusError struct {
	Method, Path string
	Status       int
	// Message is the API's error message, or the start of a non-JSON body.
	Message string
	// Body is the whole JSON error body, for errors that carry more than a
	// message (a refused policy file lists its problems); nil otherwise.
	Body json.RawMessage
}

func (e *StatusError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("%s %s: %d %s", e.Method, e.Path, e.Status, msg)
}

// ConnError is a request that got no HTTP response at all: the server is
// down, the address is wrong, TLS failed, or the request timed out.
type ConnError struct {
	URL string
	Err error
}

func (e *ConnError) Error() string { return fmt.Sprintf("cannot reach %s: %v", e.URL, e.Err) }

func (e *ConnError) Unwrap() error { return e.Err }

// ErrNotJSON marks a successful response that is not JSON, which usually
// means the URL points at something other than a Steward server.
var ErrNotJSON = errors.New("response is not JSON")

// Get requests path (e.g. "/api/v1/hosts") with query q and returns the
// JSON body of a 2xx response unchanged.
func (c *Client) Get(ctx context.Context, path string, q url.Values) (json.RawMessage, error) {
	return c.Do(ctx, http.MethodGet, path, q, nil)
}

// Do sends a request with an optional JSON body and returns the JSON body
// of a 2xx response unchanged; other statuses are a *StatusError.
func (c *Client) Do(ctx context.Context, method, path string, q url.Values, body any) (json.RawMessage, error) {
	if body == nil {
		return c.Send(ctx, method, path, q, "", nil)
	}
	b, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: encode body: %w", method, path, err)
	}
	return c.Send(ctx, method, path, q, "application/json", b)
}

// Send sends body as is with the given Content-Type ("" sends no body),
// such as a policy file as application/yaml, and answers like Do.
func (c *Client) Send(ctx context.Context, method, path string, q url.Values, contentType string, body []byte) (json.RawMessage, error) {
	u := *c.base
	u.Path += path
	u.RawQuery = q.Encode()

	var rd io.Reader
	if contentType != "" {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &ConnError{URL: c.base.String(), Err: unwrapURLError(err)}
	}
	defer resp.Body.Close()

	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, &ConnError{URL: c.base.String(), Err: fmt.Errorf("read response: %w", err)}
	}
	if len(raw) > maxBody {
		return nil, fmt.Errorf("%s %s: response larger than %d bytes", method, path, maxBody)
	}
	isJSON := mediaType(resp.Header.Get("Content-Type")) == "application/json"
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		se := &StatusError{Method: method, Path: path, Status: resp.StatusCode, Message: errorMessage(raw, isJSON)}
		if isJSON && json.Valid(raw) {
			se.Body = raw
		}
		return nil, se
	}
	if !isJSON || !json.Valid(raw) {
		return nil, fmt.Errorf("%s %s: %w (Content-Type %q); is %s a Steward server?",
			method, path, ErrNotJSON, resp.Header.Get("Content-Type"), c.base)
	}
	return raw, nil
}

// unwrapURLError drops the *url.Error wrapper, whose text repeats the
// method and full URL that ConnError already names.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func mediaType(ct string) string {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return ""
	}
	return mt
}

// errorMessage reads {"error": "..."} or, from something that is not the
// API (a proxy's HTML page), keeps the first line of the body.
func errorMessage(raw []byte, isJSON bool) string {
	if isJSON {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(raw, &e) == nil && e.Error != "" {
			return e.Error
		}
	}
	line, _, _ := strings.Cut(strings.TrimSpace(string(raw)), "\n")
	if len(line) > 200 {
		line = line[:200] + "..."
	}
	return line
}
