package pkgdb

import (
	"errors"
	"fmt"
	"io"
)

// errCorrupt marks a database whose structure does not hold together: a
// pointer out of range, a loop, a length that does not fit. Readers stop
// at the first such problem rather than guess.
var errCorrupt = errors.New("corrupt database")

func corrupt(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errCorrupt, fmt.Sprintf(format, args...))
}

// windowSize is how much the pager reads at once. The structures walked
// here (b-tree leaves, overflow chains, hash buckets) are mostly laid out
// in ascending page order, so one read usually serves many pages, while
// memory stays small however large the database is.
const windowSize = 128 << 10

// pager reads byte ranges of a database file through one read-ahead
// window. A returned slice is valid only until the next call.
type pager struct {
	r    io.ReaderAt
	size int64
	base int64
	buf  []byte
}

func newPager(r io.ReaderAt, size int64) *pager {
	return &pager{r: r, size: size}
}

// at returns the n bytes at off.
func (p *pager) at(off int64, n int) ([]byte, error) {
	if off < 0 || n < 0 || off > p.size || int64(n) > p.size-off {
		return nil, corrupt("read of %d bytes at %d beyond the file's %d bytes", n, off, p.size)
	}
	if off >= p.base && off+int64(n) <= p.base+int64(len(p.buf)) {
		start := off - p.base
		return p.buf[start : start+int64(n)], nil
	}
	want := max(n, windowSize)
	if rest := p.size - off; int64(want) > rest {
		want = int(rest)
	}
	if cap(p.buf) < want {
		p.buf = make([]byte, want)
	}
	p.buf = p.buf[:want]
	got, err := p.r.ReadAt(p.buf, off)
	if got < n {
		p.buf = p.buf[:0]
		if err == nil || errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("read at %d: %w", off, err)
	}
	p.buf = p.buf[:got]
	p.base = off
	return p.buf[:n], nil
}
