package macinv

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"howett.net/plist"
)

// maxPlistBytes bounds what one plist may cost in memory. Real Info.plists,
// receipts and launchd jobs are a few KiB; a larger file is not one of them
// and would only push the agent past its memory budget.
const maxPlistBytes = 4 << 20

var errTooLarge = errors.New("larger than 4 MiB")

// System is a macOS file system tree to read inventory from: "/" on the
// live machine, or the mount point of an offline image.
type System struct {
	// Root is the directory the macOS tree starts at. Default "/".
	Root string
	// Logger receives items that were skipped (an unreadable bundle, a
	// malformed job). Default: discard.
	Logger *slog.Logger
}

func (s System) root() string {
	if s.Root == "" {
		return "/"
	}
	return s.Root
}

func (s System) log() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

// path returns name, an absolute path on the inspected system, under Root.
func (s System) path(name string) string { return filepath.Join(s.root(), name) }

// readPlist decodes the XML or binary property list at path into v.
func readPlist(path string, v any) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxPlistBytes+1))
	if err != nil {
		return err
	}
	if len(data) > maxPlistBytes {
		return errTooLarge
	}
	if _, err := plist.Unmarshal(data, v); err != nil {
		return fmt.Errorf("decode plist: %w", err)
	}
	return nil
}

// plistString reads a value that should be a string but that some
// hand-written plists store as a number (CFBundleVersion as <integer>).
func plistString(v any) string {
	switch t := v.(type) {
	case string:
		return strings.TrimSpace(t)
	case uint64:
		return strconv.FormatUint(t, 10)
	case int64:
		return strconv.FormatInt(t, 10)
	case float64:
		return strconv.FormatFloat(t, 'f', -1, 64)
	}
	return ""
}

// plistBool reads a boolean, treating anything else (absent, mistyped) as
// false, which is also what launchd does.
func plistBool(v any) bool {
	b, ok := v.(bool)
	return ok && b
}
