package service

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// RotatingFile is an append-only log file rotated by size: before a write
// would take it past its limit it is renamed to PATH.1, PATH.1 to PATH.2
// and so on, the oldest beyond the number kept being overwritten. It is
// safe for concurrent use.
type RotatingFile struct {
	path string
	max  int64
	keep int

	mu   sync.Mutex
	f    *os.File
	size int64
}

// OpenRotating opens (creating it and its directory) the log file at
// path, readable by its owner only, to be rotated past maxBytes with keep
// rotated files kept.
func OpenRotating(path string, maxBytes int64, keep int) (*RotatingFile, error) {
	if maxBytes <= 0 || keep < 0 {
		return nil, fmt.Errorf("log file %s: bad limits %d bytes, %d files", path, maxBytes, keep)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	r := &RotatingFile{path: path, max: maxBytes, keep: keep}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *RotatingFile) open() error {
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	r.f, r.size = f, fi.Size()
	return nil
}

// Write appends p, rotating first when p would take the file past its
// limit (a single larger p is written whole to a fresh file).
func (r *RotatingFile) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return 0, fs.ErrClosed
	}
	if r.size > 0 && r.size+int64(len(p)) > r.max {
		if err := r.rotate(); err != nil && r.f == nil {
			return 0, err
		}
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	return n, err
}

// rotate shifts the files by one and opens a fresh one. When renaming
// fails the current file is reopened and written on past its limit
// rather than losing lines.
func (r *RotatingFile) rotate() error {
	r.f.Close()
	r.f = nil
	var errs []error
	for i := r.keep - 1; i >= 1; i-- {
		if err := os.Rename(r.name(i), r.name(i+1)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if r.keep > 0 {
		errs = append(errs, os.Rename(r.path, r.name(1)))
	} else {
		errs = append(errs, os.Remove(r.path))
	}
	errs = append(errs, r.open())
	return errors.Join(errs...)
}

func (r *RotatingFile) name(i int) string { return fmt.Sprintf("%s.%d", r.path, i) }

// Close closes the file; later writes fail.
func (r *RotatingFile) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}
