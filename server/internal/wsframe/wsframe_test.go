package wsframe

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"testing"
)

// Masking a payload in pieces, each told where it starts, gives what
// masking it whole gives, and masking again unmasks.
func TestMaskInPieces(t *testing.T) {
	payload := []byte("the quick brown fox jumps over the lazy dog, twice over")
	key := binary.LittleEndian.Uint32([]byte{0x12, 0x34, 0x56, 0x78})
	whole := bytes.Clone(payload)
	Mask(whole, key, 0)
	for i := range whole {
		if want := payload[i] ^ []byte{0x12, 0x34, 0x56, 0x78}[i%4]; whole[i] != want {
			t.Fatalf("byte %d masked to %#x, want %#x", i, whole[i], want)
		}
	}
	for _, cut := range [][]int{{1}, {3, 4}, {5, 13, 14}, {7, 8, 9, 30}} {
		got := bytes.Clone(payload)
		start := 0
		for _, end := range append(cut, len(got)) {
			Mask(got[start:end], key, start)
			start = end
		}
		if !bytes.Equal(got, whole) {
			t.Errorf("masked in pieces at %v: %x, want %x", cut, got, whole)
		}
	}
	Mask(whole, key, 0)
	if !bytes.Equal(whole, payload) {
		t.Error("masking twice did not unmask")
	}
}

func TestParseHeader(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		want Header
		size int
		ok   bool
		bad  bool
	}{
		{"short", []byte{0x81}, Header{}, 2, false, false},
		{"masked, key still to come", []byte{0x81, 0x85, 1, 2}, Header{}, 6, false, false},
		{"masked text", []byte{0x81, 0x85, 1, 2, 3, 4}, Header{Fin: true, Op: OpText, N: 5, Masked: true, Key: 0x04030201}, 6, true, false},
		{"16-bit length", []byte{0x02, 126, 0x01, 0x00}, Header{Op: OpBinary, N: 256}, 4, true, false},
		{"64-bit length, masked", append([]byte{0xc1, 0xff, 0, 0, 0, 0, 0, 1, 0, 0}, 9, 9, 9, 9), Header{Fin: true, RSV1: true, Op: OpText, N: 1 << 16, Masked: true, Key: 0x09090909}, 14, true, false},
		{"length above 2^63", []byte{0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0}, Header{}, 10, false, true},
		{"RSV2", []byte{0xa1, 0}, Header{}, 2, false, true},
		{"ping over 125 bytes", []byte{0x89, 126, 0, 126}, Header{}, 4, false, true},
		{"fragmented close", []byte{0x08, 0}, Header{}, 2, false, true},
	} {
		h, size, ok, err := ParseHeader(tc.b)
		if tc.bad {
			if !errors.Is(err, ErrProtocol) {
				t.Errorf("%s: err %v, want a protocol error", tc.name, err)
			}
			continue
		}
		if err != nil || ok != tc.ok || size != tc.size || (ok && h != tc.want) {
			t.Errorf("%s: %+v, size %d, ok %v, err %v; want %+v, size %d, ok %v", tc.name, h, size, ok, err, tc.want, tc.size, tc.ok)
		}
	}
}

// A message inflated within its limit comes back whole; one over the
// limit is ErrTooBig, and garbage a protocol error.
func TestInflateAppend(t *testing.T) {
	// "hello" as permessage-deflate sends it: raw deflate, flushed, the
	// sync marker stripped.
	var buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestSpeed)
	fw.Write([]byte("hello"))
	fw.Flush()
	if !bytes.HasSuffix(buf.Bytes(), SyncMarker) {
		t.Fatalf("a flushed stream ends %x, not with the sync marker", buf.Bytes())
	}
	z := bytes.TrimSuffix(buf.Bytes(), SyncMarker)
	got, err := InflateAppend(nil, z, 100)
	if err != nil || string(got) != "hello" {
		t.Fatalf("inflated %q, %v", got, err)
	}
	if _, err := InflateAppend(nil, z, 4); !errors.Is(err, ErrTooBig) {
		t.Errorf("over the limit: %v, want ErrTooBig", err)
	}
	if _, err := InflateAppend(nil, []byte{0xff, 0xff, 0xff}, 100); !errors.Is(err, ErrProtocol) {
		t.Errorf("garbage: %v, want a protocol error", err)
	}
}

// A header gathered a byte at a time, or with the payload behind it,
// parses as the whole header does, and takes no payload byte.
func TestHeaderBuf(t *testing.T) {
	hdr := append([]byte{0x81, 0xfe, 0x01, 0x00}, 1, 2, 3, 4)
	want, size, ok, err := ParseHeader(hdr)
	if !ok || err != nil || size != len(hdr) {
		t.Fatalf("ParseHeader: %v %v", ok, err)
	}
	var hb HeaderBuf
	for i, c := range hdr {
		used, h, ok, err := hb.Add([]byte{c})
		if used != 1 || err != nil || ok != (i == len(hdr)-1) || (ok && h != want) {
			t.Fatalf("byte %d: used %d, %+v, ok %v, %v", i, used, h, ok, err)
		}
	}
	if !hb.Empty() {
		t.Error("not empty after a whole header")
	}
	used, h, ok, err := hb.Add(append(bytes.Clone(hdr), "payload"...))
	if used != len(hdr) || !ok || err != nil || h != want {
		t.Errorf("header with its payload: used %d, %+v, ok %v, %v", used, h, ok, err)
	}
	if _, _, _, err := hb.Add([]byte{0xb1}); err != nil {
		t.Fatalf("one byte of a bad header: %v, want nothing yet", err)
	}
	if _, _, _, err := hb.Add([]byte{0x00}); !errors.Is(err, ErrProtocol) {
		t.Errorf("RSV2 header: %v, want a protocol error", err)
	}
}
