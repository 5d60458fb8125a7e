package pkgdb

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/bits"
)

// The Berkeley DB hash access method, read-only, as used for rpm's
// Packages file before rpm 4.16 (RHEL/CentOS 7 and 8, SLES 12, Amazon
// Linux 2). Layout from Berkeley DB's dbinc/db_page.h and hash.h:
//
//	page 0, metadata: magic 0x061561 at 12, version at 16, page size at 20,
//	  encryption at 24, last page at 32, max bucket at 72, high mask at
//	  76, low mask at 80, spares[32] at 96
//	other pages: page number at 8, previous at 12, next at 16, entry
//	  count at 20, free-area offset at 22, type at 25, then entry offsets
//	hash pages hold key/value items in pairs: type 1 (data follows) or
//	  type 3 (page number at 4 and length at 8 of an overflow chain)
//	overflow pages (type 7) carry "free-area offset" bytes of data at 26
//
// Numbers are in the byte order of the machine that wrote the file, told
// by how the magic reads.
const (
	bdbHashMagic   = 0x00061561
	bdbBtreeMagic  = 0x00053162
	bdbPageHeader  = 26
	bdbHashPage    = 13
	bdbHashOldPage = 2 // P_HASH_UNSORTED, hash pages before Berkeley DB 4.6
	bdbOverflow    = 7
	bdbKeyData     = 1
	bdbOffPage     = 3
)

type bdbFile struct {
	p          *pager
	order      binary.ByteOrder
	pageSize   int
	lastPage   uint32
	maxBucket  uint32
	spares     [32]uint32
	page, item []byte
}

// readBDBHash calls fn with every key/value pair of a hash database, in
// bucket order. The slices are valid during the call.
func readBDBHash(r io.ReaderAt, size int64, fn func(key, val []byte) error) error {
	db := &bdbFile{p: newPager(r, size)}
	meta, err := db.p.at(0, 512)
	if err != nil {
		return fmt.Errorf("read berkeley db metadata: %w", err)
	}
	switch {
	case binary.LittleEndian.Uint32(meta[12:]) == bdbHashMagic:
		db.order = binary.LittleEndian
	case binary.BigEndian.Uint32(meta[12:]) == bdbHashMagic:
		db.order = binary.BigEndian
	case binary.LittleEndian.Uint32(meta[12:]) == bdbBtreeMagic, binary.BigEndian.Uint32(meta[12:]) == bdbBtreeMagic:
		return corrupt("berkeley db b-tree where rpm keeps a hash")
	default:
		return corrupt("not a berkeley db hash database")
	}
	o := db.order
	if v := o.Uint32(meta[16:]); v < 8 || v > 10 {
		return corrupt("berkeley db hash version %d", v)
	}
	if meta[24] != 0 {
		return corrupt("encrypted berkeley db")
	}
	db.pageSize = int(o.Uint32(meta[20:]))
	if db.pageSize < 512 || db.pageSize > 65536 || db.pageSize&(db.pageSize-1) != 0 {
		return corrupt("berkeley db page size %d", db.pageSize)
	}
	// The metadata's last page is trusted only as far as the file goes;
	// it sizes the loop guard below.
	pages := size / int64(db.pageSize)
	if pages < 2 {
		return corrupt("berkeley db of %d bytes", size)
	}
	db.lastPage = o.Uint32(meta[32:])
	if int64(db.lastPage) >= pages {
		db.lastPage = uint32(pages - 1)
	}
	db.maxBucket = o.Uint32(meta[72:])
	if db.maxBucket > db.lastPage {
		return corrupt("berkeley db with %d buckets in %d pages", db.maxBucket+1, db.lastPage+1)
	}
	for i := range db.spares {
		db.spares[i] = o.Uint32(meta[96+4*i:])
	}
	seen := make([]uint64, db.lastPage/64+1)
	for bucket := uint32(0); bucket <= db.maxBucket; bucket++ {
		// Bucket pages are allocated a split point at a time; spares says
		// where each split point's pages start.
		split := bits.Len32(bucket)
		if split >= len(db.spares) {
			return corrupt("berkeley db bucket %d", bucket)
		}
		pg := bucket + db.spares[split]
		for pg != 0 {
			if pg > db.lastPage || seen[pg/64]&(1<<(pg%64)) != 0 {
				return corrupt("berkeley db bucket %d reaches page %d", bucket, pg)
			}
			seen[pg/64] |= 1 << (pg % 64)
			next, err := db.bucketPage(pg, fn)
			if err != nil {
				return fmt.Errorf("berkeley db page %d: %w", pg, err)
			}
			pg = next
		}
	}
	return nil
}

