// Package wsframe holds the pieces of the WebSocket wire format (RFC 6455)
// and of permessage-deflate (RFC 7692) that the server's read loops and
// the load generator's client both parse by hand: frame headers, masks
// and inflating one message on its own (no context takeover, the only
// mode either side negotiates).
package wsframe

import (
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"slices"
	"sync"
)

// Frame opcodes.
const (
	OpContinuation = 0x0
	OpText         = 0x1
	OpBinary       = 0x2
	OpClose        = 0x8
	OpPing         = 0x9
	OpPong         = 0xa
)

var (
	// ErrProtocol is a frame or compressed payload the RFCs forbid.
	ErrProtocol = errors.New("websocket protocol error")
	// ErrTooBig is a message above the reader's limit.
	ErrTooBig = errors.New("websocket message over the read limit")
)

// Header is what ParseHeader reads of a frame.
type Header struct {
	Fin, RSV1 bool
	Op        byte
	N         int64 // payload length
	Masked    bool
	// Key is the mask, its little-endian bytes in frame order (Mask).
	Key uint32
}

// MaxHeader is the longest frame header: 2 bytes, an 8-byte length and a
// 4-byte mask.
const MaxHeader = 14

// ParseHeader reads a frame header from the start of b. ok is false
// while b holds fewer than size bytes, the header's length as far as b
// tells it. Whether a frame must be masked is the caller's to check.
func ParseHeader(b []byte) (h Header, size int, ok bool, err error) {
	if len(b) < 2 {
		return h, 2, false, nil
	}
	h = Header{Fin: b[0]&0x80 != 0, RSV1: b[0]&0x40 != 0, Op: b[0] & 0x0f, N: int64(b[1] & 0x7f), Masked: b[1]&0x80 != 0}
	if b[0]&0x30 != 0 {
		return h, 2, false, fmt.Errorf("%w: RSV2 or RSV3 set", ErrProtocol)
	}
	size = 2
	switch h.N {
	case 126:
		size = 4
	case 127:
		size = 10
	}
	lenEnd := size
	if h.Masked {
		size += 4
	}
	if len(b) < size {
		return h, size, false, nil
	}
	switch h.N {
	case 126:
		h.N = int64(binary.BigEndian.Uint16(b[2:4]))
	case 127:
		v := binary.BigEndian.Uint64(b[2:10])
		if v>>63 != 0 {
			return h, size, false, fmt.Errorf("%w: frame length above 2^63", ErrProtocol)
		}
		h.N = int64(v)
	}
	if h.Masked {
		h.Key = binary.LittleEndian.Uint32(b[lenEnd:size])
	}
	if h.Op >= OpClose && (!h.Fin || h.N > 125 || h.RSV1) {
		return h, size, false, fmt.Errorf("%w: control frame fragmented, compressed or over 125 bytes", ErrProtocol)
	}
	return h, size, true, nil
}

// HeaderBuf gathers a frame header that may arrive over several reads.
type HeaderBuf struct {
	b [MaxHeader]byte
	n int
}

// Add takes from b what the header still needs, as far as the bytes so
// far tell its length, and returns how many bytes it used and, once the
// header is whole, the header (ok). The buffer is then empty again.
func (hb *HeaderBuf) Add(b []byte) (used int, h Header, ok bool, err error) {
	for used < len(b) {
		_, size, _, _ := ParseHeader(hb.b[:hb.n])
		k := copy(hb.b[hb.n:size], b[used:])
		hb.n += k
		used += k
		h, _, ok, err = ParseHeader(hb.b[:hb.n])
		if err != nil || ok {
			hb.n = 0
			return used, h, ok, err
		}
	}
	return used, h, false, nil
}

// Empty reports whether no part of a header is gathered.
func (hb *HeaderBuf) Empty() bool { return hb.n == 0 }

