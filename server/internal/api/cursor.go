package api

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Page size bounds for every list.
const (
	DefaultLimit = 100
	MaxLimit     = 1000
)

// maxCursorLen bounds what is decoded: a cursor holds one row's key, and a
// host name is at most 253 characters.
const maxCursorLen = 1024

var errBadCursor = errors.New("invalid cursor")

// hostCursor is the keyset of the last host on a page: hosts are ordered
// by (hostname, id).
type hostCursor struct {
	Hostname string `json:"hostname"`
	ID       int64  `json:"id"`
}

func (c hostCursor) valid() bool { return c.ID > 0 }

// softwareCursor is the keyset of the last software hit on a page: hits
// are ordered by (software id, host id).
type softwareCursor struct {
	SoftwareID int64 `json:"software_id"`
	HostID     int64 `json:"host_id"`
}

func (c softwareCursor) valid() bool { return c.SoftwareID > 0 && c.HostID > 0 }

// encodeCursor makes an opaque cursor: unpadded base64url of the keyset's
// JSON. Clients must not build cursors; the format may change.
func encodeCursor(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic("encode cursor: " + err.Error()) // only plain structs are encoded
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeCursor reads a cursor from encodeCursor into v, refusing anything
// it did not write: unknown fields, trailing data, or an impossible key.
func decodeCursor[T interface{ valid() bool }](s string, v *T) error {
	if len(s) > maxCursorLen {
		return fmt.Errorf("%w: too long", errBadCursor)
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil {
		return fmt.Errorf("%w: not base64url", errBadCursor)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil || dec.More() {
		return fmt.Errorf("%w: not a cursor from this API", errBadCursor)
	}
	if !(*v).valid() {
		return fmt.Errorf("%w: not a cursor from this API", errBadCursor)
	}
	return nil
}

// readPage reads a list's limit and cursor query parameters. The cursor
// must be one of type C, so a cursor of another list is refused; without
// one, after is C's zero value, which asks for the first page.
func readPage[C interface{ valid() bool }](q url.Values) (limit int, after C, err error) {
	if limit, err = parseLimit(q.Get("limit")); err != nil {
		return 0, after, err
	}
	if c := q.Get("cursor"); c != "" {
		err = decodeCursor(c, &after)
	}
	return limit, after, err
}

// nextPage trims rows, fetched with one row more than limit, to limit and
// returns the cursor of the page after them, made by key from the last row
// kept. Without the extra row this is the last page and the cursor is "",
// so a last page never points at an empty one.
func nextPage[R, C any](rows []R, limit int, key func(last R) C) ([]R, string) {
	if len(rows) <= limit {
		return rows, ""
	}
	rows = rows[:limit]
	return rows, encodeCursor(key(rows[len(rows)-1]))
}

// parseLimit reads the limit query parameter; empty means DefaultLimit.
func parseLimit(s string) (int, error) {
	if s == "" {
		return DefaultLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxLimit {
		return 0, fmt.Errorf("limit must be an integer from 1 to %d", MaxLimit)
	}
	return n, nil
}
