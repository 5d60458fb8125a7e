package collect

import (
	"errors"
	"fmt"
	"io/fs"
)

// liveOnly explains a missing kernel file under an offline root: an image
// or container root file system has an empty /proc and /sys, so "no such
// file" there means the section exists only on the running system, which
// is what Document.Errors should say (docs/inventory.md). Elsewhere err is
// returned as it is.
func liveOnly(cfg Config, what string, err error) error {
	k, ok := cfg.kernel.(liveKernel)
	if ok && k.offline && errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%s: %w", what, errLiveOnly)
	}
	return err
}
