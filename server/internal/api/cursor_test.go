package api

import (
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestCursorRoundTrip(t *testing.T) {
	cases := []hostCursor{
		{Hostname: "web-1", ID: 1},
		{Hostname: "", ID: 9},
		{Hostname: "ünïcode/and spaces=+", ID: 1 << 62},
	}
	for _, want := range cases {
		t.Run(want.Hostname, func(t *testing.T) {
			enc := encodeCursor(want)
			var got hostCursor
			if err := decodeCursor(enc, &got); err != nil {
				t.Fatalf("decode %q: %v", enc, err)
			}
			if got != want {
				t.Fatalf("got %+v, want %+v", got, want)
			}
		})
	}
}

func TestDecodeCursorRejects(t *testing.T) {
	cases := map[string]string{
		"zero software id": encodeCursor(softwareCursor{SoftwareID: 0, HostID: 1}),
		"zero host id":     encodeCursor(softwareCursor{SoftwareID: 1, HostID: 0}),
		"null":             "bnVsbA", // null
		"standard base64":  "eyJzb2Z0d2FyZV9pZCI6MSwiaG9zdF9pZCI6Mn0+/",
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			var got softwareCursor
			if err := decodeCursor(c, &got); !errors.Is(err, errBadCursor) {
				t.Fatalf("decode %q: err %v, want errBadCursor", c, err)
			}
		})
	}
}

func TestReadPage(t *testing.T) {
	limit, after, err := readPage[hostCursor](url.Values{})
	if err != nil || limit != DefaultLimit || after != (hostCursor{}) {
		t.Fatalf("no parameters: limit %d, after %+v, err %v; want the first page of %d", limit, after, err, DefaultLimit)
	}
	q := url.Values{"limit": {"7"}, "cursor": {encodeCursor(hostCursor{Hostname: "db", ID: 4})}}
	limit, after, err = readPage[hostCursor](q)
	if err != nil || limit != 7 || after != (hostCursor{Hostname: "db", ID: 4}) {
		t.Fatalf("limit %d, after %+v, err %v", limit, after, err)
	}
	// A cursor of another list is refused, not read as a zero key.
	q = url.Values{"cursor": {encodeCursor(softwareCursor{SoftwareID: 3, HostID: 4})}}
	if _, _, err := readPage[hostCursor](q); !errors.Is(err, errBadCursor) {
		t.Fatalf("software cursor on the host list: err %v, want errBadCursor", err)
	}
	if _, _, err := readPage[hostCursor](url.Values{"limit": {"0"}}); err == nil || !strings.Contains(err.Error(), "limit must be") {
		t.Fatalf("limit 0: err %v", err)
	}
}

func TestNextPage(t *testing.T) {
	key := func(last int) auditCursor { return auditCursor{ID: int64(last)} }
	rows, next := nextPage([]int{5, 6, 7}, 3, key)
	if len(rows) != 3 || next != "" {
		t.Fatalf("exactly limit rows: %v, next %q; want all rows and no cursor", rows, next)
	}
	rows, next = nextPage([]int{5, 6, 7, 8}, 3, key)
	var c auditCursor
	if err := decodeCursor(next, &c); err != nil {
		t.Fatalf("decode next %q: %v", next, err)
	}
	if len(rows) != 3 || rows[2] != 7 || c.ID != 7 {
		t.Fatalf("limit+1 rows: %v, next %+v; want 3 rows and a cursor after row 7", rows, c)
	}
}
