package pkgdb

import (
	"bytes"
	"encoding/binary"
)

// Just enough of GVariant's serialization format (GLib's "GVariant
// Serialisation" specification) to read flatpak's deploy file. Containers
// of variable-size children record where each child ends in "framing
// offsets" at their end; the width of an offset depends on the
// container's total size.

// gvOffsetSize is the framing offset width for a container of n bytes.
func gvOffsetSize(n int) int {
	switch {
	case n <= 0xff:
		return 1
	case n <= 0xffff:
		return 2
	case uint64(n) <= 0xffffffff:
		return 4
	}
	return 8
}

func gvOffset(b []byte) uint64 {
	switch len(b) {
	case 1:
		return uint64(b[0])
	case 2:
		return uint64(binary.LittleEndian.Uint16(b))
	case 4:
		return uint64(binary.LittleEndian.Uint32(b))
	}
	return binary.LittleEndian.Uint64(b)
}

func gvAlign(off, align int) int { return (off + align - 1) &^ (align - 1) }

// gvString decodes a serialized "s": the bytes up to a final NUL.
func gvString(b []byte) (string, bool) {
	if len(b) == 0 || b[len(b)-1] != 0 {
		return "", false
	}
	s := b[:len(b)-1]
	if bytes.IndexByte(s, 0) >= 0 {
		return "", false
	}
	return string(s), true
}

// gvFrame splits a tuple or dict entry whose members are given by their
// alignment and fixed size (0 for variable size) into member byte ranges.
func gvFrame(b []byte, members []gvMember) ([][]byte, bool) {
	osz := gvOffsetSize(len(b))
	end := len(b) // framing offsets are read from the end backwards
	out := make([][]byte, len(members))
	off := 0
	for i, m := range members {
		off = gvAlign(off, m.align)
		var stop int
		switch {
		case m.size > 0:
			stop = off + m.size
		case i == len(members)-1:
			stop = end
		default:
			if end-osz < 0 {
				return nil, false
			}
			end -= osz
			stop = int(gvOffset(b[end : end+osz]))
		}
		if off > stop || stop > end {
			return nil, false
		}
		out[i] = b[off:stop]
		off = stop
	}
	return out, true
}

type gvMember struct{ align, size int }

// gvArray splits an array of variable-size elements into their ranges.
func gvArray(b []byte, align int) ([][]byte, bool) {
	if len(b) == 0 {
		return nil, true
	}
	osz := gvOffsetSize(len(b))
	if len(b) < osz {
		return nil, false
	}
	tableStart := gvOffset(b[len(b)-osz:])
	if tableStart > uint64(len(b)) || (uint64(len(b))-tableStart)%uint64(osz) != 0 {
		return nil, false
	}
	n := (len(b) - int(tableStart)) / osz
	out := make([][]byte, n)
	off := 0
	for i := range n {
		off = gvAlign(off, align)
		stop := gvOffset(b[int(tableStart)+i*osz : int(tableStart)+(i+1)*osz])
		if uint64(off) > stop || stop > tableStart {
			return nil, false
		}
		out[i] = b[off:stop]
		off = int(stop)
	}
	return out, true
}

// gvVariant splits a serialized "v" into its value and type string.
func gvVariant(b []byte) (value []byte, typ string, ok bool) {
	i := bytes.LastIndexByte(b, 0)
	if i < 0 {
		return nil, "", false
	}
	return b[:i], string(b[i+1:]), true
}