// Mask XORs p with the mask key, p starting pos bytes into the frame's
// payload, eight bytes at a time where it can. Masking twice unmasks.
func Mask(p []byte, key uint32, pos int) {
	key = bits.RotateLeft32(key, -8*(pos%4))
	k8 := uint64(key) | uint64(key)<<32
	i := 0
	for ; i+8 <= len(p); i += 8 {
		binary.LittleEndian.PutUint64(p[i:], binary.LittleEndian.Uint64(p[i:])^k8)
	}
	for ; i < len(p); i++ {
		p[i] ^= byte(key >> (8 * (i % 4)))
	}
}

// ValidCloseCode reports whether a close frame may carry code.
func ValidCloseCode(code int) bool {
	switch {
	case code >= 1000 && code <= 1003, code >= 1007 && code <= 1014:
		return true
	default:
		return code >= 3000 && code <= 4999
	}
}

// SyncMarker ends a flushed deflate stream; RFC 7692 has the sender strip
// it and the receiver add it back.
var SyncMarker = []byte{0x00, 0x00, 0xff, 0xff}

// deflateTail follows a message's payload into the inflater: the sync
// marker the sender stripped, then a final empty stored block, so that
// the inflater ends with io.EOF at the message's end instead of running
// out of input.
var deflateTail = append(slices.Clone(SyncMarker), 0x01, 0x00, 0x00, 0xff, 0xff)

// deflateSource reads a payload, then deflateTail. It is a flate.Reader
// (a ByteReader too), so the inflater reads it without a bufio of its own.
type deflateSource struct {
	p []byte
	i int // bytes read, of p and then of the tail
}

// Read serves the payload, then the tail, then io.EOF.
func (s *deflateSource) Read(b []byte) (int, error) {
	if s.i < len(s.p) {
		n := copy(b, s.p[s.i:])
		s.i += n
		return n, nil
	}
	t := s.i - len(s.p)
	if t >= len(deflateTail) {
		return 0, io.EOF
	}
	n := copy(b, deflateTail[t:])
	s.i += n
	return n, nil
}

// ReadByte is Read one byte at a time, which the inflater mostly uses.
func (s *deflateSource) ReadByte() (byte, error) {
	i := s.i
	switch {
	case i < len(s.p):
		s.i++
		return s.p[i], nil
	case i-len(s.p) < len(deflateTail):
		s.i++
		return deflateTail[i-len(s.p)], nil
	default:
		return 0, io.EOF
	}
}

// Inflater is a pooled flate reader with its source: its 32 KiB window
// and tables are reused, not allocated per message.
type Inflater struct {
	src deflateSource
	fr  io.ReadCloser
}

var inflaters = sync.Pool{New: func() any {
	in := &Inflater{}
	in.fr = flate.NewReader(&in.src)
	return in
}}

// GetInflater returns an inflater reset to read the message whose
// compressed payload is payload. Release it when done.
func GetInflater(payload []byte) *Inflater {
	in := inflaters.Get().(*Inflater)
	in.src = deflateSource{p: payload}
	// The decompressor's Reset cannot fail.
	_ = in.fr.(flate.Resetter).Reset(&in.src, nil)
	return in
}

// Read reads the decompressed message; an error other than io.EOF wraps
// ErrProtocol.
func (in *Inflater) Read(b []byte) (int, error) {
	n, err := in.fr.Read(b)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%w: inflate: %v", ErrProtocol, err)
	}
	return n, err
}

// Release pools in, without the payload it read.
func (in *Inflater) Release() {
	in.src = deflateSource{}
	inflaters.Put(in)
}

// InflateAppend appends payload's message, decompressed, to dst; a
// message above limit bytes is ErrTooBig.
func InflateAppend(dst, payload []byte, limit int) ([]byte, error) {
	in := GetInflater(payload)
	defer in.Release()
	dst = slices.Grow(dst, min(4*len(payload), limit))
	for {
		if len(dst) == cap(dst) {
			dst = slices.Grow(dst, max(len(dst), 4096))
		}
		n, err := in.Read(dst[len(dst):min(cap(dst), limit+1)])
		dst = dst[:len(dst)+n]
		switch {
		case len(dst) > limit:
			return dst, ErrTooBig
		case err == io.EOF:
			return dst, nil
		case err != nil:
			return dst, err
		}
	}
}
