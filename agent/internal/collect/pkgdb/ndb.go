package pkgdb

import (
	"encoding/binary"
	"fmt"
	"io"
	"slices"
)

// rpm's own "ndb" format (Packages.db, used by SUSE since 15 SP3 and by
// rpm builds configured with --enable-ndb), as laid out by rpm's
// lib/backend/ndb/rpmpkg.c. All numbers are little-endian.
//
//	file header, 32 bytes: "RpmP", version 0, generation, slot pages, next index
//	slots, 16 bytes each, filling the slot pages after the header:
//	  "Slot", package index, block offset, block count (offset 0: free slot)
//	blobs at block offset * 16, block count * 16 bytes long:
//	  "BlbS", package index, timestamp, length; the header blob; zero
//	  padding to the block size; adler32, length, "BlbE"
const (
	ndbMagic      = 'R' | 'p'<<8 | 'm'<<16 | 'P'<<24
	ndbSlotMagic  = 'S' | 'l'<<8 | 'o'<<16 | 't'<<24
	ndbBlobHead   = 'B' | 'l'<<8 | 'b'<<16 | 'S'<<24
	ndbBlobTail   = 'B' | 'l'<<8 | 'b'<<16 | 'E'<<24
	ndbPageSize   = 4096
	ndbSlotSize   = 16
	ndbBlockSize  = 16
	ndbHeaderSize = 32
	ndbHeadSize   = 16
	ndbTailSize   = 12
)

type ndbSlot struct{ idx, off, cnt uint32 }

// readNDB calls fn with each package's header blob in package index order.
func readNDB(r io.ReaderAt, size int64, fn func(blob []byte) error) error {
	p := newPager(r, size)
	hdr, err := p.at(0, ndbHeaderSize)
	if err != nil {
		return err
	}
	le := binary.LittleEndian
	if le.Uint32(hdr) != ndbMagic {
		return corrupt("not an rpm ndb package database")
	}
	if v := le.Uint32(hdr[4:]); v != 0 {
		return corrupt("ndb version %d", v)
	}
	slotPages := le.Uint32(hdr[12:])
	if slotPages == 0 || int64(slotPages)*ndbPageSize > size {
		return corrupt("ndb with %d slot pages in %d bytes", slotPages, size)
	}
	minBlock := slotPages * (ndbPageSize / ndbBlockSize)
	fileBlocks := size / ndbBlockSize
	var slots []ndbSlot
	for off := int64(ndbHeaderSize); off < int64(slotPages)*ndbPageSize; off += ndbSlotSize {
		s, err := p.at(off, ndbSlotSize)
		if err != nil {
			return err
		}
		if le.Uint32(s) != ndbSlotMagic {
			return corrupt("ndb slot at %d", off)
		}
		slot := ndbSlot{idx: le.Uint32(s[4:]), off: le.Uint32(s[8:]), cnt: le.Uint32(s[12:])}
		if slot.off == 0 {
			continue // free
		}
		if slot.idx == 0 || slot.cnt == 0 || slot.off < minBlock || int64(slot.off)+int64(slot.cnt) > fileBlocks {
			return corrupt("ndb slot for package %d at block %d+%d", slot.idx, slot.off, slot.cnt)
		}
		slots = append(slots, slot)
	}
	slices.SortFunc(slots, func(a, b ndbSlot) int { return int(a.idx) - int(b.idx) })
	for _, s := range slots {
		blob, err := ndbBlob(p, s)
		if err != nil {
			return fmt.Errorf("ndb package %d: %w", s.idx, err)
		}
		if err := fn(blob); err != nil {
			return err
		}
	}
	return nil
}

func ndbBlob(p *pager, s ndbSlot) ([]byte, error) {
	b, err := p.at(int64(s.off)*ndbBlockSize, int(s.cnt)*ndbBlockSize)
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	if len(b) < ndbHeadSize+ndbTailSize || le.Uint32(b) != ndbBlobHead || le.Uint32(b[4:]) != s.idx {
		return nil, corrupt("blob head")
	}
	n := le.Uint32(b[12:])
	if (uint64(ndbHeadSize)+uint64(n)+ndbTailSize+ndbBlockSize-1)/ndbBlockSize != uint64(s.cnt) {
		return nil, corrupt("blob of %d bytes in %d blocks", n, s.cnt)
	}
	tail := b[len(b)-ndbTailSize:] // zero padding sits between blob and tail
	if le.Uint32(tail[4:]) != n || le.Uint32(tail[8:]) != ndbBlobTail {
		return nil, corrupt("blob tail")
	}
	return b[ndbHeadSize : ndbHeadSize+n], nil
}
