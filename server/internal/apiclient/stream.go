package apiclient

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// Stream sends a GET for a non-JSON answer (a report, a script) and
// copies the body of a 2xx response to w as it arrives, without holding
// it in memory. It returns the response's Content-Type. Other statuses
// are a *StatusError, as for Get; a body cut short is an error.
func (c *Client) Stream(ctx context.Context, path string, q url.Values, w io.Writer) (string, error) {
	u := *c.base
	u.Path += path
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("GET %s: %w", path, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := c.http.Do(req)
	if err != nil {
		return "", &ConnError{URL: c.base.String(), Err: unwrapURLError(err)}
	}
	defer resp.Body.Close()
	ct := resp.Header.Get("Content-Type")
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		isJSON := mediaType(ct) == "application/json"
		se := &StatusError{Method: http.MethodGet, Path: path, Status: resp.StatusCode, Message: errorMessage(raw, isJSON)}
		return "", se
	}
	if _, err := io.Copy(w, resp.Body); err != nil {
		return ct, fmt.Errorf("GET %s: copying the answer: %w", path, err)
	}
	return ct, nil
}
