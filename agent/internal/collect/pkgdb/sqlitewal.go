package pkgdb

import (
	"encoding/binary"
	"fmt"
	"io"
)

// rpm keeps its SQLite database in write-ahead-log mode. Committed
// transactions live in rpmdb.sqlite-wal until a checkpoint copies them
// into the main file; rpm checkpoints when it closes cleanly, but an
// interrupted transaction, a reader racing dnf, or an image snapshot can
// leave committed pages only in the log. Reading the main file alone
// would then miss packages, or mix old and new pages of one b-tree, so
// the log's committed frames are laid over it, as SQLite's own recovery
// does (file format section 4).

const (
	walHeaderSize      = 32
	walFrameHeaderSize = 24
	walMagicLE         = 0x377f0682 // checksums over little-endian words
	walMagicBE         = 0x377f0683 // checksums over big-endian words
	walVersion         = 3007000
)

// walIndex maps page numbers to the file offset of their newest committed
// copy in the log.
type walIndex struct {
	r        io.ReaderAt
	pageSize int
	frames   map[uint32]int64
	dbPages  uint32 // database size in pages after the last commit
	buf      []byte
}

// readWAL returns the committed frames of a log, or nil when the log holds
// none (empty, reset, or left from an older generation): SQLite ignores
// such a log too.
func readWAL(r io.ReaderAt, size int64, pageSize int) (*walIndex, error) {
	if size < walHeaderSize {
		return nil, nil
	}
	hdr := make([]byte, walHeaderSize)
	if _, err := r.ReadAt(hdr, 0); err != nil {
		return nil, fmt.Errorf("read wal header: %w", err)
	}
	var order binary.ByteOrder
	switch binary.BigEndian.Uint32(hdr) {
	case walMagicLE:
		order = binary.LittleEndian
	case walMagicBE:
		order = binary.BigEndian
	default:
		return nil, nil
	}
	if binary.BigEndian.Uint32(hdr[4:]) != walVersion ||
		int(binary.BigEndian.Uint32(hdr[8:])) != pageSize {
		return nil, nil
	}
	s0, s1 := walChecksum(order, hdr[:24], 0, 0)
	if s0 != binary.BigEndian.Uint32(hdr[24:]) || s1 != binary.BigEndian.Uint32(hdr[28:]) {
		return nil, nil
	}
	salt := hdr[16:24]
	w := &walIndex{r: r, pageSize: pageSize, frames: make(map[uint32]int64)}
	var pending []walFrame
	frame := make([]byte, walFrameHeaderSize+pageSize)
	for off := int64(walHeaderSize); off+int64(len(frame)) <= size; off += int64(len(frame)) {
		if _, err := r.ReadAt(frame, off); err != nil {
			return nil, fmt.Errorf("read wal frame: %w", err)
		}
		if string(frame[8:16]) != string(salt) {
			break // left over from before the log was last reset
		}
		s0, s1 = walChecksum(order, frame[:8], s0, s1)
		s0, s1 = walChecksum(order, frame[walFrameHeaderSize:], s0, s1)
		if s0 != binary.BigEndian.Uint32(frame[16:]) || s1 != binary.BigEndian.Uint32(frame[20:]) {
			break // torn write: the transaction never committed
		}
		pgno := binary.BigEndian.Uint32(frame)
		if pgno == 0 {
			break
		}
		pending = append(pending, walFrame{pgno, off + walFrameHeaderSize})
		if commit := binary.BigEndian.Uint32(frame[4:]); commit != 0 {
			for _, f := range pending {
				w.frames[f.pgno] = f.off
			}
			pending = pending[:0]
			w.dbPages = commit
		}
	}
	if w.dbPages == 0 {
		return nil, nil
	}
	return w, nil
}

// checkSize refuses a log whose commit claims more pages than the
// database and the log together could hold; the page count sizes the
// reader's bookkeeping.
func (w *walIndex) checkSize(filePages uint32) error {
	limit := uint64(filePages) + uint64(len(w.frames))
	if uint64(w.dbPages) > limit {
		return corrupt("wal commit says %d pages, file and log hold at most %d", w.dbPages, limit)
	}
	return nil
}

type walFrame struct {
	pgno uint32
	off  int64
}

// page returns the logged copy of page n, if the log has one.
func (w *walIndex) page(n uint32) ([]byte, bool, error) {
	off, ok := w.frames[n]
	if !ok {
		return nil, false, nil
	}
	if w.buf == nil {
		w.buf = make([]byte, w.pageSize)
	}
	if _, err := w.r.ReadAt(w.buf, off); err != nil {
		return nil, true, fmt.Errorf("read wal page %d: %w", n, err)
	}
	return w.buf, true, nil
}

// walChecksum continues the log's running checksum over b, whose length is
// a multiple of 8.
func walChecksum(order binary.ByteOrder, b []byte, s0, s1 uint32) (uint32, uint32) {
	for i := 0; i+8 <= len(b); i += 8 {
		s0 += order.Uint32(b[i:]) + s1
		s1 += order.Uint32(b[i+4:]) + s0
	}
	return s0, s1
}
