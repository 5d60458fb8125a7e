package pkgdb

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// A minimal, read-only reader of the SQLite 3 file format
// (https://www.sqlite.org/fileformat2.html), enough to list the rows of one
// table: the agent must not link a database driver, and rpm's database
// needs nothing more than a walk over one table b-tree.

const (
	sqliteMagic      = "SQLite format 3\x00"
	sqliteHeaderSize = 100
	// maxTreeDepth bounds the b-tree descent; real trees are a handful of
	// levels deep, so anything deeper is a loop in a corrupt file.
	maxTreeDepth = 32

	pageTableInterior = 0x05
	pageTableLeaf     = 0x0d
)

// errNoTable is returned when the schema has no table of the name asked.
var errNoTable = errors.New("table not found")

// sqliteDB is an open database file plus the committed part of its
// write-ahead log, if any.
type sqliteDB struct {
	p        *pager
	pageSize int
	usable   int
	npages   uint32
	wal      *walIndex

	pages   [maxTreeDepth][]byte // per-depth copies of pages being walked
	payload []byte               // reused buffer for one cell's payload
	visited []uint64             // bit set of b-tree pages seen in this walk
}

// openSQLite checks the file header. wal may be nil.
func openSQLite(r io.ReaderAt, size int64, wal io.ReaderAt, walSize int64) (*sqliteDB, error) {
	hdr := make([]byte, sqliteHeaderSize)
	if size < sqliteHeaderSize {
		return nil, corrupt("sqlite file of %d bytes is shorter than its header", size)
	}
	if _, err := r.ReadAt(hdr, 0); err != nil {
		return nil, fmt.Errorf("read sqlite header: %w", err)
	}
	if string(hdr[:16]) != sqliteMagic {
		return nil, corrupt("not an sqlite 3 database")
	}
	pageSize := int(binary.BigEndian.Uint16(hdr[16:]))
	if pageSize == 1 {
		pageSize = 65536
	}
	if pageSize < 512 || pageSize&(pageSize-1) != 0 {
		return nil, corrupt("sqlite page size %d", pageSize)
	}
	usable := pageSize - int(hdr[20])
	if usable < 480 {
		return nil, corrupt("sqlite usable page size %d", usable)
	}
	if enc := binary.BigEndian.Uint32(hdr[56:]); enc > 1 {
		return nil, corrupt("sqlite text encoding %d is not UTF-8", enc)
	}
	db := &sqliteDB{p: newPager(r, size), pageSize: pageSize, usable: usable,
		npages: uint32(size / int64(pageSize))}
	if wal != nil && walSize > 0 {
		w, err := readWAL(wal, walSize, pageSize)
		if err != nil {
			return nil, err
		}
		if w != nil {
			if err := w.checkSize(db.npages); err != nil {
				return nil, err
			}
			db.wal = w
			db.npages = w.dbPages
		}
	}
	return db, nil
}

// page returns page n (1-based), from the log when it holds a newer copy.
// The slice is valid until the next call.
func (db *sqliteDB) page(n uint32) ([]byte, error) {
	if n == 0 || n > db.npages {
		return nil, corrupt("sqlite page %d out of range 1..%d", n, db.npages)
	}
	if db.wal != nil {
		if b, ok, err := db.wal.page(n); ok || err != nil {
			return b, err
		}
	}
	return db.p.at(int64(n-1)*int64(db.pageSize), db.pageSize)
}

