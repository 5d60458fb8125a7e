package api

import (
	"errors"
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