// bucketPage calls fn for each pair on hash page pg and returns the next
// page of the same bucket.
func (db *bdbFile) bucketPage(pg uint32, fn func(key, val []byte) error) (uint32, error) {
	src, err := db.p.at(int64(pg)*int64(db.pageSize), db.pageSize)
	if err != nil {
		return 0, err
	}
	db.page = append(db.page[:0], src...) // overflow reads move the window
	o := db.order
	page := db.page
	n := int(o.Uint16(page[20:]))
	switch {
	case page[25] == bdbHashPage || page[25] == bdbHashOldPage:
	case page[25] == 0 && n == 0:
		return 0, nil // a bucket never written to
	default:
		return 0, corrupt("page type %d in a hash bucket", page[25])
	}
	if o.Uint32(page[8:]) != pg {
		return 0, corrupt("page says it is page %d", o.Uint32(page[8:]))
	}
	if bdbPageHeader+2*n > db.pageSize || n%2 != 0 {
		return 0, corrupt("%d entries", n)
	}
	end := db.pageSize // items are packed from the end of the page down
	for i := 0; i < n; i += 2 {
		koff := int(o.Uint16(page[bdbPageHeader+2*i:]))
		voff := int(o.Uint16(page[bdbPageHeader+2*i+2:]))
		if koff >= end || voff >= koff || voff < bdbPageHeader+2*n {
			return 0, corrupt("entry %d at %d/%d", i, koff, voff)
		}
		key := page[koff:end]
		val := page[voff:koff]
		end = voff
		if len(key) == 0 || key[0] != bdbKeyData {
			continue // rpm's keys are 4-byte header numbers, always on the page
		}
		v, err := db.itemData(val)
		if err != nil {
			return 0, fmt.Errorf("entry %d: %w", i, err)
		}
		if err := fn(key[1:], v); err != nil {
			return 0, err
		}
	}
	return o.Uint32(page[16:]), nil
}

// itemData returns a hash item's bytes, gathering an off-page item from
// its overflow chain.
func (db *bdbFile) itemData(item []byte) ([]byte, error) {
	switch item[0] {
	case bdbKeyData:
		return item[1:], nil
	case bdbOffPage:
	default:
		return nil, corrupt("item type %d", item[0])
	}
	if len(item) < 12 {
		return nil, corrupt("short off-page item")
	}
	pg := db.order.Uint32(item[4:])
	total := int64(db.order.Uint32(item[8:]))
	if total > int64(db.lastPage+1)*int64(db.pageSize) {
		return nil, corrupt("off-page item of %d bytes", total)
	}
	out := db.item[:0]
	for int64(len(out)) < total {
		if pg == 0 || pg > db.lastPage {
			return nil, corrupt("overflow chain reaches page %d", pg)
		}
		page, err := db.p.at(int64(pg)*int64(db.pageSize), db.pageSize)
		if err != nil {
			return nil, err
		}
		n := int(db.order.Uint16(page[22:]))
		if page[25] != bdbOverflow || n == 0 || bdbPageHeader+n > db.pageSize || int64(len(out)+n) > total {
			return nil, corrupt("overflow page %d", pg)
		}
		out = append(out, page[bdbPageHeader:bdbPageHeader+n]...)
		pg = db.order.Uint32(page[16:])
	}
	db.item = out
	return out, nil
}