// tableRoot finds a table's root page in sqlite_schema, whose own root is
// page 1.
func (db *sqliteDB) tableRoot(name string) (uint32, error) {
	var root uint32
	found := false
	err := db.scanTable(1, func(_ int64, rec []byte) error {
		if found {
			return nil
		}
		cols, err := recordColumns(rec, 4)
		if err != nil {
			return err
		}
		if string(cols[0].data) != "table" || string(cols[1].data) != name {
			return nil
		}
		v, ok := cols[3].int()
		if !ok || v <= 0 || v > int64(db.npages) {
			return corrupt("table %s has root page %d", name, v)
		}
		root, found = uint32(v), true
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("read sqlite_schema: %w", err)
	}
	if !found {
		return 0, fmt.Errorf("no table %s: %w", name, errNoTable)
	}
	return root, nil
}

// scanTable calls fn with every row of the table b-tree rooted at page
// root, in rowid order. rec is the row's record, valid during the call.
func (db *sqliteDB) scanTable(root uint32, fn func(rowid int64, rec []byte) error) error {
	db.visited = make([]uint64, db.npages/64+1)
	return db.walk(root, 0, fn)
}

func (db *sqliteDB) walk(n uint32, depth int, fn func(int64, []byte) error) error {
	if depth >= maxTreeDepth {
		return corrupt("sqlite b-tree deeper than %d", maxTreeDepth)
	}
	if n == 0 || n > db.npages {
		return corrupt("sqlite page %d out of range", n)
	}
	if db.visited[n/64]&(1<<(n%64)) != 0 {
		return corrupt("sqlite page %d reached twice", n)
	}
	db.visited[n/64] |= 1 << (n % 64)
	src, err := db.page(n)
	if err != nil {
		return err
	}
	// Keep a private copy: reading children and overflow pages moves the
	// pager's window.
	pg := append(db.pages[depth][:0], src...)
	db.pages[depth] = pg
	hdr := 0
	if n == 1 {
		hdr = sqliteHeaderSize
	}
	if len(pg) < hdr+8 {
		return corrupt("sqlite page %d too short", n)
	}
	kind := pg[hdr]
	ncells := int(binary.BigEndian.Uint16(pg[hdr+3:]))
	ptrs := hdr + 8
	if kind == pageTableInterior {
		ptrs = hdr + 12
	}
	if ptrs+2*ncells > db.usable {
		return corrupt("sqlite page %d: %d cells do not fit", n, ncells)
	}
	switch kind {
	case pageTableInterior:
		for i := range ncells {
			off := int(binary.BigEndian.Uint16(pg[ptrs+2*i:]))
			if off < ptrs+2*ncells || off+4 > db.usable {
				return corrupt("sqlite page %d: cell %d at %d", n, i, off)
			}
			if err := db.walk(binary.BigEndian.Uint32(pg[off:]), depth+1, fn); err != nil {
				return err
			}
		}
		return db.walk(binary.BigEndian.Uint32(pg[hdr+8:]), depth+1, fn)
	case pageTableLeaf:
		for i := range ncells {
			off := int(binary.BigEndian.Uint16(pg[ptrs+2*i:]))
			if off < ptrs+2*ncells || off >= db.usable {
				return corrupt("sqlite page %d: cell %d at %d", n, i, off)
			}
			rowid, rec, err := db.leafCell(pg[:db.usable], off)
			if err != nil {
				return fmt.Errorf("sqlite page %d cell %d: %w", n, i, err)
			}
			if err := fn(rowid, rec); err != nil {
				return err
			}
		}
		return nil
	default:
		return corrupt("sqlite page %d has type %#x, not a table b-tree page", n, kind)
	}
}

// leafCell returns a table leaf cell's rowid and whole payload, following
// its overflow chain.
func (db *sqliteDB) leafCell(pg []byte, off int) (int64, []byte, error) {
	size, k := uvarint(pg[off:])
	if k == 0 {
		return 0, nil, corrupt("payload size varint")
	}
	off += k
	rowid, k := uvarint(pg[off:])
	if k == 0 {
		return 0, nil, corrupt("rowid varint")
	}
	off += k
	// No payload is larger than the file holding it; checking first keeps
	// a corrupt size from allocating more memory than the file's size.
	if size > uint64(db.npages)*uint64(db.usable) {
		return 0, nil, corrupt("payload of %d bytes", size)
	}
	local := db.localPayload(int(size))
	if off+local > len(pg) {
		return 0, nil, corrupt("payload runs off the page")
	}
	buf := append(db.payload[:0], pg[off:off+local]...)
	if local < int(size) {
		if off+local+4 > len(pg) {
			return 0, nil, corrupt("overflow pointer runs off the page")
		}
		var err error
		buf, err = db.overflow(buf, int(size), binary.BigEndian.Uint32(pg[off+local:]))
		if err != nil {
			return 0, nil, err
		}
	}
	db.payload = buf
	return int64(rowid), buf, nil
}

// localPayload is how much of a table leaf payload of size bytes is stored
// on the page itself; the rest goes to overflow pages (file format
// section 1.6).
func (db *sqliteDB) localPayload(size int) int {
	u := db.usable
	maxLocal := u - 35
	if size <= maxLocal {
		return size
	}
	minLocal := (u-12)*32/255 - 23
	k := minLocal + (size-minLocal)%(u-4)
	if k <= maxLocal {
		return k
	}
	return minLocal
}

func (db *sqliteDB) overflow(buf []byte, size int, next uint32) ([]byte, error) {
	for len(buf) < size {
		if next == 0 {
			return nil, corrupt("overflow chain ends %d bytes short", size-len(buf))
		}
		pg, err := db.page(next)
		if err != nil {
			return nil, err
		}
		chunk := min(size-len(buf), db.usable-4)
		buf = append(buf, pg[4:4+chunk]...)
		next = binary.BigEndian.Uint32(pg)
	}
	return buf, nil
}

// column is one value of a record.
type column struct {
	typ  uint64 // serial type
	data []byte
}

// int returns an integer column's value.
func (c column) int() (int64, bool) {
	switch c.typ {
	case 8:
		return 0, true
	case 9:
		return 1, true
	case 1, 2, 3, 4, 5, 6:
		var v int64
		for _, b := range c.data {
			v = v<<8 | int64(b)
		}
		shift := 64 - 8*len(c.data) // sign-extend big-endian two's complement
		return v << shift >> shift, true
	}
	return 0, false
}

// isBlob reports a BLOB column; text is 13+, odd.
func (c column) isBlob() bool { return c.typ >= 12 && c.typ%2 == 0 }

// recordColumns decodes the first n columns of a record (file format
// section 2.1). Columns missing from the record (added by ALTER TABLE) are
// NULL.
func recordColumns(rec []byte, n int) ([]column, error) {
	hsize, k := uvarint(rec)
	if k == 0 || hsize > uint64(len(rec)) || hsize < uint64(k) {
		return nil, corrupt("record header size")
	}
	hdr := rec[k:hsize]
	body := rec[hsize:]
	cols := make([]column, n)
	for i := 0; i < n && len(hdr) > 0; i++ {
		typ, k := uvarint(hdr)
		if k == 0 {
			return nil, corrupt("record serial type")
		}
		hdr = hdr[k:]
		size, err := serialSize(typ)
		if err != nil {
			return nil, err
		}
		if size > uint64(len(body)) {
			return nil, corrupt("record column %d of %d bytes overruns the record", i, size)
		}
		cols[i] = column{typ: typ, data: body[:size]}
		body = body[size:]
	}
	return cols, nil
}

func serialSize(typ uint64) (uint64, error) {
	switch {
	case typ <= 4:
		return typ, nil
	case typ == 5:
		return 6, nil
	case typ == 6, typ == 7:
		return 8, nil
	case typ == 8, typ == 9:
		return 0, nil
	case typ >= 12:
		return (typ - 12) / 2, nil
	}
	return 0, corrupt("reserved serial type %d", typ)
}

// uvarint decodes SQLite's big-endian variable-length integer: up to eight
// bytes of seven bits, then a ninth of eight. k is 0 when b is too short.
func uvarint(b []byte) (v uint64, k int) {
	for i := 0; i < 9; i++ {
		if i >= len(b) {
			return 0, 0
		}
		if i == 8 {
			return v<<8 | uint64(b[i]), 9
		}
		v = v<<7 | uint64(b[i]&0x7f)
		if b[i]&0x80 == 0 {
			return v, i + 1
		}
	}
	return v, 9
}
