package transport

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// Paths on the server, relative to its base URL.
const (
	EnrollPath = "agent/v1/enroll"
	WSPath     = "agent/v1/ws"
)

// HandshakeTimeout bounds the WebSocket opening handshake.
const HandshakeTimeout = 30 * time.Second

// maxBody caps how much of a server's HTTP answer is read: enrollment
// answers and error bodies are a few hundred bytes.
const maxBody = 64 << 10

// Client reaches one server. It is safe for concurrent use.
type Client struct {
	enrollURL string
	wsURL     string
	http      *http.Client
	dialer    websocket.Dialer
}

// NewClient checks serverURL (http or https, with a host; a path prefix is
// kept) and prepares the enroll and WebSocket endpoints. TLS, proxy and
// dialing settings for the WebSocket come from hc's *http.Transport when it
// has one, so both requests reach the server the same way.
func NewClient(serverURL string, hc *http.Client) (*Client, error) {
	base, err := url.Parse(serverURL)
	if err != nil {
		return nil, fmt.Errorf("server url: %w", err)
	}
	var wsScheme string
	switch base.Scheme {
	case "http":
		wsScheme = "ws"
	case "https":
		wsScheme = "wss"
	default:
		return nil, fmt.Errorf("server url %q: scheme must be http or https", serverURL)
	}
	if base.Host == "" {
		return nil, fmt.Errorf("server url %q: no host", serverURL)
	}
	base.RawQuery, base.Fragment = "", ""
	if hc == nil {
		hc = &http.Client{Timeout: time.Minute}
	}
	ws := base.JoinPath(WSPath)
	ws.Scheme = wsScheme
	c := &Client{
		enrollURL: base.JoinPath(EnrollPath).String(),
		wsURL:     ws.String(),
		http:      hc,
		dialer: websocket.Dialer{
			HandshakeTimeout:  HandshakeTimeout,
			EnableCompression: true,
			Proxy:             http.ProxyFromEnvironment,
		},
	}
	t, _ := hc.Transport.(*http.Transport)
	if hc.Transport == nil {
		t, _ = http.DefaultTransport.(*http.Transport)
	}
	if t != nil {
		c.dialer.Proxy = t.Proxy
		c.dialer.NetDialContext = t.DialContext
		if t.TLSClientConfig != nil {
			c.dialer.TLSClientConfig = t.TLSClientConfig.Clone()
		}
	}
	return c, nil
}

// WSURL returns the WebSocket endpoint the client dials.
func (c *Client) WSURL() string { return c.wsURL }

// Enrollment is what the server issues for an accepted enroll secret.
type Enrollment struct {
	HostID  int64
	NodeKey string
}

type enrollRequest struct {
	EnrollSecret string            `json:"enroll_secret"`
	Hostname     string            `json:"hostname"`
	Labels       map[string]string `json:"labels,omitempty"`
}

type enrollResponse struct {
	HostID  int64  `json:"host_id"`
	NodeKey string `json:"node_key"`
}

// Enroll trades the enroll secret for a node key; the host is created
// with labels (nil for none). A 401 yields a *StatusError wrapping
// ErrSecretRefused; a 503 carries the server's Retry-After in the
// *StatusError.
func (c *Client) Enroll(ctx context.Context, secret, hostname string, labels map[string]string) (Enrollment, error) {
	body, err := json.Marshal(enrollRequest{EnrollSecret: secret, Hostname: hostname, Labels: labels})
	if err != nil {
		return Enrollment{}, fmt.Errorf("enroll: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.enrollURL, bytes.NewReader(body))
	if err != nil {
		return Enrollment{}, fmt.Errorf("enroll: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return Enrollment{}, fmt.Errorf("enroll: %w", explainTLS(err))
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return Enrollment{}, fmt.Errorf("enroll: read answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return Enrollment{}, statusError("enroll", resp, raw, ErrSecretRefused)
	}
	var er enrollResponse
	if err := json.Unmarshal(raw, &er); err != nil {
		return Enrollment{}, fmt.Errorf("enroll: decode answer: %w", err)
	}
	// The key ends up in a file and an Authorization header; refuse one that
	// would not survive either unchanged.
	if er.NodeKey == "" {
		return Enrollment{}, errors.New("enroll: answer has no node key")
	}
	if _, err := hex.DecodeString(er.NodeKey); err != nil {
		return Enrollment{}, fmt.Errorf("enroll: node key is not hex: %w", err)
	}
	return Enrollment{HostID: er.HostID, NodeKey: er.NodeKey}, nil
}

// statusError builds the error for a refused request; on401 is what a 401
// means for this operation.
func statusError(op string, resp *http.Response, body []byte, on401 error) *StatusError {
	se := &StatusError{
		Op:         op,
		StatusCode: resp.StatusCode,
		Message:    errorMessage(body),
		RetryAfter: parseRetryAfter(resp.Header, time.Now()),
	}
	if resp.StatusCode == http.StatusUnauthorized {
		se.Err = on401
	}
	return se
}

// errorMessage pulls a short reason out of an error body: the "error" field
// of a JSON body, else the first line of text, capped.
func errorMessage(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	msg := ""
	if json.Unmarshal(body, &e) == nil {
		msg = e.Error
	} else {
		msg, _, _ = strings.Cut(string(body), "\n")
	}
	msg = strings.TrimSpace(msg)
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return msg
}
