//go:build !unix

package sqlite

import (
	"errors"
	"os"
)

var errLocked = errors.New("locked")

// lockFile does not lock where flock does not exist; the server is built
// for Unix systems, and this file only keeps other builds compiling.
func lockFile(*os.File) error { return nil }
